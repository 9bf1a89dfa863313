"""Neural networks shared by the learner algorithms.

`MLPActorCritic` keeps the policy and the value function in two separate MLPs: with a shared
trunk the value loss (whose scale depends on the reward function, which the search varies)
would fight the policy gradient, and separate nets need no loss balancing to be robust.

When the state function declares a token sequence (`StateFunction.seq_len`, e.g. the opcodes of
an LLVM module), a `SequenceEncoder` reads it first: `GRUEncoder` (a recurrent pass over the
tokens) or `AttentionEncoder` (one self-attention layer, then a mean over the tokens). Its
feature vector, followed by the state's remaining plain features, is what the MLP heads see; the
heads share the one encoder (a sequence encoder per head would double the costliest part).

`export_policy()` writes the format that `supersonic.actors.policy.NumpyPolicy` reads, so the
layer naming here ("pi.0", "pi.1", ..., "enc.*") is a wire format: change both together.
"""

from __future__ import annotations

import abc
import copy
import itertools
import math
from collections.abc import Mapping
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn

from supersonic.learners.algorithm import ArchValue, HyperParameter, PolicySnapshot

ENCODER_HPARAMS = (
    HyperParameter(
        "encoder",
        "choice",
        "gru",
        choices=("gru", "attention"),
        doc="learned encoder of the state's token sequence "
        "(used only when the state function has one)",
    ),
    HyperParameter(
        "encoder_dim",
        "choice",
        32,
        choices=(16, 32, 64),
        doc="token embedding and encoder width (used only with a token sequence)",
    ),
)
"""The hyperparameters of the sequence encoder, declared by every algorithm."""

MASKED_SCORE = -1e9
"""Attention score of a padding key: softmax gives it weight 0 (exactly, in float32)."""


def _linear_stack(sizes: list[int]) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes))


def export_layers(prefix: str, layers: nn.ModuleList, tensors: dict[str, np.ndarray]) -> str:
    """Copy `layers` into `tensors` as "{prefix}.{i}.weight/bias"; their names, comma-separated."""
    names = [f"{prefix}.{i}" for i in range(len(layers))]
    for name, layer in zip(names, layers, strict=True):
        for part in ("weight", "bias"):
            tensors[f"{name}.{part}"] = _numpy(getattr(layer, part))
    return ",".join(names)


def _numpy(tensor: torch.Tensor) -> np.ndarray:
    """A float32 CPU copy, safe to send or keep."""
    return tensor.detach().to("cpu", torch.float32).numpy().copy()


