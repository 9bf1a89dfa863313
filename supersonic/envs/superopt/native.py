"""Run and time a body natively: assembled by clang into a shared object with a C harness,
called through ctypes in a child process (a wrong rewrite may crash; the child dies, not us).

The harness loops in C (`ss_time`: every call on an array of inputs, repeated, the fastest
of several rounds, nanoseconds per call), so a call costs what the function costs plus a
call and a loop step, not a ctypes round trip. `ss_run` returns the function's value on
given inputs, to compare native execution with the emulator.

    python -m supersonic.envs.superopt.native SO_PATH run X,Y X,Y ...
    python -m supersonic.envs.superopt.native SO_PATH time ROUNDS CALLS
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from supersonic.envs.superopt.asm import Instr, render
from supersonic.envs.superopt.compile import clang

SYMBOL = "ss_fn"
CHILD_TIMEOUT_S = 60.0
HARNESS = r"""
#include <stdint.h>
#include <time.h>
extern uint32_t ss_fn(uint32_t, uint32_t);
uint32_t ss_run(uint32_t x, uint32_t y) { return ss_fn(x, y); }
static double now(void) {
    struct timespec t; clock_gettime(CLOCK_MONOTONIC, &t); return t.tv_sec * 1e9 + t.tv_nsec;
}
double ss_time(const uint32_t *x, const uint32_t *y, int n, int rounds, long calls) {
    double best = 1e30; volatile uint32_t sink = 0;
    for (int r = 0; r < rounds; r++) {
        double t0 = now(); uint32_t acc = 0;
        for (long c = 0; c < calls; c += n)
            for (int i = 0; i < n; i++) acc += ss_fn(x[i] ^ acc, y[i]);
        double t = (now() - t0) / (double)calls;
        sink += acc;
        if (t < best) best = t;
    }
    return best;
}
"""


@dataclass(frozen=True)
class NativeResult:
    values: list[int] | None = None
    ns_per_call: float | None = None
    error: str = ""


def build(body: Sequence[Instr], out_dir: Path) -> Path:
    """The shared object with `body` as `ss_fn` and the harness; raises RuntimeError when
    clang refuses it."""
    asm = out_dir / "fn.s"
    asm.write_text(render(tuple(body), SYMBOL))
    harness = out_dir / "harness.c"
    harness.write_text(HARNESS)
    so = out_dir / "fn.so"
    proc = subprocess.run(
        [clang(), "-O2", "-shared", "-fPIC", "-o", str(so), str(harness), str(asm)],
        capture_output=True,
        text=True,
        timeout=CHILD_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"clang cannot build the body: {proc.stderr.strip()[:300]}")
    return so


def _child(args: list[str], timeout_s: float) -> dict[str, object]:
    try:
        proc = subprocess.run(
            [sys.executable, "-m", "supersonic.envs.superopt.native", *args],
            capture_output=True,
            text=True,
            timeout=timeout_s,
        )
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout_s:g} s"}
    if proc.returncode != 0:
        return {"error": f"the child died (status {proc.returncode}): {proc.stderr[-200:]}"}
    result: dict[str, object] = json.loads(proc.stdout.strip().splitlines()[-1])
    return result


def run_native(
    body: Sequence[Instr], xs: Sequence[int], ys: Sequence[int], timeout_s: float = CHILD_TIMEOUT_S
) -> NativeResult:
    """The body's 32-bit results on (x, y) pairs, executed on this CPU."""
    with tempfile.TemporaryDirectory(prefix="superopt-") as tmp:
        try:
            so = build(body, Path(tmp))
        except RuntimeError as exc:
            return NativeResult(error=str(exc))
        pairs = [f"{x},{y}" for x, y in zip(xs, ys, strict=True)]
        out = _child([str(so), "run", *pairs], timeout_s)
    if "error" in out:
        return NativeResult(error=str(out["error"]))
    return NativeResult(values=[int(v) for v in out["values"]])  # type: ignore[attr-defined]


def time_native(
    body: Sequence[Instr],
    rounds: int = 7,
    calls: int = 2_000_000,
    timeout_s: float = CHILD_TIMEOUT_S,
) -> NativeResult:
    """Nanoseconds per call (the fastest round), measured in a child process."""
    with tempfile.TemporaryDirectory(prefix="superopt-") as tmp:
        try:
            so = build(body, Path(tmp))
        except RuntimeError as exc:
            return NativeResult(error=str(exc))
        out = _child([str(so), "time", str(rounds), str(calls)], timeout_s)
    if "error" in out:
        return NativeResult(error=str(out["error"]))
    return NativeResult(ns_per_call=float(out["ns"]))  # type: ignore[arg-type]


def _main(argv: list[str]) -> None:
    import ctypes

    import numpy as np

    lib = ctypes.CDLL(argv[0])
    if argv[1] == "run":
        lib.ss_run.restype = ctypes.c_uint32
        lib.ss_run.argtypes = [ctypes.c_uint32, ctypes.c_uint32]
        values = []
        for pair in argv[2:]:
            x, y = (int(v) for v in pair.split(","))
            values.append(int(lib.ss_run(x, y)))
        print(json.dumps({"values": values}))
        return
    rounds, calls = int(argv[2]), int(argv[3])
    rng = np.random.default_rng(0)
    n = 1024
    xs = rng.integers(0, 2**32, n, dtype=np.uint32)
    ys = rng.integers(0, 2**32, n, dtype=np.uint32)
    ptr = ctypes.POINTER(ctypes.c_uint32)
    lib.ss_time.restype = ctypes.c_double
    lib.ss_time.argtypes = [ptr, ptr, ctypes.c_int, ctypes.c_int, ctypes.c_long]
    ns = lib.ss_time(xs.ctypes.data_as(ptr), ys.ctypes.data_as(ptr), n, rounds, calls)
    print(json.dumps({"ns": ns}))


if __name__ == "__main__":
    _main(sys.argv[1:])
