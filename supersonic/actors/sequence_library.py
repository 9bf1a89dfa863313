"""A library of good action sequences that ships with an exported policy (`sequences.json`).

Why: a policy trained for a few thousand steps ranks passes well but rarely reproduces, on its
own, the long sequences that beat -Oz. The searches that the policy guides on the training
programs do find such sequences, and many of them transfer: replayed on a program never seen,
the best of a few dozen is often close to the best a search finds there in seconds (the
"coreset" idea of Liang et al., ICML 2023, who found that a small set of sequences covers most
programs). `supersonic library` builds the library from a policy (`supersonic.launch.library`);
the guided search (`supersonic.actors.guided`) replays its sequences first and grows its tree
from the best modules they reach.

The file is plain JSON next to `spec.json` in the export directory, written atomically:

    {"format": 1, "task": "llvm-codesize", "n_actions": 124,
     "built": {"programs": [...], "budget_seconds": 5.0, ...},
     "sequences": [{"actions": [12, 40, ...], "program": "...", "ir": 401, "metric": 1.01,
                    "validated": true}, ...]}
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LIBRARY_FILE = "sequences.json"
LIBRARY_FORMAT = 1


@dataclass(frozen=True)
class LibrarySequence:
    """One sequence and where it came from: the program it was found on and what it reached."""

    actions: tuple[int, ...]
    program: str
    ir: int
    metric: float
    validated: bool  # the program it was found on still behaved as at -O0 after it

    def to_json(self) -> dict[str, Any]:
        return {
            "actions": list(self.actions),
            "program": self.program,
            "ir": self.ir,
            "metric": self.metric,
            "validated": self.validated,
        }


@dataclass(frozen=True)
class SequenceLibrary:
    task: str
    n_actions: int
    sequences: tuple[LibrarySequence, ...]
    built: dict[str, Any] = field(default_factory=dict)  # how it was built (provenance)

    @property
    def actions(self) -> list[tuple[int, ...]]:
        return [s.actions for s in self.sequences]


def save_library(directory: Path, library: SequenceLibrary) -> Path:
    """Write `directory/sequences.json` (atomically: a reader never sees half a file)."""
    document = {
        "format": LIBRARY_FORMAT,
        "task": library.task,
        "n_actions": library.n_actions,
        "built": library.built,
        "sequences": [s.to_json() for s in library.sequences],
    }
    path = directory / LIBRARY_FILE
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(document, indent=1) + "\n")
    os.replace(tmp, path)
    return path


def load_library(directory: Path, task: str, n_actions: int) -> SequenceLibrary | None:
    """The library in `directory`, or None when there is none. ValueError (one line) for a
    malformed one or one made for another task or action space."""
    path = directory / LIBRARY_FILE
    if not path.is_file():
        return None
    try:
        document = json.loads(path.read_text())
        if document.get("format") != LIBRARY_FORMAT:
            raise ValueError(f"format {document.get('format')!r}, expected {LIBRARY_FORMAT}")
        if document["task"] != task:
            raise ValueError(f"made for task {document['task']}, not {task}")
        if int(document["n_actions"]) != n_actions:
            raise ValueError(f"made for {document['n_actions']} actions, not {n_actions}")
        sequences = []
        for item in document["sequences"]:
            actions = tuple(int(a) for a in item["actions"])
            if any(not 0 <= a < n_actions for a in actions):
                raise ValueError(f"an action outside 0..{n_actions - 1}")
            sequences.append(
                LibrarySequence(
                    actions,
                    str(item["program"]),
                    int(item["ir"]),
                    float(item["metric"]),
                    bool(item["validated"]),
                )
            )
        return SequenceLibrary(task, n_actions, tuple(sequences), dict(document.get("built") or {}))
    except (OSError, KeyError, TypeError, AttributeError, json.JSONDecodeError) as exc:
        raise ValueError(
            f"{path}: malformed sequence library ({type(exc).__name__}: {exc})"
        ) from None
    except ValueError as exc:
        raise ValueError(f"{path}: {exc}") from None
