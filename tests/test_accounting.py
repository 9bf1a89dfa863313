"""The segment bookkeeping rules (learners/streams.py) and the run's reconciliation
(launch/accounting.py) on hand-made sequences; the system tests run them for real."""

from __future__ import annotations

from typing import Any

from supersonic.launch.accounting import reconcile
from supersonic.learners.streams import SegmentStreams


def test_duplicates_are_refused_gaps_counted_and_late_segments_fill_them() -> None:
    streams = SegmentStreams()
    taken = [streams.accept("a", seq) for seq in (5, 6, 6, 9, 7, 7, 8)]
    assert taken == [True, True, False, True, True, False, True]
    (a,) = streams.summary()
    assert (a["received"], a["lost"], a["duplicate"], a["late"]) == (5, 0, 2, 2)
    assert a["first_seq"] == 5 and a["next_seq"] == 10


def test_a_restarted_actor_numbering_from_zero_is_not_a_duplicate() -> None:
    streams = SegmentStreams()
    assert all(streams.accept("a", seq) for seq in (0, 1, 2, 0, 1))
    assert not streams.accept("a", 1)
    streams.unconsumed("a")
    (a,) = streams.summary()
    assert (a["received"], a["restarts"], a["duplicate"], a["unconsumed"]) == (5, 1, 1, 1)


def sent(actor: str, first: int, nxt: int, unsent: int = 0, ts: float = 10.0) -> dict[str, Any]:
    return {"event": "actor_segments", "id": actor, "candidate": "c", "first_seq": first,
            "next_seq": nxt, "unsent": unsent, "pid": 1, "ts": ts}  # fmt: skip


def taken(ts: float = 20.0, **counts: int) -> dict[str, Any]:
    stream = {"actor": "a", "received": 0, "unconsumed": 0, "lost": 0, "duplicate": 0}
    return {"event": "learner_streams", "candidate": "c", "ts": ts,
            "streams": [{**stream, "restarts": 0, **counts}]}  # fmt: skip


START = {"event": "learner_start", "candidate": "c", "ts": 0.0}


def test_exact_accounts_need_no_reason() -> None:
    (a,) = reconcile([START, sent("a", 0, 10, unsent=1), taken(received=7, unconsumed=2)])
    assert (a.sent, a.taken, a.unexplained, a.reason) == (9, 9, 0, "")


def test_differences_are_explained_by_deaths_or_timing_and_nothing_else() -> None:
    # the learner died with segments in flight (started twice, one record)
    (a,) = reconcile([START, START, sent("a", 0, 10), taken(received=6)])
    assert a.unexplained == 0 and "learner of c died" in a.reason
    # the actor's last segments went out after the learner had stopped
    (a,) = reconcile([START, sent("a", 0, 10, ts=30.0), taken(received=6, ts=20.0)])
    assert a.unexplained == 0 and "after the learner had stopped" in a.reason
    # ...or after it had reached its budget (it takes nothing past it; the actors are
    # released after that, and their record can come before the learner's STOP)
    at_budget = {"event": "candidate_budget_reached", "candidate": "c", "ts": 8.0}
    (a,) = reconcile([START, at_budget, sent("a", 0, 10), taken(received=6, ts=20.0)])
    assert a.unexplained == 0 and "stopped at its budget" in a.reason
    # ...but not once a new TRAIN_UNTIL (a promotion) had it take segments again
    promoted = {"event": "learner_budget", "candidate": "c", "ts": 9.0}
    promoted |= {"env_steps": 100, "received": 50}
    (a,) = reconcile([START, at_budget, promoted, sent("a", 0, 10), taken(received=6, ts=20.0)])
    assert a.unexplained == 4
    # a TRAIN_UNTIL it has already reached (0: held until the initial score) takes nothing
    held = {"event": "learner_budget", "candidate": "c", "ts": 1.0, "env_steps": 0}
    (a,) = reconcile([START, held | {"received": 0}, sent("a", 0, 10), taken(received=6)])
    assert a.unexplained == 0 and "stopped at its budget" in a.reason
    # sent and never taken, with no reason: unexplained
    (a,) = reconcile([START, sent("a", 0, 10, ts=10.0), taken(received=6, ts=20.0)])
    assert a.unexplained == 4
    # ...unless the actor was leaving on a STOP (the run ended; the learner was busy)
    stop = {"event": "actor_stop", "id": "a", "ts": 9.0}
    (a,) = reconcile([START, stop, sent("a", 0, 10, ts=10.0), taken(received=6, ts=20.0)])
    assert a.unexplained == 0 and "queued when the run stopped" in a.reason
    # taken but never sent: only a process of that actor that died explains it
    dead = {"event": "peer_dead", "peer_role": "actor", "peer": "a", "ts": 5.0}
    (a,) = reconcile([START, dead, sent("a", 0, 4), taken(received=6)])
    assert a.unexplained == 0 and "died" in a.reason
    (a,) = reconcile([START, sent("a", 0, 4), taken(received=6)])
    assert a.unexplained == 2  # double counting
    # a gap inside a stream is explained by the actor's own unsent segments only
    (a,) = reconcile([START, sent("a", 0, 10, unsent=1), taken(received=8, lost=2)])
    assert a.unexplained == 1 and "1 lost inside a stream" in a.reason
