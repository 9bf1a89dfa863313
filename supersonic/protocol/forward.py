"""Forwarding a peer's own event lines to the supervisor (EVENTS), for the run's events.jsonl.

A process the launch starts on the supervisor's machine appends to `RUN_DIR/events.jsonl`
itself; any other (an actor started by hand or on another host) keeps its own log file and
hands each line to an `EventBuffer` (see `supersonic.logs`), which this sends in batches about
twice a second once the supervisor has welcomed it. See docs/events.md.
"""

from __future__ import annotations

import time

from supersonic.logs import EventBuffer
from supersonic.protocol.messages import Events
from supersonic.protocol.peer import ControlLink

FORWARD_EVERY_S = 0.5
BATCH_LINES = 200


class EventForwarder:
    """Sends what `buffer` collected over `link`; `flush` on the way out (before BYE)."""

    def __init__(self, buffer: EventBuffer, link: ControlLink) -> None:
        self.buffer, self.link = buffer, link
        self.last_sent = 0.0

    def tick(self) -> None:
        now = time.monotonic()
        if not len(self.buffer) or not self.link.welcomed:
            return
        if now - self.last_sent < FORWARD_EVERY_S and len(self.buffer) < BATCH_LINES:
            return
        self.last_sent = now
        lines, dropped = self.buffer.take(BATCH_LINES)
        self.link.send(Events(lines=lines, dropped=dropped))

    def flush(self) -> None:
        """Send everything left (a lost supervisor loses these lines: the local log has them)."""
        while len(self.buffer) and self.link.welcomed:
            lines, dropped = self.buffer.take(BATCH_LINES)
            self.link.send(Events(lines=lines, dropped=dropped))
