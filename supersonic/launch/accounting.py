"""Reconcile the TRANSITIONS segments the actors sent with what the learners took.

Why: a search runs for hours through crashes, restarts and flaky links; "nothing is lost
silently and nothing is counted twice" has to be checked, not assumed. Every actor logs, when
it leaves a candidate, the range of `batch_seq` numbers it gave out (`actor_segments`: numbers
first_seq..next_seq-1, of which `unsent` the learner could not take in time); every learner logs
at exit what it saw of each actor (`learner_streams`: received, lost, duplicate, unconsumed,
restarts; see learners/streams.py). After the run (and after a resumed one, over the whole
events.jsonl) this module sums both sides per (candidate, actor) and explains each difference:

- a gap inside a stream (`lost`) is explained only by segments the actor itself did not send
  (`unsent`); anything more is loss on the way (unexplained);
- fewer taken than sent is explained when the learner of that candidate died (its learner
  started more often than it logged `learner_streams`), or when the actor gave its last
  segments after the learner had stopped taking them (its record is later than the moment the
  learner reached its budget, `candidate_budget_reached`, with no new TRAIN_UNTIL since, or
  than its STOP or signal). A learner takes nothing past its budget, and the actors are
  released only after that: what is in flight then, in the learner's socket, in the kernel's
  buffers on a slow link, or in the actor's socket until its linger runs out, is never
  trained on, and whether the actor's record lands before or after the learner's STOP is a
  race (a shaped link holds seconds of segments; CI once saw 17). Or when
  the actor left on a STOP or a signal (`queued when the run stopped`: a busy learner may not
  have read its last segments before the actor's socket gave up);
- more taken than sent is explained only when a process of that actor died without its record
  (SIGKILL, crash: `peer_dead`, `local_actor_exit`, `remote_actor_exit`, `actor_crash`);
  otherwise it would be double counting;
- duplicates are never trained on (the learner drops them); they are counted.

The rows go into the ledger (`segment_accounts`) with the reason, and `unexplained` is what a
test or a user should look at: it must be 0.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from supersonic.launch.ledger import Ledger
from supersonic.monitor.events import read_all

ACTOR_DEATHS = ("local_actor_exit", "remote_actor_exit")


@dataclass
class SegmentAccount:
    """One (candidate, actor) pair: both sides' counts and the verdict."""

    candidate: str
    actor: str
    sent: int = 0  # numbers given out and handed to the learner's socket
    unsent: int = 0  # numbers given out that the learner could not take in time
    received: int = 0  # taken by a learner (trained on or dropped as stale)
    unconsumed: int = 0  # still queued when a learner exited
    lost: int = 0  # gaps inside a stream
    duplicate: int = 0  # seen twice: dropped
    restarts: int = 0  # the actor's numbering started again (a new process, same ident)
    reason: str = ""  # how a difference is explained ("" when there is none)
    unexplained: int = 0  # segments no reason accounts for: must be 0
    last_sent_ts: float = field(default=0.0, repr=False)

    @property
    def taken(self) -> int:
        return self.received + self.unconsumed

    @property
    def missing(self) -> int:
        """Sent but never taken (negative: taken but not reported sent)."""
        return self.sent - self.taken


