"""Export a search's winner as `RUN_DIR/best/`, loadable with `supersonic.load_policy`.

The directory holds the policy file the winner's learner saved when its score came in, the
winner's full spec (task, candidate, episode length, validation programs, policy version and the
versions of the stack it was trained with) and its recorded scores; the format is described in
`supersonic.actors.exported`. It is built next to its final place and renamed into it, so a
reader never sees half an export.
"""

from __future__ import annotations

import json
import platform
import re
import shutil
from dataclasses import asdict
from importlib import metadata
from pathlib import Path
from typing import Any

from supersonic.actors.exported import (
    BEST_RESULTS_FILE,
    BEST_RESULTS_FORMAT,
    EXPORT_FORMAT,
    POLICY_FILE,
    SCORES_FILE,
    SPEC_FILE,
)
from supersonic.protocol.messages import CandidateSpec
from supersonic.protocol.policy_file import load_policy_file

BEST_DIR = "best"

# Reported name -> distribution name, for the parts of the stack a policy may depend on.
STACK = {
    "supersonic": "supersonic-rl",
    "numpy": "numpy",
    "torch": "torch",
    "gymnasium": "gymnasium",
    "pyzmq": "pyzmq",
    "compiler_gym": "compiler_gym",
    "apache-tvm": "apache-tvm",
    "halide": "halide",
}


def stack_versions() -> dict[str, str]:
    """Python's version and those of the installed parts of the stack (nothing is imported)."""
    versions = {"python": platform.python_version()}
    for name, distribution in STACK.items():
        try:
            versions[name] = metadata.version(distribution)
        except metadata.PackageNotFoundError:
            continue
    return versions


def export_best(
    run_dir: Path,
    *,
    task: str,
    spec: CandidateSpec,
    policy_file: Path,
    scores: dict[str, Any],
    episode_length: int,
    validation_programs: list[str],
    policy_version: int | None = None,
    best_results: list[dict[str, Any]] | None = None,
) -> Path:
    """Write `run_dir/best/` (replacing an older one) and return it.

    `policy_file` is the winner's saved policy (`checkpoints/NAME/policies/vN.npz`); it is
    checked to load. `policy_version` defaults to the N of its name. `best_results`: the
    ledger's rows (`Ledger.best_results`); those that passed validation go into
    best_results.json.
    """
    policy_file = Path(policy_file)
    load_policy_file(policy_file)  # refuse to export something that cannot be loaded
    if policy_version is None:
        match = re.fullmatch(r"v(\d+)\.npz", policy_file.name)
        if match is None:
            raise ValueError(f"{policy_file}: name it vN.npz or give policy_version")
        policy_version = int(match.group(1))
    document = {
        "format": EXPORT_FORMAT,
        "task": task,
        "candidate": asdict(spec),
        "episode_length": episode_length,
        "validation_programs": list(validation_programs),
        "policy_version": policy_version,
        "versions": stack_versions(),
    }
    best = Path(run_dir) / BEST_DIR
    tmp = best.with_name(BEST_DIR + ".tmp")
    old = best.with_name(BEST_DIR + ".old")
    for leftover in (tmp, old):
        if leftover.exists():
            shutil.rmtree(leftover)
    tmp.mkdir(parents=True)
    shutil.copyfile(policy_file, tmp / POLICY_FILE)
    (tmp / SPEC_FILE).write_text(json.dumps(document, indent=2) + "\n")
    (tmp / SCORES_FILE).write_text(json.dumps(scores, indent=2) + "\n")
    valid = {
        row["program"]: {k: row[k] for k in ("metric", "details", "candidate", "policy_version")}
        | {"validation": row["validation"]}
        for row in best_results or []
        if str(row.get("validation", "")).startswith("valid")
    }
    if valid:
        document = {"format": BEST_RESULTS_FORMAT, "results": valid}
        (tmp / BEST_RESULTS_FILE).write_text(json.dumps(document, indent=2) + "\n")
    if best.exists():
        best.rename(old)
    tmp.rename(best)
    if old.exists():
        shutil.rmtree(old)
    return best
