"""The interface between a learner process and an RL algorithm.

A learner receives trajectory segments from actors over ZeroMQ, turns each into a `Batch`, and
feeds it to an `Algorithm`; when the algorithm is `ready()` the learner calls `update()` and
publishes `policy_weights()` to the actors. The algorithm knows nothing of sockets, processes or
files, which keeps it testable in one process (see tests/test_ppo.py) and lets the learner treat
every algorithm alike.

Policy weights travel as `(arch, tensors)`: `arch` is a flat dict of scalars describing the
network so that an actor can run it with numpy alone (see `supersonic.actors.policy`), `tensors`
maps names to float32 arrays. Checkpoints are `state_dict()`s that survive `torch.save` and
`torch.load(..., weights_only=True)`, so they hold only tensors, numbers, strings, lists and dicts.

A state whose first `seq_len` entries are token ids in [0, vocab) (see
`supersonic.envs.task.StateFunction`) is declared to the algorithm with `seq_len` and `vocab`, so
that it can put a learned sequence encoder in front of its networks.

Algorithms register themselves with `@register_algorithm`; `make_algorithm` imports the built-in
ones on first use so that a caller does not need to know which module defines which name.
"""

from __future__ import annotations

import abc
import importlib
import math
import numbers
import random
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, TypeVar

import numpy as np

ArchValue = str | int | float | bool
"""A value in a policy's `arch` description (flat, so that it fits the WEIGHTS message)."""


@dataclass(frozen=True, eq=False)
class Batch:
    """One contiguous trajectory segment from one env, as the actor recorded it.

    Row i is (obs[i], actions[i], rewards[i], terminated[i], truncated[i]) with the behaviour
    policy's log-probability `logp[i]` of the action and its value estimate `values[i]` of obs[i].
    The episode ends after row i when terminated[i] or truncated[i]; rows after it belong to the
    next episode of the same env.

    Bootstrapping (what the value of the state after row i is taken to be):
    - terminated[i]: 0 (a real terminal state; terminated wins when both flags are set).
    - truncated[i] (time limit, timeout, crashed compile): the next state's value is unknown, and
      0 would teach the critic that time limits are terminal. We use values[i], the value of the
      state at row i, as an approximation of the value of the state after it.
    - the last row, mid-episode: `bootstrap_value`, V(state after the last row) as computed by the
      behaviour policy's critic. It is ignored when the last row ends an episode.

    Arrays are converted to the documented dtypes on construction; shapes, integer actions and
    finite floats are checked, so a malformed segment fails here with a one-line ValueError rather
    than as a NaN in the model later.
    """

    obs: np.ndarray  # float32 [N, D]
    actions: np.ndarray  # int64 [N]
    rewards: np.ndarray  # float32 [N]
    terminated: np.ndarray  # bool [N]
    truncated: np.ndarray  # bool [N]
    logp: np.ndarray  # float32 [N]
    values: np.ndarray  # float32 [N]
    bootstrap_value: float = 0.0
    policy_version: int = 0
    # Where the segment came from: one actor's env (`stream`) and its number in that stream
    # (`seq`), so that an episode spanning several segments can be put back together (see
    # `supersonic.learners.self_imitation`); None: it follows the stream's previous segment.
    stream: str = ""
    seq: int | None = None

    def __post_init__(self) -> None:
        obs = np.ascontiguousarray(self.obs, dtype=np.float32)
        if obs.ndim != 2 or obs.shape[0] == 0:
            raise ValueError(f"batch obs must have shape [N, D] with N > 0, got {obs.shape}")
        n = obs.shape[0]
        actions = np.asarray(self.actions)
        if not np.issubdtype(actions.dtype, np.integer):
            raise ValueError(f"batch actions must be integers, got dtype {actions.dtype}")
        converted: dict[str, np.ndarray] = {
            "obs": obs,
            "actions": np.ascontiguousarray(actions, dtype=np.int64),
            "rewards": np.ascontiguousarray(self.rewards, dtype=np.float32),
            "logp": np.ascontiguousarray(self.logp, dtype=np.float32),
            "values": np.ascontiguousarray(self.values, dtype=np.float32),
        }
        for flag in ("terminated", "truncated"):
            array = np.asarray(getattr(self, flag))
            if array.dtype != np.bool_:
                raise ValueError(f"batch {flag} must be bool, got dtype {array.dtype}")
            converted[flag] = np.ascontiguousarray(array)
        for key, array in converted.items():
            if key != "obs" and array.shape != (n,):
                raise ValueError(f"batch {key} must have shape [{n}], got {array.shape}")
            if array.dtype == np.float32 and not np.isfinite(array).all():
                raise ValueError(f"batch {key} contains NaN or infinity")
        if not math.isfinite(self.bootstrap_value):
            raise ValueError(f"batch bootstrap_value must be finite, got {self.bootstrap_value}")
        for key, array in converted.items():
            object.__setattr__(self, key, array)
        object.__setattr__(self, "bootstrap_value", float(self.bootstrap_value))
        object.__setattr__(self, "policy_version", int(self.policy_version))

    def __len__(self) -> int:
        return int(self.obs.shape[0])


