"""Policies that actors run locally, with numpy only.

Actors choose every action themselves (no round trip to the learner), using the latest weights
the learner published (unless a run keeps inference on the learner, or the network has no form
here: then `supersonic.actors.remote.RemotePolicy` asks the learner). They must not need torch:
an actor may run on a small target machine where only the compiler toolchain and numpy are
installed. So the weights arrive as plain arrays
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

Any kind may read the observation through a learned sequence encoder (written by
`supersonic.learners.models.SequenceEncoder`) when the state starts with token ids. The arch then
also has

    arch |= {"encoder": "gru" | "attention", "seq_len": L, "vocab": V, "encoder_dim": E}

("encoder" absent or "none": no encoder). The first L entries of an observation are token ids in
[0, V) as floats (rounded, clipped into range), 0 meaning padding, which only comes last: the
sequence is its tokens up to the last non-zero id. The encoder turns them into E features, and
the MLP input is those E features followed by obs[L:]; `obs_dim` is still the full L + extra.
An empty sequence encodes to zeros. The encoder's tensors:

    gru:       enc.embed.weight [V, E]; enc.gru.weight_ih, enc.gru.weight_hh [3E, E];
               enc.gru.bias_ih, enc.gru.bias_hh [3E]
        torch.nn.GRU over the embedded tokens (gates r, z, n in that order):
        r = s(W_ir x + b_ir + W_hr h + b_hr), z = s(W_iz x + b_iz + W_hz h + b_hz),
        n = tanh(W_in x + b_in + r * (W_hn h + b_hn)), h' = (1 - z) n + z h, from h = 0;
        the feature is h after the last token.
    attention: enc.embed.weight [V, E]; enc.pos [L, E]; enc.q/k/v/o.weight [E, E] and .bias [E];
               enc.norm.weight, enc.norm.bias [E]
        x = embed[ids] + pos; a = softmax(q(x) k(x)^T / sqrt(E)) with padding keys masked;
        y = layernorm(x + o(a v(x))) (eps 1e-5); the feature is the mean of y over the tokens.
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
        self,
        obs: np.ndarray,
        rng: np.random.Generator,
        deterministic: bool = False,
        choices: int = 0,
    ) -> tuple[int, float, float]:
        """(action, log-probability of that action, value estimate of obs). `choices` > 0 says
        that actions a and a + choices do the same thing (see `folded_argmax`)."""
        ...


def folded_argmax(logp: np.ndarray, choices: int) -> int:
    """The deterministic action when action a means choice a mod `choices` (the schedule tasks'
    knobs: an 8-action head over a knob of 2-8 options): the most probable action of the most
    probable *choice*, whose probability is the sum over its actions. A plain argmax would pick
    the choice whose probability sits on one action rather than the one the policy prefers:
    the entropy bonus spreads a choice's probability over its actions at no cost (measured:
    docs/tvm-task.md, "Actions")."""
    logp = np.asarray(logp, dtype=np.float64)
    n = len(logp)
    if choices <= 0 or choices >= n:
        return int(np.argmax(logp))
    probabilities = np.exp(logp - logp.max())
    per_choice = np.bincount(np.arange(n) % choices, weights=probabilities, minlength=choices)
    best = int(np.argmax(per_choice))
    aliases = np.arange(best, n, choices)
    return int(aliases[np.argmax(logp[aliases])])


def action_choices(env: object) -> int:
    """How many distinct choices the env's next action has (0: every action is its own), from
    the env's `action_choices()` if it has one (the knob schedule envs)."""
    method = getattr(getattr(env, "unwrapped", env), "action_choices", None)
    return int(method()) if callable(method) else 0


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


def _tensor(
    tensors: Mapping[str, np.ndarray], name: str, shape: tuple[int | None, ...]
) -> np.ndarray:
    """tensors[name] as float32, checked to exist, have `shape` (None: any size > 0), be finite."""
    if name not in tensors:
        raise ValueError(f"policy tensor {name} is missing")
    array = np.ascontiguousarray(tensors[name], dtype=np.float32)
    if array.ndim != len(shape) or 0 in array.shape:
        raise ValueError(f"policy tensor {name} has bad shape {array.shape}")
    if any(want is not None and got != want for got, want in zip(array.shape, shape, strict=True)):
        expected = tuple("?" if want is None else want for want in shape)
        raise ValueError(f"policy tensor {name} has shape {array.shape}, expected {expected}")
    if not np.isfinite(array).all():
        raise ValueError(f"policy tensor {name} contains NaN or infinity")
    return array


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
        weight = _tensor(tensors, f"{name}.weight", (None, None))
        bias = _tensor(tensors, f"{name}.bias", (None,))
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


def _check_names(
    tensors: Mapping[str, np.ndarray], names: list[str], encoder: _Encoder | None
) -> None:
    """Refuse a layer named twice and a tensor that neither a layer nor the encoder uses."""
    if len(set(names)) != len(names):
        raise ValueError("policy arch names a layer more than once")
    used = {f"{name}.{part}" for name in names for part in ("weight", "bias")}
    used |= set(encoder.tensor_names if encoder is not None else ())
    extra = sorted(set(tensors) - used)
    if extra:
        raise ValueError(f"policy tensor {extra[0]!r} is not named by arch")


