"""Proximal Policy Optimization (Schulman et al. 2017) for segments streamed by actors.

Readable top to bottom, CleanRL-style: hyperparameters, advantage estimation, then the update.
What differs from a single-process PPO is where the data comes from: actors run slightly older
policies (they act with the weights last published), so

- advantages are computed per segment, as it arrives, with GAE(lambda) from the behaviour
  policy's value estimates and the segment's bootstrap value (see `Batch` for the bootstrapping
  rules at terminated / truncated rows);
- the clipped importance ratio is taken against the behaviour log-probability recorded by the
  actor, which is exactly the policy that acted, so a lag of a few versions is corrected by the
  objective itself; segments more than `max_policy_lag` versions old are dropped instead, since
  the ratio clipping makes data from a far-away policy contribute nothing useful.

One `update()` trains on everything buffered (at least `rollout_steps` transitions) for `epochs`
passes of shuffled minibatches, then clears the buffer.

With `sil_coef > 0` the update ends with `sil_updates` minibatches of self-imitation
(`supersonic.learners.self_imitation`): transitions of past finished episodes, drawn in
proportion to how far their return beats the current value estimate, imitated with the loss
`sil_coef * (-log pi(a|s) (R - V(s))+ + SIL_VALUE_COEF * (R - V(s))+^2 / 2)`. Segments too stale
for the PPO objective still feed it (it is off-policy by design).
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
from supersonic.learners.self_imitation import EpisodeAssembler, SelfImitationBuffer

HIDDEN_CHOICES = ("64,64", "128,128", "256,256")
SIL_VALUE_COEF = 0.01  # the weight of self-imitation's value term (Oh et al. 2018 use 0.01)


def parse_hidden(spec: str) -> tuple[int, ...]:
    """'64,64' -> (64, 64): hidden sizes travel as strings so that they fit a choice."""
    return tuple(int(size) for size in spec.split(",") if size.strip())


def compute_gae(batch: Batch, gamma: float, gae_lambda: float) -> tuple[np.ndarray, np.ndarray]:
    """(advantages, returns) for one segment, float32 [N], by GAE(lambda).

    Walks the segment backwards; the value of the state after row i is 0 after a terminated row,
    values[i] after a truncated one (an approximation, see `Batch`), bootstrap_value after the
    last row of an unfinished episode, and values[i + 1] otherwise. The lambda-chain is cut at
    every episode end so that advantages never leak across episodes.
    """
    n = len(batch)
    values = batch.values.astype(np.float64)
    advantages = np.zeros(n, dtype=np.float64)
    running = 0.0
    for i in range(n - 1, -1, -1):
        if batch.terminated[i]:
            next_value, running = 0.0, 0.0
        elif batch.truncated[i]:
            next_value, running = values[i], 0.0
        elif i == n - 1:
            next_value, running = batch.bootstrap_value, 0.0
        else:
            next_value = values[i + 1]
        delta = batch.rewards[i] + gamma * next_value - values[i]
        running = delta + gamma * gae_lambda * running
        advantages[i] = running
    returns = advantages + values
    return advantages.astype(np.float32), returns.astype(np.float32)


@dataclass(frozen=True, eq=False)
class _Segment:
    """A buffered batch with what the update needs precomputed."""

    obs: np.ndarray
    actions: np.ndarray
    logp: np.ndarray
    values: np.ndarray
    advantages: np.ndarray
    returns: np.ndarray
    lag: int


def _explained_variance(predicted: np.ndarray, target: np.ndarray) -> float:
    """1 - Var(target - predicted) / Var(target); 0 when the target does not vary."""
    variance = float(np.var(target))
    if variance == 0.0:
        return 0.0
    return 1.0 - float(np.var(target - predicted)) / variance


def _detached_cpu(obj: Any) -> Any:
    """Deep copy of a (nested) state dict with every tensor cloned to the CPU.

    Makes checkpoints independent of later training steps and loadable without the GPU.
    """
    if isinstance(obj, torch.Tensor):
        return obj.detach().to("cpu", copy=True)
    if isinstance(obj, dict):
        return {key: _detached_cpu(value) for key, value in obj.items()}
    if isinstance(obj, list | tuple):
        return [_detached_cpu(value) for value in obj]
    return obj


@register_algorithm
class PPO(Algorithm):
    """Clipped-objective PPO with GAE, an MLP actor-critic (after a sequence encoder when the
    state has a token sequence) and Adam."""

    name = "ppo"
    hyperparameters = (
        HyperParameter("lr", "float", 3e-4, 1e-5, 1e-2, log=True, doc="Adam learning rate"),
        HyperParameter("gamma", "float", 0.99, 0.9, 0.9999, doc="discount factor"),
        HyperParameter("gae_lambda", "float", 0.95, 0.8, 1.0, doc="GAE lambda"),
        HyperParameter("clip_coef", "float", 0.2, 0.05, 0.5, doc="PPO ratio clip epsilon"),
        HyperParameter("ent_coef", "float", 0.01, 0.0, 0.1, doc="entropy bonus weight"),
        HyperParameter("vf_coef", "float", 0.5, 0.1, 1.0, doc="value loss weight"),
        HyperParameter(
            "clip_vloss",
            "choice",
            False,
            choices=(False, True),
            doc="clip the value loss around the behaviour values (off: slows the critic)",
        ),
        HyperParameter("max_grad_norm", "float", 0.5, 0.1, 10.0, doc="gradient norm clip"),
        HyperParameter(
            "rollout_steps", "int", 2048, 64, 65536, log=True, doc="transitions per update"
        ),
        HyperParameter("epochs", "int", 4, 1, 20, doc="passes over the data per update"),
        HyperParameter("minibatch_size", "int", 256, 16, 4096, log=True, doc="SGD minibatch"),
        HyperParameter("hidden", "choice", "64,64", choices=HIDDEN_CHOICES, doc="MLP widths"),
        *ENCODER_HPARAMS,
        HyperParameter(
            "sil_coef",
            "float",
            0.0,
            0.0,
            10.0,
            doc="self-imitation loss weight (0: off); replays past episodes that beat V(s)",
            searched=False,
        ),
        HyperParameter(
            "sil_updates",
            "int",
            4,
            1,
            256,
            doc="self-imitation minibatches per update",
            searched=False,
        ),
        HyperParameter(
            "sil_capacity",
            "int",
            16384,
            64,
            1 << 20,
            log=True,
            doc="transitions kept for self-imitation (the most recent)",
            searched=False,
        ),
        HyperParameter(
            "max_policy_lag",
            "int",
            4,
            0,
            100,
            doc="drop segments from policies more than this many versions old",
            searched=False,
        ),
    )

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
        # eps=1e-5 rather than Adam's 1e-8: the usual PPO setting, steadier early updates.
        self.optimizer = torch.optim.Adam(self.model.parameters(), lr=h["lr"], eps=1e-5)
        self._rng = np.random.default_rng(seed)  # minibatch shuffling
        # Central inference draws actions with its own stream (not the initialisation's).
        self._inference_generator = torch.Generator().manual_seed(seed + 1)
        self._buffer: list[_Segment] = []
        self.buffered = 0  # transitions waiting for the next update
        # Self-imitation's memory, only when it is on (`sil_coef` > 0).
        self._episodes: EpisodeAssembler | None = None
        self._imitation: SelfImitationBuffer | None = None
        if h["sil_coef"] > 0:
            self._episodes = EpisodeAssembler(h["gamma"])
            self._imitation = SelfImitationBuffer(obs_dim, h["sil_capacity"])

    # -- data in -----------------------------------------------------------------------------

    def add(self, batch: Batch) -> bool:
        """Buffer a segment with its advantages; False if its policy is too old (counted)."""
        admitted = self._admit(batch)
        if self._episodes is not None and self._imitation is not None:
            for episode in self._episodes.feed(batch):
                self._imitation.add(episode)
        if not admitted:
            return False
        advantages, returns = compute_gae(batch, self.hparams["gamma"], self.hparams["gae_lambda"])
        self._buffer.append(
            _Segment(
                obs=batch.obs,
                actions=batch.actions,
                logp=batch.logp,
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
        """PPO epochs over all buffered transitions; clears the buffer and bumps `version`."""
        if not self._buffer:
            raise RuntimeError("ppo update with no buffered data (check ready() first)")
        h = self.hparams
        segments, self._buffer, self.buffered = self._buffer, [], 0

        def stack(field: str) -> np.ndarray:
            return np.concatenate([getattr(s, field) for s in segments])

        advantages_np, returns_np, values_np = (
            stack("advantages"),
            stack("returns"),
            stack("values"),
        )
        n = len(advantages_np)

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array, device=self._torch_device)

        obs, actions, old_logp = (
            tensor(stack("obs")),
            tensor(stack("actions")),
            tensor(stack("logp")),
        )
        old_values, returns = tensor(values_np), tensor(returns_np)
        # Normalised over the whole update, not per minibatch: steadier with small minibatches.
        advantages = tensor((advantages_np - advantages_np.mean()) / (advantages_np.std() + 1e-8))

        n_minibatches = max(1, round(n / h["minibatch_size"]))
        sums = {"policy_loss": 0.0, "value_loss": 0.0, "entropy": 0.0, "approx_kl": 0.0}
        sums["clipfrac"] = 0.0
        steps = 0
        self.model.train()
        for _ in range(h["epochs"]):
            for index_np in np.array_split(self._rng.permutation(n), n_minibatches):
                index = tensor(index_np)
                logits, new_values = self.model(obs[index])
                log_probs = torch.log_softmax(logits, dim=-1)
                new_logp = log_probs.gather(1, actions[index].unsqueeze(1)).squeeze(1)
                entropy = -(log_probs.exp() * log_probs).sum(-1).mean()

                log_ratio = new_logp - old_logp[index]
                ratio = log_ratio.exp()
                adv = advantages[index]
                policy_loss = torch.max(
                    -adv * ratio,
                    -adv * ratio.clamp(1.0 - h["clip_coef"], 1.0 + h["clip_coef"]),
                ).mean()

                value_error = (new_values - returns[index]) ** 2
                if h["clip_vloss"]:
                    clipped = old_values[index] + (new_values - old_values[index]).clamp(
                        -h["clip_coef"], h["clip_coef"]
                    )
                    value_error = torch.max(value_error, (clipped - returns[index]) ** 2)
                value_loss = 0.5 * value_error.mean()

                loss = policy_loss - h["ent_coef"] * entropy + h["vf_coef"] * value_loss
                self.optimizer.zero_grad(set_to_none=True)
                loss.backward()
                nn.utils.clip_grad_norm_(self.model.parameters(), h["max_grad_norm"])
                self.optimizer.step()

                with torch.no_grad():
                    # The low-variance KL estimator (k3), against the behaviour policy.
                    sums["approx_kl"] += float(((ratio - 1.0) - log_ratio).mean())
                    sums["clipfrac"] += float(((ratio - 1.0).abs() > h["clip_coef"]).float().mean())
                sums["policy_loss"] += policy_loss.item()
                sums["value_loss"] += value_loss.item()
                sums["entropy"] += entropy.item()
                steps += 1

        self.version += 1
        self.consumed += n
        metrics = {key: total / steps for key, total in sums.items()}
        if h["sil_coef"] > 0:
            metrics.update(self._self_imitate())
        metrics["explained_variance"] = _explained_variance(values_np, returns_np)
        metrics["transitions"] = float(n)
        metrics["policy_lag"] = sum(s.lag * len(s.actions) for s in segments) / n
        return metrics

    def _self_imitate(self) -> dict[str, float]:
        """`sil_updates` minibatches of self-imitation; its metrics (see the module docstring)."""
        h = self.hparams
        if self._imitation is None or not len(self._imitation):
            return {"sil_loss": 0.0, "sil_better_share": 0.0, "sil_transitions": 0.0}
        obs_np, actions_np, returns_np = self._imitation.rows()
        obs, actions = torch.as_tensor(obs_np), torch.as_tensor(actions_np)
        returns = torch.as_tensor(returns_np)
        with torch.no_grad():
            margin = (returns - self.model.value(obs.to(self._torch_device)).cpu()).clamp(min=0)
        better = margin.numpy().astype(np.float64)
        total = float(better.sum())
        metrics = {
            "sil_loss": 0.0,
            "sil_better_share": float((better > 0).mean()),
            "sil_transitions": float(len(better)),
        }
        if total <= 0:
            return metrics
        size = min(h["minibatch_size"], int((better > 0).sum()))
        for _ in range(h["sil_updates"]):
            index = torch.as_tensor(self._rng.choice(len(better), size=size, p=better / total))
            logits, values = self.model(obs[index].to(self._torch_device))
            log_probs = torch.log_softmax(logits, dim=-1)
            logp = log_probs.gather(1, actions[index].to(self._torch_device).unsqueeze(1))
            gap = (returns[index].to(self._torch_device) - values).clamp(min=0)
            policy_loss = -(logp.squeeze(1) * gap.detach()).mean()
            value_loss = 0.5 * (gap**2).mean()
            loss = h["sil_coef"] * (policy_loss + SIL_VALUE_COEF * value_loss)
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(self.model.parameters(), h["max_grad_norm"])
            self.optimizer.step()
            metrics["sil_loss"] += loss.item() / h["sil_updates"]
        return metrics

    # -- weights and checkpoints -----------------------------------------------------------------

    def policy_weights(self) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        return self.model.export_policy()

    def policy_snapshot(self) -> PolicySnapshot:
        return ActorCriticSnapshot(self.model, self._inference_generator)

    def state_dict(self) -> dict[str, Any]:
        state = self._base_state()
        state["model"] = _detached_cpu(self.model.state_dict())
        state["optimizer"] = _detached_cpu(self.optimizer.state_dict())
        state["rng"] = _detached_cpu(self._rng.bit_generator.state)
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a checkpoint; the network shape must match, other hyperparameters are ours.

        (Use `Algorithm.from_state_dict` to rebuild with the checkpoint's own hyperparameters.)
        """
        self._load_base_state(state)
        self._require_same(state, ("hidden", *encoder_keys(self.seq_len)))
        self.model.load_state_dict(state["model"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._rng.bit_generator.state = state["rng"]
        self._buffer, self.buffered = [], 0
