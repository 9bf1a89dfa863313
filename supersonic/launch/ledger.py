"""The run ledger: what a search has tried, in SQLite, so a run can be inspected and resumed.

One SQLite file per run (`RUN_DIR/ledger.sqlite`) in WAL mode: the supervisor writes, and
monitoring reads at the same time without blocking it. Candidates are stored as the JSON of
their `CandidateSpec`, so that a spec read back is exactly the one that was trained (names,
hyperparameter types and values, seed), whatever the schema of later tables.

Tables: `candidates`; `evaluations` (every evaluation, per-program metrics and details);
`rung_scores` (what the search strategy was told, in order: replayed on resume); `best_results`
(the best result per validation program, with its action sequence, and whether it validated);
`policies` (the index of scored policy files); `offers` (every result offered as a best one,
so that one that fails validation gives way to the next); `segment_accounts` (the TRANSITIONS
segments each actor sent against what the learners took, launch/accounting.py). The supervisor
writes a result here before it acts on it (tells the strategy, the learner or the user), so a
SIGKILL loses nothing recorded.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Mapping
from dataclasses import asdict, dataclass
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
CREATE TABLE IF NOT EXISTS evaluations (
    eval_id TEXT PRIMARY KEY,
    candidate TEXT NOT NULL,
    stage TEXT NOT NULL,         -- "initial" or "b<budget>"
    budget INTEGER NOT NULL,     -- env steps the candidate had trained for (0: initial)
    policy_version INTEGER NOT NULL,
    env_steps INTEGER NOT NULL,
    score REAL NOT NULL,
    programs TEXT NOT NULL,      -- JSON lists, one entry per program
    metrics TEXT NOT NULL,
    details TEXT NOT NULL,
    recorded REAL NOT NULL DEFAULT (julianday('now'))
);
CREATE TABLE IF NOT EXISTS rung_scores (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,  -- the order the strategy saw them: replayed on resume
    grp TEXT NOT NULL,           -- the architecture (its seed replicas are scored together)
    budget INTEGER NOT NULL,
    score REAL NOT NULL,
    UNIQUE (grp, budget)
);
CREATE TABLE IF NOT EXISTS best_results (
    program TEXT PRIMARY KEY,
    candidate TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    metric REAL NOT NULL,
    details TEXT NOT NULL,       -- JSON; for LLVM the action sequence and IR counts
    validation TEXT NOT NULL DEFAULT ''  -- e.g. "ok", "output differs", "" (not validated yet)
);
CREATE TABLE IF NOT EXISTS policies (
    candidate TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    path TEXT NOT NULL,          -- the scored policy's weights, relative to the run directory
    stage TEXT NOT NULL,
    PRIMARY KEY (candidate, policy_version)
);
CREATE TABLE IF NOT EXISTS offers (  -- every result offered as a best one: the fallbacks
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    program TEXT NOT NULL,
    candidate TEXT NOT NULL,
    policy_version INTEGER NOT NULL,
    metric REAL NOT NULL,
    details TEXT NOT NULL,
    validation TEXT NOT NULL DEFAULT ''  -- set when it failed validation ("INVALID: ...")
);
CREATE TABLE IF NOT EXISTS segment_accounts (  -- launch/accounting.py, rewritten after each run
    candidate TEXT NOT NULL,
    actor TEXT NOT NULL,
    sent INTEGER NOT NULL,
    unsent INTEGER NOT NULL,
    received INTEGER NOT NULL,
    unconsumed INTEGER NOT NULL,
    lost INTEGER NOT NULL,
    duplicate INTEGER NOT NULL,
    restarts INTEGER NOT NULL,
    reason TEXT NOT NULL,
    unexplained INTEGER NOT NULL,
    PRIMARY KEY (candidate, actor)
);
"""


