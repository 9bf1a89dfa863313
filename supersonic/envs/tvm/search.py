"""Schedules that are not learned: the hand-written one per operator, and random search.

Both are expressed in the env's knobs (`schedule.py`), measured by the same measuring process
as the policy's schedules, and counted in measured trials, so every method of the comparison
spends its budget the same way.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from supersonic.envs.tvm.measure import Measurement, Measurer, MeasureRequest
from supersonic.envs.tvm.schedule import Knob, knobs_for
from supersonic.envs.tvm.workloads import Workload


@dataclass
class SearchResult:
    """The best schedule a method found on one workload within its trials."""

    program: str
    method: str
    default_seconds: float
    seconds: float | None = None  # None: no trial succeeded
    chosen: tuple[int, ...] = ()
    trials: int = 0
    failures: int = 0
    history: list[float] = field(default_factory=list)  # best speedup after each trial
    measured: list[tuple[int, ...]] = field(default_factory=list)  # every trial's schedule

    @property
    def speedup(self) -> float:
        return self.default_seconds / self.seconds if self.seconds else 0.0

    def offer(self, chosen: tuple[int, ...], measurement: Measurement) -> None:
        self.trials += 1
        self.measured.append(chosen)
        if measurement.ok and measurement.seconds is not None:
            if self.seconds is None or measurement.seconds < self.seconds:
                self.seconds, self.chosen = measurement.seconds, chosen
        else:
            self.failures += 1
        self.history.append(self.speedup)


def _largest_divisor_at_most(knob: Knob, limit: int) -> int:
    return max(v for v in knob.options if v <= limit)


def handwritten(workload: Workload) -> tuple[int, ...]:
    """A reasonable schedule as an engineer writes one for a CPU, the same rule for every
    operator: the last spatial loop tiled by up to 16 and vectorized, the others by up to 4,
    reductions by up to 8 outside the vector loop, the outer tile loops fused and parallel,
    unroll up to 64, the output accumulated per tile, padding inlined, the epilogue fused."""
    chosen = []
    n_spatial = len(workload.spatial_extents)
    for knob in knobs_for(workload):
        if knob.kind == "tile_s":
            limit = 16 if knob.index == n_spatial - 1 else 4
            chosen.append(_largest_divisor_at_most(knob, limit))
        elif knob.kind == "tile_r":
            chosen.append(_largest_divisor_at_most(knob, 8))
        elif knob.kind == "order":
            chosen.append(0)  # so, ro, ri, si: the vector loop innermost
        elif knob.kind == "parallel":
            chosen.append(min(2, max(knob.options)))
        elif knob.kind in ("vectorize", "cache_write"):
            chosen.append(1)
        elif knob.kind == "unroll":
            chosen.append(64)
        elif knob.kind == "producer":
            chosen.append(0)  # inline
        elif knob.kind == "epilogue":
            chosen.append(1)  # at the tile
    return tuple(chosen)


def random_schedule(workload: Workload, rng: np.random.Generator) -> tuple[int, ...]:
    return tuple(knob.options[int(rng.integers(len(knob.options)))] for knob in knobs_for(workload))


def random_search(
    workload: Workload,
    trials: int,
    default_seconds: float,
    measurer: Measurer,
    seed: int = 0,
    target: str = "",
) -> SearchResult:
    """`trials` uniformly random schedules, each measured; the best one."""
    rng = np.random.default_rng(seed)
    result = SearchResult(workload.program, "random", default_seconds)
    for _ in range(trials):
        chosen = random_schedule(workload, rng)
        result.offer(chosen, measurer.measure(MeasureRequest(workload.program, chosen, target)))
    return result


def geomean(values: list[float], floor: float = 1e-3) -> float:
    """Geometric mean, values below `floor` (a failed search's 0) counted as `floor`."""
    if not values:
        return 0.0
    return math.exp(sum(math.log(max(v, floor)) for v in values) / len(values))
