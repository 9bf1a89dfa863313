"""Structured logging: every process writes JSON lines with `ts, role, id, host, event`.

Each process configures structlog once at start-up with its role and id; events go to a file
(or stderr when there is none). The processes `supersonic launch` starts on this machine all
append to the run's one `RUN_DIR/events.jsonl`; any other actor or learner (by hand, on
another host) keeps its own file and also hands every rendered line to `forward`, which sends
them to the supervisor (protocol/forward.py), and the supervisor writes what it receives with an
`EventWriter`. `supersonic monitor` and `report` read these lines, so an event is a stable name
plus fields, never a sentence; docs/events.md lists them all.

Several processes append to one file: each line goes out in one `write` on an `O_APPEND`
descriptor, which Linux does not interleave with other writers on a local file system (a
buffered text stream may split a long line into several writes).
"""

from __future__ import annotations

import json
import os
import socket
import sys
import threading
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import structlog


class _LineSink:
    """Where rendered lines go: a file opened O_APPEND (or stderr), plus an optional tap."""

    def __init__(self, path: Path | None, forward: Callable[[str], None] | None) -> None:
        self.fd: int | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        self.forward = forward

    def write(self, line: str) -> None:
        data = (line + "\n").encode("utf-8", "replace")
        if self.fd is None:
            sys.stderr.write(line + "\n")
            sys.stderr.flush()
        else:
            os.write(self.fd, data)  # one write per line: see the module docstring
        if self.forward is not None:
            self.forward(line)


class _SinkLogger:
    """The structlog logger behind every bound logger: it writes one rendered line."""

    def __init__(self, sink: _LineSink) -> None:
        self._sink = sink

    def msg(self, message: str) -> None:
        self._sink.write(message)

    log = debug = info = warning = warn = error = critical = exception = msg


def configure(
    role: str,
    ident: str,
    path: Path | None = None,
    forward: Callable[[str], None] | None = None,
) -> structlog.typing.FilteringBoundLogger:
    """Send this process's events to `path` (appending) or stderr, and each rendered line to
    `forward` too when given; returns the bound logger."""
    sink = _LineSink(path, forward)
    structlog.configure(
        processors=[
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True, key="ts"),
            structlog.processors.dict_tracebacks,
            structlog.processors.JSONRenderer(sort_keys=False, default=str),
        ],
        logger_factory=lambda *_args: _SinkLogger(sink),
        wrapper_class=structlog.make_filtering_bound_logger(20),
        cache_logger_on_first_use=False,
    )
    return get_logger().bind(role=role, id=ident, host=socket.gethostname())


def get_logger(**fields: Any) -> structlog.typing.FilteringBoundLogger:
    logger: structlog.typing.FilteringBoundLogger = structlog.get_logger()
    return logger.bind(**fields) if fields else logger


class EventWriter:
    """Writes events some other process produced (a remote actor's, forwarded to the
    supervisor) into an events file, one line per `write`, like the processes' own lines."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)

    def write(self, record: dict[str, Any]) -> None:
        os.write(self.fd, (json.dumps(record, default=str) + "\n").encode("utf-8", "replace"))

    def close(self) -> None:
        os.close(self.fd)


def now_iso() -> str:
    """A timestamp in the format of the `ts` field."""
    return datetime.now(UTC).isoformat().replace("+00:00", "Z")


class EventBuffer:
    """Rendered event lines waiting to be forwarded to the supervisor.

    Bounded: when the supervisor is unreachable for long, the oldest lines go and are counted
    (the supervisor logs the count), so a chatty actor never grows without limit. Thread-safe:
    events are logged from the heartbeat thread too.
    """

    def __init__(self, capacity: int = 2000) -> None:
        self._lines: deque[str] = deque()
        self._capacity = capacity
        self._lock = threading.Lock()
        self.dropped = 0  # lines lost since the last `take`

    def __call__(self, line: str) -> None:
        with self._lock:
            if len(self._lines) >= self._capacity:
                self._lines.popleft()
                self.dropped += 1
            self._lines.append(line)

    def __len__(self) -> int:
        return len(self._lines)

    def take(self, limit: int = 200) -> tuple[list[str], int]:
        """Up to `limit` of the oldest lines, and how many were dropped before them."""
        with self._lock:
            n = min(limit, len(self._lines))
            lines = [self._lines.popleft() for _ in range(n)]
            dropped, self.dropped = self.dropped, 0
            return lines, dropped
