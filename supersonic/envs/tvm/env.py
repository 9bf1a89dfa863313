"""`supersonic/tvm-schedule-v0`: schedule a neural-network operator for this CPU (gymnasium).

A program is a workload (`workloads.py`: a built-in name or `OP:DIMS`). An episode decides the
workload's knobs (`schedule.py`) one per step: the action is the index of the option (taken
modulo the knob's option count, so the action space is a fixed `Discrete(MAX_OPTIONS)` for
every workload). Deciding a knob costs nothing; when the last knob is decided (or the step
limit cuts the episode) the schedule is built, checked against numpy and timed in the
measuring process (`measure.py`), and the episode ends (`terminated`; `truncated` at the step
limit). Intermediate steps have reward 0.

`info` carries `baselines` (the unscheduled program's seconds, measured at the first reset on a
program and kept), and after a measurement `seconds`, `speedup` and `decisions`. The env's own
reward is log(default seconds / ours). A schedule that fails to build, computes a wrong
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
from supersonic.envs.tvm import features
from supersonic.envs.tvm.measure import DEFAULT_TIMEOUT_S, Measurer, MeasureRequest
from supersonic.envs.tvm.schedule import MAX_OPTIONS, Decisions, Knob, knobs_for
from supersonic.envs.tvm.workloads import Workload, parse_workload

DEFAULT_OBSERVATION = "loop_features"
DEFAULT_FAILURE_PENALTY = -1.0
BASELINE_TIMEOUT_S = 300.0  # the unscheduled program must be measured: be patient with it
DEFAULT_REPEAT = 5


@dataclass(frozen=True)
class TvmBaselines:
    """What the program takes without a schedule (TVM's default lowering), in seconds."""

    default_seconds: float


class TvmScheduleEnv(gym.Env[Any, Any]):
    """Decide a workload's schedule knob by knob; see the module docstring."""

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
        self.target = target
        self.repeat = repeat
        self.measurer = Measurer(measure_timeout_s)
        self.action_space = gym.spaces.Discrete(MAX_OPTIONS)
        spaces: dict[str, gym.Space[Any]] = {
            n: gym.spaces.Box(0.0, features.BOUND, (features.OBSERVATIONS[n],), np.float32)
            for n in names
        }
        self.observation_space: gym.Space[Any] = (
            gym.spaces.Dict(spaces) if self.obs_is_dict else spaces[names[0]]
        )
        self.workload: Workload = parse_workload(benchmark)
        self.knobs: tuple[Knob, ...] = knobs_for(self.workload)
        self.chosen: list[int] = []
        self._baselines: dict[str, TvmBaselines] = {}
        self._needs_reset = True

    # ----------------------------------------------------------------------------- gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; `options={"benchmark": ...}` switches workload first."""
        super().reset(seed=seed)
        if options and options.get("benchmark") is not None:
            self.workload = parse_workload(str(options["benchmark"]))
            self.knobs = knobs_for(self.workload)
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
        return Decisions.of(self.workload, self.chosen)

    def measure(self, chosen: list[int] | None, timeout_s: float | None = None) -> Any:
        """Measure the current workload under `chosen` knob values (None: unscheduled)."""
        request = MeasureRequest(
            self.workload.program,
            None if chosen is None else tuple(chosen),
            target=self.target,
            repeat=self.repeat,
        )
        return self.measurer.measure(request, timeout_s)

    def baselines(self) -> TvmBaselines:
        """The unscheduled program's time, measured once per program (a broken set-up, not a
        schedule, makes it fail: that is an error, not a penalty)."""
        program = self.workload.program
        if program not in self._baselines:
            measurement = self.measure(None, max(BASELINE_TIMEOUT_S, self.measurer.timeout_s))
            if not measurement.ok:
                raise RuntimeError(
                    f"cannot measure the unscheduled {program}: {measurement.error}; "
                    "run `supersonic doctor`"
                )
            assert measurement.seconds is not None
            self._baselines[program] = TvmBaselines(measurement.seconds)
        return self._baselines[program]

    # ------------------------------------------------------------------------ internals
    def _observe(self) -> Any:
        decisions = self.decisions()
        out: dict[str, np.ndarray] = {}
        for name in self.names:
            if name == "loop_features":
                out[name] = features.loop_features(decisions, self.knobs, len(self.chosen))
            elif name == "history":
                out[name] = features.history(self.chosen, self.knobs)
            else:
                out[name] = features.shape(self.workload)
        return out if self.obs_is_dict else out[self.names[0]]

    def _info(self) -> dict[str, Any]:
        return {
            "benchmark": self.workload.program,
            "baselines": self.baselines(),
            "episode_length": len(self.chosen),
            "knobs": len(self.knobs),
        }
