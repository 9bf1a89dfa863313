"""`supersonic/superopt-v0`: superoptimize a loop-free x86-64 function with STOKE's moves.

A program is a benchmark function (`functions.py`). An episode starts from clang -O0's code
for it, laid into `MAX_SLOTS` slots, and each step applies one of STOKE's moves
(`moves.MOVE_KINDS`: nop, opcode, operand, forward, swap, replace) at a cursor: the action is
the move kind, `Discrete(6)` for every function, and the cursor walks the program, one
instruction further after every step (wrapping around; after a deletion it stays, on the
instruction that took the deleted one's place). The `cursor` observation describes the
instruction under it. A policy so decides what to do with each instruction in turn; a
kind x slot action space (240 actions) was tried first and left a short training nothing to
learn from (a near-uniform policy's argmax is one fixed action at one fixed slot). MCMC
(`search.py`) draws the slot at random as STOKE does. The details of a move (which opcode,
which operand) are drawn from the env's random generator (seeded by `reset(seed=)`). A move
that cannot be made (nothing that assembles, nothing to forward) leaves the program as it
was.

After every step the program is measured (`cost.py`): the tests in the emulator, the cycles
by llvm-mca. The env's reward is the drop in STOKE cost, over the -O0 cost. With
`revert_incorrect=False` the current program may become incorrect (STOKE's MCMC walks through
incorrect code); by default a move that makes it fail a test is measured and then undone
(`info["reverted"]`, reward 0): a policy then walks among test-equivalent programs, which a
short training can learn from, where a walk that breaks the program in its first steps
teaches nothing. The episode remembers its best test-equivalent program (fewest estimated
cycles): `info["best"]` (the listing) and `info["best_cycles"]`. Episodes end only at the
step limit (`truncated`).

`info["baselines"]` carries the -O0 and -O3 code's cycles (`SuperoptBaselines`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.error import ResetNeeded

from supersonic.envs.errors import InvalidActionError, UnknownObservationError
from supersonic.envs.superopt import features
from supersonic.envs.superopt.asm import Instr, listing
from supersonic.envs.superopt.compile import compiled
from supersonic.envs.superopt.cost import CLOBBER_BITS, FAULT_BITS, Evaluation, Evaluator
from supersonic.envs.superopt.functions import get_function
from supersonic.envs.superopt.mca import DEFAULT_CPU, estimate
from supersonic.envs.superopt.moves import (
    MAX_SLOTS,
    MOVE_KINDS,
    N_ACTIONS,
    Pools,
    apply_move,
    body_of,
    dead_store,
    forwardable,
    slots_of,
)

DEFAULT_OBSERVATION = "summary"
DEFAULT_EPISODE_STEPS = 64


@dataclass(frozen=True)
class SuperoptBaselines:
    """The reference points of a function: clang -O0's and -O3's estimated cycles and cost."""

    o0_cycles: float
    o0_cost: float
    o3_cycles: float


class SuperoptEnv(gym.Env[Any, Any]):
    """Rewrite a function's -O0 code move by move; see the module docstring."""

    def __init__(
        self,
        benchmark: str = "abs",
        *,
        observation: str | tuple[str, ...] = DEFAULT_OBSERVATION,
        max_episode_steps: int = 0,
        n_random_tests: int = 24,
        cpu: str = DEFAULT_CPU,
        revert_incorrect: bool = True,
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
        self.max_episode_steps = max_episode_steps or DEFAULT_EPISODE_STEPS
        self.n_random_tests = n_random_tests
        self.cpu = cpu
        self.revert_incorrect = revert_incorrect
        self.action_space = gym.spaces.Discrete(N_ACTIONS)
        spaces: dict[str, gym.Space[Any]] = {
            n: gym.spaces.Box(0.0, features.BOUND, (features.OBSERVATIONS[n],), np.float32)
            for n in names
        }
        self.observation_space: gym.Space[Any] = (
            gym.spaces.Dict(spaces) if self.obs_is_dict else spaces[names[0]]
        )
        self.function = get_function(benchmark)
        self._evaluators: dict[str, Evaluator] = {}
        self._baselines: dict[str, SuperoptBaselines] = {}
        self.rng = np.random.default_rng(0)
        self.slots: list[Instr | None] = []
        self.pools: Pools | None = None
        self.current: Evaluation | None = None
        self.best_body: tuple[Instr, ...] = ()
        self.best: Evaluation | None = None
        self.cursor = 0  # an index into the program's instructions
        self.steps = 0
        self._needs_reset = True

    # ----------------------------------------------------------------------------- gym API
    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Start from the -O0 code; `options={"benchmark": ...}` switches function first."""
        super().reset(seed=seed)
        if seed is not None:
            self.rng = np.random.default_rng(seed)
        if options and options.get("benchmark") is not None:
            self.function = get_function(str(options["benchmark"]))
        start = compiled(self.function.name, "O0")
        self.slots = slots_of(start)
        self.pools = Pools.of(start)
        self.current = self.evaluator().evaluate(start)
        self.best_body, self.best = start, self.current
        self.cursor = 0
        self.steps = 0
        self._needs_reset = False
        return self._observe(), self._info()

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        if self._needs_reset:
            raise ResetNeeded("call reset() before step(), and again after an episode ends")
        try:
            index = int(action)
        except (TypeError, ValueError):
            raise InvalidActionError(f"an action is an integer, got {action!r}") from None
        if not 0 <= index < N_ACTIONS:
            raise InvalidActionError(f"action {index} is outside 0..{N_ACTIONS - 1}")
        assert self.pools is not None and self.current is not None
        kind = MOVE_KINDS[index]
        previous = list(self.slots)
        slot = self.cursor_slot()
        move = apply_move(self.slots, kind, slot, self.pools, self.rng)
        before = self.current
        body = body_of(self.slots)
        self.current = self.evaluator().evaluate(body)
        reverted = self.revert_incorrect and not self.current.correct
        if reverted:
            self.slots, self.current = previous, before
        elif self.current.correct and self._better(self.current):
            self.best_body, self.best = body, self.current
        if reverted or not (kind == "nop" and move.changed):
            self.cursor += 1
        self.cursor %= max(1, len(body_of(self.slots)))
        self.steps += 1
        truncated = self.steps >= self.max_episode_steps
        self._needs_reset = truncated
        reward = (before.cost - self.current.cost) / self.baselines().o0_cost
        info = self._info()
        info["move"] = move.description
        info["changed"] = move.changed and not reverted
        info["reverted"] = reverted
        return self._observe(), float(reward), False, truncated, info

    def close(self) -> None:
        self._needs_reset = True

    # --------------------------------------------------------------------------- extras
    def evaluator(self) -> Evaluator:
        name = self.function.name
        if name not in self._evaluators:
            self._evaluators[name] = Evaluator(name, self.n_random_tests, cpu=self.cpu)
        return self._evaluators[name]

    def baselines(self) -> SuperoptBaselines:
        name = self.function.name
        if name not in self._baselines:
            o0 = self.evaluator().evaluate(compiled(name, "O0"))
            o3 = estimate(compiled(name, "O3"), self.cpu)
            if o3 is None:
                raise RuntimeError(
                    f"llvm-mca cannot read clang -O3's {name}: run `supersonic doctor`"
                )
            self._baselines[name] = SuperoptBaselines(o0.cycles, o0.cost, o3.cycles)
        return self._baselines[name]

    def body(self) -> tuple[Instr, ...]:
        return body_of(self.slots)

    def cursor_slot(self) -> int:
        """The slot of the instruction under the cursor (0 for an empty program)."""
        occupied = [i for i, s in enumerate(self.slots) if s is not None]
        return occupied[self.cursor % len(occupied)] if occupied else 0

    def _better(self, candidate: Evaluation) -> bool:
        assert self.best is not None
        if not self.best.correct:
            return True
        return (candidate.cycles, candidate.length) < (self.best.cycles, self.best.length)

    # ------------------------------------------------------------------------ internals
    def _observe(self) -> Any:
        assert self.current is not None and self.best is not None
        out: dict[str, np.ndarray] = {}
        for name in self.names:
            if name == "opcodes":
                out[name] = features.opcodes(self.slots)
            elif name == "slots":
                out[name] = features.slot_features(self.slots)
            elif name == "cursor":
                slot = self.cursor_slot()
                out[name] = features.cursor(
                    self.slots,
                    slot,
                    forwardable(self.slots, slot),
                    dead_store(self.slots, slot),
                    self.cursor / max(1, len(self.body())),
                )
            else:
                base = self.baselines()
                out[name] = features.summary(
                    self.slots,
                    self.current.error,
                    FAULT_BITS + CLOBBER_BITS,
                    self.current.cycles,
                    base.o0_cycles,
                    self.best.cycles,
                    self.current.correct,
                    self.steps / self.max_episode_steps,
                )
        return out if self.obs_is_dict else out[self.names[0]]

    def _info(self) -> dict[str, Any]:
        assert self.current is not None and self.best is not None
        return {
            "benchmark": self.function.name,
            "baselines": self.baselines(),
            "episode_length": self.steps,
            "cost": self.current.cost,
            "cycles": self.current.cycles,
            "error": self.current.error,
            "correct": self.current.correct,
            "best_cycles": self.best.cycles,
            "best": listing(self.best_body),
            "slots": MAX_SLOTS,
            "cursor": self.cursor,
        }
