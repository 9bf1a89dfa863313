"""Synchronous advantage actor-critic (A2C; Mnih et al. 2016, the synchronous variant).

Readable top to bottom, CleanRL-style: hyperparameters, then the update. A2C is on-policy: one
gradient step per small rollout (`rollout_steps` transitions, no epochs, no minibatches), on
data from the policy being trained. In SuperSonic the actors act with the weights last
published, so a segment may come from a slightly older version; A2C has no importance-ratio
correction, so segments more than `max_policy_lag` versions old (default 1: the version just
replaced, as over PUB/SUB) are dropped and counted in `dropped_stale`. For data from older
policies use IMPALA, which corrects the lag with V-trace.

Advantages are computed per segment as it arrives, with GAE(lambda) (`gae_lambda=1` gives the
classic n-step returns) from the behaviour critic's values and the segment's bootstrap value,
following the bootstrapping rules documented on `Batch`.

The loss is the usual one: policy gradient -A * log pi(a|s), minus `ent_coef` times the entropy,
plus `vf_coef` times 0.5 * (V(s) - return)^2; gradients are clipped to `max_grad_norm` and one
RMSprop (the paper's optimiser, the default) or Adam step is taken.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from supersonic.learners.algorithm import (
    Algorithm,
    ArchValue,
    Batch,
    HyperParameter,
    PolicySnapshot,
    register_algorithm,
)
from supersonic.learners.models import (
    ENCODER_HPARAMS,
    ActorCriticSnapshot,
    MLPActorCritic,
    build_encoder,
    encoder_keys,
)
from supersonic.learners.ppo import HIDDEN_CHOICES, compute_gae, parse_hidden


@dataclass(frozen=True, eq=False)
class _Segment:
    """A buffered batch with its advantages and returns."""

    obs: np.ndarray
    actions: np.ndarray
    values: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    lag: int


def _cpu_copy(obj: Any) -> Any:
    """Deep copy of a (nested) state dict with every tensor cloned to the CPU."""
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {key: _cpu_copy(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_cpu_copy(value) for value in obj]
    return obj


def _explained_variance(predicted: np.ndarray, target: np.ndarray) -> float:
    """1 - Var(target - predicted) / Var(target); 0 when the target does not vary."""
    variance = float(np.var(target))
    if variance == 0.0:
        return 0.0
    return 1.0 - float(np.var(target - predicted)) / variance


def make_optimizer(kind: str, params: Any, lr: float) -> torch.optim.Optimizer:
    """RMSprop with the A2C/IMPALA settings (alpha 0.99, eps 1e-5) or Adam (eps 1e-5)."""
    if kind == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=0.99, eps=1e-5)
    if kind == "adam":
        return torch.optim.Adam(params, lr=lr, eps=1e-5)
    raise ValueError(f"unknown optimizer {kind!r}; valid: adam, rmsprop")


LR_DECAY = HyperParameter(
    "lr_decay_steps",
    "int",
    0,
    0,
    1_000_000_000,
    doc="anneal lr linearly to 0 over this many transitions (0: constant)",
)


class ActorCriticAlgorithm(Algorithm):
    """What A2C and IMPALA share: one MLP actor-critic (after a sequence encoder when the state
    has a token sequence), its optimiser, a buffer of segments emptied by each update, the
    exported weights, and checkpoints of model and optimiser."""

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
        super().__init__(
            obs_dim, n_actions, hparams, device=device, seed=seed, seq_len=seq_len, vocab=vocab
        )
        h = self.hparams
        self._torch_device = torch.device(device)
        generator = torch.Generator().manual_seed(seed)
        encoder = build_encoder(h, self.seq_len, self.vocab, generator)
        self.model = MLPActorCritic(
            obs_dim, n_actions, parse_hidden(h["hidden"]), generator, encoder
        ).to(self._torch_device)
        self.optimizer = make_optimizer(h["optimizer"], self.model.parameters(), h["lr"])
        self._buffer: list[Any] = []  # what a subclass keeps until its update
        # Central inference draws actions with its own stream (not the initialisation's).
        self._inference_generator = torch.Generator().manual_seed(seed + 1)
        self.buffered = 0  # transitions waiting for the next update

    def policy_weights(self) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        return self.model.export_policy()

    def policy_snapshot(self) -> PolicySnapshot:
        return ActorCriticSnapshot(self.model, self._inference_generator)

    def _step(self, loss: torch.Tensor) -> torch.Tensor:
        """One optimiser step on `loss` (gradients clipped to `max_grad_norm`), at the learning
        rate of the schedule: `lr`, annealed linearly to 0 over `lr_decay_steps` transitions
        when that is set (a policy that learned stops being pushed around by late updates)."""
        h = self.hparams
        lr = h["lr"]
        if h["lr_decay_steps"]:
            lr *= max(0.0, 1.0 - self.consumed / h["lr_decay_steps"])
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        self.optimizer.zero_grad(set_to_none=True)
        loss.backward()
        grad_norm = nn.utils.clip_grad_norm_(self.model.parameters(), h["max_grad_norm"])
        self.optimizer.step()
        return grad_norm

    def state_dict(self) -> dict[str, Any]:
        state = self._base_state()
        state["model"] = _cpu_copy(self.model.state_dict())
        state["optimizer"] = _cpu_copy(self.optimizer.state_dict())
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a checkpoint; network shape and optimiser must match, the rest is ours.

        (Use `Algorithm.from_state_dict` to rebuild with the checkpoint's own hyperparameters.)
        """
        self._load_base_state(state)
        self._require_same(state, ("hidden", "optimizer", *encoder_keys(self.seq_len)))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._buffer, self.buffered = [], 0


