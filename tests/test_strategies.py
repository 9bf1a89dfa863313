"""The search strategies, driven the way the supervisor drives them, on simulated training.

A simulated candidate has a fixed "true quality"; its score at a budget is quality * log(1 +
budget) (so the ranking at any budget is the ranking by quality), optionally with noise seeded
by (candidate, budget) so that a re-run sees the same scores. Training takes as long as the env
steps it adds, so with several slots reports come back out of order, as they do for real.
"""

from __future__ import annotations

import heapq
import math
import random
from collections.abc import Callable
from dataclasses import dataclass

import pytest

from supersonic.launch.strategies import (
    ASHA,
    Bandit,
    Exhaustive,
    Report,
    Strategy,
    Work,
    make_strategy,
    rung_budgets,
)

ScoreFn = Callable[[str, int], float]


@dataclass(frozen=True)
class Event:
    kind: str  # "work", "report", or "stopped" (first reported so, before the end)
    candidate: str
    budget: int
    score: float = 0.0


def quality_scores(quality: dict[str, float], noise: float = 0.0) -> ScoreFn:
    def score(candidate: str, budget: int) -> float:
        jitter = random.Random(f"{candidate}/{budget}").gauss(0.0, noise) if noise else 0.0
        return quality[candidate] * math.log1p(budget) + jitter

    return score


def simulate(
    strategy: Strategy, slots: int, score: ScoreFn, stop_after: int | None = None
) -> list[Event]:
    """Drive `strategy` like the supervisor does, until it finishes (or `stop_after` reports:
    a crash, where whatever is running is lost). Checks on the way that a candidate reported
    "stopped" is never handed out again and that an empty schedule means finished()."""
    clock, seq, reports = 0.0, 0, 0
    running: list[tuple[float, int, Work]] = []
    events: list[Event] = []
    stopped: set[str] = set()
    while True:
        while len(running) < slots:
            work = strategy.next_work()
            if work is None:
                break
            assert work.candidate not in stopped, f"{work.candidate} ran after being stopped"
            assert work.budget <= strategy.max_budget
            steps = work.budget - strategy.reached(work.candidate)
            assert steps > 0
            heapq.heappush(running, (clock + steps, seq, work))
            seq += 1
            events.append(Event("work", work.candidate, work.budget))
        if not running:
            assert strategy.finished()
            return events
        assert not strategy.finished()
        clock, _, work = heapq.heappop(running)
        value = score(work.candidate, work.budget)
        strategy.report(work.candidate, work.budget, value)
        events.append(Event("report", work.candidate, work.budget, value))
        if not strategy.finished():
            for name in strategy.candidates:
                if name not in stopped and strategy.status(name) == "stopped":
                    stopped.add(name)
                    events.append(Event("stopped", name, strategy.reached(name)))
        reports += 1
        if reports == stop_after:
            return events


def reports_of(events: list[Event]) -> list[Event]:
    return [e for e in events if e.kind == "report"]


def env_steps(strategy: Strategy) -> int:
    """Env steps spent: budgets are cumulative, so each candidate's highest one."""
    return sum(strategy.reached(c) for c in strategy.candidates)


def random_quality(n: int, seed: int) -> dict[str, float]:
    rng = random.Random(seed)
    return {f"c{i:02d}": rng.uniform(0.1, 1.0) for i in range(n)}


def best_of(quality: dict[str, float]) -> str:
    return max(quality, key=lambda c: quality[c])


# --------------------------------------------------------------------------------- ASHA rungs
@pytest.mark.parametrize(
    ("min_budget", "max_budget", "eta", "expected"),
    [
        (1, 9, 3, (1, 3, 9)),
        (1, 10, 3, (1, 3, 10)),  # not a power of eta: the top rung is max_budget itself
        (1, 64, 4, (1, 4, 16, 64)),
        (1000, 27000, 3, (1000, 3000, 9000, 27000)),
        (100, 1000, 4, (100, 1000)),  # 400 <= 1000 < 1600: two rungs, the top one 1000
        (5, 5, 2, (5,)),
        (2, 5, 3, (5,)),  # a single rung: everyone goes straight to max_budget
    ],
)
def test_rung_budgets(
    min_budget: int, max_budget: int, eta: int, expected: tuple[int, ...]
) -> None:
    assert rung_budgets(min_budget, max_budget, eta) == expected
    asha = ASHA(["a"], min_budget, max_budget, eta)
    assert asha.budgets == expected
    assert [asha.rung_of(b) for b in expected] == list(range(len(expected)))
    assert " -> ".join(str(b) for b in expected) in asha.describe()