class PolicySnapshot(abc.ABC):
    """A frozen copy of an algorithm's policy at one version, for central inference.

    Why a copy: the learner answers actors' INFER_REQUESTs from a thread while its main loop
    trains the live network in place; a snapshot taken after each update keeps every answer
    consistent with one version and never reads weights half-way through an optimiser step.
    `act` runs on the learner's device and returns exactly what an actor records per row.
    """

    obs_dim: int
    n_actions: int

    @abc.abstractmethod
    def act(
        self, obs: np.ndarray, deterministic: bool, choices: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(actions int64 [N], logp float32 [N], values float32 [N]) for obs float32 [N, D]:
        sampled like the actors' numpy policies (argmax when `deterministic`, over choices
        when `choices` > 0: see `supersonic.actors.policy.folded_argmax`)."""


@dataclass(frozen=True)
class HyperParameter:
    """One tunable setting of an algorithm: its type, valid range or choices, and default.

    Declared per algorithm so that a config can be validated (with a message that says what is
    allowed) before a learner starts, and so that a search can sample it (`log` says the range is
    best explored on a log scale). The default is checked against the range on declaration.
    """

    name: str
    kind: Literal["float", "int", "choice"]
    default: Any
    low: float | None = None
    high: float | None = None
    choices: tuple[Any, ...] = ()
    log: bool = False
    doc: str = ""
    searched: bool = True  # False: a system setting (memory, staleness) random search leaves alone

    def __post_init__(self) -> None:
        if self.kind not in ("float", "int", "choice"):
            raise ValueError(f"hyperparameter {self.name}: unknown kind {self.kind!r}")
        if self.kind == "choice" and not self.choices:
            raise ValueError(f"hyperparameter {self.name}: a choice needs choices")
        self.check(self.default)

    def sample(self, rng: random.Random) -> Any:
        """A value drawn from the declared space (log-uniform where `log`), for random search."""
        if self.kind == "choice":
            return self.choices[rng.randrange(len(self.choices))]
        low = self.low if self.low is not None else self.default
        high = self.high if self.high is not None else self.default
        if self.log and low > 0:
            value = math.exp(rng.uniform(math.log(low), math.log(high)))
        else:
            value = rng.uniform(low, high)
        if self.kind == "int":
            return int(min(max(round(value), math.ceil(low)), math.floor(high)))
        return float(value)

    def describe(self) -> str:
        """The valid values, in words, for error messages and help."""
        if self.kind == "choice":
            return "one of " + ", ".join(repr(c) for c in self.choices)
        low = "-inf" if self.low is None else repr(self.low)
        high = "inf" if self.high is None else repr(self.high)
        return f"{'an integer' if self.kind == 'int' else 'a number'} in [{low}, {high}]"

    def check(self, value: Any) -> Any:
        """Return `value` in canonical form (floats as float), or raise ValueError if invalid."""
        if self.kind == "choice":
            # Compare types too, so that 1 is not accepted for True nor 1.0 for 1.
            for choice in self.choices:
                if type(value) is type(choice) and value == choice:
                    return choice
            raise ValueError(
                f"hyperparameter {self.name}={value!r} is not valid: expected {self.describe()}"
            )
        number: float | int
        if self.kind == "int":
            ok = isinstance(value, numbers.Integral) and not isinstance(value, bool)
            number = int(value) if ok else 0
        else:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
            number = float(value) if ok else 0.0
            ok = ok and math.isfinite(number)
        ok = ok and (self.low is None or number >= self.low)
        ok = ok and (self.high is None or number <= self.high)
        if not ok:
            raise ValueError(
                f"hyperparameter {self.name}={value!r} is not valid: expected {self.describe()}"
            )
        return number


class Algorithm(abc.ABC):
    """An RL algorithm as a learner process drives it: add batches, update, export weights.

    Subclasses declare `name` and `hyperparameters`, call `super().__init__` first (which resolves
    and checks the hyperparameters into `self.hparams`), and implement the abstract methods.

    Counters, for the learner's progress reports:
    - `version`: 0 before any update, +1 per `update()`; the version of `policy_weights()`.
    - `consumed`: transitions used by completed updates (not those still buffered).
    - `dropped_stale`: batches refused by `add()` because their policy was too old.
    """

    name: ClassVar[str] = ""
    hyperparameters: ClassVar[tuple[HyperParameter, ...]] = ()

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hparams: Mapping[str, Any] | None = None,
        device: str = "cpu",
        seed: int = 0,
        *,
        seq_len: int = 0,
        vocab: int = 0,
    ) -> None:
        if obs_dim < 1 or n_actions < 1:
            raise ValueError(f"{self.name}: need obs_dim >= 1 and n_actions >= 1")
        if seq_len < 0 or (seq_len > 0 and (seq_len > obs_dim or vocab < 2)):
            raise ValueError(
                f"{self.name}: a token sequence needs 0 < seq_len <= obs_dim ({obs_dim}) and "
                f"vocab >= 2, got seq_len={seq_len}, vocab={vocab}"
            )
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.seq_len = seq_len  # > 0: obs[:, :seq_len] are token ids in [0, vocab)
        self.vocab = vocab if seq_len else 0
        self.hparams = self.resolve_hparams(hparams or {})
        self.device = device
        self.seed = seed
        self.version = 0
        self.consumed = 0
        self.dropped_stale = 0

    @classmethod
    def resolve_hparams(cls, given: Mapping[str, Any]) -> dict[str, Any]:
        """Fill defaults into `given` and check every value; ValueError names what is wrong."""
        declared = {hp.name: hp for hp in cls.hyperparameters}
        unknown = sorted(set(given) - set(declared))
        if unknown:
            raise ValueError(
                f"unknown hyperparameter {unknown[0]!r} for {cls.name}; "
                f"valid: {', '.join(declared)}"
            )
        return {
            name: hp.check(given[name]) if name in given else hp.default
            for name, hp in declared.items()
        }

    @abc.abstractmethod
    def add(self, batch: Batch) -> bool:
        """Buffer a segment for the next update; False (and counted) when it is too stale."""

    @abc.abstractmethod
    def ready(self) -> bool:
        """Whether enough data is buffered for `update()`."""

    @abc.abstractmethod
    def update(self) -> dict[str, float]:
        """Train on the buffered data, increment `version`, and return metrics."""

    @abc.abstractmethod
    def policy_weights(self) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        """The current policy as (arch, float32 tensors) for actors to run with numpy."""

    def policy_snapshot(self) -> PolicySnapshot:
        """A frozen copy of the current policy for central inference (see `PolicySnapshot`).

        Not abstract: an algorithm without one simply serves no central inference (its learner
        advertises no inference endpoint), and its actors must run `policy_weights()` locally.
        """
        raise NotImplementedError(f"{self.name} has no central inference")

    @abc.abstractmethod
    def state_dict(self) -> dict[str, Any]:
        """Everything needed to resume training (tensors on the CPU, no numpy, no objects).

        Data buffered but not yet trained on is not included: after a restart the learner
        simply receives new segments.
        """

    @abc.abstractmethod
    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore what `state_dict()` returned (raises ValueError if it does not fit)."""

    def _admit(self, batch: Batch) -> bool:
        """The checks every `add` starts with: a batch that does not fit this algorithm's
        network is an error; one from a policy more than `max_policy_lag` versions old is
        dropped and counted (False)."""
        if batch.obs.shape[1] != self.obs_dim:
            raise ValueError(
                f"batch obs has {batch.obs.shape[1]} features, expected {self.obs_dim}"
            )
        if batch.actions.min() < 0 or batch.actions.max() >= self.n_actions:
            raise ValueError(f"batch actions outside [0, {self.n_actions})")
        if batch.policy_version < self.version - self.hparams["max_policy_lag"]:
            self.dropped_stale += 1
            return False
        return True

    def _require_same(self, state: Mapping[str, Any], keys: tuple[str, ...]) -> None:
        """A checkpoint must agree with us on the hyperparameters that shape its tensors."""
        for key in keys:
            if state["hparams"].get(key) != self.hparams[key]:
                raise ValueError(
                    f"checkpoint does not fit: {key} is {state['hparams'].get(key)!r}, "
                    f"expected {self.hparams[key]!r}"
                )

    def _base_state(self) -> dict[str, Any]:
        """The fields every algorithm's checkpoint carries; subclasses add theirs."""
        return {
            "name": self.name,
            "obs_dim": self.obs_dim,
            "n_actions": self.n_actions,
            "seq_len": self.seq_len,
            "vocab": self.vocab,
            "hparams": dict(self.hparams),
            "seed": self.seed,
            "version": self.version,
            "consumed": self.consumed,
            "dropped_stale": self.dropped_stale,
        }

    def _load_base_state(self, state: Mapping[str, Any]) -> None:
        """Check that a checkpoint fits this instance and restore the counters.

        (A checkpoint from before token sequences has no seq_len or vocab: it had none.)
        """
        for key, mine in (
            ("name", self.name),
            ("obs_dim", self.obs_dim),
            ("n_actions", self.n_actions),
            ("seq_len", self.seq_len),
            ("vocab", self.vocab),
        ):
            theirs = state.get(key, 0 if key in ("seq_len", "vocab") else None)
            if theirs != mine:
                raise ValueError(f"checkpoint does not fit: {key} is {theirs!r}, expected {mine!r}")
        self.version = int(state["version"])
        self.consumed = int(state["consumed"])
        self.dropped_stale = int(state["dropped_stale"])

    @classmethod
    def from_state_dict(cls, state: Mapping[str, Any], device: str = "cpu") -> Algorithm:
        """Rebuild an algorithm from a checkpoint, with the hyperparameters it was made with."""
        algorithm = make_algorithm(
            str(state["name"]),
            int(state["obs_dim"]),
            int(state["n_actions"]),
            state["hparams"],
            device=device,
            seed=int(state["seed"]),
            seq_len=int(state.get("seq_len", 0)),
            vocab=int(state.get("vocab", 0)),
        )
        algorithm.load_state_dict(state)
        return algorithm