def _inputs(layers: list[Layer]) -> int:
    return int(layers[0][0].shape[1])


def _outputs(layers: list[Layer]) -> int:
    return int(layers[-1][0].shape[0])


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * x))  # = 1 / (1 + exp(-x)), and never overflows


_MASKED_SCORE = -1e9  # a padding key's attention score, as in supersonic.learners.models
_LAYER_NORM_EPS = 1e-5  # torch.nn.LayerNorm's default


class _Encoder:
    """A sequence encoder: obs [..., D] -> [encode(obs[..., :seq_len]), obs[..., seq_len:]].

    Subclasses load their tensors with `_load` (which records their names) and implement
    `encode(ids [N, seq_len] int64, valid [N, seq_len] bool) -> features [N, dim]`.
    """

    def __init__(self, seq_len: int, vocab: int, dim: int) -> None:
        self.seq_len, self.vocab, self.dim = seq_len, vocab, dim
        self.tensor_names: list[str] = []

    def _load(self, tensors: Mapping[str, np.ndarray], name: str, *shape: int | None) -> np.ndarray:
        self.tensor_names.append(f"enc.{name}")
        return _tensor(tensors, f"enc.{name}", shape)

    def __call__(self, obs: np.ndarray) -> np.ndarray:
        flat = obs.reshape(-1, obs.shape[-1])
        ids = np.clip(np.rint(flat[:, : self.seq_len]), 0, self.vocab - 1).astype(np.int64)
        features = self.encode(ids, ids != 0)
        out = np.concatenate([features, flat[:, self.seq_len :]], axis=1)
        return out.reshape(*obs.shape[:-1], out.shape[-1])

    def encode(self, ids: np.ndarray, valid: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class _GRUEncoder(_Encoder):
    """torch.nn.GRU's equations, one step per token up to each row's last valid token."""

    def __init__(
        self, tensors: Mapping[str, np.ndarray], seq_len: int, vocab: int, dim: int
    ) -> None:
        super().__init__(seq_len, vocab, dim)
        embed = self._load(tensors, "embed.weight", vocab, dim)
        weight_ih = self._load(tensors, "gru.weight_ih", 3 * dim, dim)
        weight_hh = self._load(tensors, "gru.weight_hh", 3 * dim, dim)
        bias_ih = self._load(tensors, "gru.bias_ih", 3 * dim)
        self._bias_hh = self._load(tensors, "gru.bias_hh", 3 * dim)
        # Every token's input projection W_i x + b_i, looked up per step instead of computed.
        self._input_gates = embed @ weight_ih.T + bias_ih  # [vocab, 3 * dim]
        self._weight_hh_t = np.ascontiguousarray(weight_hh.T)

    def encode(self, ids: np.ndarray, valid: np.ndarray) -> np.ndarray:
        e = self.dim
        lengths = np.where(valid, np.arange(1, ids.shape[1] + 1), 0).max(axis=1, initial=0)
        h = np.zeros((len(ids), e), dtype=np.float32)
        for t in range(int(lengths.max(initial=0))):
            gi = self._input_gates[ids[:, t]]
            gh = h @ self._weight_hh_t + self._bias_hh
            r = _sigmoid(gi[:, :e] + gh[:, :e])
            z = _sigmoid(gi[:, e : 2 * e] + gh[:, e : 2 * e])
            n = np.tanh(gi[:, 2 * e :] + r * gh[:, 2 * e :])
            h = np.where((t < lengths)[:, None], (1.0 - z) * n + z * h, h)
        return h


class _AttentionEncoder(_Encoder):
    """Token + position embeddings, one masked self-attention layer, residual, layer norm, then
    the mean over the valid tokens (see the module docstring)."""

    def __init__(
        self, tensors: Mapping[str, np.ndarray], seq_len: int, vocab: int, dim: int
    ) -> None:
        super().__init__(seq_len, vocab, dim)
        self._embed = self._load(tensors, "embed.weight", vocab, dim)
        self._pos = self._load(tensors, "pos", seq_len, dim)
        self._linears = {
            key: (
                self._load(tensors, f"{key}.weight", dim, dim),
                self._load(tensors, f"{key}.bias", dim),
            )
            for key in ("q", "k", "v", "o")
        }
        self._norm_weight = self._load(tensors, "norm.weight", dim)
        self._norm_bias = self._load(tensors, "norm.bias", dim)

    def _linear(self, key: str, x: np.ndarray) -> np.ndarray:
        weight, bias = self._linears[key]
        return x @ weight.T + bias

    def encode(self, ids: np.ndarray, valid: np.ndarray) -> np.ndarray:
        x = self._embed[ids] + self._pos  # [N, L, E]
        keys = self._linear("k", x).transpose(0, 2, 1)
        scores = self._linear("q", x) @ keys / np.float32(math.sqrt(self.dim))
        scores = np.where(valid[:, None, :], scores, np.float32(_MASKED_SCORE))
        weights = np.exp(scores - scores.max(axis=-1, keepdims=True))
        weights /= weights.sum(axis=-1, keepdims=True)
        y = x + self._linear("o", weights @ self._linear("v", x))
        y = (y - y.mean(axis=-1, keepdims=True)) / np.sqrt(
            y.var(axis=-1, keepdims=True) + np.float32(_LAYER_NORM_EPS)
        )
        y = y * self._norm_weight + self._norm_bias
        mask = valid[..., None].astype(np.float32)
        return (y * mask).sum(axis=1) / np.maximum(mask.sum(axis=1), np.float32(1.0))


_ENCODERS: dict[str, Callable[[Mapping[str, np.ndarray], int, int, int], _Encoder]] = {
    "gru": _GRUEncoder,
    "attention": _AttentionEncoder,
}


def _positive_int(arch: Mapping[str, object], key: str) -> int:
    value = arch.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ValueError(f"policy arch needs {key!r} as a positive integer, got {value!r}")
    return value


def _load_encoder(arch: Mapping[str, object], tensors: Mapping[str, np.ndarray]) -> _Encoder | None:
    """The sequence encoder that `arch` declares, or None ("encoder" absent or "none")."""
    kind = arch.get("encoder", "none")
    if kind == "none":
        return None
    if not isinstance(kind, str) or kind not in _ENCODERS:
        raise ValueError(f"unsupported encoder {kind!r}, expected 'gru', 'attention' or 'none'")
    seq_len, vocab, dim = (_positive_int(arch, key) for key in ("seq_len", "vocab", "encoder_dim"))
    return _ENCODERS[kind](tensors, seq_len, vocab, dim)


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
        self._encoder = _load_encoder(arch, tensors)
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
            _check_names(tensors, pi_names + v_names, self._encoder)
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
            _check_names(tensors, names, self._encoder)
            n_actions = _outputs(self._pi)
        else:
            raise ValueError(
                f"unsupported policy kind {kind!r}, expected 'mlp', 'dueling_mlp' or 'q_mlp'"
            )
        if self._encoder is not None:  # the MLP reads the encoder's features, then obs[seq_len:]
            extra = obs_dim - self._encoder.dim
            if extra < 0:
                raise ValueError(
                    f"policy MLP takes {obs_dim} inputs, fewer than the encoder's "
                    f"{self._encoder.dim} features"
                )
            obs_dim = self._encoder.seq_len + extra
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

    def _features(self, obs: np.ndarray) -> np.ndarray:
        """What the MLP reads: the checked observations, through the encoder if there is one."""
        x = np.asarray(obs, dtype=np.float32)
        if x.shape[-1:] != (self._obs_dim,):
            raise ValueError(f"observation has shape {x.shape}, expected [..., {self._obs_dim}]")
        return x if self._encoder is None else self._encoder(x)

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

    def _logits(self, x: np.ndarray) -> np.ndarray:
        if self._kind == "mlp":
            return self._forward(self._pi, x)
        return self._q_values(x)

    def _value(self, x: np.ndarray) -> np.ndarray:
        if self._kind == "mlp":
            return self._forward(self._v, x)[..., 0]
        return self._q_values(x).max(axis=-1)

    def logits(self, obs: np.ndarray) -> np.ndarray:
        """Action logits (Q-values for a Q-network), [..., n_actions], for obs [..., obs_dim]."""
        return self._logits(self._features(obs))

    def value(self, obs: np.ndarray) -> np.ndarray:
        """Value estimates (max Q for a Q-network), shape obs.shape[:-1]: a 0-d array for one obs.

        Wrap in float() for one observation.
        """
        return self._value(self._features(obs))

    def act(
        self,
        obs: np.ndarray,
        rng: np.random.Generator,
        deterministic: bool = False,
        choices: int = 0,
    ) -> tuple[int, float, float]:
        """(action, its log-probability, value) for one observation [obs_dim].

        An actor-critic samples from softmax(logits); a Q-network is epsilon-greedy: a uniform
        action with probability epsilon, else argmax Q (the first on ties), so the probability of
        action a is epsilon / n + (1 - epsilon) [a is the argmax]. Deterministic acting
        (evaluation) takes the argmax; the log-probability returned is still the policy's, so
        callers may record it either way. With `choices`, an actor-critic's deterministic
        action is `folded_argmax` (a Q-network's argmax is already an alias of the best choice).
        """
        obs = np.asarray(obs)
        if obs.ndim != 1:
            raise ValueError(f"act takes one observation [{self._obs_dim}], got {obs.shape}")
        x = self._features(obs)  # encoded once for both heads
        if self._kind == "mlp":
            logp = log_softmax(self._logits(x))
            action = folded_argmax(logp, choices) if deterministic else _sample(logp, rng)
            return action, float(logp[action]), float(self._value(x))
        q = self._logits(x)
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
        self,
        obs: np.ndarray,
        rng: np.random.Generator,
        deterministic: bool = False,
        choices: int = 0,
    ) -> tuple[int, float, float]:
        """A uniform action (action 0 when deterministic), logp -log(n), value 0."""
        action = 0 if deterministic else int(rng.integers(self._n_actions))
        return action, -math.log(self._n_actions), 0.0