def test_rung_of_names_the_highest_rung_at_or_below_a_budget() -> None:
    asha = ASHA(["a"], 1, 9, 3)
    assert [asha.rung_of(b) for b in (1, 2, 3, 8, 9)] == [0, 0, 1, 1, 2]
    for outside in (0, 10):
        with pytest.raises(ValueError, match="outside the rungs"):
            asha.rung_of(outside)


# ------------------------------------------------------------------------- ASHA decisions
NINE = {f"c{i}": float(q) for i, q in enumerate([3, 7, 1, 9, 5, 2, 8, 4, 6])}


def test_asha_one_slot_makes_exactly_the_promotions_of_its_rule() -> None:
    """9 candidates, eta 3, rungs 1 -> 3 -> 9, one slot. By hand: after c2 (3 reports at rung
    0, quota 1) c1 is best and goes up; c3 tops rung 0 once it reports (quota still 1); at 6
    reports the quota is 2 (c3, c1: both up already); c6 makes 7 and enters the top 2; then
    rung 1 has 3 reports (quota 1): c3 goes to the top rung. c7 and c8 change nothing (9
    reports: quota 3 = c3, c6, c1, all promoted) and nothing else is left."""
    asha = ASHA(list(NINE), 1, 9, 3)
    events = simulate(asha, 1, quality_scores(NINE))
    handed = [(e.candidate, e.budget) for e in events if e.kind == "work"]
    assert handed == [
        ("c0", 1), ("c1", 1), ("c2", 1), ("c1", 3), ("c3", 1), ("c3", 3), ("c4", 1),
        ("c5", 1), ("c6", 1), ("c6", 3), ("c3", 9), ("c7", 1), ("c8", 1),
    ]  # fmt: skip
    assert asha.promotions() == [("c1", 0, 1), ("c3", 0, 1), ("c6", 0, 1), ("c3", 1, 2)]
    assert asha.winner() == "c3"
    assert asha.finished()
    assert asha.status("c3") == "done" and asha.stopped_at("c3") is None
    assert {c: asha.stopped_at(c) for c in NINE if c != "c3"} == {
        "c0": 0, "c1": 1, "c2": 0, "c4": 0, "c5": 0, "c6": 1, "c7": 0, "c8": 0,
    }  # fmt: skip
    assert {c for c in NINE if asha.status(c) == "stopped"} == set(NINE) - {"c3"}
    assert list(asha.rung_scores()[1]) == ["c1", "c3", "c6"]  # in report order
    assert list(asha.rung_scores()[2]) == ["c3"]
    assert env_steps(asha) == 9 + 3 + 3 + 6 * 1  # exhaustive: 81
    assert asha.next_work() is None


@pytest.mark.parametrize("slots", [1, 2, 4])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_asha_finds_the_best_for_a_fraction_of_exhaustive(slots: int, seed: int) -> None:
    quality = random_quality(16, seed)
    asha = ASHA(list(quality), 1, 16, 4)
    simulate(asha, slots, quality_scores(quality))
    best = best_of(quality)
    assert asha.winner() == best
    assert asha.status(best) == "done" and asha.reached(best) == 16
    assert env_steps(asha) <= 16 * 16 // 3
    assert all(asha.status(c) in ("done", "stopped") for c in quality)
    # Every promotion was legal when it happened: the ledger of rungs is consistent with it.
    for candidate, low, high in asha.promotions():
        assert high == low + 1 and candidate in asha.rung_scores()[low]


