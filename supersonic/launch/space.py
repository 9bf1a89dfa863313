"""Candidates from a `[space]` table: the product of the chosen names, or a seeded sample of it.

    [space]
    algorithms = ["ppo", "a2c"]
    state_fns = ["autophase", "instcount_norm"]
    reward_fns = ["ir_oz", "log_ratio"]
    sample = 0          # 0: the whole product; N: N candidates drawn with replacement of names
    [space.hyperparameters.ppo]   # fixed values, per algorithm (sampling leaves them alone)
    rollout_steps = 512

With `sample = N`, each candidate draws its (algorithm, state, reward) from the product and every
hyperparameter its algorithm declares as searched from the declared space (log-uniform where the
declaration says so), with `random.Random(run seed)`: the same config gives the same candidates.
Each candidate gets its own seed. `replicate` makes the seed replicas that `[search] seeds = k`
asks for: an architecture trained k times with different seeds (names `NAME#1`.. `NAME#k`),
which the search compares on the mean score of its replicas.
"""

from __future__ import annotations

import itertools
import random
from collections.abc import Mapping
from typing import Any

from supersonic.protocol.messages import CandidateSpec, Scalar

SPACE_KEYS = {"algorithms", "state_fns", "reward_fns", "sample", "hyperparameters"}
REPLICA_SEPARATOR = "#"


def group_of(name: str) -> str:
    """The architecture a candidate belongs to: `ppo-autophase-ir_oz#2` -> `ppo-autophase-ir_oz`."""
    return name.split(REPLICA_SEPARATOR, 1)[0]


def expand_space(space: Mapping[str, Any], base_seed: int) -> list[CandidateSpec]:
    """The candidates `space` describes (see the module docstring); ValueError names a bad key."""
    from supersonic.learners.algorithm import algorithm_class

    unknown = set(space) - SPACE_KEYS
    if unknown:
        raise ValueError(
            f"unknown [space] key(s) {', '.join(sorted(unknown))}; valid: "
            f"{', '.join(sorted(SPACE_KEYS))}"
        )
    lists = {}
    for key in ("algorithms", "state_fns", "reward_fns"):
        value = space.get(key)
        if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value):
            raise ValueError(f"[space] {key} must be a non-empty list of names")
        lists[key] = value
    fixed: Mapping[str, Mapping[str, Scalar]] = space.get("hyperparameters", {})
    sample = int(space.get("sample", 0))
    if sample < 0:
        raise ValueError("[space] sample must be >= 0")
    product = list(itertools.product(lists["algorithms"], lists["state_fns"], lists["reward_fns"]))
    rng = random.Random(base_seed)
    architectures: list[tuple[str, str, str, str, dict[str, Scalar]]] = []
    if sample == 0:
        for algorithm, state, reward in product:
            architectures.append(
                (
                    f"{algorithm}-{state}-{reward}",
                    algorithm,
                    state,
                    reward,
                    dict(fixed.get(algorithm, {})),
                )
            )
    else:
        for i in range(sample):
            algorithm, state, reward = product[rng.randrange(len(product))]
            hparams: dict[str, Scalar] = {}
            try:
                declared = algorithm_class(algorithm).hyperparameters
            except ValueError as exc:  # an unknown algorithm: validate() says which are valid
                raise ValueError(f"[space] {exc}") from None
            for hp in declared:
                if hp.searched:
                    hparams[hp.name] = hp.sample(rng)
            hparams.update(fixed.get(algorithm, {}))
            name = f"{algorithm}-{state}-{reward}-{i}"
            architectures.append((name, algorithm, state, reward, hparams))
    return [
        CandidateSpec(
            name=name,
            algorithm=algorithm,
            state_fn=state,
            reward_fn=reward,
            hyperparameters=hparams,
            seed=base_seed + index,
        )
        for index, (name, algorithm, state, reward, hparams) in enumerate(architectures)
    ]


def replicate(candidates: list[CandidateSpec], seeds: int) -> list[CandidateSpec]:
    """Each candidate `seeds` times with distinct seeds (unchanged when seeds == 1)."""
    if seeds == 1:
        return list(candidates)
    return [
        CandidateSpec(
            name=f"{c.name}{REPLICA_SEPARATOR}{replica + 1}",
            algorithm=c.algorithm,
            state_fn=c.state_fn,
            reward_fn=c.reward_fn,
            hyperparameters=dict(c.hyperparameters),
            seed=c.seed + 1000 * replica,
        )
        for c in candidates
        for replica in range(seeds)
    ]
