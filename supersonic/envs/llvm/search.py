"""Baseline searches over pass sequences: random search and greedy search, under a budget.

Both are what an RL policy must beat at equal cost, so both count every env step they take
(greedy's one-pass look-aheads included) against the same `Budget` of env steps and/or seconds.
A search keeps several of its best distinct sequences; at the end they are replayed and the best
one whose optimized program still behaves like the original (see `validation`) is the result.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from supersonic.envs.llvm.actions import ACTION_FLAGS, NUM_ACTIONS
from supersonic.envs.llvm.env import LlvmCodeSizeEnv, ProgramBaselines
from supersonic.envs.llvm.metrics import leaderboard_metric, oz_ratio
from supersonic.envs.llvm.validation import Validation, validate

MAX_CANDIDATES = 5


@dataclass(frozen=True)
class Budget:
    """What a search may spend: env steps, wall-clock seconds, or both (whichever ends first)."""

    steps: int | None = None
    seconds: float | None = None

    def __post_init__(self) -> None:
        if self.steps is None and self.seconds is None:
            raise ValueError("a budget needs steps, seconds or both")
        if self.steps is not None and self.steps < 1:
            raise ValueError(f"a step budget must be >= 1, got {self.steps}")
        if self.seconds is not None and self.seconds <= 0:
            raise ValueError(f"a time budget must be > 0 seconds, got {self.seconds}")

    def __str__(self) -> str:
        parts = []
        if self.steps is not None:
            parts.append(f"{self.steps} steps")
        if self.seconds is not None:
            parts.append(f"{self.seconds:g} s")
        return " or ".join(parts)


@dataclass
class _Meter:
    budget: Budget
    steps: int = 0
    started: float = field(default_factory=time.monotonic)

    def tick(self) -> None:
        self.steps += 1

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def exhausted(self) -> bool:
        b = self.budget
        return (b.steps is not None and self.steps >= b.steps) or (
            b.seconds is not None and self.elapsed() >= b.seconds
        )


@dataclass(frozen=True)
class SearchResult:
    """The best validated pass sequence a search found for one program."""

    benchmark: str
    method: str
    actions: tuple[int, ...]
    ir_instructions: int
    baselines: ProgramBaselines
    env_steps: int
    seconds: float
    validation: Validation
    rejected: int = 0  # better sequences dropped because they changed the program's behaviour

    @property
    def metric(self) -> float:
        b = self.baselines
        return leaderboard_metric(b.ir_o0, b.ir_oz, self.ir_instructions)

    @property
    def oz_ratio(self) -> float:
        return oz_ratio(self.baselines.ir_oz, self.ir_instructions)

    @property
    def passes(self) -> list[str]:
        return [f"-{ACTION_FLAGS[a]}" for a in self.actions]


class Candidates:
    """The best few distinct (instruction count, action sequence) pairs seen: fewest
    instructions, then shortest (the searches here and the guided search keep theirs in one)."""

    def __init__(self, limit: int = MAX_CANDIDATES) -> None:
        self.limit = limit
        self.items: dict[tuple[int, ...], int] = {}

    def offer(self, actions: tuple[int, ...], count: int) -> None:
        if actions in self.items:
            return
        if len(self.items) >= self.limit:
            worst = max(self.items.items(), key=lambda kv: (kv[1], len(kv[0])))
            if (count, len(actions)) >= (worst[1], len(worst[0])):
                return
            del self.items[worst[0]]
        self.items[actions] = count

    def best_first(self) -> list[tuple[tuple[int, ...], int]]:
        return sorted(self.items.items(), key=lambda kv: (kv[1], len(kv[0])))


def replay(env: LlvmCodeSizeEnv, actions: tuple[int, ...]) -> int | None:
    """Reset and apply `actions`; the final instruction count, or None if the service failed."""
    env.reset()
    for a in actions:
        _, _, _, _, info = env.step(a)
        if "failure" in info:
            return None
    return env.ir_instruction_count


def _finish(
    env: LlvmCodeSizeEnv,
    method: str,
    candidates: Candidates,
    meter: _Meter,
    check: bool,
) -> SearchResult:
    """Replay the best candidates and return the best whose behaviour is unchanged."""
    rejected = 0
    for actions, _ in candidates.best_first():
        count = replay(env, actions)
        if count is None:
            continue
        if not actions:
            verdict = Validation(True, "the unoptimised program")
        elif check:
            verdict = validate(env.program, env.bitcode())
        else:
            verdict = Validation(None, "validation not requested")
        if verdict.valid is False:
            rejected += 1
            continue
        assert env.baselines is not None
        return SearchResult(
            benchmark=env.benchmark.uri,
            method=method,
            actions=actions,
            ir_instructions=count,
            baselines=env.baselines,
            env_steps=meter.steps,
            seconds=meter.elapsed(),
            validation=verdict,
            rejected=rejected,
        )
    # Every candidate changed behaviour or failed: the unoptimised program is the answer.
    env.reset()
    assert env.baselines is not None
    return SearchResult(
        benchmark=env.benchmark.uri,
        method=method,
        actions=(),
        ir_instructions=env.baselines.ir_o0,
        baselines=env.baselines,
        env_steps=meter.steps,
        seconds=meter.elapsed(),
        validation=Validation(True, "the unoptimised program (no valid improvement found)"),
        rejected=rejected,
    )


def random_search(
    env: LlvmCodeSizeEnv,
    budget: Budget,
    *,
    episode_length: int | None = None,
    seed: int = 0,
    check: bool = True,
) -> SearchResult:
    """Episodes of uniformly random passes; the best prefix of any episode wins."""
    length = min(episode_length or env.max_episode_steps, env.max_episode_steps)
    rng = np.random.default_rng(seed)
    meter = _Meter(budget)
    candidates = Candidates()
    candidates.offer((), _start_count(env))
    while not meter.exhausted():
        env.reset()
        best_count, best_len = env.ir_instruction_count, 0
        actions: list[int] = []
        for _ in range(length):
            if meter.exhausted():
                break
            a = int(rng.integers(NUM_ACTIONS))
            _, _, _, truncated, info = env.step(a)
            meter.tick()
            actions.append(a)
            if "failure" in info:
                break
            if env.ir_instruction_count < best_count:
                best_count, best_len = env.ir_instruction_count, len(actions)
            if truncated:
                break
        if best_len:
            candidates.offer(tuple(actions[:best_len]), best_count)
    return _finish(env, "random", candidates, meter, check)


def greedy_search(env: LlvmCodeSizeEnv, budget: Budget, *, check: bool = True) -> SearchResult:
    """At each step apply the pass that shrinks the module most; stop when none does.

    Each look-ahead runs on a fork of the env. A pass that leaves the module unchanged leaves the
    fork reusable for the next look-ahead, which saves most forks (they cost ~10 ms each).
    """
    meter = _Meter(budget)
    candidates = Candidates()
    candidates.offer((), _start_count(env))
    env.reset()
    while not meter.exhausted() and len(env.actions) < env.max_episode_steps:
        current = env.ir_instruction_count
        best_action, best_count = None, current
        probe = env.fork()
        try:
            for a in range(NUM_ACTIONS):
                if meter.exhausted():
                    break
                _, _, _, truncated, info = probe.step(a)
                meter.tick()
                if "failure" in info:
                    break
                if probe.ir_instruction_count < best_count:
                    best_action, best_count = a, probe.ir_instruction_count
                if truncated or info["action_had_effect"]:
                    probe.close()
                    probe = env.fork()
        finally:
            probe.close()
        if best_action is None:
            break
        _, _, _, _, info = env.step(best_action)
        if "failure" in info:
            break
        candidates.offer(tuple(env.actions), env.ir_instruction_count)
    return _finish(env, "greedy", candidates, meter, check)


def _start_count(env: LlvmCodeSizeEnv) -> int:
    env.reset()
    return env.ir_instruction_count
