"""Schedules that are not learned: Halide's four autoschedulers, and random search.

Both are measured by the same measuring process as the policy's schedules (one JIT target, one
timer, one reference check) and counted in measured trials. An autoscheduler is one trial: it
searches with its own model (Adams2019 and Anderson2021 with learned cost models, Li2018 and
Mullapudi2016 with analytic ones), and its schedule is compiled and timed once.
"""

from __future__ import annotations

import numpy as np

from supersonic.envs.halide.measure import AUTOSCHEDULE_TIMEOUT_S, MeasureRequest
from supersonic.envs.halide.pipelines import Program
from supersonic.envs.halide.schedule import knobs_for
from supersonic.envs.tvm.measure import Measurer
from supersonic.envs.tvm.search import SearchResult, geomean

__all__ = ["SearchResult", "autoschedule", "geomean", "random_schedule", "random_search"]


def random_schedule(program: Program, rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(knob.options[int(rng.integers(len(knob.options)))] for knob in knobs_for(program))


def random_search(
    program: Program,
    trials: int,
    default_seconds: float,
    measurer: Measurer,
    seed: int = 0,
    target: str = "",
) -> SearchResult:
    """`trials` uniformly random schedules, each measured; the best one."""
    rng = np.random.default_rng(seed)
    result = SearchResult(program.program, "random", default_seconds)
    for _ in range(trials):
        chosen = random_schedule(program, rng)
        request = MeasureRequest(program.program, chosen, target=target)
        result.offer(chosen, measurer.measure(request))
    return result


def autoschedule(
    program: Program, name: str, default_seconds: float, measurer: Measurer
) -> tuple[SearchResult, str]:
    """The autoscheduler `name`'s schedule, measured: the result and the error, if any (e.g.
    Anderson2021, a GPU autoscheduler, refuses a CPU target)."""
    result = SearchResult(program.program, name, default_seconds)
    request = MeasureRequest(program.program, None, autoscheduler=name)
    measurement = measurer.measure(request, max(AUTOSCHEDULE_TIMEOUT_S, measurer.timeout_s))
    result.offer((), measurement)
    return result, measurement.error or ""
