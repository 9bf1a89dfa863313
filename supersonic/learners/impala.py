"""IMPALA (Espeholt et al. 2018): actor-critic with V-trace off-policy correction.

Readable top to bottom, CleanRL-style: the V-trace targets, then the algorithm. Actors act with
whatever weights they last received, so a segment may come from a policy many versions older
than the learner's; IMPALA corrects for that rather than dropping the data. With mu the
behaviour policy (its log-probability is recorded in the `Batch`) and pi the current one,

    rho_s = min(rho_bar, pi(a_s|x_s) / mu(a_s|x_s)),   c_s = min(c_bar, pi(a_s|x_s) / mu(a_s|x_s))
    delta_s = rho_s * (r_s + gamma * V(x_{s+1}) - V(x_s))
    v_s = V(x_s) + delta_s + gamma * c_s * (v_{s+1} - V(x_{s+1}))

with V the learner's current critic. The critic regresses to v_s; the policy follows the
rho-weighted advantage rho_s * (r_s + gamma * v_{s+1} - V(x_s)), plus an entropy bonus. On
policy (pi == mu, rho_bar, c_bar >= 1) v_s is the n-step return bootstrapped at the segment end.

Episode ends inside a segment (see `Batch`): after a terminated row the next value is 0; after a
truncated row the next state was never recorded, so the current critic's value of the row's own
state stands in for it (the same approximation as `Batch` documents for the behaviour values);
after the last row of an unfinished episode it is `batch.bootstrap_value`, which the behaviour
policy's critic computed: the learner cannot recompute it, since a segment does not carry the
observation after its last row. The correction chain (v_{s+1} - V(x_{s+1})) is cut at every
episode end and at the segment's end.

Segments more than `max_policy_lag` versions old are still dropped (default 32, large: correcting
lag is the point of V-trace, but data from a policy that far away mostly has rho ~ 0).
"""

from __future__ import annotations

import numpy as np
import torch

from supersonic.learners.a2c import LR_DECAY, ActorCriticAlgorithm, _explained_variance
from supersonic.learners.algorithm import (
    Batch,
    HyperParameter,
    register_algorithm,
)
from supersonic.learners.models import ENCODER_HPARAMS
from supersonic.learners.ppo import HIDDEN_CHOICES


