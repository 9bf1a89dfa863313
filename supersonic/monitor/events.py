"""Reading a run's `events.jsonl`: whole, or following it while the run writes it.

The file may be a copy taken off another machine mid-run, or be cut by a crash or a full disk,
so a line that is not a JSON object with an `event` name is skipped and counted, never fatal.
A last line without its newline is not read yet while following (the writer may be in the
middle of it); when the reading is final (`--once`, the report), it counts as skipped too.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

EVENTS_FILE = "events.jsonl"
MAX_LINE = 4 * 1024 * 1024  # longer lines are garbage (the largest real event is a few kB)


@dataclass(frozen=True)
class Event:
    """One event line: the common keys as attributes, everything else in `fields`."""

    ts: float  # seconds since the epoch (UTC)
    role: str
    id: str
    host: str
    event: str
    level: str
    fields: dict[str, Any]

    def get(self, key: str, default: Any = None) -> Any:
        return self.fields.get(key, default)


_COMMON = ("ts", "role", "id", "host", "event", "level")


def parse_line(line: str | bytes) -> Event | None:
    """The event on one line, or None when the line is not one."""
    if len(line) > MAX_LINE:
        return None
    try:
        record = json.loads(line)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(record, dict) or not isinstance(record.get("event"), str):
        return None
    ts = _timestamp(record.get("ts"))
    if ts is None:
        return None
    return Event(
        ts=ts,
        role=str(record.get("role", "")),
        id=str(record.get("id", "")),
        host=str(record.get("host", "")),
        event=record["event"],
        level=str(record.get("level", "info")),
        fields={k: v for k, v in record.items() if k not in _COMMON},
    )


def _timestamp(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        return datetime.fromisoformat(value).timestamp()
    except ValueError:
        return None


@dataclass
class EventFile:
    """Reads new complete lines of an events file on each `read` (a tail that remembers where
    it was); `skipped` counts the lines that were not events."""

    path: Path
    offset: int = 0
    skipped: int = 0
    lines: int = 0
    _partial: bytes = field(default=b"", repr=False)

    def read(self, final: bool = False) -> list[Event]:
        """Events appended since the last call. `final`: the file is complete, so a last line
        without a newline is read (and skipped if it is not an event) instead of waited for."""
        try:
            with self.path.open("rb") as f:
                size = f.seek(0, 2)
                if size < self.offset:  # replaced by a shorter copy: read it again
                    self.offset, self._partial = 0, b""
                f.seek(self.offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self.offset += len(data)
        data = self._partial + data
        *complete, self._partial = data.split(b"\n")
        if final and self._partial:
            complete.append(self._partial)
            self._partial = b""
        events: list[Event] = []
        for raw in complete:
            if not raw.strip():
                continue
            self.lines += 1
            event = parse_line(raw)
            if event is None:
                self.skipped += 1
            else:
                events.append(event)
        return events


def events_path(run_dir: Path) -> Path:
    """`RUN_DIR/events.jsonl`, or a ValueError that says what is wrong (a one-line message)."""
    if not run_dir.exists():
        raise ValueError(f"{run_dir}: no such run directory")
    if run_dir.is_file():  # an events file given directly (e.g. a copy)
        return run_dir
    path = run_dir / EVENTS_FILE
    if not path.is_file():
        raise ValueError(f"{run_dir}: no {EVENTS_FILE} here (is it a run directory?)")
    return path


def read_all(path: Path) -> tuple[list[Event], EventFile]:
    """Every event of a file read as final, and the reader (for its counts)."""
    reader = EventFile(path)
    return reader.read(final=True), reader
