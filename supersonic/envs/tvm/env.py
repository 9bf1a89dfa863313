"""`supersonic/tvm-schedule-v0`: schedule a neural-network operator for this CPU (gymnasium).

A program is a workload (`workloads.py`: a built-in name or `OP:DIMS`). An episode decides the
workload's knobs (`schedule.py`) one per step and then builds the schedule, checks it against
numpy and times it in the measuring process (`measure.py`); the episode, rewards, `info` and
failures are those of every schedule task (`supersonic.envs.knob_env`). The baseline is the
unscheduled program (TVM's default lowering).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from supersonic.envs.knob_env import (
    DEFAULT_FAILURE_PENALTY,
    DEFAULT_REPEAT,
    KnobScheduleEnv,
    ScheduleBaselines,
)
from supersonic.envs.tvm import features
from supersonic.envs.tvm.measure import DEFAULT_TIMEOUT_S, Measurer, MeasureRequest
from supersonic.envs.tvm.schedule import MAX_OPTIONS, Decisions, knobs_for
from supersonic.envs.tvm.workloads import Workload, parse_workload

DEFAULT_OBSERVATION = "loop_features"
TvmBaselines = ScheduleBaselines  # the unscheduled program's seconds


class TvmScheduleEnv(KnobScheduleEnv):
    """Decide a workload's schedule knob by knob; see the module docstring."""

    observations = features.OBSERVATIONS
    bound = features.BOUND
    max_options = MAX_OPTIONS
    baseline_name = "the unscheduled"

    def __init__(
        self,
        benchmark: str = "tiny-dense",
        *,
        observation: str | tuple[str, ...] = DEFAULT_OBSERVATION,
        max_episode_steps: int = 0,
        measure_timeout_s: float = DEFAULT_TIMEOUT_S,
        failure_penalty: float = DEFAULT_FAILURE_PENALTY,
        target: str = "",
        repeat: int = DEFAULT_REPEAT,
    ) -> None:
        super().__init__(
            benchmark,
            observation=observation,
            max_episode_steps=max_episode_steps,
            measure_timeout_s=measure_timeout_s,
            failure_penalty=failure_penalty,
            target=target,
            repeat=repeat,
        )

    def _make_measurer(self, timeout_s: float) -> Measurer:
        return Measurer(timeout_s)

    def _switch(self, benchmark: str) -> None:
        self.workload: Workload = parse_workload(benchmark)
        self.knobs = knobs_for(self.workload)

    def _program_name(self) -> str:
        return self.workload.program

    def decisions(self) -> Decisions:
        return Decisions.of(self.workload, self.chosen)

    def _request(self, chosen: tuple[int, ...] | None) -> MeasureRequest:
        return MeasureRequest(self.workload.program, chosen, target=self.target, repeat=self.repeat)

    def _observation(self, name: str, decisions: Any) -> np.ndarray:
        if name == "loop_features":
            return features.loop_features(decisions, self.knobs, len(self.chosen))
        if name == "history":
            return features.history(self.chosen, self.knobs)
        return features.shape(self.workload)