def compute_vtrace(
    batch: Batch,
    values: np.ndarray,
    log_rhos: np.ndarray,
    gamma: float,
    rho_bar: float = 1.0,
    c_bar: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """(v-trace targets v_s, policy-gradient advantages), float32 [N], for one segment.

    `values` are the current critic's V(x_s) for the segment's rows, `log_rhos` are
    log pi(a_s|x_s) - batch.logp (current minus behaviour log-probabilities). The advantages
    already include the rho_s factor. Walks the segment backwards, as `compute_gae` does.
    """
    n = len(batch)
    if values.shape != (n,) or log_rhos.shape != (n,):
        raise ValueError(f"vtrace needs values and log_rhos of shape [{n}]")
    values64 = values.astype(np.float64)
    ratios = np.exp(log_rhos.astype(np.float64))
    rhos, cs = np.minimum(rho_bar, ratios), np.minimum(c_bar, ratios)
    targets = np.zeros(n, dtype=np.float64)
    advantages = np.zeros(n, dtype=np.float64)
    for i in range(n - 1, -1, -1):
        if batch.terminated[i]:
            next_value, next_target, carry = 0.0, 0.0, 0.0
        elif batch.truncated[i]:
            next_value = next_target = values64[i]
            carry = 0.0
        elif i == n - 1:
            next_value = next_target = batch.bootstrap_value
            carry = 0.0
        else:
            next_value, next_target = values64[i + 1], targets[i + 1]
            carry = targets[i + 1] - values64[i + 1]
        reward = float(batch.rewards[i])
        delta = rhos[i] * (reward + gamma * next_value - values64[i])
        targets[i] = values64[i] + delta + gamma * cs[i] * carry
        advantages[i] = rhos[i] * (reward + gamma * next_target - values64[i])
    return targets.astype(np.float32), advantages.astype(np.float32)


@register_algorithm
class IMPALA(ActorCriticAlgorithm):
    """Actor-critic with V-trace targets, an MLP actor-critic, one gradient step per rollout."""

    name = "impala"
    hyperparameters = (
        HyperParameter("lr", "float", 7e-4, 1e-5, 1e-2, log=True, doc="learning rate"),
        HyperParameter("gamma", "float", 0.99, 0.9, 0.9999, doc="discount factor"),
        HyperParameter("rho_bar", "float", 1.0, 0.1, 10.0, doc="V-trace truncation of rho"),
        HyperParameter("c_bar", "float", 1.0, 0.1, 10.0, doc="V-trace truncation of c"),
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
            32,
            0,
            1000,
            doc="drop segments from policies more than this many versions old",
            searched=False,
        ),
        HyperParameter(
            "optimizer", "choice", "rmsprop", choices=("rmsprop", "adam"), doc="optimiser"
        ),
    )

    # V-trace needs the current policy, so segments are kept raw until the update:
    # `_buffer` holds (segment, its lag when added).

    # -- data in -----------------------------------------------------------------------------

    def add(self, batch: Batch) -> bool:
        """Buffer a segment; False if its policy is more than `max_policy_lag` old (counted)."""
        if not self._admit(batch):
            return False
        self._buffer.append((batch, max(0, self.version - batch.policy_version)))
        self.buffered += len(batch)
        return True

    def ready(self) -> bool:
        return self.buffered >= self.hparams["rollout_steps"]

    # -- the update ----------------------------------------------------------------------------

    def update(self) -> dict[str, float]:
        """One V-trace gradient step on all buffered segments; clears them, bumps `version`."""
        if not self._buffer:
            raise RuntimeError("impala update with no buffered data (check ready() first)")
        h = self.hparams
        segments, self._buffer, self.buffered = self._buffer, [], 0
        batches = [batch for batch, _ in segments]

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array, device=self._torch_device)

        obs = tensor(np.concatenate([b.obs for b in batches]))
        actions = tensor(np.concatenate([b.actions for b in batches]))
        behaviour_logp_np = np.concatenate([b.logp for b in batches])
        n = len(behaviour_logp_np)

        self.model.train()
        logits, values = self.model(obs)
        log_probs = torch.log_softmax(logits, dim=-1)
        logp = log_probs.gather(1, actions.unsqueeze(1)).squeeze(1)
        entropy = -(log_probs.exp() * log_probs).sum(-1).mean()

        # V-trace per segment, from the current policy and critic (constants for the gradient).
        values_np = values.detach().cpu().numpy()
        log_rhos_np = logp.detach().cpu().numpy() - behaviour_logp_np
        targets_parts, advantage_parts = [], []
        start = 0
        for batch in batches:
            stop = start + len(batch)
            segment_targets, segment_advantages = compute_vtrace(
                batch,
                values_np[start:stop],
                log_rhos_np[start:stop],
                h["gamma"],
                h["rho_bar"],
                h["c_bar"],
            )
            targets_parts.append(segment_targets)
            advantage_parts.append(segment_advantages)
            start = stop
        targets_np = np.concatenate(targets_parts)
        targets, advantages = tensor(targets_np), tensor(np.concatenate(advantage_parts))

        policy_loss = -(advantages * logp).mean()
        value_loss = 0.5 * ((values - targets) ** 2).mean()
        loss = policy_loss - h["ent_coef"] * entropy + h["vf_coef"] * value_loss

        grad_norm = self._step(loss)

        ratios = np.exp(log_rhos_np)
        self.version += 1
        self.consumed += n
        return {
            "policy_loss": policy_loss.item(),
            "value_loss": value_loss.item(),
            "entropy": entropy.item(),
            "grad_norm": float(grad_norm),
            "mean_ratio": float(ratios.mean()),
            "rho_clipfrac": float((ratios > h["rho_bar"]).mean()),
            "explained_variance": _explained_variance(values_np, targets_np),
            "transitions": float(n),
            "policy_lag": sum(lag * len(batch) for batch, lag in segments) / n,
        }

    # -- weights and checkpoints -----------------------------------------------------------------
