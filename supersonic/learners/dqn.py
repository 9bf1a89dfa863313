"""Deep Q-learning (Mnih et al. 2015) with Rainbow-era improvements, for streamed segments.

Readable top to bottom, CleanRL-style: the network, the n-step transitions, the prioritized replay,
then the algorithm. The pieces, each switchable or tunable by a hyperparameter:

- double DQN targets (van Hasselt et al. 2016): the online net picks the next action, the target
  net values it;
- a dueling network (Wang et al. 2016): a shared ReLU trunk, then a value and an advantage
  stream, Q = V + A - mean(A);
- n-step returns, computed within each segment as it arrives (see `nstep_transitions`);
- proportional prioritized experience replay (Schaul et al. 2016) over a sum-tree, with
  importance weights whose exponent beta is annealed from `per_beta0` to 1;
- a target network, copied every `target_update` gradient steps (or moved towards the online net
  by Polyak averaging with rate `tau` < 1 at that interval);
- Huber loss, Adam and gradient-norm clipping.

Where it differs from single-process DQN is that actors explore, not the learner: the current
epsilon (linear decay over the transitions consumed by updates) travels in the exported arch,
and `supersonic.actors.policy.NumpyPolicy` acts epsilon-greedily with it. DQN is off-policy, so
segments from old policies are accepted (`max_policy_lag` is large by default).

Checkpoints hold the networks, the optimizer, the counters and the RNG, but not the replay buffer
(it can be hundreds of megabytes for compiler observations): a restarted learner starts with an
empty buffer and trains again once it holds `learning_starts` transitions.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from typing import Any, NamedTuple

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

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
    SequenceEncoder,
    build_encoder,
    encoded,
    encoder_keys,
    export_encoder,
    export_layers,
    frozen_copy,
)
from supersonic.learners.ppo import HIDDEN_CHOICES, _detached_cpu, parse_hidden

# -- the network ----------------------------------------------------------------------------------


class QNetwork(nn.Module):
    """A ReLU MLP from observations to Q-values, dueling or plain, after an optional `encoder`
    of the observation's token sequence (see `supersonic.learners.models.SequenceEncoder`).

    Dueling: trunk `q.0..q.{k-1}` (ReLU after every layer), value stream `v.0` (-> 1) and advantage
    stream `a.0` (-> n_actions), Q = V + A - mean(A). Plain: `q.0..q.k`, ReLU after all but the
    last. The layer names are the wire format that `NumpyPolicy` reads (see `export_policy`).
    Initialisation: orthogonal, gain sqrt(2) on hidden layers and 1 on outputs, zero biases;
    pass a `generator` to make it reproducible without touching torch's global random state.
    """

    def __init__(
        self,
        obs_dim: int,
        n_actions: int,
        hidden: tuple[int, ...] = (64, 64),
        dueling: bool = True,
        generator: torch.Generator | None = None,
        encoder: SequenceEncoder | None = None,
    ) -> None:
        super().__init__()
        self.dueling = dueling
        self.encoder = encoder
        sizes = [obs_dim if encoder is None else encoder.out_dim(obs_dim), *hidden]
        trunk = [nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes)]
        if dueling:
            self.q = nn.ModuleList(trunk)
            self.v = nn.ModuleList([nn.Linear(sizes[-1], 1)])
            self.a = nn.ModuleList([nn.Linear(sizes[-1], n_actions)])
            outputs = [self.v[0], self.a[0]]
        else:
            self.q = nn.ModuleList([*trunk, nn.Linear(sizes[-1], n_actions)])
            outputs = [self.q[-1]]
        for module in itertools.chain(self.q, getattr(self, "v", ()), getattr(self, "a", ())):
            if isinstance(module, nn.Linear):
                gain = 1.0 if any(module is out for out in outputs) else math.sqrt(2.0)
                nn.init.orthogonal_(module.weight, gain=gain, generator=generator)
                nn.init.zeros_(module.bias)

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        """Q-values [B, n_actions] for observations [B, obs_dim]."""
        x = encoded(self.encoder, obs)
        if not self.dueling:
            for i, layer in enumerate(self.q):
                x = layer(x)
                if i < len(self.q) - 1:
                    x = F.relu(x)
            return x
        for layer in self.q:
            x = F.relu(layer(x))
        value, advantage = self.v[0](x), self.a[0](x)
        return value + advantage - advantage.mean(dim=-1, keepdim=True)

    def export_policy(self, epsilon: float) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        """(arch, float32 CPU tensors) for `NumpyPolicy`, exploring with `epsilon`."""
        arch: dict[str, ArchValue] = {"activation": "relu", "epsilon": float(epsilon)}
        groups = {"q": self.q, "v": getattr(self, "v", None), "a": getattr(self, "a", None)}
        if self.dueling:
            arch["kind"] = "dueling_mlp"
            keys = {"q": "trunk_layers", "v": "value_layers", "a": "advantage_layers"}
        else:
            arch["kind"] = "q_mlp"
            keys = {"q": "q_layers"}
        tensors: dict[str, np.ndarray] = {}
        for prefix, key in keys.items():
            layers = groups[prefix]
            assert isinstance(layers, nn.ModuleList)
            arch[key] = export_layers(prefix, layers, tensors)
        export_encoder(self.encoder, arch, tensors)
        return arch, tensors


# -- n-step transitions ---------------------------------------------------------------------------


class QSnapshot(PolicySnapshot):
    """`QNetwork` frozen at one version with the exploration rate of that version: epsilon-greedy
    exactly as `NumpyPolicy.act` does it (logp of action a = epsilon / n + (1 - epsilon) [a is
    the argmax]; value = max Q)."""

    def __init__(
        self,
        q_net: QNetwork,
        epsilon: float,
        shape: tuple[int, int],
        generator: torch.Generator,
    ) -> None:
        self.q_net = frozen_copy(q_net)
        self.epsilon, self.generator = epsilon, generator
        self.device = next(q_net.parameters()).device
        self.obs_dim, self.n_actions = shape

    def act(
        self, obs: np.ndarray, deterministic: bool, choices: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        # argmax Q is an alias of the best choice already: `choices` changes nothing here.
        with torch.inference_mode():
            q = self.q_net(torch.as_tensor(obs, dtype=torch.float32, device=self.device))
            q = q.float().cpu()
        greedy = q.argmax(dim=-1)
        actions = greedy.clone()
        if not deterministic and self.epsilon > 0:
            explore = torch.rand(len(q), generator=self.generator) < self.epsilon
            uniform = torch.randint(self.n_actions, (len(q),), generator=self.generator)
            actions = torch.where(explore, uniform, greedy)
        probability = self.epsilon / self.n_actions + (1.0 - self.epsilon) * (actions == greedy).to(
            torch.float64
        )
        return (
            actions.numpy().astype(np.int64),
            np.log(probability.numpy()).astype(np.float32),
            q.max(dim=-1).values.numpy().astype(np.float32),
        )


class NStep(NamedTuple):
    """n-step transitions rebuilt from one segment, as row indices into it.

    Transition k starts at row `rows[k]` (its obs and action), has discounted reward sum
    `returns[k]`, and bootstraps from obs[`next_rows[k]`] with factor `discounts[k]`
    (gamma^m for m steps, 0 after a terminal state):
    target = returns + discounts * max_a' Q_target(obs[next_rows], a').
    """

    rows: np.ndarray  # int64 [M]
    returns: np.ndarray  # float32 [M]
    next_rows: np.ndarray  # int64 [M]
    discounts: np.ndarray  # float32 [M]


def nstep_transitions(batch: Batch, n_step: int, gamma: float) -> NStep:
    """The n-step transitions of a segment, cut at episode ends.

    From row i the window takes up to `n_step` rewards and stops early at the row j that ends the
    episode. Then:
    - terminated[j]: no bootstrap (discount 0);
    - truncated[j]: the state reached is not in the segment (the next row is a reset), so, as
      `Batch` documents, obs[j] stands in for it: bootstrap from obs[j] with gamma^m;
    - otherwise the window ends at row j = i + m - 1 and bootstraps from obs[j + 1].
    The state after the last row of an unfinished episode is unknown, so the window may not
    include that row: it is dropped as a start row, and the windows of the rows before it are
    shortened to bootstrap from it. Each segment thus loses one transition unless it ends an
    episode; with segments of 64+ steps that is under 2% of the data.
    """
    n = len(batch)
    ends = batch.terminated | batch.truncated
    last = n if ends[-1] else n - 1  # rows that may start or be inside a window: [0, last)
    rows, returns, next_rows, discounts = [], [], [], []
    for i in range(last):
        total, factor, j = 0.0, 1.0, i
        while True:
            total += factor * float(batch.rewards[j])
            factor *= gamma
            if ends[j] or j - i + 1 == n_step or j + 1 >= last:
                break
            j += 1
        rows.append(i)
        returns.append(total)
        if batch.terminated[j]:
            next_rows.append(j)
            discounts.append(0.0)
        elif batch.truncated[j]:
            next_rows.append(j)
            discounts.append(factor)
        else:
            next_rows.append(j + 1)
            discounts.append(factor)
    return NStep(
        rows=np.asarray(rows, dtype=np.int64),
        returns=np.asarray(returns, dtype=np.float32),
        next_rows=np.asarray(next_rows, dtype=np.int64),
        discounts=np.asarray(discounts, dtype=np.float32),
    )


# -- prioritized replay ---------------------------------------------------------------------------


class SumTree:
    """Priorities in a binary tree whose inner nodes hold the sum of their children.

    Leaves live at tree[size + i] for slot i (size: capacity rounded up to a power of two), the
    root at tree[1]. Setting a priority and finding the slot where a prefix sum falls are both
    O(log size), and both are vectorised over a batch of slots.
    """

    def __init__(self, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"SumTree capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.size = 1 << max(0, (capacity - 1).bit_length())
        self.tree = np.zeros(2 * self.size, dtype=np.float64)

    @property
    def total(self) -> float:
        return float(self.tree[1])

    def get(self, slots: np.ndarray) -> np.ndarray:
        return self.tree[self.size + np.asarray(slots, dtype=np.int64)]

    def set(self, slots: np.ndarray, priorities: np.ndarray) -> None:
        """Set the priorities (>= 0, finite) of `slots`; a slot named twice gets its last value."""
        slots = np.asarray(slots, dtype=np.int64)
        priorities = np.asarray(priorities, dtype=np.float64)
        if slots.size and (slots.min() < 0 or slots.max() >= self.capacity):
            raise ValueError(f"SumTree slot outside [0, {self.capacity})")
        if not (np.isfinite(priorities).all() and (priorities >= 0).all()):
            raise ValueError("SumTree priorities must be finite and >= 0")
        nodes = self.size + slots
        self.tree[nodes] = priorities
        nodes = np.unique(nodes // 2)
        while nodes.size and nodes[0] >= 1:
            self.tree[nodes] = self.tree[2 * nodes] + self.tree[2 * nodes + 1]
            if nodes[0] == 1:
                break
            nodes = np.unique(nodes // 2)

    def find(self, prefix: np.ndarray) -> np.ndarray:
        """The slots where each prefix sum in [0, total) falls (never a slot of priority 0)."""
        value = np.asarray(prefix, dtype=np.float64).copy()
        nodes = np.ones(value.shape, dtype=np.int64)
        while nodes.size and nodes[0] < self.size:  # all leaves are at the same depth
            left = self.tree[2 * nodes]
            right = self.tree[2 * nodes + 1]
            # Go right when the prefix is past the left subtree, unless rounding left the right
            # subtree empty; going left then still ends at a leaf of positive priority.
            go_right = ((value >= left) & (right > 0)) | (left <= 0)
            value = np.where(go_right, value - left, value)
            nodes = 2 * nodes + go_right
        return nodes - self.size

    def sample(self, count: int, rng: np.random.Generator) -> np.ndarray:
        """`count` slots drawn with probability priority / total, stratified over [0, total)."""
        if self.total <= 0:
            raise ValueError("SumTree.sample with no positive priority")
        bounds = np.arange(count + 1, dtype=np.float64) * (self.total / count)
        prefix = bounds[:-1] + rng.random(count) * (bounds[1:] - bounds[:-1])
        return self.find(np.minimum(prefix, np.nextafter(self.total, 0.0)))


class PrioritizedReplay:
    """A ring buffer of n-step transitions with proportional prioritized sampling.

    New transitions get the largest priority seen so far, so each is sampled at least a few times
    before its TD error is known. Arrays are numpy on the CPU; batches are moved to the device by
    the caller.
    """

    def __init__(self, capacity: int, obs_dim: int) -> None:
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.next_obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.returns = np.zeros(capacity, dtype=np.float32)
        self.discounts = np.zeros(capacity, dtype=np.float32)
        self.tree = SumTree(capacity)
        self.max_priority = 1.0
        self.position = 0
        self.count = 0

    def __len__(self) -> int:
        return self.count

    def add(
        self,
        obs: np.ndarray,
        actions: np.ndarray,
        returns: np.ndarray,
        next_obs: np.ndarray,
        discounts: np.ndarray,
    ) -> None:
        """Append transitions, overwriting the oldest once full (only the newest if too many)."""
        keep = slice(max(0, len(actions) - self.capacity), None)
        obs, actions, returns = obs[keep], actions[keep], returns[keep]
        next_obs, discounts = next_obs[keep], discounts[keep]
        n = len(actions)
        slots = (self.position + np.arange(n)) % self.capacity
        self.obs[slots], self.actions[slots], self.returns[slots] = obs, actions, returns
        self.next_obs[slots], self.discounts[slots] = next_obs, discounts
        self.tree.set(slots, np.full(n, self.max_priority))
        self.position = int((self.position + n) % self.capacity)
        self.count = min(self.capacity, self.count + n)

    def sample(
        self, batch_size: int, beta: float, rng: np.random.Generator
    ) -> tuple[np.ndarray, np.ndarray]:
        """(slots, importance weights normalised by their batch maximum)."""
        slots = self.tree.sample(batch_size, rng)
        probabilities = self.tree.get(slots) / self.tree.total
        weights = (self.count * probabilities) ** -beta
        return slots, (weights / weights.max()).astype(np.float32)

    def update_priorities(self, slots: np.ndarray, priorities: np.ndarray) -> None:
        self.tree.set(slots, priorities)
        self.max_priority = max(self.max_priority, float(np.max(priorities)))


# -- the algorithm --------------------------------------------------------------------------------

PRIORITY_EPS = 1e-6
"""Added to |TD error| so that no transition's priority drops to 0."""


