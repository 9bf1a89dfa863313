"""The Task registry: what a task offers the architecture search.

A `Task` bundles an env factory, its datasets, named state functions (raw observation -> float32
vector), named reward functions (measurements before/after a step -> float), the allowed
algorithm names, and how many actions it has. State and reward functions run on the actor, so
they are plain numpy, and they are looked up by name from a candidate spec that travels over
the wire.

Everything task-specific the runtime needs goes through the `Task`: the actor measures an
episode with the task's `EpisodeScorer` (reward, score, per-program details), the supervisor
resolves programs and aggregates per-program scores with the task's functions. So actors,
learners and the supervisor run any registered task, LLVM code size or a gymnasium control
problem, with the same code.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class StateFunction:
    """Turns raw env observations into the float32 vector a policy sees.

    `observation` names the one raw observation the env must produce. A vector whose first
    `seq_len` entries are token ids in [0, vocab) (0 is padding) declares so with `seq_len` and
    `vocab`: a learner may then put a learned sequence encoder (recurrent or attention) in front
    of its MLP heads; to every other network they are plain numbers.

    A composite made by `concat` reads several observations: `observations` lists them and its
    `fn` takes a dict from observation name to raw value.
    """

    name: str
    observation: str  # the raw observation the env must produce ("" for a composite)
    dim: int
    fn: Callable[[Any], np.ndarray]
    doc: str = ""
    seq_len: int = 0  # > 0: the first seq_len entries are token ids
    vocab: int = 0  # token ids are in [0, vocab), 0 meaning padding
    parts: tuple[str, ...] = ()  # a composite: the state functions it concatenates
    composite_reads: tuple[str, ...] = ()  # a composite: the observations its parts read

    @property
    def observations(self) -> tuple[str, ...]:
        """Every raw observation this state function reads, in a fixed order."""
        return self.composite_reads if self.parts else (self.observation,)

    def __call__(self, raw: Any) -> np.ndarray:
        out = np.asarray(self.fn(raw), dtype=np.float32)
        if out.shape != (self.dim,):
            raise ValueError(
                f"state function {self.name} gave shape {out.shape}, not ({self.dim},)"
            )
        return out


@dataclass(frozen=True)
class RewardFunction:
    """Turns one step's measurements into a reward: `fn(before, after, baselines)`.

    `before` and `after` are what the task's scorer measures (LLVM: a `CodeSize`); `baselines`
    is the program's reference measurements. `env_options` are constructor options the env
    needs to measure what the function reads (e.g. the object size, which costs a compile).
    """

    name: str
    fn: Callable[[Any, Any, Any], float]
    doc: str = ""
    env_options: Mapping[str, Any] = field(default_factory=dict)

    def __call__(self, before: Any, after: Any, baselines: Any) -> float:
        return float(self.fn(before, after, baselines))


class EpisodeScorer(Protocol):
    """The task-side bookkeeping of one episode on an actor.

    `start` sees the info of `reset`, `step` the env's reward and info after each step that did
    not fail, and returns the candidate's reward. `score` is the task's metric of the episode
    so far (higher is better; what evaluation reports per program) and `details` the raw
    measurements behind it.
    """

    def start(self, info: Mapping[str, Any]) -> None: ...

    def step(self, env_reward: float, info: Mapping[str, Any]) -> float: ...

    def score(self) -> float: ...

    def details(self) -> dict[str, float | int | str]: ...


def mean(values: Sequence[float]) -> float:
    values = list(values)
    return sum(values) / len(values) if values else 0.0


@dataclass(frozen=True)
class Task:
    """One optimisation problem and the search space offered on it; see the module docstring."""

    name: str
    make_env: Callable[..., Any]  # make_env(program, observation=..., max_episode_steps=..., **)
    n_actions: int
    state_fns: Mapping[str, StateFunction]
    reward_fns: Mapping[str, RewardFunction]
    algorithms: tuple[str, ...]
    train: str  # dataset spec and split, e.g. "builtin:train"
    validation: str
    test: str
    scorer: Callable[[RewardFunction], EpisodeScorer]
    resolve_programs: Callable[[str], list[str]]  # "dataset:split" -> program ids for resets
    aggregate: Callable[[Sequence[float]], float] = mean  # per-program scores -> one score
    # random search with a budget of env steps over programs: (programs, steps, seed,
    # episode_length) -> {"score", "metrics", "env_steps"}; None where it means nothing.
    random_baseline: Callable[[list[str], int, int, int], dict[str, Any]] | None = None
    episode_length: int = 0  # the natural episode length, 0 if the run config decides
    # Raises ValueError (one line) if a program cannot be used; None: every program can.
    check_program: Callable[[str], None] | None = None
    # Replays a result (program, the scorer's details) and checks it: a one-line verdict,
    # e.g. "valid: same output as -O0". None: results need no validation.
    validate_result: Callable[[str, Mapping[str, Any]], str] | None = None
    metric: str = ""  # what the evaluation score means
    doc: str = ""
    # Constructor options of `make_env` that a run config may set in [run] (e.g. LLVM's
    # step_timeout_s); the supervisor sends them to actors in ASSIGN's env_options.
    run_env_options: tuple[str, ...] = ()

    def state_fn(self, name: str) -> StateFunction:
        """The state function `name`; "a+b+c" concatenates registered ones."""
        if "+" in name:
            return concat([self.state_fn(part) for part in name.split("+")], self.name)
        return _lookup(self.state_fns, name, f"state function for task {self.name}")

    def reward_fn(self, name: str) -> RewardFunction:
        return _lookup(self.reward_fns, name, f"reward function for task {self.name}")


def concat(parts: Sequence[StateFunction], task: str = "") -> StateFunction:
    """One state function that concatenates `parts` (each read from its own observation).

    A token sequence (see `StateFunction.seq_len`) must come first, so that its ids stay at the
    front of the vector where a sequence encoder looks for them; at most one part may be one.
    """
    names = [p.name for p in parts]
    if len(set(names)) != len(names):
        raise ValueError(f"state function {'+'.join(names)} repeats a part")
    for i, part in enumerate(parts):
        if part.parts:
            raise ValueError("a concatenation cannot contain a concatenation")
        if part.seq_len and i > 0:
            raise ValueError(
                f"{part.name} is a token sequence: it must come first in a concatenation"
                + (f" (task {task})" if task else "")
            )
    reads = tuple(dict.fromkeys(p.observation for p in parts))

    def fn(raw: Mapping[str, Any]) -> np.ndarray:
        return np.concatenate([p(raw[p.observation]) for p in parts])

    return StateFunction(
        name="+".join(names),
        observation="",
        dim=sum(p.dim for p in parts),
        fn=fn,
        doc="concatenation of " + ", ".join(names),
        seq_len=parts[0].seq_len,
        vocab=parts[0].vocab,
        parts=tuple(names),
        composite_reads=reads,
    )


def env_observation(state_fn: StateFunction) -> str | tuple[str, ...]:
    """What to pass as a task env's `observation=`: one name, or a tuple (the env then
    returns a dict from name to raw observation)."""
    reads = state_fn.observations
    return reads[0] if len(reads) == 1 and not state_fn.parts else reads


def _lookup(table: Mapping[str, Any], name: str, what: str) -> Any:
    try:
        return table[name]
    except KeyError:
        raise ValueError(f"unknown {what}: {name!r}; choose one of {', '.join(table)}") from None


_TASKS: dict[str, Callable[[], Task]] = {}


def register_task(name: str, factory: Callable[[], Task]) -> None:
    _TASKS[name] = factory


def get_task(name: str) -> Task:
    """The task called `name` (built lazily: importing a task's compiler stack takes time).

    `pkg.module:attr` names a user's task: `attr` is a `Task` or a function returning one. The
    module must be importable wherever the run's processes run (actors and learners import it
    by the same name)."""
    if name not in _TASKS and ":" in name:
        return _user_task(name)
    try:
        factory = _TASKS[name]
    except KeyError:
        raise ValueError(
            f"unknown task {name!r}; choose one of {', '.join(_TASKS)}, or give pkg.module:task"
        ) from None
    return factory()


def _user_task(name: str) -> Task:
    module_name, _, attr = name.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ValueError(f"task {name!r}: cannot import {module_name}: {exc}") from None
    target = getattr(module, attr, None)
    task = target() if callable(target) and not isinstance(target, Task) else target
    if not isinstance(task, Task):
        raise ValueError(f"task {name!r}: {attr} is not a Task or a function returning one")
    return task


def task_names() -> tuple[str, ...]:
    return tuple(_TASKS)
