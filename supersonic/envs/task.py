"""The Task registry: what a task offers the architecture search.

A `Task` bundles an env factory, its datasets, named state functions (raw observation -> float32
vector), named reward functions (metrics before/after -> float), the allowed algorithm names,
and how many actions it has. State and reward functions run on the actor, so they are plain
numpy, and they are looked up by name from a candidate spec that travels over the wire.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np


@dataclass(frozen=True)
class StateFunction:
    """Turns one raw env observation into the float32 vector a policy sees."""

    name: str
    observation: str  # the raw observation the env must produce
    dim: int
    fn: Callable[[Any], np.ndarray]
    doc: str = ""

    def __call__(self, raw: Any) -> np.ndarray:
        out = np.asarray(self.fn(raw), dtype=np.float32)
        if out.shape != (self.dim,):
            raise ValueError(
                f"state function {self.name} gave shape {out.shape}, not ({self.dim},)"
            )
        return out


@dataclass(frozen=True)
class RewardFunction:
    """Turns one step's metrics into a reward: fn(before, after, baselines)."""

    name: str
    fn: Callable[[int, int, Any], float]
    doc: str = ""

    def __call__(self, before: int, after: int, baselines: Any) -> float:
        return float(self.fn(before, after, baselines))


@dataclass(frozen=True)
class Task:
    name: str
    make_env: Callable[..., Any]  # make_env(benchmark, observation=..., max_episode_steps=...)
    n_actions: int
    state_fns: Mapping[str, StateFunction]
    reward_fns: Mapping[str, RewardFunction]
    algorithms: tuple[str, ...]
    train: str  # dataset spec and split, e.g. "builtin:train"
    validation: str
    test: str
    metric: str = ""  # what the evaluation score means
    extra: Mapping[str, Any] = field(default_factory=dict)

    def state_fn(self, name: str) -> StateFunction:
        return _lookup(self.state_fns, name, f"state function for task {self.name}")

    def reward_fn(self, name: str) -> RewardFunction:
        return _lookup(self.reward_fns, name, f"reward function for task {self.name}")


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what}: {name!r}; choose one of {', '.join(table)}") from None


_TASKS: dict[str, Callable[[], Task]] = {}


def register_task(name: str, factory: Callable[[], Task]) -> None:
    _TASKS[name] = factory


def get_task(name: str) -> Task:
    """The task called `name` (built lazily: importing a task's compiler stack takes time)."""
    try:
        factory = _TASKS[name]
    except KeyError:
        raise ValueError(f"unknown task {name!r}; choose one of {', '.join(_TASKS)}") from None
    return factory()


def task_names() -> tuple[str, ...]:
    return tuple(_TASKS)