@register_algorithm
class DQN(Algorithm):
    """Double, dueling, n-step DQN with prioritized replay; actors explore epsilon-greedily.

    `ready()` once the replay holds `learning_starts` transitions (and a batch) and `train_every`
    new transitions have arrived since the last update; `update()` then takes `gradient_steps`
    minibatch steps. Segments arrive whole, so the real ratio is `gradient_steps` per
    max(`train_every`, segment length) transitions. `consumed` counts the new transitions each
    update accounted for; epsilon and beta are functions of it.
    """

    name = "dqn"
    hyperparameters = (
        HyperParameter("lr", "float", 2.5e-4, 1e-5, 1e-2, log=True, doc="Adam learning rate"),
        HyperParameter("gamma", "float", 0.99, 0.9, 0.9999, doc="discount factor"),
        HyperParameter("n_step", "int", 3, 1, 10, doc="steps per return before bootstrapping"),
        HyperParameter(
            "buffer_size",
            "int",
            100_000,
            1_000,
            10_000_000,
            log=True,
            doc="replay capacity",
            searched=False,
        ),
        HyperParameter("batch_size", "int", 128, 16, 4096, log=True, doc="SGD minibatch"),
        HyperParameter(
            "learning_starts", "int", 2_000, 0, 1_000_000, doc="replay size before training"
        ),
        HyperParameter(
            "train_every", "int", 256, 1, 100_000, log=True, doc="new transitions per update"
        ),
        HyperParameter("gradient_steps", "int", 64, 1, 10_000, log=True, doc="steps per update"),
        HyperParameter(
            "target_update", "int", 500, 1, 100_000, log=True, doc="gradient steps per sync"
        ),
        HyperParameter(
            "tau", "float", 1.0, 1e-4, 1.0, log=True, doc="target sync rate (1: hard copy)"
        ),
        HyperParameter("per_alpha", "float", 0.6, 0.0, 1.0, doc="priority exponent (0: uniform)"),
        HyperParameter("per_beta0", "float", 0.4, 0.0, 1.0, doc="initial importance exponent"),
        HyperParameter(
            "per_beta_steps",
            "int",
            200_000,
            1,
            100_000_000,
            log=True,
            doc="transitions consumed over which beta anneals to 1",
            searched=False,
        ),
        HyperParameter("eps_start", "float", 1.0, 0.0, 1.0, doc="initial exploration rate"),
        HyperParameter("eps_end", "float", 0.05, 0.0, 1.0, doc="final exploration rate"),
        HyperParameter(
            "eps_decay_steps",
            "int",
            50_000,
            1,
            100_000_000,
            log=True,
            doc="transitions consumed over which epsilon decays linearly",
        ),
        HyperParameter("hidden", "choice", "64,64", choices=HIDDEN_CHOICES, doc="MLP widths"),
        *ENCODER_HPARAMS,
        HyperParameter("dueling", "choice", True, choices=(True, False), doc="dueling heads"),
        HyperParameter("double", "choice", True, choices=(True, False), doc="double DQN target"),
        HyperParameter("max_grad_norm", "float", 10.0, 0.1, 100.0, doc="gradient norm clip"),
        HyperParameter(
            "max_policy_lag",
            "int",
            1_000_000,
            0,
            1_000_000_000,
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
        hidden = parse_hidden(h["hidden"])
        encoder = build_encoder(h, self.seq_len, self.vocab, generator)
        self.q_net = QNetwork(obs_dim, n_actions, hidden, h["dueling"], generator, encoder).to(
            self._torch_device
        )
        target_encoder = build_encoder(h, self.seq_len, self.vocab)
        self.target_net = QNetwork(
            obs_dim, n_actions, hidden, h["dueling"], encoder=target_encoder
        ).to(self._torch_device)
        self.target_net.load_state_dict(self.q_net.state_dict())
        self.target_net.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.q_net.parameters(), lr=h["lr"])
        self.replay = PrioritizedReplay(h["buffer_size"], obs_dim)
        self._rng = np.random.default_rng(seed)  # replay sampling
        self._inference_generator = torch.Generator().manual_seed(seed + 1)  # central inference
        self.gradient_steps_done = 0
        self.new_transitions = 0  # added since the last update
        self._new_lag_sum = 0  # sum of policy lag over those, for the policy_lag metric

    # -- schedules -----------------------------------------------------------------------------

    @property
    def epsilon(self) -> float:
        """The actors' exploration rate: linear from eps_start to eps_end over consumed steps."""
        h = self.hparams
        fraction = min(1.0, self.consumed / h["eps_decay_steps"])
        return float(h["eps_start"] + fraction * (h["eps_end"] - h["eps_start"]))

    @property
    def beta(self) -> float:
        """The importance-weight exponent: linear from per_beta0 to 1 over consumed steps."""
        h = self.hparams
        fraction = min(1.0, self.consumed / h["per_beta_steps"])
        return float(h["per_beta0"] + fraction * (1.0 - h["per_beta0"]))

    # -- data in -------------------------------------------------------------------------------

    def add(self, batch: Batch) -> bool:
        """Store a segment's n-step transitions; False if its policy is too old (counted)."""
        if not self._admit(batch):
            return False
        steps = nstep_transitions(batch, self.hparams["n_step"], self.hparams["gamma"])
        if len(steps.rows):
            self.replay.add(
                batch.obs[steps.rows],
                batch.actions[steps.rows],
                steps.returns,
                batch.obs[steps.next_rows],
                steps.discounts,
            )
        self.new_transitions += len(steps.rows)
        self._new_lag_sum += max(0, self.version - batch.policy_version) * len(steps.rows)
        return True

    def ready(self) -> bool:
        h = self.hparams
        return (
            len(self.replay) >= max(h["learning_starts"], h["batch_size"])
            and self.new_transitions >= h["train_every"]
        )

    # -- the update ----------------------------------------------------------------------------

    def _sync_target(self) -> None:
        tau = self.hparams["tau"]
        with torch.no_grad():
            for target, online in zip(
                self.target_net.parameters(), self.q_net.parameters(), strict=True
            ):
                if tau < 1.0:
                    target.lerp_(online, tau)
                else:
                    target.copy_(online)

    def update(self) -> dict[str, float]:
        """`gradient_steps` prioritized minibatch steps; bumps `version` and `consumed`."""
        h = self.hparams
        if len(self.replay) < h["batch_size"]:
            raise RuntimeError("dqn update with too little replay data (check ready() first)")
        beta = self.beta
        replay = self.replay

        def tensor(array: np.ndarray) -> torch.Tensor:
            return torch.as_tensor(array, device=self._torch_device)

        sums = {"loss": 0.0, "q_mean": 0.0, "td_abs": 0.0, "grad_norm": 0.0}
        self.q_net.train()
        for _ in range(h["gradient_steps"]):
            slots, weights_np = replay.sample(h["batch_size"], beta, self._rng)
            obs, next_obs = tensor(replay.obs[slots]), tensor(replay.next_obs[slots])
            actions = tensor(replay.actions[slots])
            returns, discounts = tensor(replay.returns[slots]), tensor(replay.discounts[slots])
            weights = tensor(weights_np)

            q = self.q_net(obs).gather(1, actions.unsqueeze(1)).squeeze(1)
            with torch.no_grad():
                next_target = self.target_net(next_obs)
                if h["double"]:
                    next_actions = self.q_net(next_obs).argmax(dim=1, keepdim=True)
                    next_q = next_target.gather(1, next_actions).squeeze(1)
                else:
                    next_q = next_target.max(dim=1).values
                target = returns + discounts * next_q
            td = q - target
            loss = (weights * F.smooth_l1_loss(q, target, reduction="none")).mean()

            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            grad_norm = nn.utils.clip_grad_norm_(self.q_net.parameters(), h["max_grad_norm"])
            self.optimizer.step()
            self.gradient_steps_done += 1
            if self.gradient_steps_done % h["target_update"] == 0:
                self._sync_target()

            td_abs = td.detach().abs().cpu().numpy().astype(np.float64)
            replay.update_priorities(slots, (td_abs + PRIORITY_EPS) ** h["per_alpha"])
            sums["loss"] += loss.item()
            sums["q_mean"] += q.detach().mean().item()
            sums["td_abs"] += float(td_abs.mean())
            sums["grad_norm"] += float(grad_norm)

        new = self.new_transitions
        metrics = {key: total / h["gradient_steps"] for key, total in sums.items()}
        metrics["transitions"] = float(new)
        metrics["policy_lag"] = self._new_lag_sum / new if new else 0.0
        metrics["beta"] = beta
        metrics["replay_size"] = float(len(replay))
        self.version += 1
        self.consumed += new
        self.new_transitions, self._new_lag_sum = 0, 0
        metrics["epsilon"] = self.epsilon  # the one the new weights carry
        return metrics

    # -- weights and checkpoints ---------------------------------------------------------------

    def policy_weights(self) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        return self.q_net.export_policy(self.epsilon)

    def policy_snapshot(self) -> PolicySnapshot:
        return QSnapshot(
            self.q_net, self.epsilon, (self.obs_dim, self.n_actions), self._inference_generator
        )

    def state_dict(self) -> dict[str, Any]:
        """Networks, optimizer, counters and RNG; the replay buffer is not saved (see above)."""
        state = self._base_state()
        state["q_net"] = _detached_cpu(self.q_net.state_dict())
        state["target_net"] = _detached_cpu(self.target_net.state_dict())
        state["optimizer"] = _detached_cpu(self.optimizer.state_dict())
        state["rng"] = _detached_cpu(self._rng.bit_generator.state)
        state["gradient_steps_done"] = self.gradient_steps_done
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Restore a checkpoint into an empty replay; the network shape must match.

        (Use `Algorithm.from_state_dict` to rebuild with the checkpoint's own hyperparameters.)
        """
        self._load_base_state(state)
        self._require_same(state, ("hidden", "dueling", *encoder_keys(self.seq_len)))
        self.q_net.load_state_dict(state["q_net"])
        self.target_net.load_state_dict(state["target_net"])
        self.optimizer.load_state_dict(state["optimizer"])
        self._rng.bit_generator.state = state["rng"]
        self.gradient_steps_done = int(state["gradient_steps_done"])
        self.replay = PrioritizedReplay(self.hparams["buffer_size"], self.obs_dim)
        self.new_transitions, self._new_lag_sum = 0, 0
