"""Policies that actors run locally, with numpy only.

Actors choose every action themselves (no round trip to the learner), using the latest weights
the learner published. They must not need torch: an actor may run on a small target machine
where only the compiler toolchain and numpy are installed. So the weights arrive as plain arrays
with a flat `arch` description (written by `supersonic.learners.models.MLPActorCritic`):

    arch = {"kind": "mlp", "activation": "tanh",
            "pi_layers": "pi.0,pi.1,pi.2", "v_layers": "v.0,v.1,v.2"}
    tensors = {"pi.0.weight": [out, in], "pi.0.bias": [out], ...}

Each MLP computes x -> tanh(W x + b) for every layer but the last, which is linear; pi's output is
the action logits, v's output is one value. `RandomPolicy` stands in until the first weights come.

Value-based learners (DQN, written by `supersonic.learners.dqn`) export a Q-network instead, with
the exploration rate the actors must use:

    arch = {"kind": "dueling_mlp", "activation": "relu", "epsilon": 0.1,
            "trunk_layers": "q.0,q.1", "value_layers": "v.0", "advantage_layers": "a.0"}
    arch = {"kind": "q_mlp", "activation": "relu", "epsilon": 0.1, "q_layers": "q.0,q.1,q.2"}

The dueling trunk applies the activation after every layer; each stream (and the plain q MLP)
applies it after every layer but its last. Q = V + A - mean(A). For these kinds `logits()` are
the Q-values, `value()` is max Q, and `act()` is epsilon-greedy (see `NumpyPolicy.act`).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Protocol

import numpy as np


class Policy(Protocol):
    """What an actor needs from a policy."""

    @property
    def n_actions(self) -> int: ...

    def act(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> tuple[int, float, float]:
        """(action, log-probability of that action, value estimate of obs)."""
        ...


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """log softmax over the last axis, stable for large logits (computed in float64)."""
    z = np.asarray(logits, dtype=np.float64)
    z = z - z.max(axis=-1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=-1, keepdims=True))


def _sample(logp: np.ndarray, rng: np.random.Generator) -> int:
    """Draw an index with probabilities exp(logp) by inverting the CDF (one uniform draw)."""
    cdf = np.cumsum(np.exp(logp))
    index = int(np.searchsorted(cdf, rng.random() * cdf[-1], side="right"))
    return min(index, len(cdf) - 1)


Layer = tuple[np.ndarray, np.ndarray]  # (weight [out, in], bias [out]), float32


def _load_layers(
    arch: Mapping[str, object], tensors: Mapping[str, np.ndarray], key: str
) -> tuple[list[str], list[Layer]]:
    """The layers that `arch[key]` names, checked to chain into each other."""
    spec = arch.get(key)
    if not isinstance(spec, str) or not spec.strip():
        raise ValueError(f"policy arch needs {key!r} as comma-separated layer names")
    names = [name.strip() for name in spec.split(",")]
    layers: list[Layer] = []
    for name in names:
        pair = []
        for part, ndim in (("weight", 2), ("bias", 1)):
            if f"{name}.{part}" not in tensors:
                raise ValueError(f"policy tensor {name}.{part} is missing")
            array = np.ascontiguousarray(tensors[f"{name}.{part}"], dtype=np.float32)
            if array.ndim != ndim or 0 in array.shape:
                raise ValueError(f"policy tensor {name}.{part} has bad shape {array.shape}")
            if not np.isfinite(array).all():
                raise ValueError(f"policy tensor {name}.{part} contains NaN or infinity")
            pair.append(array)
        weight, bias = pair
        if bias.shape[0] != weight.shape[0]:
            raise ValueError(
                f"policy tensor {name}.bias has {bias.shape[0]} outputs, "
                f"{name}.weight has {weight.shape[0]}"
            )
        if layers and weight.shape[1] != layers[-1][0].shape[0]:
            raise ValueError(
                f"policy layer {name} takes {weight.shape[1]} inputs, "
                f"the layer before it gives {layers[-1][0].shape[0]}"
            )
        layers.append((weight, bias))
    return names, layers


def _relu(x: np.ndarray) -> np.ndarray:
    return np.maximum(x, 0.0)


def _tanh(x: np.ndarray) -> np.ndarray:
    return np.tanh(x)


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {"tanh": _tanh, "relu": _relu}


def _check_names(tensors: Mapping[str, np.ndarray], names: list[str]) -> None:
    """Refuse a layer named twice and a tensor that no layer names."""
    if len(set(names)) != len(names):
        raise ValueError("policy arch names a layer more than once")
    used = {f"{name}.{part}" for name in names for part in ("weight", "bias")}
    extra = sorted(set(tensors) - used)
    if extra:
        raise ValueError(f"policy tensor {extra[0]!r} is not named by arch")


def _inputs(layers: list[Layer]) -> int:
    return int(layers[0][0].shape[1])


def _outputs(layers: list[Layer]) -> int:
    return int(layers[-1][0].shape[0])


class NumpyPolicy:
    """An MLP actor-critic or Q-network from `(arch, tensors)`, evaluated with numpy.

    The constructor validates everything up front (kind, activation, every tensor present, shapes
    chaining from obs_dim to n_actions and to one value, finite values), so that bad weights are
    refused with a one-line ValueError when they arrive instead of failing mid-episode.
    """

    def __init__(self, arch: Mapping[str, object], tensors: Mapping[str, np.ndarray]) -> None:
        kind = arch.get("kind")
        self._kind = kind
        self._epsilon = 0.0
        self._trunk: list[Layer] = []
        self._v: list[Layer] = []
        if kind == "mlp":
            if arch.get("activation") != "tanh":
                raise ValueError(
                    f"unsupported activation {arch.get('activation')!r}, expected 'tanh'"
                )
            self._activation = _ACTIVATIONS["tanh"]
            pi_names, self._pi = _load_layers(arch, tensors, "pi_layers")
            v_names, self._v = _load_layers(arch, tensors, "v_layers")
            if set(pi_names) & set(v_names):
                raise ValueError("policy arch names a layer in both pi_layers and v_layers")
            _check_names(tensors, pi_names + v_names)
            obs_dim = _inputs(self._pi)
            if _inputs(self._v) != obs_dim:
                raise ValueError(
                    f"policy and value nets disagree on obs_dim: {obs_dim} vs {_inputs(self._v)}"
                )
            if _outputs(self._v) != 1:
                raise ValueError(f"value net must output 1 value, got {_outputs(self._v)}")
            n_actions = _outputs(self._pi)
        elif kind in ("dueling_mlp", "q_mlp"):
            activation = arch.get("activation")
            if activation not in _ACTIVATIONS:
                raise ValueError(
                    f"unsupported activation {activation!r}, expected 'relu' or 'tanh'"
                )
            self._activation = _ACTIVATIONS[str(activation)]
            epsilon = arch.get("epsilon")
            if (
                not isinstance(epsilon, int | float)
                or isinstance(epsilon, bool)
                or not 0.0 <= float(epsilon) <= 1.0
            ):
                raise ValueError(f"policy arch needs 'epsilon' in [0, 1], got {epsilon!r}")
            self._epsilon = float(epsilon)
            if kind == "q_mlp":
                names, self._pi = _load_layers(arch, tensors, "q_layers")
                obs_dim = _inputs(self._pi)
            else:
                trunk_names, self._trunk = _load_layers(arch, tensors, "trunk_layers")
                v_names, self._v = _load_layers(arch, tensors, "value_layers")
                a_names, self._pi = _load_layers(arch, tensors, "advantage_layers")
                names = trunk_names + v_names + a_names
                obs_dim = _inputs(self._trunk)
                width = _outputs(self._trunk)
                for stream, layers in (("value", self._v), ("advantage", self._pi)):
                    if _inputs(layers) != width:
                        raise ValueError(
                            f"policy {stream} stream takes {_inputs(layers)} inputs, "
                            f"the trunk gives {width}"
                        )
                if _outputs(self._v) != 1:
                    raise ValueError(f"value stream must output 1 value, got {_outputs(self._v)}")
            _check_names(tensors, names)
            n_actions = _outputs(self._pi)
        else:
            raise ValueError(
                f"unsupported policy kind {kind!r}, expected 'mlp', 'dueling_mlp' or 'q_mlp'"
            )
        self._obs_dim = obs_dim
        self._n_actions = n_actions

    @property
    def obs_dim(self) -> int:
        return self._obs_dim

    @property
    def n_actions(self) -> int:
        return self._n_actions

    @property
    def epsilon(self) -> float:
        """The exploration rate of a Q-network policy (0 for kind 'mlp')."""
        return self._epsilon

    def _check_obs(self, obs: np.ndarray) -> np.ndarray:
        x = np.asarray(obs, dtype=np.float32)
        if x.shape[-1:] != (self._obs_dim,):
            raise ValueError(f"observation has shape {x.shape}, expected [..., {self._obs_dim}]")
        return x

    def _forward(self, layers: list[Layer], x: np.ndarray, last_linear: bool = True) -> np.ndarray:
        for i, (weight, bias) in enumerate(layers):
            x = x @ weight.T + bias
            if i < len(layers) - 1 or not last_linear:
                x = self._activation(x)
        return x

    def _q_values(self, x: np.ndarray) -> np.ndarray:
        if self._kind == "q_mlp":
            return self._forward(self._pi, x)
        hidden = self._forward(self._trunk, x, last_linear=False)
        advantage = self._forward(self._pi, hidden)
        value = self._forward(self._v, hidden)
        return value + advantage - advantage.mean(axis=-1, keepdims=True)

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Action logits (Q-values for a Q-network), [..., n_actions], for obs [..., obs_dim]."""
        x = self._check_obs(obs)
        if self._kind == "mlp":
            return self._forward(self._pi, x)
        return self._q_values(x)

    def value(self, obs: np.ndarray) -> np.ndarray:
        """Value estimates (max Q for a Q-network), shape obs.shape[:-1]: a 0-d array for one obs.

        Wrap in float() for one observation.
        """
        x = self._check_obs(obs)
        if self._kind == "mlp":
            return self._forward(self._v, x)[..., 0]
        return self._q_values(x).max(axis=-1)

    def act(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> tuple[int, float, float]:
        """(action, its log-probability, value) for one observation [obs_dim].

        An actor-critic samples from softmax(logits); a Q-network is epsilon-greedy: a uniform
        action with probability epsilon, else argmax Q (the first on ties), so the probability of
        action a is epsilon / n + (1 - epsilon) [a is the argmax]. Deterministic acting
        (evaluation) takes the argmax; the log-probability returned is still the policy's, so
        callers may record it either way.
        """
        obs = np.asarray(obs)
        if obs.ndim != 1:
            raise ValueError(f"act takes one observation [{self._obs_dim}], got {obs.shape}")
        if self._kind == "mlp":
            logp = log_softmax(self.logits(obs))
            action = int(np.argmax(logp)) if deterministic else _sample(logp, rng)
            return action, float(logp[action]), float(self.value(obs))
        q = self.logits(obs)
        greedy = int(np.argmax(q))
        action = greedy
        if not deterministic and rng.random() < self._epsilon:
            action = int(rng.integers(self._n_actions))
        probability = self._epsilon / self._n_actions + (1.0 - self._epsilon) * (action == greedy)
        return action, math.log(probability), float(q[greedy])


class RandomPolicy:
    """Uniform over actions, for an actor that has no weights yet.

    Its log-probabilities are exact (-log n), so segments it produced are valid off-policy data
    for an algorithm that corrects with importance ratios; its value estimate is 0.
    """

    def __init__(self, n_actions: int) -> None:
        if n_actions < 1:
            raise ValueError(f"RandomPolicy needs n_actions >= 1, got {n_actions}")
        self._n_actions = n_actions

    @property
    def n_actions(self) -> int:
        return self._n_actions

    def act(
        self, obs: np.ndarray, rng: np.random.Generator, deterministic: bool = False
    ) -> tuple[int, float, float]:
        """A uniform action (action 0 when deterministic), logp -log(n), value 0."""
        action = 0 if deterministic else int(rng.integers(self._n_actions))
        return action, -math.log(self._n_actions), 0.0
