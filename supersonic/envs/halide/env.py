"""`supersonic/halide-schedule-v0`: schedule a Halide image pipeline for this CPU (gymnasium).

A program is a pipeline at a size (`pipelines.py`: `NAME` or `NAME:WxH`). An episode decides
the pipeline's knobs (`schedule.py`) one per step and then JIT-compiles the schedule, checks it
against the reference and times it in the measuring process (`measure.py`); the episode,
rewards, `info` and failures are those of every schedule task (`supersonic.envs.knob_env`).
The baseline is the default schedule (all inlined into a serial output, reductions at the root).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from supersonic.envs.halide import features
from supersonic.envs.halide.measure import DEFAULT_TIMEOUT_S, MeasureRequest, halide_measurer
from supersonic.envs.halide.pipelines import Program, parse_program
from supersonic.envs.halide.schedule import MAX_OPTIONS, Decisions, knobs_for
from supersonic.envs.knob_env import (
    DEFAULT_FAILURE_PENALTY,
    DEFAULT_REPEAT,
    KnobScheduleEnv,
    ScheduleBaselines,
)

DEFAULT_OBSERVATION = "stage_graph"
HalideBaselines = ScheduleBaselines  # the default schedule's seconds


class HalideScheduleEnv(KnobScheduleEnv):
    """Decide a pipeline's schedule knob by knob; see the module docstring. `target` is a
    Halide target string ("": this machine's JIT target)."""

    observations = features.OBSERVATIONS
    bound = features.BOUND
    max_options = MAX_OPTIONS
    baseline_name = "the default schedule of"

    def __init__(
        self,
        benchmark: str = "blur:64x48",
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

    def _make_measurer(self, timeout_s: float) -> Any:
        return halide_measurer(timeout_s)

    def _switch(self, benchmark: str) -> None:
        self.program: Program = parse_program(benchmark)
        self.knobs = knobs_for(self.program)

    def _program_name(self) -> str:
        return self.program.program

    def decisions(self) -> Decisions:
        return Decisions.of(self.program, self.chosen)

    def _request(self, chosen: tuple[int, ...] | None) -> MeasureRequest:
        return MeasureRequest(self.program.program, chosen, target=self.target, repeat=self.repeat)

    def _observation(self, name: str, decisions: Any) -> np.ndarray:
        if name == "stage_graph":
            return features.stage_graph(decisions, self.knobs, len(self.chosen))
        if name == "history":
            return features.history(self.chosen, self.knobs)
        return features.pipeline(self.program)
