"""Check that an optimized module still behaves like the original program.

A program with `main()` is built twice with clang-14 at -O0 (so codegen adds no optimisation of
its own): once from the unoptimised bitcode (the reference, cached per program) and once from the
optimized bitcode. The optimized build must print the same stdout and exit with the same status.
A pass sequence that changes behaviour (a miscompile, or a program with undefined behaviour that
the passes exploit) is marked invalid and must never be reported as a best result.
"""

from __future__ import annotations

import base64
import json
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from supersonic.envs.llvm.bitcode import PreparedProgram
from supersonic.envs.llvm.toolpack import llvm_tool, run_tool
from supersonic.paths import cache_dir

BUILD_TIMEOUT_S = 120.0
REFERENCE_RUN_TIMEOUT_S = 30.0
MAX_OUTPUT_BYTES = 16 << 20


@dataclass(frozen=True)
class RunOutcome:
    """What one execution of a built program did."""

    stdout: bytes
    returncode: int
    seconds: float
    timed_out: bool = False


@dataclass(frozen=True)
class Validation:
    """The verdict on one optimized module: valid True/False, or None when it cannot be run."""

    valid: bool | None
    reason: str

    @property
    def label(self) -> str:
        return {True: "valid", False: "INVALID", None: "unchecked"}[self.valid]


class BuildError(RuntimeError):
    """clang could not build an executable from the bitcode."""


def build_executable(bitcode: bytes, output: Path) -> None:
    """Compile and link bitcode into an executable with clang-14 -O0."""
    argv = [str(llvm_tool("clang")), "-O0", "-w", "-x", "ir", "-", "-o", str(output), "-lm"]
    run_tool(argv, bitcode, "clang", BuildError, BUILD_TIMEOUT_S)


def run_executable(path: Path, timeout_s: float) -> RunOutcome:
    started = time.monotonic()
    try:
        proc = subprocess.run(
            [str(path)],
            capture_output=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        out = exc.stdout if isinstance(exc.stdout, bytes) else b""
        return RunOutcome(out[:MAX_OUTPUT_BYTES], -1, time.monotonic() - started, True)
    return RunOutcome(proc.stdout[:MAX_OUTPUT_BYTES], proc.returncode, time.monotonic() - started)


def build_and_run(bitcode: bytes, timeout_s: float) -> RunOutcome:
    with tempfile.TemporaryDirectory(prefix="supersonic-run-") as tmp:
        exe = Path(tmp) / "program"
        build_executable(bitcode, exe)
        return run_executable(exe, timeout_s)


def _reference_path(program: PreparedProgram) -> Path:
    return cache_dir() / "reference" / f"{program.sha256}.json"


def reference_outcome(program: PreparedProgram) -> RunOutcome:
    """The unoptimised program's behaviour (cached on disk; it never changes for a program)."""
    path = _reference_path(program)
    try:
        data = json.loads(path.read_text())
        return RunOutcome(
            base64.b64decode(data["stdout"]), int(data["returncode"]), float(data["seconds"])
        )
    except (OSError, ValueError, KeyError):
        pass
    outcome = build_and_run(program.bitcode, REFERENCE_RUN_TIMEOUT_S)
    if not outcome.timed_out:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(f".{id(outcome)}.tmp")
        tmp.write_text(
            json.dumps(
                {
                    "stdout": base64.b64encode(outcome.stdout).decode(),
                    "returncode": outcome.returncode,
                    "seconds": outcome.seconds,
                }
            )
        )
        tmp.replace(path)
    return outcome


def validate(program: PreparedProgram, optimized_bitcode: bytes) -> Validation:
    """Compare the optimized module's behaviour with the unoptimised program's."""
    if not program.has_main:
        return Validation(None, "no main(): nothing to run")
    try:
        reference = reference_outcome(program)
    except BuildError as exc:
        return Validation(None, f"the unoptimised program does not build: {exc}")
    if reference.timed_out:
        return Validation(
            None, f"the unoptimised program runs over {REFERENCE_RUN_TIMEOUT_S:.0f} s"
        )
    try:
        optimized = build_and_run(optimized_bitcode, max(10.0, 20 * reference.seconds))
    except BuildError as exc:
        return Validation(False, f"the optimized module does not build: {exc}")
    if optimized.timed_out:
        return Validation(False, "the optimized program does not finish (timed out)")
    if optimized.returncode != reference.returncode:
        return Validation(
            False, f"exit status {optimized.returncode}, expected {reference.returncode}"
        )
    if optimized.stdout != reference.stdout:
        return Validation(False, "prints different output from the -O0 build")
    return Validation(True, "same output and exit status as the -O0 build")