@pytest.mark.parametrize("slots", [1, 3])
@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_asha_with_noisy_scores_still_finishes_with_one_at_max_budget(
    slots: int, seed: int
) -> None:
    quality = random_quality(9, seed)
    asha = ASHA(list(quality), 1, 27, 3)
    simulate(asha, slots, quality_scores(quality, noise=1.0))
    winner = asha.winner()
    assert winner is not None and asha.status(winner) == "done"
    assert asha.reached(winner) == 27


def test_random_searches_always_end_soundly() -> None:
    """Many shapes of search (candidates, eta, rungs, slots, noise): each finishes with its
    winner at max budget, and a candidate stopped early never runs again (checked by
    `simulate`); early stops do happen."""
    early = 0
    for seed in range(120):
        rng = random.Random(seed)
        quality = random_quality(rng.randint(1, 20), seed)
        asha = ASHA(list(quality), 1, rng.choice([4, 9, 27, 64, 100]), rng.randint(2, 4))
        noise = rng.choice([0.0, 0.5, 3.0])
        events = simulate(asha, rng.randint(1, 5), quality_scores(quality, noise))
        early += sum(e.kind == "stopped" for e in events)
        winner = asha.winner()
        assert winner is not None and asha.status(winner) == "done", seed
        assert all(asha.status(c) in ("done", "stopped") for c in quality)
    assert early > 100


def test_a_candidate_provably_out_of_the_running_is_stopped_before_the_end() -> None:
    """16 candidates, eta 4: at most 16 can ever report at rung 0, so its quota never exceeds
    floor(16 / 4) = 4, and a rank only grows as others report: the 5th of 5 is out for good,
    even if every later candidate scores worse."""
    names = [f"c{i:02d}" for i in range(16)]
    asha = ASHA(names, 1, 16, 4)
    for i, name in enumerate(names[:5]):
        asha.replay_report(name, 1, 16.0 - i)
    assert [asha.status(c) for c in names[:6]] == ["paused"] * 4 + ["stopped", "new"]
    assert asha.stopped_at("c04") == 0 and not asha.finished()
    assert asha.next_work() == Work("c00", 4)
    # The best of a rung nobody was promoted out of may still be carried up by the end rule.
    lone = ASHA(names, 1, 16, 4)
    lone.replay_report("c05", 1, 0.0)
    assert lone.status("c05") == "paused"


@pytest.mark.parametrize("count", [1, 2])
def test_the_end_rule_carries_one_candidate_to_max_budget(count: int) -> None:
    """2 candidates, eta 3: floor(2 / 3) = 0 never promotes anyone, yet the search must end
    with a candidate at max budget."""
    quality = {"weak": 1.0, "strong": 2.0}
    names = list(quality)[-count:]
    asha = ASHA(names, 1, 9, 3)
    events = simulate(asha, 2, quality_scores(quality))
    assert [(e.candidate, e.budget) for e in events if e.kind == "work"][-2:] == [
        ("strong", 3),
        ("strong", 9),
    ]
    assert asha.promotions() == [("strong", 0, 1), ("strong", 1, 2)]
    assert asha.winner() == "strong" and asha.status("strong") == "done"
    if count == 2:
        assert asha.status("weak") == "stopped" and asha.stopped_at("weak") == 0


def test_the_end_rule_waits_for_everything_running() -> None:
    asha = ASHA(["a", "b"], 1, 9, 3)
    assert asha.next_work() == Work("a", 1)
    assert asha.next_work() == Work("b", 1)
    asha.report("a", 1, 5.0)
    assert asha.next_work() is None and not asha.finished()
    assert asha.status("a") == "paused" and asha.status("b") == "running"
    asha.report("b", 1, 1.0)
    assert asha.next_work() == Work("a", 3)


def test_a_nan_score_ranks_last() -> None:
    asha = ASHA(["a", "b", "c"], 1, 3, 3)
    for name, score in (("a", float("nan")), ("b", -100.0), ("c", float("nan"))):
        assert asha.next_work() == Work(name, 1)
        asha.report(name, 1, score)
    assert asha.next_work() == Work("b", 3)


