"""The TVM schedule task (`tvm-schedule`): state functions, reward functions, datasets.

Programs are workloads (`workloads.py`). A candidate's episode schedules one workload; its
score is the speedup of the measured schedule over the unscheduled program (TVM's default),
and the task's metric is the geomean of that over the validation workloads. Reward functions
see `fn(before, after, baselines)` with `before` the best seconds measured so far on the
program (by this actor, for this candidate), `after` this measurement's seconds and
`baselines` the `TvmBaselines`; they are called only when a schedule was measured (the steps
that decide a knob earn 0).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.knob_env import random_schedule_baseline, validate_schedule
from supersonic.envs.task import RewardFunction, StateFunction, Task
from supersonic.envs.tvm import features
from supersonic.envs.tvm.schedule import MAX_OPTIONS
from supersonic.envs.tvm.search import geomean


def _identity(raw: Any) -> np.ndarray:
    return np.asarray(raw, dtype=np.float32)


STATE_FNS = {
    f.name: f
    for f in (
        StateFunction(
            "loop_features",
            "loop_features",
            features.LOOP_FEATURES_DIM,
            _identity,
            "the loop nest decided so far: log2 tiles and extents per loop, order, parallel "
            "extent, vector width, unroll, cache-write, stage placements, next knob",
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
            "shape",
            "shape",
            features.SHAPE_DIM,
            _identity,
            "the workload: operator one-hot, log2 loop extents, log2 multiply-adds",
        ),
    )
}


def _speedup(before: float, after: float, b: Any) -> float:
    return float(b.default_seconds / after)


def _log_speedup(before: float, after: float, b: Any) -> float:
    return math.log(b.default_seconds / after)


def _best_improvement(before: float, after: float, b: Any) -> float:
    return max(0.0, math.log(before / after))


def _log_vs_best(before: float, after: float, b: Any) -> float:
    return math.log(before / after)


REWARD_FNS = {
    f.name: f
    for f in (
        RewardFunction("speedup", _speedup, "default seconds / ours (at the measured step)"),
        RewardFunction("log_speedup", _log_speedup, "log(default seconds / ours)"),
        RewardFunction(
            "best_improvement",
            _best_improvement,
            "log(best seconds so far on the program / ours), 0 when not better",
        ),
        RewardFunction(
            "log_vs_best",
            _log_vs_best,
            "log(best seconds so far on the program / ours): negative when slower than the "
            "best; on one scale for every program, whatever its attainable speedup",
        ),
    )
}


class ScheduleScorer:
    """One episode on a workload: the reward at the measured step, the speedup as its score."""

    def __init__(self, reward_fn: RewardFunction) -> None:
        self.reward_fn = reward_fn
        self.baselines: Any = None
        self.program = ""
        self.best: dict[str, float] = {}  # per program, over this scorer's episodes
        self.seconds: float | None = None
        self.decisions = ""
        self.chosen = ""

    def start(self, info: Mapping[str, Any]) -> None:
        self.baselines = info["baselines"]
        self.program = str(info["benchmark"])
        self.seconds, self.decisions, self.chosen = None, "", ""

    def step(self, env_reward: float, info: Mapping[str, Any]) -> float:
        if "seconds" not in info:
            return 0.0
        after = float(info["seconds"])
        before = self.best.get(self.program, self.baselines.default_seconds)
        reward = self.reward_fn(before, after, self.baselines)
        self.best[self.program] = min(before, after)
        self.seconds = after
        self.decisions = str(info.get("decisions", ""))
        self.chosen = " ".join(str(v) for v in info.get("chosen", ()))
        return reward

    def score(self) -> float:
        return self.baselines.default_seconds / self.seconds if self.seconds else 0.0

    def details(self) -> dict[str, float | int | str]:
        return {
            "speedup": self.score(),
            "seconds": self.seconds or 0.0,
            "default_seconds": self.baselines.default_seconds,
            "decisions": self.decisions,
            "chosen": self.chosen,
        }


def resolve_programs(spec: str) -> list[str]:
    from supersonic.envs.tvm.workloads import resolve_workloads

    return [w.program for w in resolve_workloads(spec)]


def check_program(program: str) -> None:
    from supersonic.envs.tvm.workloads import parse_workload

    parse_workload(program)


def validate_result(program: str, details: Mapping[str, Any]) -> str:
    """Rebuild the result's schedule and compare its output with numpy's."""
    from supersonic.envs.tvm.measure import Measurer, MeasureRequest

    def request(chosen: tuple[int, ...]) -> MeasureRequest:
        return MeasureRequest(program, chosen, repeat=1, min_repeat_ms=0)

    return validate_schedule(Measurer, request, details, "numpy")


def random_baseline(
    programs: list[str], steps: int, seed: int, episode_length: int
) -> dict[str, Any]:
    """Random schedules with the same env steps (one measurement per `knobs` steps)."""
    from supersonic.envs.tvm.env import TvmScheduleEnv
    from supersonic.envs.tvm.search import random_search
    from supersonic.envs.tvm.workloads import parse_workload

    def search(program: str, trials: int, default_s: float, measurer: Any, seed: int) -> Any:
        return random_search(parse_workload(program), trials, default_s, measurer, seed)

    used, metrics = random_schedule_baseline(
        TvmScheduleEnv(programs[0]), search, programs, steps, seed
    )
    return {"env_steps": used, "score": geomean(metrics), "metrics": metrics, "programs": programs}


def _geomean(values: Sequence[float]) -> float:
    return geomean(list(values))


@cache
def tvm_schedule_task() -> Task:
    from supersonic.envs.tvm.env import TvmScheduleEnv

    return Task(
        name="tvm-schedule",
        make_env=TvmScheduleEnv,
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
        metric="geomean over the validation workloads of default seconds / ours",
        doc="TVM tensor-program schedules (tile, order, parallel, vectorize, unroll, "
        "cache-write, compute-at) for neural-network operators on this CPU",
    )