@dataclass(frozen=True)
class EvaluationRecord:
    """One evaluation of a candidate's policy on the validation programs."""

    eval_id: str
    candidate: str
    stage: str
    budget: int
    policy_version: int
    env_steps: int
    score: float
    programs: list[str]
    metrics: list[float]
    details: list[dict[str, Any]]


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

    # --------------------------------------------------------------------- evaluations
    def add_evaluation(self, record: EvaluationRecord) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO evaluations (eval_id, candidate, stage, budget, "
                "policy_version, env_steps, score, programs, metrics, details) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    record.eval_id,
                    record.candidate,
                    record.stage,
                    record.budget,
                    record.policy_version,
                    record.env_steps,
                    record.score,
                    json.dumps(record.programs),
                    json.dumps(record.metrics),
                    json.dumps(record.details),
                ),
            )

    def evaluations(self, candidate: str | None = None) -> list[EvaluationRecord]:
        """Every recorded evaluation (of `candidate`), oldest first."""
        query = (
            "SELECT eval_id, candidate, stage, budget, policy_version, env_steps, score, "
            "programs, metrics, details FROM evaluations"
        )
        args: tuple[Any, ...] = ()
        if candidate is not None:
            query, args = query + " WHERE candidate = ?", (candidate,)
        rows = self.db.execute(query + " ORDER BY rowid", args).fetchall()
        return [
            EvaluationRecord(
                eval_id=str(row[0]),
                candidate=str(row[1]),
                stage=str(row[2]),
                budget=int(row[3]),
                policy_version=int(row[4]),
                env_steps=int(row[5]),
                score=float(row[6]),
                programs=json.loads(row[7]),
                metrics=json.loads(row[8]),
                details=json.loads(row[9]),
            )
            for row in rows
        ]

    # --------------------------------------------------------------------- rung scores
    def add_rung_score(self, group: str, budget: int, score: float) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR IGNORE INTO rung_scores (grp, budget, score) VALUES (?, ?, ?)",
                (group, budget, score),
            )

    def rung_scores(self) -> list[tuple[str, int, float]]:
        """(group, budget, score) in the order they were recorded."""
        rows = self.db.execute("SELECT grp, budget, score FROM rung_scores ORDER BY seq")
        return [(str(g), int(b), float(s)) for g, b, s in rows.fetchall()]

    # -------------------------------------------------------------------- best results
    def offer_best(
        self,
        program: str,
        candidate: str,
        policy_version: int,
        metric: float,
        details: Mapping[str, Any],
    ) -> bool:
        """Keep this result for `program` if it beats the recorded one; True if it did.
        Every offer is also kept, so that a best result that fails validation can give way to
        the next one (`reject_best`). A result that failed validation before is refused."""
        text = json.dumps(dict(details))
        with self.db:
            failed = self.db.execute(
                "SELECT 1 FROM offers WHERE program = ? AND candidate = ? AND policy_version = ? "
                "AND details = ? AND validation != ''",
                (program, candidate, policy_version, text),
            ).fetchone()
            if failed is not None:
                return False
            self.db.execute(
                "INSERT INTO offers (program, candidate, policy_version, metric, details) "
                "VALUES (?, ?, ?, ?, ?)",
                (program, candidate, policy_version, metric, text),
            )
            row = self.db.execute(
                "SELECT metric FROM best_results WHERE program = ?", (program,)
            ).fetchone()
            if row is not None and row[0] >= metric:
                return False
            self.db.execute(
                "INSERT OR REPLACE INTO best_results (program, candidate, policy_version, "
                "metric, details, validation) VALUES (?, ?, ?, ?, ?, '')",
                (program, candidate, policy_version, metric, json.dumps(dict(details))),
            )
        return True

    def reject_best(self, program: str, verdict: str) -> dict[str, Any] | None:
        """The best result of `program` failed validation (e.g. its optimized build behaves
        differently): record the verdict on its offer and put the best offer that has not failed
        in its place (unvalidated); None, and no best result, when none is left. A result that
        failed is never a best result again."""
        with self.db:
            row = self.db.execute(
                "SELECT candidate, policy_version, details FROM best_results WHERE program = ?",
                (program,),
            ).fetchone()
            if row is not None:
                self.db.execute(
                    "UPDATE offers SET validation = ? WHERE program = ? AND candidate = ? "
                    "AND policy_version = ? AND details = ?",
                    (verdict, program, *row),
                )
            self.db.execute("DELETE FROM best_results WHERE program = ?", (program,))
            nxt = self.db.execute(
                "SELECT candidate, policy_version, metric, details FROM offers WHERE program = ? "
                "AND validation = '' ORDER BY metric DESC, seq LIMIT 1",
                (program,),
            ).fetchone()
            if nxt is None:
                return None
            self.db.execute(
                "INSERT INTO best_results (program, candidate, policy_version, metric, details) "
                "VALUES (?, ?, ?, ?, ?)",
                (program, *nxt),
            )
        return next(r for r in self.best_results() if r["program"] == program)

    def rejected_results(self) -> list[dict[str, Any]]:
        """Offers that failed validation, with their verdicts."""
        rows = self.db.execute(
            "SELECT program, candidate, policy_version, metric, validation FROM offers "
            "WHERE validation != '' ORDER BY seq"
        ).fetchall()
        keys = ("program", "candidate", "policy_version", "metric", "validation")
        return [dict(zip(keys, r, strict=True)) for r in rows]

    def set_validation(self, program: str, label: str) -> None:
        with self.db:
            self.db.execute(
                "UPDATE best_results SET validation = ? WHERE program = ?", (label, program)
            )

    def best_results(self) -> list[dict[str, Any]]:
        rows = self.db.execute(
            "SELECT program, candidate, policy_version, metric, details, validation "
            "FROM best_results ORDER BY program"
        ).fetchall()
        return [
            {
                "program": p,
                "candidate": c,
                "policy_version": v,
                "metric": m,
                "details": json.loads(d),
                "validation": val,
            }
            for p, c, v, m, d, val in rows
        ]

    # ------------------------------------------------------------------------ policies
    def add_policy(self, candidate: str, policy_version: int, path: str, stage: str) -> None:
        with self.db:
            self.db.execute(
                "INSERT OR REPLACE INTO policies (candidate, policy_version, path, stage) "
                "VALUES (?, ?, ?, ?)",
                (candidate, policy_version, path, stage),
            )

    def policy_path(self, candidate: str, policy_version: int) -> str | None:
        row = self.db.execute(
            "SELECT path FROM policies WHERE candidate = ? AND policy_version = ?",
            (candidate, policy_version),
        ).fetchone()
        return None if row is None else str(row[0])

    # ---------------------------------------------------------------- segment accounts
    _ACCOUNT_COLUMNS = (
        "candidate, actor, sent, unsent, received, unconsumed, lost, duplicate, restarts, "
        "reason, unexplained"
    )

    def set_segment_accounts(self, rows: list[dict[str, Any]]) -> None:
        """Replace the accounts (they are recomputed from the whole run each time)."""
        names = [c.strip() for c in self._ACCOUNT_COLUMNS.split(",")]
        with self.db:
            self.db.execute("DELETE FROM segment_accounts")
            self.db.executemany(
                f"INSERT INTO segment_accounts ({self._ACCOUNT_COLUMNS}) "
                f"VALUES ({', '.join('?' * len(names))})",
                [tuple(row[n] for n in names) for row in rows],
            )

    def segment_accounts(self) -> list[dict[str, Any]]:
        names = [c.strip() for c in self._ACCOUNT_COLUMNS.split(",")]
        rows = self.db.execute(
            f"SELECT {self._ACCOUNT_COLUMNS} FROM segment_accounts ORDER BY candidate, actor"
        ).fetchall()
        return [dict(zip(names, row, strict=True)) for row in rows]

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