# ---------------------------------------------------------------------------------- replay
def replayed(fresh: ASHA, events: list[Event], with_work: bool = False) -> ASHA:
    for event in events:
        if event.kind == "report":
            fresh.replay_report(event.candidate, event.budget, event.score)
        elif event.kind == "work" and with_work:
            fresh.replay_work(event.candidate, event.budget)
    return fresh


def assert_same_state(a: ASHA, b: ASHA) -> None:
    assert a.rung_scores() == b.rung_scores()
    assert {c: a.status(c) for c in a.candidates} == {c: b.status(c) for c in b.candidates}
    assert {c: a.stopped_at(c) for c in a.candidates} == {c: b.stopped_at(c) for c in b.candidates}
    assert a.winner() == b.winner()
    assert a.finished() == b.finished()


@pytest.mark.parametrize("slots", [1, 4])
def test_replaying_a_full_history_reproduces_the_state(slots: int) -> None:
    quality = random_quality(16, 5)
    original = ASHA(list(quality), 1, 64, 4)
    events = simulate(original, slots, quality_scores(quality))
    fresh = replayed(ASHA(list(quality), 1, 64, 4), reports_of(events))
    assert_same_state(original, fresh)
    assert fresh.history() == original.history()
    assert fresh.next_work() is None and fresh.finished()
    if slots == 1:  # a promotion is reported before the next hand-out: same order
        assert fresh.promotions() == original.promotions()
    else:  # replayed promotions come in the order of their reports
        assert sorted(fresh.promotions()) == sorted(original.promotions())
    # Hand-outs replayed too (interleaved as they happened) give back the exact order.
    exact = replayed(ASHA(list(quality), 1, 64, 4), events, with_work=True)
    assert exact.promotions() == original.promotions()
    assert_same_state(original, exact)


def test_a_crash_at_any_point_of_a_one_slot_run_changes_no_decision() -> None:
    quality = random_quality(9, 7)
    score = quality_scores(quality, noise=0.3)
    whole = ASHA(list(quality), 1, 27, 3)
    reference = simulate(whole, 1, score)
    for crash_after in range(len(reports_of(reference)) + 1):
        first = simulate(ASHA(list(quality), 1, 27, 3), 1, score, stop_after=crash_after)
        resumed = replayed(ASHA(list(quality), 1, 27, 3), reports_of(first))
        rest = simulate(resumed, 1, score)
        assert reports_of(first) + reports_of(rest) == reports_of(reference), crash_after
        assert resumed.promotions() == whole.promotions()
        assert_same_state(whole, resumed)


@pytest.mark.parametrize("crash_after", [3, 10, 17, 25])
def test_a_crash_mid_run_with_several_slots_resumes_to_the_same_winner(crash_after: int) -> None:
    quality = random_quality(16, 11)
    score = quality_scores(quality)
    whole = ASHA(list(quality), 1, 64, 4)
    simulate(whole, 4, score)
    first = simulate(ASHA(list(quality), 1, 64, 4), 4, score, stop_after=crash_after)
    resumed = replayed(ASHA(list(quality), 1, 64, 4), reports_of(first))
    simulate(resumed, 4, score)  # what was running at the crash is handed out again
    assert resumed.winner() == whole.winner() == best_of(quality)
    assert resumed.status(best_of(quality)) == "done"


def test_replayed_hand_outs_that_were_running_are_handed_out_again_first() -> None:
    asha = ASHA(["a", "b", "c"], 1, 9, 3)
    for name, score in (("a", 1.0), ("b", 3.0), ("c", 2.0)):
        asha.replay_report(name, 1, score)
    asha.replay_work("b", 3)  # promoted, running when the supervisor died
    assert asha.promotions() == [("b", 0, 1)]
    assert asha.status("b") == "paused" and not asha.finished()
    assert asha.next_work() == Work("b", 3)
    assert asha.status("b") == "running"


def test_replay_rejects_a_history_the_rungs_cannot_explain() -> None:
    asha = ASHA(["a", "b"], 1, 9, 3)
    with pytest.raises(ValueError, match=r"goes to rung 0 \(1 env steps\) next, not to 3"):
        asha.replay_report("a", 3, 1.0)
    asha.replay_report("a", 1, 1.0)
    with pytest.raises(ValueError, match="goes to rung 1"):
        asha.replay_report("a", 9, 1.0)  # skips rung 1
    with pytest.raises(ValueError, match="goes to rung 1"):
        asha.replay_report("a", 1, 1.0)  # reported twice


