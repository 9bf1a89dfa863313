"""`supersonic/llvm-codesize-v0`: LLVM pass ordering for code size, as a gymnasium env.

Backed by CompilerGym's `llvm-v0` service. What this wrapper adds:

- benchmarks from anywhere (built-in programs, user files, generators), converted for LLVM 10;
- the observation chosen by name (`observation=`; a tuple of names gives a dict of them), the
  IR instruction count and the program's -O0/-O3/-Oz baselines (IR count and object .text
  size, cached per program) in `info`;
- actions by index or by pass name;
- a step that never raises because of the compiler: a hung or crashed service becomes a
  truncated episode with `failure_penalty` as reward, and a fresh service at the next reset.

The reward is CompilerGym's IrInstructionCountOz: the drop in IR instructions scaled by what -Oz
achieves on the program, so an episode's return is 1.0 when it matches -Oz.
"""

from __future__ import annotations

import json
import time
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from supersonic.envs.errors import ConversionError
from supersonic.envs.llvm import service
from supersonic.envs.llvm.actions import ACTION_FLAGS, NUM_ACTIONS, action_index
from supersonic.envs.llvm.benchmarks import BenchmarkSpec, resolve_benchmark
from supersonic.envs.llvm.bitcode import DEFAULT_MAX_INSTRUCTIONS, PreparedProgram
from supersonic.envs.llvm.observations import ObservationSpec, observation_spec
from supersonic.paths import cache_dir

DEFAULT_OBSERVATION = "Autophase"
DEFAULT_MAX_EPISODE_STEPS = 50
DEFAULT_STEP_TIMEOUT_S = 60.0
DEFAULT_FAILURE_PENALTY = -1.0


@dataclass(frozen=True)
class ProgramBaselines:
    """What LLVM's own pipelines achieve on a program: IR instruction counts and .text bytes."""

    ir_o0: int
    ir_o3: int
    ir_oz: int
    text_o0: int
    text_o3: int
    text_oz: int

    _SERVICE_NAMES: ClassVar[dict[str, str]] = {
        "ir_o0": "IrInstructionCountO0",
        "ir_o3": "IrInstructionCountO3",
        "ir_oz": "IrInstructionCountOz",
        "text_o0": "ObjectTextSizeO0",
        "text_o3": "ObjectTextSizeO3",
        "text_oz": "ObjectTextSizeOz",
    }

    @classmethod
    def measure(cls, session: Any) -> ProgramBaselines:
        return cls(
            **{field: int(session.observation[name]) for field, name in cls._SERVICE_NAMES.items()}
        )


def _baselines_path(program: PreparedProgram) -> Any:
    return cache_dir() / "baselines" / f"{program.sha256}.json"


def load_baselines(program: PreparedProgram) -> ProgramBaselines | None:
    try:
        return ProgramBaselines(**json.loads(_baselines_path(program).read_text()))
    except (OSError, ValueError, TypeError):
        return None


def store_baselines(program: PreparedProgram, baselines: ProgramBaselines) -> None:
    path = _baselines_path(program)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{id(baselines)}.tmp")
    tmp.write_text(json.dumps(asdict(baselines)))
    tmp.replace(path)


