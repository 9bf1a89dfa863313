"""The Halide schedule task (`halide-schedule`): state functions, reward functions, datasets.

Programs are image pipelines at a size (`pipelines.py`). A candidate's episode schedules one
pipeline; its score is the speedup of the measured schedule over the pipeline's default
schedule, and the task's metric is the geomean of that over the validation pipelines. Reward
functions see `fn(before, after, baselines)` with `before` the best seconds measured so far on
the program (by this actor, for this candidate), `after` this measurement's seconds and
`baselines` the `HalideBaselines`; they are called only when a schedule was measured (the
steps that decide a knob earn 0). The scorer is the TVM task's: both tasks score a measured
schedule the same way.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.halide import features
from supersonic.envs.halide.schedule import MAX_OPTIONS
from supersonic.envs.knob_env import random_schedule_baseline, validate_schedule
from supersonic.envs.task import RewardFunction, StateFunction, Task
from supersonic.envs.tvm.search import geomean
from supersonic.envs.tvm.task import ScheduleScorer


def _identity(raw: Any) -> np.ndarray:
    return np.asarray(raw, dtype=np.float32)


STATE_FNS = {
    f.name: f
    for f in (
        StateFunction(
            "stage_graph",
            "stage_graph",
            features.STAGE_GRAPH_DIM,
            _identity,
            "the stage graph and the schedule so far: per stage its dimensions, reduction, "
            "taps, consumers, depth, allowed and chosen placement, vector width, parallel, "
            "storage; the output's tile, order, vector, unroll, parallel; size; next knob",
        ),
        StateFunction(
            "history",
            "history",
            features.HISTORY_DIM,
            _identity,
            "the decision history: per knob, the option chosen (scaled) and whether decided; "
            "next knob",
        ),
        StateFunction(
            "pipeline",
            "pipeline",
            features.PIPELINE_DIM,
            _identity,
            "the pipeline: one-hot of its name, stage count, log2 width and height",
        ),
    )
}


def _speedup(before: float, after: float, b: Any) -> float:
    return float(b.default_seconds / after)


def _log_speedup(before: float, after: float, b: Any) -> float:
    return math.log(b.default_seconds / after)


REWARD_FNS = {
    f.name: f
    for f in (
        RewardFunction("speedup", _speedup, "default seconds / ours (at the measured step)"),
        RewardFunction("log_speedup", _log_speedup, "log(default seconds / ours)"),
    )
}


def resolve_programs(spec: str) -> list[str]:
    from supersonic.envs.halide.pipelines import resolve_programs as resolve

    return [p.program for p in resolve(spec)]


def check_program(program: str) -> None:
    from supersonic.envs.halide.pipelines import parse_program

    parse_program(program)


def validate_result(program: str, details: Mapping[str, Any]) -> str:
    """Recompile the result's schedule and compare its output with the reference."""
    from supersonic.envs.halide.measure import MeasureRequest, halide_measurer

    def request(chosen: tuple[int, ...]) -> MeasureRequest:
        return MeasureRequest(program, chosen, repeat=1, min_repeat_ms=0)

    return validate_schedule(halide_measurer, request, details, "the reference")


def random_baseline(
    programs: list[str], steps: int, seed: int, episode_length: int
) -> dict[str, Any]:
    """Random schedules with the same env steps (one measurement per `knobs` steps)."""
    from supersonic.envs.halide.env import HalideScheduleEnv
    from supersonic.envs.halide.pipelines import parse_program
    from supersonic.envs.halide.search import random_search

    def search(program: str, trials: int, default_s: float, measurer: Any, seed: int) -> Any:
        return random_search(parse_program(program), trials, default_s, measurer, seed)

    used, metrics = random_schedule_baseline(
        HalideScheduleEnv(programs[0]), search, programs, steps, seed
    )
    return {"env_steps": used, "score": geomean(metrics), "metrics": metrics, "programs": programs}


def _geomean(values: Sequence[float]) -> float:
    return geomean(list(values))


@cache
def halide_schedule_task() -> Task:
    from supersonic.envs.halide.env import HalideScheduleEnv

    return Task(
        name="halide-schedule",
        make_env=HalideScheduleEnv,
        n_actions=MAX_OPTIONS,
        state_fns=STATE_FNS,
        reward_fns=REWARD_FNS,
        algorithms=("ppo", "a2c", "dqn", "impala"),
        train="builtin:train",
        validation="builtin:validation",
        test="builtin:test",
        scorer=ScheduleScorer,
        resolve_programs=resolve_programs,
        aggregate=_geomean,
        random_baseline=random_baseline,
        episode_length=features.MAX_KNOBS,
        check_program=check_program,
        validate_result=validate_result,
        metric="geomean over the validation pipelines of default-schedule seconds / ours",
        doc="Halide schedules (tiles, loop order, vectorize, unroll, parallel, inline / "
        "compute_root / compute_at / store_at per stage) for image pipelines on this CPU",
    )