# ------------------------------------------------------------------------------ exhaustive
def test_exhaustive_trains_everyone_to_max_budget_in_order() -> None:
    quality = {"a": 1.0, "b": 3.0, "c": 2.0}
    strategy = Exhaustive(list(quality), 50)
    events = simulate(strategy, 2, quality_scores(quality))
    assert [(e.candidate, e.budget) for e in events if e.kind == "work"] == [
        ("a", 50),
        ("b", 50),
        ("c", 50),
    ]
    assert strategy.winner() == "b"
    assert all(strategy.status(c) == "done" for c in quality)
    assert env_steps(strategy) == 150 and strategy.rung_of(50) == 0
    assert "150 in all" in strategy.describe()
    fresh = Exhaustive(list(quality), 50)
    fresh.replay_report("b", 50, 9.0)
    assert fresh.status("b") == "done" and fresh.next_work() == Work("a", 50)


# ---------------------------------------------------------------------------------- bandit
BANDIT_QUALITY = {"a": 1.0, "b": 2.0, "c": 3.0, "d": 10.0}


@pytest.mark.parametrize("slots", [1, 3])
def test_the_bandit_tries_everyone_then_concentrates_on_the_best(slots: int) -> None:
    bandit = Bandit(list(BANDIT_QUALITY), 10, 200, 400)
    events = simulate(bandit, slots, quality_scores(BANDIT_QUALITY))
    handed = [(e.candidate, e.budget) for e in events if e.kind == "work"]
    assert handed[:4] == [("a", 10), ("b", 10), ("c", 10), ("d", 10)]
    slices = {c: bandit.slices(c) for c in BANDIT_QUALITY}
    assert slices["d"] > max(slices[c] for c in "abc")
    assert slices["d"] >= sum(slices.values()) // 3
    assert bandit.slices_given == sum(slices.values()) == 40  # 400 / 10: the whole budget
    assert env_steps(bandit) <= 400
    assert bandit.winner() == "d"
    assert bandit.finished() and all(bandit.status(c) in ("done", "stopped") for c in "abcd")


def test_the_bandit_caps_a_candidate_at_max_budget_and_then_finishes() -> None:
    bandit = Bandit(list(BANDIT_QUALITY), 30, 100, 2000)
    events = simulate(bandit, 2, quality_scores(BANDIT_QUALITY))
    budgets = [e.budget for e in events if e.kind == "work" and e.candidate == "d"]
    assert budgets == [30, 60, 90, 100]  # the last slice is cut to max_budget
    assert all(bandit.status(c) == "done" for c in BANDIT_QUALITY)  # budget left over
    assert bandit.slices_given == 16 and bandit.rung_of(100) == 3
    assert bandit.winner() == "d"


def test_bandit_ties_go_to_the_earlier_candidate() -> None:
    """Equal scores: the bound favours the least-tried, then config order: round robin."""
    bandit = Bandit(["a", "b", "c"], 1, 100, 9)
    events = simulate(bandit, 1, lambda _c, _b: 0.0)
    assert [e.candidate for e in events if e.kind == "work"] == list("abc" * 3)


def test_the_bandit_stops_everyone_when_the_budget_is_spent() -> None:
    bandit = Bandit(["a", "b", "c"], 10, 100, 25)  # two slices: c never runs
    simulate(bandit, 1, lambda c, _b: {"a": 1.0, "b": 2.0, "c": 3.0}[c])
    assert [bandit.status(c) for c in "abc"] == ["stopped", "stopped", "stopped"]
    assert bandit.stopped_at("a") == 0 and bandit.stopped_at("c") is None
    assert bandit.winner() == "b"