def _run(layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """tanh(W x + b) for every layer but the last, which is linear."""
    for i, layer in enumerate(layers):
        x = layer(x)
        if i < len(layers) - 1:
            x = torch.tanh(x)
    return x


class SequenceEncoder(nn.Module, abc.ABC):
    """obs [..., D] -> [encode(obs[..., :seq_len]) (`dim` features), obs[..., seq_len:]].

    The first `seq_len` entries of an observation are token ids in [0, vocab) stored as floats
    (rounded and clipped into range here, as the numpy policy does); 0 is padding and padding
    only ever comes last, so a sequence's tokens are those up to its last non-zero id. An empty
    sequence encodes to zeros. Subclasses embed the ids (`embed`, a [vocab, dim] table whose row 0
    is never read for a real token) and implement `encode`.
    """

    kind: ClassVar[str] = ""

    def __init__(self, seq_len: int, vocab: int, dim: int, generator: torch.Generator | None):
        super().__init__()
        if seq_len < 1 or vocab < 2 or dim < 1:
            raise ValueError(f"{self.kind} encoder needs seq_len >= 1, vocab >= 2 and dim >= 1")
        self.seq_len, self.vocab, self.dim = seq_len, vocab, dim
        self.embed = nn.Embedding(vocab, dim)
        nn.init.normal_(self.embed.weight, generator=generator)

    def out_dim(self, obs_dim: int) -> int:
        """The width of `forward`'s output for observations of width `obs_dim`."""
        return self.dim + obs_dim - self.seq_len

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        lead, width = obs.shape[:-1], obs.shape[-1]
        flat = obs.reshape(-1, width)
        ids = flat[:, : self.seq_len].round().clamp(0, self.vocab - 1).long()
        features = self.encode(ids, ids != 0)
        return torch.cat([features, flat[:, self.seq_len :]], dim=-1).reshape(*lead, -1)

    @abc.abstractmethod
    def encode(self, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        """Features [B, dim] of token ids [B, seq_len] (int64) where `valid` = ids != 0."""

    @abc.abstractmethod
    def wire_tensors(self) -> dict[str, torch.Tensor]:
        """The parameters by their names in the exported policy (without the "enc." prefix)."""

    def export(self) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        """The arch fields and "enc.*" tensors that `NumpyPolicy` reads."""
        arch: dict[str, ArchValue] = {
            "encoder": self.kind,
            "seq_len": self.seq_len,
            "vocab": self.vocab,
            "encoder_dim": self.dim,
        }
        tensors = {f"enc.{name}": _numpy(t) for name, t in self.wire_tensors().items()}
        return arch, tensors


def _lengths(valid: torch.Tensor) -> torch.Tensor:
    """Per row, 1 + the position of the last valid token (0 if none)."""
    positions = torch.arange(1, valid.shape[1] + 1, device=valid.device)
    return torch.where(valid, positions, 0).amax(dim=1)


class GRUEncoder(SequenceEncoder):
    """A single-layer GRU (hidden size `dim`) over the embedded tokens; the feature is the
    hidden state after the last token. Initialised as torch initialises a GRU, from `generator`.
    """

    kind = "gru"

    def __init__(
        self, seq_len: int, vocab: int, dim: int, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(seq_len, vocab, dim, generator)
        self.gru = nn.GRU(dim, dim, batch_first=True)
        bound = 1.0 / math.sqrt(dim)
        for parameter in self.gru.parameters():
            nn.init.uniform_(parameter, -bound, bound, generator=generator)

    def encode(self, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        lengths = _lengths(valid)
        steps = int(lengths.max()) if len(lengths) else 0
        if steps == 0:
            return self.embed.weight.new_zeros(len(ids), self.dim)
        outputs, _ = self.gru(self.embed(ids[:, :steps]))  # hidden state after every step
        last = outputs[torch.arange(len(ids), device=ids.device), (lengths - 1).clamp(min=0)]
        return last * (lengths > 0).unsqueeze(-1).to(last.dtype)

    def wire_tensors(self) -> dict[str, torch.Tensor]:
        # gru.weight_ih, gru.weight_hh, gru.bias_ih, gru.bias_hh: nn.GRU's names for layer 0.
        gru = {f"gru.{name.removesuffix('_l0')}": p for name, p in self.gru.named_parameters()}
        return {"embed.weight": self.embed.weight, **gru}


class AttentionEncoder(SequenceEncoder):
    """Token plus learned position embeddings, one single-head self-attention layer over the
    valid tokens (padding masked as keys) with a residual connection and layer norm, then the
    mean over the valid tokens:

        x = embed[ids] + pos
        y = layernorm(x + o(softmax(q(x) k(x)^T / sqrt(dim) + mask) v(x)))
        feature = mean of y over valid tokens

    Written out by hand (rather than `nn.MultiheadAttention`) so that the numpy policy visibly
    computes the same thing.
    """

    kind = "attention"

    def __init__(
        self, seq_len: int, vocab: int, dim: int, generator: torch.Generator | None = None
    ) -> None:
        super().__init__(seq_len, vocab, dim, generator)
        self.pos = nn.Parameter(torch.empty(seq_len, dim))
        nn.init.normal_(self.pos, generator=generator)
        self.q, self.k, self.v, self.o = (nn.Linear(dim, dim) for _ in range(4))
        for layer in (self.q, self.k, self.v, self.o):
            nn.init.orthogonal_(layer.weight, generator=generator)
            nn.init.zeros_(layer.bias)
        self.norm = nn.LayerNorm(dim)

    def encode(self, ids: torch.Tensor, valid: torch.Tensor) -> torch.Tensor:
        x = self.embed(ids) + self.pos
        scores = self.q(x) @ self.k(x).transpose(1, 2) / math.sqrt(self.dim)
        scores = scores.masked_fill(~valid.unsqueeze(1), MASKED_SCORE)
        y = self.norm(x + self.o(torch.softmax(scores, dim=-1) @ self.v(x)))
        mask = valid.unsqueeze(-1).to(y.dtype)
        return (y * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)

    def wire_tensors(self) -> dict[str, torch.Tensor]:
        return dict(self.named_parameters())  # embed.weight, pos, q.weight, ..., norm.bias


ENCODERS: dict[str, type[SequenceEncoder]] = {"gru": GRUEncoder, "attention": AttentionEncoder}


def build_encoder(
    hparams: Mapping[str, Any],
    seq_len: int,
    vocab: int,
    generator: torch.Generator | None = None,
) -> SequenceEncoder | None:
    """The encoder that `hparams` ("encoder", "encoder_dim") choose; None without a sequence."""
    if seq_len == 0:
        return None
    return ENCODERS[hparams["encoder"]](seq_len, vocab, hparams["encoder_dim"], generator)


def encoder_keys(seq_len: int) -> tuple[str, ...]:
    """The hyperparameters that shape the encoder's tensors (none without a token sequence)."""
    return tuple(hp.name for hp in ENCODER_HPARAMS) if seq_len > 0 else ()


def encoded(encoder: SequenceEncoder | None, obs: torch.Tensor) -> torch.Tensor:
    """What the heads behind `encoder` read: obs itself when there is no encoder."""
    return obs if encoder is None else encoder(obs)


def export_encoder(
    encoder: SequenceEncoder | None, arch: dict[str, ArchValue], tensors: dict[str, np.ndarray]
) -> None:
    """Add `encoder`'s arch fields and tensors to an exported policy (nothing if None)."""
    if encoder is not None:
        encoder_arch, encoder_tensors = encoder.export()
        arch.update(encoder_arch)
        tensors.update(encoder_tensors)


class MLPActorCritic(nn.Module):
    """Separate tanh MLPs for action logits (`pi`) and the state value (`v`), after an optional
    shared `encoder` of the observation's token sequence.

    Initialisation follows common PPO practice: orthogonal weights, zero biases, gain sqrt(2) on
    hidden layers, 0.01 on the policy output (so the initial policy is near uniform and explores)
    and 1 on the value output. Pass a `generator` to make the initialisation reproducible without
    touching torch's global random state.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: tuple[int, ...] = (64, 64),
        generator: torch.Generator | None = None,
        encoder: SequenceEncoder | None = None,
    ) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.hidden = tuple(hidden)
        self.encoder = encoder
        in_dim = obs_dim if encoder is None else encoder.out_dim(obs_dim)
        self.pi = _linear_stack([in_dim, *hidden, n_actions])
        self.v = _linear_stack([in_dim, *hidden, 1])
        for layers, out_gain in ((self.pi, 0.01), (self.v, 1.0)):
            for i, layer in enumerate(layers):
                assert isinstance(layer, nn.Linear)
                gain = out_gain if i == len(layers) - 1 else math.sqrt(2.0)
                nn.init.orthogonal_(layer.weight, gain=gain, generator=generator)
                nn.init.zeros_(layer.bias)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Action logits, [..., n_actions]."""
        return _run(self.pi, encoded(self.encoder, obs))

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values, [...]."""
        return _run(self.v, encoded(self.encoder, obs)).squeeze(-1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, values) for a batch of observations (encoded once)."""
        x = encoded(self.encoder, obs)
        return _run(self.pi, x), _run(self.v, x).squeeze(-1)

    def export_policy(self) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        """(arch, tensors) for `NumpyPolicy`: float32 copies on the CPU, safe to send or keep."""
        arch: dict[str, ArchValue] = {"kind": "mlp", "activation": "tanh"}
        tensors: dict[str, np.ndarray] = {}
        for prefix, layers in (("pi", self.pi), ("v", self.v)):
            arch[f"{prefix}_layers"] = export_layers(prefix, layers, tensors)
        export_encoder(self.encoder, arch, tensors)
        return arch, tensors


def frozen_copy(module: nn.Module) -> nn.Module:
    """A deep copy in eval mode without gradients: what a `PolicySnapshot` runs."""
    frozen = copy.deepcopy(module).eval()
    frozen.requires_grad_(False)
    return frozen


class ActorCriticSnapshot(PolicySnapshot):
    """`MLPActorCritic` frozen at one version: samples from softmax(logits) (argmax when
    deterministic) with the algorithm's own `generator`, so that the draws continue across
    versions instead of restarting from the seed at every update."""

    def __init__(self, model: MLPActorCritic, generator: torch.Generator) -> None:
        self.model = frozen_copy(model)
        self.obs_dim, self.n_actions = model.obs_dim, model.n_actions
        self.generator = generator
        self.device = next(model.parameters()).device

    def act(
        self, obs: np.ndarray, deterministic: bool, choices: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        with torch.inference_mode():
            x = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
            logits, values = self.model(x)
            logp_all = torch.log_softmax(logits.float(), dim=-1)
            if deterministic and 0 < choices < self.n_actions:
                actions = _folded_argmax(logp_all, choices)
            elif deterministic:
                actions = logp_all.argmax(dim=-1)
            else:  # drawn on the CPU: the generator is a CPU one whatever the device
                probs = logp_all.exp().cpu()
                actions = torch.multinomial(probs, 1, generator=self.generator)[:, 0]
                actions = actions.to(self.device)
            logp = logp_all.gather(-1, actions[:, None])[:, 0]
            return _numpy_out(actions, torch.int64), _numpy_out(logp), _numpy_out(values)


def _folded_argmax(logp: torch.Tensor, choices: int) -> torch.Tensor:
    """Per row, the most probable action of the most probable choice (action a is choice
    a mod `choices`): `supersonic.actors.policy.folded_argmax` for a batch."""
    n = logp.shape[-1]
    choice_of = torch.arange(n, device=logp.device) % choices
    probabilities = logp.exp()
    per_choice = torch.zeros(len(logp), choices, device=logp.device, dtype=probabilities.dtype)
    per_choice.index_add_(1, choice_of, probabilities)
    best = per_choice.argmax(dim=-1, keepdim=True)
    masked = logp.masked_fill(choice_of[None, :] != best, float("-inf"))
    return masked.argmax(dim=-1)


def _numpy_out(tensor: torch.Tensor, dtype: torch.dtype = torch.float32) -> np.ndarray:
    return tensor.detach().to("cpu", dtype).numpy()
