"""Neural networks shared by the learner algorithms.

`MLPActorCritic` keeps the policy and the value function in two separate MLPs: with a shared
trunk the value loss (whose scale depends on the reward function, which the search varies)
would fight the policy gradient, and separate nets need no loss balancing to be robust.

Its `export_policy()` writes the format that `supersonic.actors.policy.NumpyPolicy` reads, so the
layer naming here ("pi.0", "pi.1", ...) is a wire format: change both together.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import torch
from torch import nn

from supersonic.learners.algorithm import ArchValue


def _linear_stack(sizes: list[int]) -> nn.ModuleList:
    return nn.ModuleList(nn.Linear(n_in, n_out) for n_in, n_out in itertools.pairwise(sizes))


def _run(layers: nn.ModuleList, x: torch.Tensor) -> torch.Tensor:
    """tanh(W x + b) for every layer but the last, which is linear."""
    for i, layer in enumerate(layers):
        x = layer(x)
        if i < len(layers) - 1:
            x = torch.tanh(x)
    return x


class MLPActorCritic(nn.Module):
    """Separate tanh MLPs for action logits (`pi`) and the state value (`v`).

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
    ) -> None:
        super().__init__()
        self.obs_dim = obs_dim
        self.n_actions = n_actions
        self.hidden = tuple(hidden)
        self.pi = _linear_stack([obs_dim, *hidden, n_actions])
        self.v = _linear_stack([obs_dim, *hidden, 1])
        for layers, out_gain in ((self.pi, 0.01), (self.v, 1.0)):
            for i, layer in enumerate(layers):
                assert isinstance(layer, nn.Linear)
                gain = out_gain if i == len(layers) - 1 else math.sqrt(2.0)
                nn.init.orthogonal_(layer.weight, gain=gain, generator=generator)
                nn.init.zeros_(layer.bias)

    def logits(self, obs: torch.Tensor) -> torch.Tensor:
        """Action logits, [..., n_actions]."""
        return _run(self.pi, obs)

    def value(self, obs: torch.Tensor) -> torch.Tensor:
        """State values, [...]."""
        return _run(self.v, obs).squeeze(-1)

    def forward(self, obs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(logits, values) for a batch of observations."""
        return self.logits(obs), self.value(obs)

    def export_policy(self) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
        """(arch, tensors) for `NumpyPolicy`: float32 copies on the CPU, safe to send or keep."""
        arch: dict[str, ArchValue] = {"kind": "mlp", "activation": "tanh"}
        tensors: dict[str, np.ndarray] = {}
        for prefix, layers in (("pi", self.pi), ("v", self.v)):
            names = [f"{prefix}.{i}" for i in range(len(layers))]
            arch[f"{prefix}_layers"] = ",".join(names)
            for name, layer in zip(names, layers, strict=True):
                for part in ("weight", "bias"):
                    tensor = getattr(layer, part).detach().to("cpu", torch.float32)
                    tensors[f"{name}.{part}"] = tensor.numpy().copy()
        return arch, tensors