def test_replaying_the_bandit_reproduces_its_next_decision() -> None:
    score = quality_scores(BANDIT_QUALITY)
    original = Bandit(list(BANDIT_QUALITY), 10, 200, 400)
    events = simulate(original, 1, score, stop_after=12)
    fresh = Bandit(list(BANDIT_QUALITY), 10, 200, 400)
    for event in reports_of(events):
        fresh.replay_report(event.candidate, event.budget, event.score)
    assert fresh.next_work() == original.next_work()
    assert {c: fresh.ucb(c) for c in "abcd"} == {c: original.ucb(c) for c in "abcd"}


# ------------------------------------------------------------------------------- factory
def test_make_strategy_builds_each_strategy() -> None:
    names = ["a", "b", "c", "d"]
    asha = make_strategy("asha", names, min_budget=100, max_budget=900, reduction_factor=3)
    assert isinstance(asha, ASHA) and asha.budgets == (100, 300, 900)
    exhaustive = make_strategy(
        "exhaustive", names, min_budget=100, max_budget=900, reduction_factor=3, slots=4
    )
    assert isinstance(exhaustive, Exhaustive) and exhaustive.max_budget == 900
    bandit = make_strategy("bandit", names, min_budget=100, max_budget=900, reduction_factor=3)
    assert isinstance(bandit, Bandit)
    assert bandit.slice_budget == 100 and bandit.total_budget == 4 * 900 // 4
    chosen = make_strategy(
        "bandit", names, min_budget=100, max_budget=900, reduction_factor=3, total_budget=500
    )
    assert isinstance(chosen, Bandit) and chosen.max_slices == 5


# ----------------------------------------------------------------------------- bad input
@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: ASHA([], 1, 9, 3), "no candidates to search"),
        (lambda: ASHA(["a", "b", "a"], 1, 9, 3), "duplicate candidate names: a"),
        (lambda: ASHA(["a"], 1, 9, 1), r"reduction factor must be >= 2 \(got 1\)"),
        (lambda: ASHA(["a"], 0, 9, 3), r"min_budget must be >= 1 env step \(got 0\)"),
        (
            lambda: ASHA(["a"], 10, 9, 3),
            r"max_budget \(9\) must be >= min_budget \(10\): the budget is smaller than one rung",
        ),
        (lambda: Exhaustive(["a"], 0), r"max_budget must be >= 1 env step \(got 0\)"),
        (lambda: Bandit(["a"], 0, 9, 9), r"slice budget must be >= 1 env step \(got 0\)"),
        (lambda: Bandit(["a"], 10, 9, 90), r"max_budget \(9\) must be >= the slice budget"),
        (lambda: Bandit(["a"], 10, 90, 9), r"total_budget \(9\) must be >= the slice budget"),
        (lambda: Bandit(["a"], 1, 9, 9, exploration=-1.0), "exploration must be >= 0"),
        (
            lambda: make_strategy("grid", ["a"], min_budget=1, max_budget=9, reduction_factor=3),
            "unknown strategy 'grid'; choose one of asha, bandit, exhaustive",
        ),
        (
            lambda: make_strategy(
                "asha", ["a"], min_budget=1, max_budget=9, reduction_factor=3, slots=0
            ),
            r"slots must be >= 1 \(got 0\)",
        ),
    ],
)
def test_bad_input_is_a_one_line_value_error(build: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        build()
    assert "\n" not in str(caught.value)


def test_reports_that_do_not_match_a_hand_out_are_rejected() -> None:
    asha = ASHA(["a", "b"], 1, 9, 3)
    with pytest.raises(ValueError, match="'a' is not running"):
        asha.report("a", 1, 1.0)
    assert asha.next_work() == Work("a", 1)
    with pytest.raises(ValueError, match="'a' was handed out to 1 env steps, not 3"):
        asha.report("a", 3, 1.0)
    with pytest.raises(ValueError, match="unknown candidate 'z'"):
        asha.report("z", 1, 1.0)
    with pytest.raises(ValueError, match="unknown candidate 'z'"):
        asha.status("z")
    with pytest.raises(ValueError, match="'a' is already handed out"):
        asha.replay_work("a", 1)
    asha.report("a", 1, 1.0)
    assert asha.history() == [Report("a", 1, 1.0)]
