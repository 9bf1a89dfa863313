"""Search strategies: which candidate trains next, for how long, and which one won.

A strategy is pure bookkeeping (no I/O, no clock, no randomness), driven by the supervisor:
whenever a training slot is free it asks `next_work()` for a `Work(candidate, budget)` ("train
this candidate until it has consumed `budget` env steps in total", resuming from its checkpoint),
and when the candidate is evaluated at that budget it calls `report(candidate, budget, score)`,
higher being better. `None` from `next_work()` means "nothing to start now, ask again after the
next report"; `finished()` means nothing is running and nothing is left to start.

Every decision is a function of the sequence of hand-outs and reports alone, so a supervisor
that crashed rebuilds its strategy by constructing it afresh and replaying the recorded reports
(`replay_report`): the strategy then holds exactly the state it had, and whatever was running at
the crash is handed out again by `next_work()`. (A supervisor that also records hand-outs can
replay them with `replay_work`, interleaved in their original order; then even the in-flight
promotions and the order of `promotions()` come back exactly.)

ASHA (asynchronous successive halving; Li et al., "A System for Massively Parallel
Hyperparameter Tuning", MLSys 2020). Rung k trains to r_k = min_budget * eta^k env steps, for
k = 0..K where K is the largest k with r_k <= max_budget; the top rung trains to max_budget
itself. A candidate reported at rung k may move up to rung k+1 once it is among the top
floor(n_k / eta) of the n_k candidates reported at rung k so far. `next_work` promotes such a
candidate if there is one, looking from the highest rung down (finishing good candidates first
frees slots sooner), else starts the next never-started candidate at rung 0. There is no barrier:
a rung never waits to be complete, so no slot idles while a rung fills up. The price is that a
candidate can be promoted on few reports and later be overtaken; that is ASHA's design (the
paper shows it finds configurations as good as synchronous halving, much sooner).

ASHA's end rule. With few candidates the top-1/eta rule can leave every rung below quorum
(2 candidates and eta = 3: floor(2/3) = 0 is never promotable), and a search that ends without
any candidate at max_budget has no fair winner. So when nothing is running, nothing is new and
nothing is promotable, the best candidate of the highest rung below the top that has reports,
no promotion out of it and an empty rung above it is promoted; repeated, this carries one
candidate to max_budget. Only then is the search finished; candidates that did not reach
max_budget are "stopped" at the rung where they paused. Before the end a candidate is reported
"stopped" only when it provably can never be promoted: its rank at its rung can only grow as
others report, and no more candidates than are still alive below can ever report there.

Bandit (UCB1 over training slices, as SuperSonic's meta-optimizer). Budget goes in slices of
slice_budget env steps. Every candidate first gets one slice, in order; after that each slice
goes to the idle candidate below max_budget with the highest upper confidence bound

    score_i + exploration * spread * sqrt(ln(slices given) / slices_i)

where score_i is the candidate's latest score (it improves as the candidate trains, so the
latest is the best estimate of where it is going), and spread is the range (max - min) of the
latest scores, so that the exploration bonus is in the scores' units (1.0 when the range is 0).
Well-scoring candidates get most slices; rarely-tried ones are revisited as the bonus grows. No
slice is handed out that would take slices given * slice_budget past total_budget.

Exhaustive trains every candidate once, straight to max_budget, in config order: the baseline the
other two are measured against.

Ties (equal scores, equal bounds) go to the candidate earlier in the config order. A score that
is NaN (a diverged evaluation) ranks as -inf.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

Status = Literal["new", "running", "paused", "stopped", "done"]

STRATEGY_NAMES = ("asha", "bandit", "exhaustive")


@dataclass(frozen=True)
class Work:
    """Train `candidate` until it has consumed `budget` env steps in total."""

    candidate: str
    budget: int


@dataclass(frozen=True)
class Report:
    """What the strategy was told: `candidate` scored `score` after `budget` env steps."""

    candidate: str
    budget: int
    score: float


def _clean(score: float) -> float:
    """A NaN score would make every comparison false; it ranks last instead."""
    value = float(score)
    return -math.inf if math.isnan(value) else value


class Strategy(ABC):
    """The bookkeeping shared by every strategy: who is running, who reported what.

    Subclasses decide (`_choose`), check and record a hand-out (`_advance`), name rungs
    (`rung_of`), and say who is provably pruned before the end (`_pruned`).
    """

    def __init__(self, candidates: Sequence[str], max_budget: int) -> None:
        names = tuple(candidates)
        if not names:
            raise ValueError("no candidates to search")
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"duplicate candidate names: {', '.join(duplicates)}")
        if max_budget < 1:
            raise ValueError(f"max_budget must be >= 1 env step (got {max_budget})")
        self.candidates = names
        self.max_budget = max_budget
        self._order = {name: i for i, name in enumerate(names)}
        self._running: dict[str, int] = {}  # handed out by next_work, not reported yet
        self._requeued: dict[str, int] = {}  # replayed hand-outs, to be handed out again
        self._reached: dict[str, int] = {}  # the highest budget each candidate reported
        self._latest: dict[str, float] = {}  # each candidate's latest score
        self._scores: dict[int, dict[str, float]] = {}  # budget -> candidate -> score
        self._history: list[Report] = []

    # ------------------------------------------------------------------ the supervisor's API
    def next_work(self) -> Work | None:
        """The next candidate to train and its budget, or None: nothing to start now."""
        if self._requeued:
            candidate, budget = next(iter(self._requeued.items()))
            del self._requeued[candidate]
            work = Work(candidate, budget)
        else:
            chosen = self._choose()
            if chosen is None:
                return None
            self._begin(chosen)
            work = chosen
        self._running[work.candidate] = work.budget
        return work

    def report(self, candidate: str, budget: int, score: float) -> None:
        """`candidate`, handed out by `next_work` to `budget`, scored `score` there."""
        self._check_known(candidate)
        handed = self._running.get(candidate)
        if handed is None:
            raise ValueError(
                f"{candidate!r} is not running (recorded history is fed with replay_report)"
            )
        if handed != budget:
            raise ValueError(f"{candidate!r} was handed out to {handed} env steps, not {budget}")
        del self._running[candidate]
        self._record(candidate, budget, score)

    def replay_report(self, candidate: str, budget: int, score: float) -> None:
        """`report` for recorded history: the candidate was handed out by an earlier process."""
        self._check_known(candidate)
        if candidate in self._running:
            self.report(candidate, budget, score)
            return
        if self._requeued.get(candidate) == budget:
            del self._requeued[candidate]
        else:
            self._begin(Work(candidate, budget))
        self._record(candidate, budget, score)

    def replay_work(self, candidate: str, budget: int) -> None:
        """A recorded hand-out; `next_work` hands it out again first unless it is reported."""
        self._begin(Work(candidate, budget))
        self._requeued[candidate] = budget

    def finished(self) -> bool:
        """Nothing is running and nothing is left to start: the search is over."""
        return not self._busy() and self._choose() is None

    def winner(self) -> str | None:
        """The best score at the highest budget anyone reached (ties: the earlier candidate)."""
        if not self._scores:
            return None
        return self._ranked(self._scores[max(self._scores)])[0]

    def status(self, candidate: str) -> Status:
        """One of: new, running, paused (may resume), stopped (never again), done."""
        self._check_known(candidate)
        if candidate in self._running:
            return "running"
        if self._reached.get(candidate) == self.max_budget:
            return "done"
        if candidate in self._stopped():
            return "stopped"
        return "paused" if candidate in self._reached else "new"

    def stopped_at(self, candidate: str) -> int | None:
        """The rung a stopped candidate stopped at (None: not stopped, or never trained)."""
        if self.status(candidate) != "stopped" or candidate not in self._reached:
            return None
        return self.rung_of(self._reached[candidate])

    def reached(self, candidate: str) -> int:
        """The highest budget `candidate` reported (0: none yet): where it resumes from."""
        self._check_known(candidate)
        return self._reached.get(candidate, 0)

    def history(self) -> list[Report]:
        """Every report, in the order the strategy saw them."""
        return list(self._history)

    @abstractmethod
    def rung_of(self, budget: int) -> int:
        """The rung (or slice) index a budget belongs to."""

    @abstractmethod
    def describe(self) -> str:
        """The plan, in one line."""

    def expected_env_steps(self) -> int:
        """About how many env steps the whole search takes (per seed): the denominator of the
        monitor's progress and ETA. Exact for exhaustive search and the bandit's total; for
        ASHA, synchronous successive halving's count (asynchrony promotes a few more)."""
        return len(self.candidates) * self.max_budget

    # ------------------------------------------------------------------ for subclasses
    @abstractmethod
    def _choose(self) -> Work | None:
        """The next hand-out by the strategy's rule, without recording it."""

    @abstractmethod
    def _advance(self, candidate: str, budget: int) -> None:
        """Check that `budget` is `candidate`'s legal next budget and record the hand-out."""

    @abstractmethod
    def _pruned(self) -> set[str]:
        """Candidates that can provably never run again, before the search is finished."""

    def _begin(self, work: Work) -> None:
        self._check_known(work.candidate)
        if work.candidate in self._running or work.candidate in self._requeued:
            raise ValueError(f"{work.candidate!r} is already handed out")
        self._advance(work.candidate, work.budget)

    def _record(self, candidate: str, budget: int, score: float) -> None:
        value = _clean(score)
        self._scores.setdefault(budget, {})[candidate] = value
        self._reached[candidate] = budget
        self._latest[candidate] = value
        self._history.append(Report(candidate, budget, value))

    def _busy(self) -> bool:
        return bool(self._running or self._requeued)

    def _idle(self, candidate: str) -> bool:
        return candidate not in self._running and candidate not in self._requeued

    def _next_new(self) -> str | None:
        """The first candidate (config order) never handed out."""
        for name in self.candidates:
            if name not in self._reached and self._idle(name):
                return name
        return None

    def _ranked(self, scores: dict[str, float]) -> list[str]:
        """Best first; ties go to the earlier candidate."""
        return sorted(scores, key=lambda name: (-scores[name], self._order[name]))

    def _stopped(self) -> set[str]:
        if self.finished():
            return {n for n in self.candidates if self._reached.get(n) != self.max_budget}
        return self._pruned()

    def _check_known(self, candidate: str) -> None:
        if candidate not in self._order:
            raise ValueError(f"unknown candidate {candidate!r}")


