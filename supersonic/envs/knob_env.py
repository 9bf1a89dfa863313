"""The episode shared by the schedule tasks (TVM operators, Halide pipelines): decide a
program's schedule knobs one per step, then measure the schedule once.

The action is the index of the option (taken modulo the knob's option count, so the action
space is a fixed `Discrete(max_options)` for every program). Deciding a knob costs nothing;
when the last knob is decided (or the step limit cuts the episode) the schedule is built,
checked against its reference and timed in the task's measuring process, and the episode ends
(`terminated`; `truncated` at the step limit). Intermediate steps have reward 0.

`info` carries `baselines` (the untuned program's seconds, measured at the first reset on a
program and kept), and after a measurement `seconds`, `speedup` and `decisions`. The env's own
reward is log(baseline seconds / ours). A schedule that fails to build, computes a wrong
result, crashes or exceeds the timeout ends the episode (`truncated`) with `failure_penalty`
and `info["failure"]`; the next measurement gets a fresh measuring process.

A task subclasses `KnobScheduleEnv` and says what a program is, what its knobs are, how to
measure and what each observation computes; the episode logic lives only here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from supersonic.envs.errors import InvalidActionError, UnknownObservationError

DEFAULT_FAILURE_PENALTY = -1.0
BASELINE_TIMEOUT_S = 300.0  # the untuned program must be measured: be patient with it
DEFAULT_REPEAT = 5


@dataclass(frozen=True)
class ScheduleBaselines:
    """What the program takes untuned (the task's default schedule), in seconds."""

    default_seconds: float


class KnobScheduleEnv(gym.Env[Any, Any]):
    """Decide a program's schedule knob by knob; see the module docstring.

    Subclasses set `observations` (name -> vector size), `bound` (the observations' upper
    bound), `max_options`, `baseline_name` (how errors name the untuned program) and implement
    the hooks below.
    """

    observations: Mapping[str, int] = {}
    bound: float = 1.0
    max_options: int = 1
    baseline_name: str = "the default schedule of"
    knobs: tuple[Any, ...]  # the current program's knobs, in decision order (set by _switch)

    def __init__(
        self,
        benchmark: str,
        *,
        observation: str | tuple[str, ...],
        max_episode_steps: int,
        measure_timeout_s: float,
        failure_penalty: float,
        target: str,
        repeat: int,
    ) -> None:
        names = (observation,) if isinstance(observation, str) else tuple(observation)
        for name in names:
            if name not in self.observations:
                choices = ", ".join(self.observations)
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
        self.measurer = self._make_measurer(measure_timeout_s)
        self.action_space = gym.spaces.Discrete(self.max_options)
        spaces: dict[str, gym.Space[Any]] = {
            n: gym.spaces.Box(0.0, self.bound, (self.observations[n],), np.float32) for n in names
        }
        self.observation_space: gym.Space[Any] = (
            gym.spaces.Dict(spaces) if self.obs_is_dict else spaces[names[0]]
        )
        self._switch(benchmark)
        self.chosen: list[int] = []
        self._baselines: dict[str, ScheduleBaselines] = {}
        self._needs_reset = True

    # ------------------------------------------------------------------- the task's hooks
    def _make_measurer(self, timeout_s: float) -> Any:
        """The task's measuring process (a `Measurer`)."""
        raise NotImplementedError

    def _switch(self, benchmark: str) -> None:
        """Parse `benchmark` and make it the current program (and set `self.knobs`)."""
        raise NotImplementedError

    def _program_name(self) -> str:
        """The current program's name (what measurements and baselines are keyed by)."""
        raise NotImplementedError

    def decisions(self) -> Any:
        """The current program's decided knobs, as the task's `Decisions`."""
        raise NotImplementedError

    def _request(self, chosen: tuple[int, ...] | None) -> Any:
        """The task's measure request for the current program (None: untuned)."""
        raise NotImplementedError

    def _observation(self, name: str, decisions: Any) -> np.ndarray:
        """The observation `name` of the current state."""
        raise NotImplementedError

    # ----------------------------------------------------------------------------- gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; `options={"benchmark": ...}` switches program first."""
        super().reset(seed=seed)
        if options and options.get("benchmark") is not None:
            self._switch(str(options["benchmark"]))
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
        if not 0 <= index < self.max_options:
            raise InvalidActionError(f"action {index} is outside 0..{self.max_options - 1}")
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

    def action_choices(self) -> int:
        """How many options the next knob has: action a picks option a mod this, so a
        deterministic policy must compare options, not actions (`folded_argmax` in actors)."""
        if len(self.chosen) >= len(self.knobs):
            return self.max_options
        return len(self.knobs[len(self.chosen)].options)

    def close(self) -> None:
        self.measurer.close()
        self._needs_reset = True

    # --------------------------------------------------------------------------- extras
    def measure(self, chosen: list[int] | None, timeout_s: float | None = None) -> Any:
        """Measure the current program under `chosen` knob values (None: untuned)."""
        request = self._request(None if chosen is None else tuple(chosen))
        return self.measurer.measure(request, timeout_s)

    def baselines(self) -> ScheduleBaselines:
        """The untuned program's time, measured once per program (a broken set-up, not a
        schedule, makes it fail: that is an error, not a penalty)."""
        program = self._program_name()
        if program not in self._baselines:
            measurement = self.measure(None, max(BASELINE_TIMEOUT_S, self.measurer.timeout_s))
            if not measurement.ok:
                raise RuntimeError(
                    f"cannot measure {self.baseline_name} {program}: {measurement.error}; "
                    "run `supersonic doctor`"
                )
            assert measurement.seconds is not None
            self._baselines[program] = ScheduleBaselines(measurement.seconds)
        return self._baselines[program]

    # ------------------------------------------------------------------------ internals
    def _observe(self) -> Any:
        decisions = self.decisions()
        out = {name: self._observation(name, decisions) for name in self.names}
        return out if self.obs_is_dict else out[self.names[0]]

    def _info(self) -> dict[str, Any]:
        return {
            "benchmark": self._program_name(),
            "baselines": self.baselines(),
            "episode_length": len(self.chosen),
            "knobs": len(self.knobs),
        }


# ---------------------------------------------------------------- the tasks' shared parts
def recorded_schedule(details: Mapping[str, Any]) -> tuple[int, ...]:
    """The knob values a result's details record (`chosen`, space-separated); () when it
    records none or they are not integers."""
    try:
        return tuple(int(v) for v in str(details.get("chosen", "")).split())
    except ValueError:
        return ()


def validate_schedule(
    make_measurer: Callable[[], Any],
    request: Callable[[tuple[int, ...]], Any],
    details: Mapping[str, Any],
    what: str,
) -> str:
    """Rebuild a recorded result's schedule (`details["chosen"]`) in a fresh measuring process
    and compare its output with `what` (numpy, the reference)."""
    chosen = recorded_schedule(details)
    if not chosen:
        return "unchecked: no schedule recorded"
    measurer = make_measurer()
    try:
        m = measurer.measure(request(chosen))
    finally:
        measurer.close()
    if not m.ok:
        return f"INVALID: {m.error}"
    return f"valid: same output as {what} (max |difference| {m.max_error:.2g})"


def random_schedule_baseline(
    env: KnobScheduleEnv,
    search: Callable[[str, int, float, Any, int], Any],
    programs: list[str],
    steps: int,
    seed: int,
) -> tuple[int, list[float]]:
    """Random schedules with the same env steps as a candidate (one measurement per `knobs`
    steps), on `env`'s measuring process (closed here): (env steps used, speedups)."""
    metrics: list[float] = []
    used = 0
    try:
        for i, program in enumerate(programs):
            env.reset(options={"benchmark": program})
            per_program = max(1, steps // len(programs))
            trials = max(1, per_program // len(env.knobs))
            result = search(
                program, trials, env.baselines().default_seconds, env.measurer, seed + i
            )
            metrics.append(result.speedup)
            used += trials * len(env.knobs)
    finally:
        env.close()
    return used, metrics
