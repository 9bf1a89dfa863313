"""The run ledger: what a search has tried, in SQLite, so a run can be inspected and resumed.

One SQLite file per run (`RUN_DIR/ledger.sqlite`) in WAL mode: the supervisor writes, and
monitoring reads at the same time without blocking it. Candidates are stored as the JSON of
their `CandidateSpec`, so that a spec read back is exactly the one that was trained (names,
hyperparameter types and values, seed), whatever the schema of later tables.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import asdict
from pathlib import Path
from typing import Any

from supersonic.protocol.messages import CandidateSpec

SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS candidates (
    name TEXT PRIMARY KEY,
    spec TEXT NOT NULL,          -- CandidateSpec as JSON
    added REAL NOT NULL DEFAULT (julianday('now'))
);
"""


class LedgerError(RuntimeError):
    """The ledger file is unusable or contradicts what is being written."""


class Ledger:
    """See the module docstring. Use as a context manager, or call `close()`."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.db = sqlite3.connect(path, timeout=10.0)
            self.db.execute("PRAGMA journal_mode=WAL")
            self.db.execute("PRAGMA synchronous=NORMAL")
            self.db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise LedgerError(f"{path}: not a usable ledger ({exc})") from None
        found = self._meta("schema_version")
        if found is None:
            self._set_meta("schema_version", str(SCHEMA_VERSION))
        elif int(found) != SCHEMA_VERSION:
            raise LedgerError(
                f"{path}: ledger schema {found}, this SuperSonic writes {SCHEMA_VERSION}"
            )

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.db.close()

    # ---------------------------------------------------------------------- candidates
    def add_candidate(self, spec: CandidateSpec) -> None:
        """Record `spec`; recording the same spec again is a no-op, a different one with the
        same name is an error (a resumed run must not silently change what it trains)."""
        text = spec_to_json(spec)
        with self.db:
            row = self.db.execute(
                "SELECT spec FROM candidates WHERE name = ?", (spec.name,)
            ).fetchone()
            if row is None:
                self.db.execute(
                    "INSERT INTO candidates (name, spec) VALUES (?, ?)", (spec.name, text)
                )
            elif spec_from_json(row[0]) != spec:
                raise LedgerError(
                    f"{self.path}: candidate {spec.name} is already recorded with another spec"
                )

    def candidate(self, name: str) -> CandidateSpec:
        row = self.db.execute("SELECT spec FROM candidates WHERE name = ?", (name,)).fetchone()
        if row is None:
            raise KeyError(f"no candidate {name!r} in {self.path}")
        return spec_from_json(row[0])

    def candidates(self) -> list[CandidateSpec]:
        """Every recorded candidate, in the order they were added."""
        rows = self.db.execute("SELECT spec FROM candidates ORDER BY rowid").fetchall()
        return [spec_from_json(text) for (text,) in rows]

    # ---------------------------------------------------------------------------- meta
    def _meta(self, key: str) -> str | None:
        row = self.db.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
        return None if row is None else str(row[0])

    def _set_meta(self, key: str, value: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT INTO meta (key, value) VALUES (?, ?) "
                "ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                (key, value),
            )


def spec_to_json(spec: CandidateSpec) -> str:
    """Canonical JSON (sorted keys) of a spec; floats keep their exact value (repr)."""
    return json.dumps(asdict(spec), sort_keys=True)


def spec_from_json(text: str) -> CandidateSpec:
    data: dict[str, Any] = json.loads(text)
    return CandidateSpec(**data)