def rung_budgets(min_budget: int, max_budget: int, reduction_factor: int) -> tuple[int, ...]:
    """ASHA's rung budgets: min_budget * eta^k while <= max_budget, the top one max_budget."""
    budgets = [min_budget]
    while budgets[-1] * reduction_factor <= max_budget:
        budgets.append(budgets[-1] * reduction_factor)
    budgets[-1] = max_budget
    return tuple(budgets)


class ASHA(Strategy):
    """Asynchronous successive halving with the end rule (see the module docstring)."""

    def __init__(
        self,
        candidates: Sequence[str],
        min_budget: int,
        max_budget: int,
        reduction_factor: int,
    ) -> None:
        if reduction_factor < 2:
            raise ValueError(f"reduction factor must be >= 2 (got {reduction_factor})")
        if min_budget < 1:
            raise ValueError(f"min_budget must be >= 1 env step (got {min_budget})")
        if max_budget < min_budget:
            raise ValueError(
                f"max_budget ({max_budget}) must be >= min_budget ({min_budget}): "
                "the budget is smaller than one rung"
            )
        super().__init__(candidates, max_budget)
        self.min_budget = min_budget
        self.reduction_factor = reduction_factor
        self.budgets = rung_budgets(min_budget, max_budget, reduction_factor)
        self.top = len(self.budgets) - 1
        self._promoted: list[set[str]] = [set() for _ in self.budgets]  # out of each rung
        self._promotions: list[tuple[str, int, int]] = []

    def rung_of(self, budget: int) -> int:
        """The highest rung whose budget is <= `budget`."""
        if not self.budgets[0] <= budget <= self.max_budget:
            raise ValueError(
                f"budget {budget} is outside the rungs ({self.budgets[0]}..{self.max_budget})"
            )
        return max(k for k, rung in enumerate(self.budgets) if rung <= budget)

    def describe(self) -> str:
        rungs = " -> ".join(str(b) for b in self.budgets)
        eta = self.reduction_factor
        return (
            f"ASHA over {len(self.candidates)} candidates: rungs of {rungs} env steps, "
            f"the top 1/{eta} of each rung promoted as soon as known"
        )

    def expected_env_steps(self) -> int:
        total, previous = 0, 0
        for k, budget in enumerate(self.budgets):
            alive = max(1, len(self.candidates) // self.reduction_factor**k)
            total += alive * (budget - previous)
            previous = budget
        return total

    def promotions(self) -> list[tuple[str, int, int]]:
        """(candidate, from_rung, to_rung) in the order they happened."""
        return list(self._promotions)

    def rung_scores(self) -> dict[int, dict[str, float]]:
        """rung -> candidate -> score, every rung (empty ones too), in report order."""
        return {k: dict(self._rung(k)) for k in range(len(self.budgets))}

    def _rung(self, k: int) -> dict[str, float]:
        return self._scores.get(self.budgets[k], {})

    def _choose(self) -> Work | None:
        for k in reversed(range(self.top)):
            promotable = self._promotable(k)
            if promotable is not None:
                return Work(promotable, self.budgets[k + 1])
        new = self._next_new()
        if new is not None:
            return Work(new, self.budgets[0])
        if self._busy():
            return None
        return self._end_rule()

    def _promotable(self, k: int) -> str | None:
        """The best candidate of rung k in its top floor(n_k / eta) not yet promoted."""
        scores = self._rung(k)
        quota = len(scores) // self.reduction_factor
        for name in self._ranked(scores)[:quota]:
            if name not in self._promoted[k]:
                return name
        return None

    def _end_rule(self) -> Work | None:
        """Carry the best of the highest stuck rung one rung up (see the module docstring)."""
        for k in reversed(range(self.top)):
            if self._rung(k) and not self._promoted[k] and not self._rung(k + 1):
                return Work(self._ranked(self._rung(k))[0], self.budgets[k + 1])
        return None

    def _advance(self, candidate: str, budget: int) -> None:
        reached = self._reached.get(candidate)
        if reached is None:
            rung = 0
        else:
            current = self.rung_of(reached)
            if current == self.top:
                raise ValueError(f"{candidate!r} already reached max_budget ({reached})")
            rung = current + 1
        if budget != self.budgets[rung]:
            raise ValueError(
                f"{candidate!r} goes to rung {rung} ({self.budgets[rung]} env steps) next, "
                f"not to {budget}"
            )
        if rung > 0:
            self._promoted[rung - 1].add(candidate)
            self._promotions.append((candidate, rung - 1, rung))

    def _pruned(self) -> set[str]:
        """Paused candidates that can never be promoted, rung by rung from the bottom.

        At rung k a candidate's rank (how many scored better) can only grow, and at most
        n_max = (reported there) + (alive and not yet there) candidates can ever report there,
        so rank >= floor(n_max / eta) rules out the promotion rule. The end rule only takes the
        best of a rung nobody was promoted out of, so that candidate is never ruled out.
        """
        stopped: set[str] = set()
        for k in range(self.top):
            scores = self._rung(k)
            arriving = sum(1 for n in self.candidates if n not in scores and n not in stopped)
            quota_max = (len(scores) + arriving) // self.reduction_factor
            for rank, name in enumerate(self._ranked(scores)):
                if name in self._promoted[k] or not self._idle(name) or rank < quota_max:
                    continue
                if rank == 0 and not self._promoted[k]:
                    continue  # the end rule may still carry it up
                stopped.add(name)
        return stopped


class Exhaustive(Strategy):
    """Every candidate once, straight to max_budget, in config order."""

    def __init__(self, candidates: Sequence[str], max_budget: int) -> None:
        super().__init__(candidates, max_budget)

    def rung_of(self, budget: int) -> int:
        """Rung 0 is max_budget; there is no other."""
        if not 1 <= budget <= self.max_budget:
            raise ValueError(f"budget {budget} is outside 1..{self.max_budget}")
        return 0

    def describe(self) -> str:
        n = len(self.candidates)
        return (
            f"exhaustive over {n} candidates: each trained to {self.max_budget} env steps "
            f"({n * self.max_budget} in all)"
        )

    def _choose(self) -> Work | None:
        new = self._next_new()
        return None if new is None else Work(new, self.max_budget)

    def _advance(self, candidate: str, budget: int) -> None:
        if candidate in self._reached:
            raise ValueError(f"{candidate!r} already trained to {self._reached[candidate]}")
        if budget != self.max_budget:
            raise ValueError(f"{candidate!r} trains to {self.max_budget} env steps, not {budget}")

    def _pruned(self) -> set[str]:
        return set()


class Bandit(Strategy):
    """UCB1 over training slices (see the module docstring)."""

    def __init__(
        self,
        candidates: Sequence[str],
        slice_budget: int,
        max_budget: int,
        total_budget: int,
        exploration: float = 1.0,
    ) -> None:
        if slice_budget < 1:
            raise ValueError(f"slice budget must be >= 1 env step (got {slice_budget})")
        if max_budget < slice_budget:
            raise ValueError(
                f"max_budget ({max_budget}) must be >= the slice budget ({slice_budget})"
            )
        if total_budget < slice_budget:
            raise ValueError(
                f"total_budget ({total_budget}) must be >= the slice budget ({slice_budget})"
            )
        if not exploration >= 0:  # also rejects NaN
            raise ValueError(f"exploration must be >= 0 (got {exploration})")
        super().__init__(candidates, max_budget)
        self.slice_budget = slice_budget
        self.total_budget = total_budget
        self.exploration = exploration
        self.max_slices = total_budget // slice_budget
        self._slices = dict.fromkeys(self.candidates, 0)
        self._given = 0

    def expected_env_steps(self) -> int:
        return self.max_slices * self.slice_budget

    def slices(self, candidate: str) -> int:
        """How many slices `candidate` was handed."""
        self._check_known(candidate)
        return self._slices[candidate]

    @property
    def slices_given(self) -> int:
        return self._given

    def rung_of(self, budget: int) -> int:
        """The slice index: budgets (0, slice] are slice 0, (slice, 2 slice] slice 1, ..."""
        if not 1 <= budget <= self.max_budget:
            raise ValueError(f"budget {budget} is outside 1..{self.max_budget}")
        return -(-budget // self.slice_budget) - 1

    def describe(self) -> str:
        return (
            f"UCB bandit over {len(self.candidates)} candidates: {self.max_slices} slices of "
            f"{self.slice_budget} env steps ({self.total_budget} in all), at most "
            f"{self.max_budget} per candidate, exploration {self.exploration:g}"
        )

    def ucb(self, candidate: str) -> float:
        """The candidate's upper confidence bound (it must have a score)."""
        bonus = math.sqrt(math.log(self._given) / self._slices[candidate])
        return self._latest[candidate] + self.exploration * self._spread() * bonus

    def _spread(self) -> float:
        finite = [s for s in self._latest.values() if math.isfinite(s)]
        spread = max(finite) - min(finite) if finite else 0.0
        return spread if spread > 0 else 1.0

    def _next_budget(self, candidate: str) -> int:
        return min(self._reached.get(candidate, 0) + self.slice_budget, self.max_budget)

    def _choose(self) -> Work | None:
        if self._given >= self.max_slices:
            return None
        new = self._next_new()
        if new is not None:
            return Work(new, self._next_budget(new))
        best: tuple[float, str] | None = None
        for name in self.candidates:
            if not self._idle(name) or self._reached[name] >= self.max_budget:
                continue
            bound = self.ucb(name)
            if best is None or bound > best[0]:
                best = (bound, name)
        return None if best is None else Work(best[1], self._next_budget(best[1]))

    def _advance(self, candidate: str, budget: int) -> None:
        if self._reached.get(candidate) == self.max_budget:
            raise ValueError(f"{candidate!r} already reached max_budget ({self.max_budget})")
        expected = self._next_budget(candidate)
        if budget != expected:
            raise ValueError(f"{candidate!r} goes to {expected} env steps next, not {budget}")
        if self._given >= self.max_slices:
            raise ValueError(
                f"a slice more would exceed total_budget ({self.total_budget} env steps)"
            )
        self._slices[candidate] += 1
        self._given += 1

    def _pruned(self) -> set[str]:
        """Once the budget has no slice left, nobody idle will run again."""
        if self._given < self.max_slices:
            return set()
        return {
            n for n in self.candidates if self._idle(n) and self._reached.get(n) != self.max_budget
        }


def make_strategy(
    name: str,
    candidates: Sequence[str],
    *,
    min_budget: int,
    max_budget: int,
    reduction_factor: int,
    total_budget: int | None = None,
    slots: int = 1,
) -> Strategy:
    """The strategy called `name`, from the run config's [search] section.

    The bandit's slice is `min_budget` and its total budget defaults to a quarter of
    exhaustive's. `slots` (how many candidates train at once) is checked but changes no
    decision: every strategy is asynchronous, the supervisor caps concurrency.
    """
    if slots < 1:
        raise ValueError(f"slots must be >= 1 (got {slots})")
    if name == "asha":
        return ASHA(candidates, min_budget, max_budget, reduction_factor)
    if name == "exhaustive":
        return Exhaustive(candidates, max_budget)
    if name == "bandit":
        if total_budget is None:
            total_budget = len(candidates) * max_budget // 4
        return Bandit(candidates, min_budget, max_budget, total_budget)
    raise ValueError(f"unknown strategy {name!r}; choose one of {', '.join(STRATEGY_NAMES)}")
