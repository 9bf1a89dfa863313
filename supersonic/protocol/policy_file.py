"""The policy file: a policy's (arch, tensors), as WEIGHTS carries them, in one `.npz`.

Learners write the policy that earned a score (`CHECKPOINT_DIR/policies/v{version}.npz`); a run's
export (`RUN_DIR/best/policy.npz`) is a copy of the winner's. One `.npy` per tensor under its own
name, plus `__arch__`: the arch as a JSON object (sorted keys) in a 0-d string array. Nothing is
pickled, so loading a file from elsewhere cannot run code. It lives in `protocol/` because it is
the WEIGHTS payload at rest: learners write it, actors and deployments read it.
"""

from __future__ import annotations

import json
import os
import zipfile
from collections.abc import Mapping
from pathlib import Path

import numpy as np

ARCH_KEY = "__arch__"

ArchValue = str | int | float | bool


def save_policy_file(
    path: Path, arch: Mapping[str, ArchValue], tensors: Mapping[str, np.ndarray]
) -> None:
    """Write (arch, tensors) to `path` atomically (a temporary file, then a rename)."""
    if ARCH_KEY in tensors:
        raise ValueError(f"a policy tensor may not be called {ARCH_KEY!r}")
    arrays: dict[str, np.ndarray] = {}
    for name, tensor in tensors.items():
        array = np.asarray(tensor)
        if array.dtype.kind not in "fiub":
            raise ValueError(f"policy tensor {name} has dtype {array.dtype}, not a number")
        arrays[name] = array
    arrays[ARCH_KEY] = np.array(json.dumps(dict(arch), sort_keys=True))
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def load_policy_file(path: Path) -> tuple[dict[str, ArchValue], dict[str, np.ndarray]]:
    """(arch, tensors) from a policy file; FileNotFoundError / ValueError in one line."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such policy file")
    try:
        data = np.load(path, allow_pickle=False)
        if not isinstance(data, np.lib.npyio.NpzFile):
            raise ValueError("a single array, not an .npz archive")
        with data:
            contents = {name: data[name] for name in data.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{path} is not a readable policy file: {_one_line(exc)}") from None
    raw_arch = contents.pop(ARCH_KEY, None)
    if raw_arch is None or raw_arch.shape != () or raw_arch.dtype.kind != "U":
        raise ValueError(f"{path} is not a policy file: no {ARCH_KEY!r} string entry")
    try:
        arch = json.loads(str(raw_arch[()]))
    except ValueError as exc:
        raise ValueError(f"{path}: the policy arch is not JSON: {_one_line(exc)}") from None
    if not isinstance(arch, dict) or not all(
        isinstance(v, str | int | float | bool) for v in arch.values()
    ):
        raise ValueError(f"{path}: the policy arch must be a JSON object of plain values")
    for name, tensor in contents.items():
        if tensor.dtype.kind not in "fiub":
            raise ValueError(f"{path}: policy tensor {name} has dtype {tensor.dtype}")
    return arch, contents


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