@register_algorithm
class A2C(ActorCriticAlgorithm):
    """A2C with GAE, an MLP actor-critic, one gradient step per rollout."""

    name = "a2c"
    hyperparameters = (
        HyperParameter("lr", "float", 7e-4, 1e-5, 1e-2, log=True, doc="learning rate"),
        HyperParameter("gamma", "float", 0.99, 0.9, 0.9999, doc="discount factor"),
        HyperParameter("gae_lambda", "float", 1.0, 0.8, 1.0, doc="GAE lambda (1: n-step returns)"),
        HyperParameter("ent_coef", "float", 0.01, 0.0, 0.1, doc="entropy bonus weight"),
        HyperParameter("vf_coef", "float", 0.5, 0.1, 1.0, doc="value loss weight"),
        HyperParameter("max_grad_norm", "float", 0.5, 0.1, 10.0, doc="gradient norm clip"),
        LR_DECAY,
        HyperParameter(
            "rollout_steps", "int", 256, 16, 8192, log=True, doc="transitions per update"
        ),
        HyperParameter("hidden", "choice", "64,64", choices=HIDDEN_CHOICES, doc="MLP widths"),
        *ENCODER_HPARAMS,
        HyperParameter(
            "max_policy_lag",
            "int",
            1,
            0,
            100,
            doc="drop segments from policies more than this many versions old",
            searched=False,
        ),
        HyperParameter(
            "optimizer", "choice", "rmsprop", choices=("rmsprop", "adam"), doc="optimiser"
        ),
    )

    # -- data in -----------------------------------------------------------------------------

    def add(self, batch: Batch) -> bool:
        """Buffer a segment with its advantages; False if its policy is too old (counted)."""
        if not self._admit(batch):
            return False
        advantages, returns = compute_gae(batch, self.hparams["gamma"], self.hparams["gae_lambda"])
        self._buffer.append(
            _Segment(
                obs=batch.obs,
                actions=batch.actions,
                values=batch.values,
                advantages=advantages,
                returns=returns,
                lag=max(0, self.version - batch.policy_version),
            )
        )
        self.buffered += len(batch)
        return True

    def ready(self) -> bool:
        return self.buffered >= self.hparams["rollout_steps"]

    # -- the update ----------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        """One gradient step on all buffered transitions; clears the buffer, bumps `version`."""
        if not self._buffer:
            raise RuntimeError("a2c update with no buffered data (check ready() first)")
        h = self.hparams
        segments, self._buffer, self.buffered = self._buffer, [], 0

        def stack(field: str) -> np.ndarray:
            return np.concatenate([getattr(s, field) for s in segments])

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array, device=self._torch_device)

        values_np, returns_np = stack("values"), stack("returns")
        obs, actions = tensor(stack("obs")), tensor(stack("actions"))
        advantages, returns = tensor(stack("advantages")), tensor(returns_np)
        n = len(returns_np)

        self.model.train()
        logits, new_values = self.model(obs)
        log_probs = torch.log_softmax(logits, dim=-1)
        logp = log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)
        entropy = -(log_probs.exp() * log_probs).sum(-1).mean()
        policy_loss = -(advantages * logp).mean()
        value_loss = 0.5 * ((new_values - returns) ** 2).mean()
        loss = policy_loss - h["ent_coef"] * entropy + h["vf_coef"] * value_loss

        grad_norm = self._step(loss)

        self.version += 1
        self.consumed += n
        return {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "grad_norm": float(grad_norm),
            "explained_variance": _explained_variance(values_np, returns_np),
            "transitions": float(n),
            "policy_lag": sum(s.lag * len(s.actions) for s in segments) / n,
        }

    # -- weights and checkpoints -----------------------------------------------------------------