def reconcile(events: Iterable[Mapping[str, Any]]) -> list[SegmentAccount]:
    """Per (candidate, actor), the segments each side counted and what explains the rest."""
    accounts: dict[tuple[str, str], SegmentAccount] = {}
    learner_starts: dict[str, int] = {}
    learner_records: dict[str, int] = {}
    learner_last_ts: dict[str, float] = {}
    learner_stopped: dict[str, float] = {}
    # (ts, taking) per candidate: False from its budget or STOP, True again on a TRAIN_UNTIL
    taking_changes: dict[str, list[tuple[float, bool]]] = {}
    actor_stopped: dict[str, float] = {}
    actor_deaths: set[str] = set()

    def account(candidate: str, actor: str) -> SegmentAccount:
        key = (candidate, actor)
        if key not in accounts:
            accounts[key] = SegmentAccount(candidate, actor)
        return accounts[key]

    for e in events:
        name = e.get("event")
        if name == "actor_segments":
            a = account(str(e["candidate"]), str(e["id"]))
            given = int(e["next_seq"]) - int(e["first_seq"])
            a.unsent += int(e["unsent"])
            a.sent += given - int(e["unsent"])
            a.last_sent_ts = max(a.last_sent_ts, float(e["ts"]))
        elif name == "learner_streams":
            candidate = str(e["candidate"])
            learner_records[candidate] = learner_records.get(candidate, 0) + 1
            learner_last_ts[candidate] = max(learner_last_ts.get(candidate, 0.0), float(e["ts"]))
            for s in e["streams"]:
                a = account(candidate, str(s["actor"]))
                a.received += int(s["received"])
                a.unconsumed += int(s["unconsumed"])
                a.lost += int(s["lost"])
                a.duplicate += int(s["duplicate"])
                a.restarts += int(s["restarts"])
        elif name in ("learner_stop", "learner_signal") and str(e.get("id", "")).startswith(
            "learner-"
        ):  # it stops taking segments: what is sent from now on is never trained on
            candidate = str(e["id"]).removeprefix("learner-")
            learner_stopped[candidate] = max(learner_stopped.get(candidate, 0.0), float(e["ts"]))
            taking_changes.setdefault(candidate, []).append((float(e["ts"]), False))
        elif name == "candidate_budget_reached":  # its learner takes nothing more
            taking_changes.setdefault(str(e["candidate"]), []).append((float(e["ts"]), False))
        elif name == "learner_budget":  # TRAIN_UNTIL: it takes segments again (promoted),
            # unless the budget is already reached (0 holds it until the initial score)
            taking = int(e.get("env_steps", 1)) > int(e.get("received", 0))
            taking_changes.setdefault(str(e["candidate"]), []).append((float(e["ts"]), taking))
        elif name in ("actor_stop", "actor_signal"):  # the run (or this actor) is stopping
            actor_stopped[str(e.get("id", ""))] = float(e["ts"])
        elif name == "learner_start":
            candidate = str(e["candidate"])
            learner_starts[candidate] = learner_starts.get(candidate, 0) + 1
        elif name == "peer_dead" and e.get("peer_role") == "actor":
            actor_deaths.add(str(e["peer"]))
        elif name in ACTOR_DEATHS:
            actor_deaths.add(str(e["actor"]))
        elif name == "actor_crash":
            actor_deaths.add(str(e.get("id", "")))
    for a in accounts.values():
        learner_died = learner_starts.get(a.candidate, 0) > learner_records.get(a.candidate, 0)
        reasons, unexplained = [], 0
        tail = a.missing - max(0, a.lost - a.unsent)  # not taken, and not inside a gap
        if a.lost > a.unsent:
            unexplained += a.lost - a.unsent
            reasons.append(f"{a.lost - a.unsent} lost inside a stream")
        elif a.lost:
            reasons.append(f"{a.lost} gap(s) = segments the actor could not send")
        if tail > 0:
            if learner_died:
                reasons.append(f"{tail} in flight when a learner of {a.candidate} died")
            elif a.last_sent_ts > learner_stopped.get(
                a.candidate, learner_last_ts.get(a.candidate, 0.0)
            ):
                reasons.append(f"{tail} sent after the learner had stopped")
            elif not _taking_at(taking_changes.get(a.candidate, []), a.last_sent_ts):
                reasons.append(f"{tail} sent after the learner had stopped at its budget")
            elif a.last_sent_ts >= actor_stopped.get(a.actor, float("inf")):
                reasons.append(f"{tail} queued when the run stopped")
            else:
                unexplained += tail
                reasons.append(f"{tail} sent and never taken")
        elif a.missing < 0:
            if a.actor in actor_deaths:
                reasons.append(f"{-a.missing} sent by a process of {a.actor} that died")
            else:
                unexplained += -a.missing
                reasons.append(f"{-a.missing} taken but never reported sent")
        a.reason, a.unexplained = "; ".join(reasons), unexplained
    return sorted(accounts.values(), key=lambda x: (x.candidate, x.actor))


def _taking_at(changes: list[tuple[float, bool]], ts: float) -> bool:
    """Whether the learner was taking segments at `ts`, by its last change before then."""
    taking = True
    for when, now in sorted(changes):
        if when >= ts:
            break
        taking = now
    return taking


def read_events(path: Path) -> list[dict[str, Any]]:
    """The run's events as plain dicts (`ts` in seconds), lines that are not events skipped."""
    found, _ = read_all(path)
    return [{**e.fields, "event": e.event, "id": e.id, "ts": e.ts} for e in found]


def record_accounts(events_file: Path, ledger: Ledger) -> list[SegmentAccount]:
    """Reconcile the run's events and write the result into the ledger."""
    accounts = reconcile(read_events(events_file))
    ledger.set_segment_accounts(
        [{k: v for k, v in asdict(a).items() if k != "last_sent_ts"} for a in accounts]
    )
    return accounts


def account_totals(accounts: list[SegmentAccount]) -> dict[str, int]:
    """The run's totals, for results.json and the `segment_accounts` event."""
    keys = ("sent", "unsent", "received", "unconsumed", "lost", "duplicate", "unexplained")
    return {k: sum(int(getattr(a, k)) for a in accounts) for k in keys}