ALGORITHMS: dict[str, type[Algorithm]] = {}
"""Registered algorithms by name (filled by `@register_algorithm`)."""

_BUILTIN_MODULES: dict[str, str] = {
    "ppo": "supersonic.learners.ppo",
    "a2c": "supersonic.learners.a2c",
    "dqn": "supersonic.learners.dqn",
    "impala": "supersonic.learners.impala",
}
"""Where the built-in algorithms live, imported on demand by `make_algorithm` (they need torch)."""

_A = TypeVar("_A", bound=type[Algorithm])


def register_algorithm(cls: _A) -> _A:
    """Class decorator: make `cls` available to `make_algorithm` under `cls.name`."""
    if not cls.name:
        raise ValueError(f"{cls.__qualname__} has no name")
    if ALGORITHMS.get(cls.name, cls) is not cls:
        raise ValueError(f"algorithm name {cls.name!r} is already registered")
    ALGORITHMS[cls.name] = cls
    return cls


def algorithm_class(name: str) -> type[Algorithm]:
    """The class registered as `name`, importing a built-in module if needed."""
    if name not in ALGORITHMS and name in _BUILTIN_MODULES:
        try:
            importlib.import_module(_BUILTIN_MODULES[name])
        except ModuleNotFoundError as exc:  # declared but not written yet
            if exc.name != _BUILTIN_MODULES[name]:
                raise
    if name not in ALGORITHMS:
        valid = ", ".join(sorted(set(ALGORITHMS) | set(_BUILTIN_MODULES)))
        raise ValueError(f"unknown algorithm {name!r}; valid: {valid}")
    return ALGORITHMS[name]


def make_algorithm(
    name: str,
    obs_dim: int,
    n_actions: int,
    hparams: Mapping[str, Any] | None = None,
    device: str = "cpu",
    seed: int = 0,
    *,
    seq_len: int = 0,
    vocab: int = 0,
) -> Algorithm:
    """Construct the algorithm registered as `name` (ValueError lists the valid names).

    `seq_len` > 0 says that the first seq_len entries of an observation are token ids in
    [0, vocab), for a learned sequence encoder.
    """
    return algorithm_class(name)(
        obs_dim, n_actions, hparams, device=device, seed=seed, seq_len=seq_len, vocab=vocab
    )
