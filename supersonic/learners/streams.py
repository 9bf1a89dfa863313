"""Per-actor bookkeeping of TRANSITIONS sequence numbers, so that nothing is counted twice and
every missing segment shows.

An actor numbers its segments 0, 1, 2, ... per candidate for as long as its process lives (a
release and a later re-assignment to the same candidate continue the numbering). The learner
keeps, per actor, the next number it expects: a smaller one is a duplicate (dropped), a larger
one leaves a gap (counted as lost until it arrives: segments of one actor can come through two
connections, e.g. its old and new socket after a reconnection, and overtake each other; a late
one fills its gap and is taken), and a 0 after anything else is a new process of that actor
(a restart with the same ident) whose numbering starts again: not a duplicate. What the learner
still finds queued when it exits is counted as `unconsumed`, so that an actor's count of
segments sent can be reconciled exactly against the learner's (see launch/accounting.py).
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_GAPS = 10_000  # awaited numbers kept per actor (beyond: counted lost, not awaited)


@dataclass
class ActorStream:
    """What one learner process saw of one actor's segments."""

    actor: str
    received: int = 0  # segments taken (trained on, or dropped as stale or malformed)
    first_seq: int = -1  # the first number seen (-1: none)
    next_seq: int = 0  # the number expected next
    lost: int = 0  # numbers skipped (a gap before a later segment)
    duplicate: int = 0  # numbers seen again: dropped
    restarts: int = 0  # numbering that started again at 0 (a new process, same ident)
    unconsumed: int = 0  # still queued when the learner exited: never trained on
    late: int = 0  # arrived after a later number: filled its gap
    gaps: set[int] = field(default_factory=set, repr=False)  # numbers skipped, still awaited


class SegmentStreams:
    """See the module docstring."""

    def __init__(self) -> None:
        self.streams: dict[str, ActorStream] = {}

    def accept(self, actor: str, seq: int) -> bool:
        """Record segment `seq` of `actor`; False for a duplicate (the caller drops it)."""
        stream = self.streams.get(actor)
        if stream is None:
            stream = self.streams[actor] = ActorStream(actor, first_seq=seq, next_seq=seq)
        elif seq == 0 and stream.next_seq > 0:
            stream.restarts += 1
            stream.next_seq = 0
        if seq < stream.next_seq:
            if seq not in stream.gaps:
                stream.duplicate += 1
                return False
            stream.gaps.discard(seq)
            stream.lost -= 1
            stream.late += 1
        else:
            stream.lost += seq - stream.next_seq
            if len(stream.gaps) + seq - stream.next_seq <= MAX_GAPS:
                stream.gaps.update(range(stream.next_seq, seq))
            stream.next_seq = seq + 1
        stream.received += 1
        return True

    def unconsumed(self, actor: str) -> None:
        """A segment left in the queue at exit (not trained on, not a duplicate check)."""
        stream = self.streams.get(actor)
        if stream is None:
            stream = self.streams[actor] = ActorStream(actor)
        stream.unconsumed += 1

    @property
    def lost(self) -> int:
        return sum(s.lost for s in self.streams.values())

    @property
    def duplicate(self) -> int:
        return sum(s.duplicate for s in self.streams.values())

    def summary(self) -> list[dict[str, int | str]]:
        """One dict per actor, for the `learner_streams` event."""
        keys = ("actor", "received", "first_seq", "next_seq", "lost", "duplicate", "restarts")
        return [
            {**{k: getattr(s, k) for k in keys}, "unconsumed": s.unconsumed, "late": s.late}
            for s in self.streams.values()
        ]