class LlvmCodeSizeEnv(gym.Env[Any, Any]):
    """Choose LLVM passes one at a time to shrink a program; see the module docstring."""

    metadata = {"render_modes": ["ansi"]}  # noqa: RUF012 (gymnasium declares it so)

    def __init__(
        self,
        benchmark: str | BenchmarkSpec | None = None,
        *,
        observation: str | tuple[str, ...] = DEFAULT_OBSERVATION,
        max_episode_steps: int = DEFAULT_MAX_EPISODE_STEPS,
        step_timeout_s: float = DEFAULT_STEP_TIMEOUT_S,
        failure_penalty: float = DEFAULT_FAILURE_PENALTY,
        object_size_in_info: bool = False,
        max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS,
        render_mode: str | None = None,
    ) -> None:
        if max_episode_steps < 1:
            raise ValueError(f"max_episode_steps must be >= 1, got {max_episode_steps}")
        if step_timeout_s <= 0:
            raise ValueError(f"step_timeout_s must be > 0, got {step_timeout_s}")
        if render_mode not in (None, "ansi"):
            raise ValueError(f"render_mode must be None or 'ansi', got {render_mode!r}")
        # A tuple of names makes the observation a dict from name to value (one service call
        # computes them all): what a concatenated state function reads.
        names = (observation,) if isinstance(observation, str) else tuple(observation)
        if not names or len(set(names)) != len(names):
            raise ValueError(f"observation must name distinct observations, got {observation!r}")
        self._obs_specs: list[ObservationSpec] = [observation_spec(n) for n in names]
        self._obs_is_dict = not isinstance(observation, str)
        self.observation_name = observation
        self.max_episode_steps = max_episode_steps
        self.step_timeout_s = step_timeout_s
        self.failure_penalty = failure_penalty
        self.object_size_in_info = object_size_in_info
        self.max_instructions = max_instructions
        self.render_mode = render_mode
        self.action_space = gym.spaces.Discrete(NUM_ACTIONS)
        self.observation_space: gym.Space[Any] = (
            gym.spaces.Dict({o.name: o.space(max_episode_steps) for o in self._obs_specs})
            if self._obs_is_dict
            else self._obs_specs[0].space(max_episode_steps)
        )
        self.benchmark = resolve_benchmark(benchmark)
        # Prepared now so that a bad program fails at construction, not at the first reset.
        self.program: PreparedProgram = self.benchmark.prepare(max_instructions)
        self.baselines: ProgramBaselines | None = None
        self._session: Any = None
        self._obs: Any = None
        self._actions: list[int] = []
        self._histogram = np.zeros(NUM_ACTIONS, dtype=np.int64)
        self._ir_count = 0
        self._text_size: int | None = None
        self._needs_reset = True
        self._last_had_effect = True
        self.service_restarts = 0
        # Why the service was last discarded: a failed reset is retried silently (the episode
        # starts anyway), so its caller reads this to log it.
        self.last_failure = ""

    # ----------------------------------------------------------------------------- gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start an episode; `options={"benchmark": ...}` switches program first."""
        super().reset(seed=seed)
        if options and options.get("benchmark") is not None:
            self.benchmark = resolve_benchmark(options["benchmark"])
            self.program = self.benchmark.prepare(self.max_instructions)
        self._actions = []
        self._histogram[:] = 0
        self._start_episode()
        self._needs_reset = False
        return self._obs, self._info()

    def step(self, action: int | str) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        """Apply one pass (an index or a pass name). Never raises because of the compiler."""
        index = action_index(action)
        if self._needs_reset or self._session is None:
            raise ResetNeeded("call reset() before step(), and again after an episode ends")
        previous = self._ir_count
        self._actions.append(index)
        self._histogram[index] += 1
        failure = self._apply(index)
        truncated = failure is not None or len(self._actions) >= self.max_episode_steps
        self._needs_reset = truncated
        if failure is not None:
            reward = self.failure_penalty
        else:
            reward = (previous - self._ir_count) / self._oz_gain()
        info = self._info()
        if failure is not None:
            info["failure"] = failure
        else:
            info["action_had_effect"] = self._last_had_effect
        info["action"] = ACTION_FLAGS[index]  # the pass applied, by name
        return self._obs, float(reward), False, truncated, info

    def render(self) -> str | None:
        if self.render_mode != "ansi":
            return None
        passes = " ".join(f"-{ACTION_FLAGS[a]}" for a in self._actions)
        return f"{self.benchmark.uri}: {self._ir_count} IR instructions after [{passes}]"

    def close(self) -> None:
        service.close_session(self._session)
        self._session = None
        self._needs_reset = True

    def _discard_session(self) -> None:
        """Kill a service that failed (it may be hung): the next reset starts a new one."""
        service.kill_session(self._session)
        self._session = None
        self._needs_reset = True
        self.service_restarts += 1

    # --------------------------------------------------------------------------- extras
    @property
    def actions(self) -> list[int]:
        """The actions applied so far in this episode."""
        return list(self._actions)

    @property
    def ir_instruction_count(self) -> int:
        return self._ir_count

    def fork(self) -> LlvmCodeSizeEnv:
        """An independent copy of this env in its current state (CompilerGym's cheap fork)."""
        if self._session is None or self._needs_reset:
            raise ResetNeeded("fork() needs an episode in progress")
        clone = object.__new__(type(self))
        clone.__dict__.update(self.__dict__)
        clone._session = self._session.fork()
        clone._actions = list(self._actions)
        clone._histogram = self._histogram.copy()
        return clone

    def bitcode(self) -> bytes:
        """The current module as (LLVM 10) bitcode."""
        if self._session is None:
            raise ResetNeeded("bitcode() needs an episode in progress")
        return bytes(np.asarray(self._session.observation["Bitcode"], dtype=np.int8).tobytes())

    def object_text_size(self) -> int:
        """Bytes of .text in the current module's object file (runs clang: ~50 ms)."""
        if self._session is None:
            raise ResetNeeded("object_text_size() needs an episode in progress")
        return int(self._session.observation["ObjectTextSizeBytes"])

    # ------------------------------------------------------------------------ internals
    def _oz_gain(self) -> int:
        assert self.baselines is not None
        return max(self.baselines.ir_o0 - self.baselines.ir_oz, 1)

    def _start_episode(self, attempts: int = 2) -> None:
        """Reset the CompilerGym session on the current program, restarting a broken service."""
        uri = f"benchmark://user-v0/{self.program.sha256[:32]}"
        last_error: BaseException | None = None
        for _ in range(attempts):
            try:
                cg_benchmark = service.make_benchmark(uri, self.program.bitcode)
                if self._session is None:
                    self._session = service.make_session(cg_benchmark, self.step_timeout_s)
                pid = service.service_pid(self._session)
                with service.WATCHDOG.guard(pid, self.step_timeout_s):
                    self._session.reset(benchmark=cg_benchmark, timeout=self.step_timeout_s)
                    self._measure_start()
                if service.service_pid(self._session) != pid:
                    # CompilerGym's reset retries on a new service by itself when the old one
                    # crashed or hung: nothing is lost, but it is a fault to count and report.
                    self.service_restarts += 1
                    self.last_failure = "the compiler service failed at reset; a new one took over"
                return
            except ValueError as exc:  # CompilerGym: "Failed to parse LLVM bitcode"
                self.close()
                raise ConversionError(
                    f"{self.benchmark.uri}: CompilerGym's LLVM 10 cannot load it ({exc})"
                ) from exc
            except service.compiler_gym_errors() as exc:
                last_error = exc
                self.last_failure = f"{type(exc).__name__} starting an episode: {str(exc)[:300]}"
                self._discard_session()
        raise RuntimeError(
            f"the CompilerGym LLVM service failed to start twice: {last_error}; "
            "run `supersonic doctor`"
        )

    def _measure_start(self) -> None:
        session = self._session
        self.baselines = load_baselines(self.program)
        if self.baselines is None:
            self.baselines = ProgramBaselines.measure(session)
            store_baselines(self.program, self.baselines)
        self._ir_count = self.baselines.ir_o0
        self._text_size = self.baselines.text_o0 if self.object_size_in_info else None
        self._obs = self._observe(
            [session.observation[o.service_name] for o in self._service_specs()]
        )

    def _apply(self, index: int) -> str | None:
        """Run one pass in the service; returns a failure description instead of raising."""
        session = self._session
        spaces = session.observation.spaces
        observed = self._service_specs()
        wanted = [spaces["IrInstructionCount"]]
        wanted += [spaces[o.service_name] for o in observed]
        if self.object_size_in_info:
            wanted.append(spaces["ObjectTextSizeBytes"])
        started = time.monotonic()
        try:
            with service.WATCHDOG.guard(service.service_pid(session), self.step_timeout_s):
                values, _, _, info = session.raw_step(
                    [index], wanted, [], timeout=self.step_timeout_s
                )
        except service.compiler_gym_errors() as exc:
            info = {"error_type": type(exc).__name__, "error_details": str(exc)}
        if "error_type" in info:
            elapsed = time.monotonic() - started
            self._discard_session()
            self.last_failure = (
                f"{info['error_type']} after {elapsed:.1f} s applying -{ACTION_FLAGS[index]}: "
                f"{str(info.get('error_details', ''))[:300]}"
            )
            return self.last_failure
        self._last_had_effect = not info.get("action_had_no_effect", False)
        self._ir_count = int(values[0])
        self._obs = self._observe(values[1 : 1 + len(observed)])
        if self.object_size_in_info:
            self._text_size = int(values[-1])
        return None

    def _service_specs(self) -> list[ObservationSpec]:
        """The observations the CompilerGym service computes (the env keeps the rest)."""
        return [o for o in self._obs_specs if o.service_name is not None]

    def _observe(self, service_values: list[Any]) -> Any:
        """The observation from the service's values (in `_service_specs` order)."""
        values = iter(service_values)
        out = {
            o.name: self._histogram.copy() if o.service_name is None else o.convert(next(values))
            for o in self._obs_specs
        }
        return out if self._obs_is_dict else out[self._obs_specs[0].name]

    def _info(self) -> dict[str, Any]:
        assert self.baselines is not None
        info: dict[str, Any] = {
            "benchmark": self.benchmark.uri,
            "ir_instruction_count": self._ir_count,
            "baselines": self.baselines,
            "episode_length": len(self._actions),
        }
        if self._text_size is not None:
            info["object_text_size"] = self._text_size
        return info
