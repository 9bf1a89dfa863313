"""`supersonic/halide-schedule-v0`: schedule a Halide image pipeline for this CPU (gymnasium).

A program is a pipeline at a size (`pipelines.py`: `NAME` or `NAME:WxH`). An episode decides
the pipeline's knobs (`schedule.py`) one per step: the action is the index of the option
(taken modulo the knob's option count, so the action space is a fixed `Discrete(MAX_OPTIONS)`
for every pipeline). Deciding a knob costs nothing; when the last knob is decided (or the step
limit cuts the episode) the schedule is JIT-compiled, checked against the reference and timed
in the measuring process (`measure.py`), and the episode ends (`terminated`; `truncated` at
the step limit). Intermediate steps have reward 0.

`info` carries `baselines` (the default schedule's seconds, measured at the first reset on a
program and kept), and after a measurement `seconds`, `speedup` and `decisions`. The env's own
reward is log(default seconds / ours). A schedule that fails to compile, computes a wrong
result, crashes or exceeds the timeout ends the episode (`truncated`) with `failure_penalty`
and `info["failure"]`; the next measurement gets a fresh measuring process.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from supersonic.envs.errors import InvalidActionError, UnknownObservationError
from supersonic.envs.halide import features
from supersonic.envs.halide.measure import DEFAULT_TIMEOUT_S, MeasureRequest, halide_measurer
from supersonic.envs.halide.pipelines import Program, parse_program
from supersonic.envs.halide.schedule import MAX_OPTIONS, Decisions, Knob, knobs_for

DEFAULT_OBSERVATION = "stage_graph"
DEFAULT_FAILURE_PENALTY = -1.0
BASELINE_TIMEOUT_S = 300.0  # the default schedule must be measured: be patient with it
DEFAULT_REPEAT = 5


@dataclass(frozen=True)
class HalideBaselines:
    """What the program takes under its default schedule (all inlined into a serial output,
    reductions at the root), in seconds."""

    default_seconds: float


class HalideScheduleEnv(gym.Env[Any, Any]):
    """Decide a pipeline's schedule knob by knob; see the module docstring."""

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
        names = (observation,) if isinstance(observation, str) else tuple(observation)
        for name in names:
            if name not in features.OBSERVATIONS:
                choices = ", ".join(features.OBSERVATIONS)
                raise UnknownObservationError(
                    f"unknown observation {name!r}; choose one of {choices}"
                )
        if not names or len(set(names)) != len(names):
            raise ValueError(f"observation must name distinct observations, got {observation!r}")
        if max_episode_steps < 0:
            raise ValueError(f"max_episode_steps must be >= 0, got {max_episode_steps}")
        self.names = names
        self.obs_is_dict = not isinstance(observation, str)
        self.max_episode_steps = max_episode_steps  # 0: every knob is decided
        self.failure_penalty = failure_penalty
        self.target = target  # a Halide target string ("": this machine's JIT target)
        self.repeat = repeat
        self.measurer = halide_measurer(measure_timeout_s)
        self.action_space = gym.spaces.Discrete(MAX_OPTIONS)
        spaces: dict[str, gym.Space[Any]] = {
            n: gym.spaces.Box(0.0, features.BOUND, (features.OBSERVATIONS[n],), np.float32)
            for n in names
        }
        self.observation_space: gym.Space[Any] = (
            gym.spaces.Dict(spaces) if self.obs_is_dict else spaces[names[0]]
        )
        self.program: Program = parse_program(benchmark)
        self.knobs: tuple[Knob, ...] = knobs_for(self.program)
        self.chosen: list[int] = []
        self._baselines: dict[str, HalideBaselines] = {}
        self._needs_reset = True

    # ----------------------------------------------------------------------------- gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; `options={"benchmark": ...}` switches program first."""
        super().reset(seed=seed)
        if options and options.get("benchmark") is not None:
            self.program = parse_program(str(options["benchmark"]))
            self.knobs = knobs_for(self.program)
        self.chosen = []
        self._needs_reset = False
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise ResetNeeded("call reset() before step(), and again after an episode ends")
        try:
            index = int(action)
        except (TypeError, ValueError):
            raise InvalidActionError(f"an action is an integer, got {action!r}") from None
        if not 0 <= index < MAX_OPTIONS:
            raise InvalidActionError(f"action {index} is outside 0..{MAX_OPTIONS - 1}")
        knob = self.knobs[len(self.chosen)]
        self.chosen.append(knob.value(index))
        done = len(self.chosen) == len(self.knobs)
        cut = not done and 0 < self.max_episode_steps <= len(self.chosen)
        info = self._info()
        info["knob"] = f"{knob.name}={self.chosen[-1]}"
        if not (done or cut):
            return self._observe(), 0.0, False, False, info
        self._needs_reset = True
        measurement = self.measure(self.chosen)
        info["decisions"] = self.decisions().describe()
        if not measurement.ok:
            info["failure"] = measurement.error
            return self._observe(), float(self.failure_penalty), False, True, info
        assert measurement.seconds is not None
        baseline = info["baselines"].default_seconds
        info["seconds"] = measurement.seconds
        info["speedup"] = baseline / measurement.seconds
        info["chosen"] = list(self.chosen)
        reward = math.log(info["speedup"])
        return self._observe(), reward, done, cut, info

    def close(self) -> None:
        self.measurer.close()
        self._needs_reset = True

    # --------------------------------------------------------------------------- extras
    def decisions(self) -> Decisions:
        return Decisions.of(self.program, self.chosen)

    def measure(self, chosen: list[int] | None, timeout_s: float | None = None) -> Any:
        """Measure the current program under `chosen` knob values (None: default schedule)."""
        request = MeasureRequest(
            self.program.program,
            None if chosen is None else tuple(chosen),
            target=self.target,
            repeat=self.repeat,
        )
        return self.measurer.measure(request, timeout_s)

    def baselines(self) -> HalideBaselines:
        """The default schedule's time, measured once per program (a broken set-up, not a
        schedule, makes it fail: that is an error, not a penalty)."""
        program = self.program.program
        if program not in self._baselines:
            measurement = self.measure(None, max(BASELINE_TIMEOUT_S, self.measurer.timeout_s))
            if not measurement.ok:
                raise RuntimeError(
                    f"cannot measure the default schedule of {program}: {measurement.error}; "
                    "run `supersonic doctor`"
                )
            assert measurement.seconds is not None
            self._baselines[program] = HalideBaselines(measurement.seconds)
        return self._baselines[program]

    # ------------------------------------------------------------------------ internals
    def _observe(self) -> Any:
        decisions = self.decisions()
        out: dict[str, np.ndarray] = {}
        for name in self.names:
            if name == "stage_graph":
                out[name] = features.stage_graph(decisions, self.knobs, len(self.chosen))
            elif name == "history":
                out[name] = features.history(self.chosen, self.knobs)
            else:
                out[name] = features.pipeline(self.program)
        return out if self.obs_is_dict else out[self.names[0]]

    def _info(self) -> dict[str, Any]:
        return {
            "benchmark": self.program.program,
            "baselines": self.baselines(),
            "episode_length": len(self.chosen),
            "knobs": len(self.knobs),
        }
