"""Searches that are not learned, for the comparison: STOKE-style MCMC, and clang's code.

MCMC is STOKE's optimization phase: from the -O0 code, propose one random move (a kind and a
slot drawn uniformly, as a random policy would act), measure the proposal with the same cost
as the env, accept it with the Metropolis probability min(1, exp(-beta * (new - old))), and
keep the best test-equivalent program seen. Every proposal costs one evaluation, as one env
step does, so a budget of evaluations is shared fairly with the policy's search.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from supersonic.envs.superopt.asm import Instr
from supersonic.envs.superopt.compile import compiled
from supersonic.envs.superopt.cost import Evaluation, Evaluator
from supersonic.envs.superopt.moves import (
    MAX_SLOTS,
    MOVE_KINDS,
    Pools,
    apply_move,
    body_of,
    slots_of,
)

DEFAULT_BETA = 1.0


@dataclass
class SearchResult:
    """The best test-equivalent program a method found on one function."""

    function: str
    method: str
    body: tuple[Instr, ...]
    evaluation: Evaluation
    evaluations: int = 0
    history: list[float] = field(default_factory=list)  # best cycles after each evaluation

    def offer(self, body: tuple[Instr, ...], evaluation: Evaluation) -> None:
        self.evaluations += 1
        if evaluation.correct and (evaluation.cycles, evaluation.length) < (
            self.evaluation.cycles,
            self.evaluation.length,
        ):
            self.body, self.evaluation = body, evaluation
        self.history.append(self.evaluation.cycles)


def start(function: str, method: str, evaluator: Evaluator) -> SearchResult:
    """A result holding the -O0 code (always test-equivalent: it is the reference)."""
    body = compiled(function, "O0")
    return SearchResult(function, method, body, evaluator.evaluate(body))


def mcmc(
    function: str,
    evaluations: int,
    evaluator: Evaluator | None = None,
    seed: int = 0,
    beta: float = DEFAULT_BETA,
) -> SearchResult:
    """STOKE's Metropolis search from the -O0 code with `evaluations` proposals."""
    evaluator = evaluator or Evaluator(function)
    rng = np.random.default_rng(seed)
    result = start(function, "mcmc", evaluator)
    slots = slots_of(result.body)
    pools = Pools.of(result.body)
    current = result.evaluation
    for _ in range(evaluations):
        proposal = list(slots)
        kind = MOVE_KINDS[int(rng.integers(len(MOVE_KINDS)))]
        apply_move(proposal, kind, int(rng.integers(MAX_SLOTS)), pools, rng)
        body = body_of(proposal)
        measured = evaluator.evaluate(body)
        result.offer(body, measured)
        delta = measured.cost - current.cost
        if delta <= 0 or rng.random() < math.exp(-beta * delta):
            slots, current = proposal, measured
    return result


def clang_code(function: str, level: str, evaluator: Evaluator) -> SearchResult:
    """clang's code at `level` as a result (one evaluation)."""
    body = compiled(function, level)
    result = SearchResult(function, level, body, evaluator.evaluate(body), 1)
    return result


def geomean(values: list[float], floor: float = 1e-3) -> float:
    if not values:
        return 0.0
    return math.exp(sum(math.log(max(v, floor)) for v in values) / len(values))
