"""clang-14's code for a benchmark function at an optimization level (-O0 is the episode's start;
-O2, -O3 and -Os are baselines).

Compiled with `-fno-asynchronous-unwind-tables` (no CFI noise) and `-masm=intel`, parsed by
`asm.function_body`. Results are kept per process: the same function is compiled once.
"""

from __future__ import annotations

import shutil
import subprocess
from functools import cache

from supersonic.envs.errors import CompileError
from supersonic.envs.superopt.asm import Instr, function_body
from supersonic.envs.superopt.functions import get_function

LEVELS = ("O0", "O2", "O3", "Os")
COMPILE_TIMEOUT_S = 60.0


def clang() -> str:
    for name in ("clang-14", "clang"):
        path = shutil.which(name)
        if path:
            return path
    raise CompileError("clang-14 is not installed: apt-get install clang-14")


@cache
def compiled(name: str, level: str = "O0") -> tuple[Instr, ...]:
    """The body of function `name` as clang compiles it at `level` (O0, O2, O3, Os)."""
    if level not in LEVELS:
        raise ValueError(f"unknown optimization level {level!r}; choose one of {LEVELS}")
    function = get_function(name)
    proc = subprocess.run(
        [
            clang(),
            f"-{level}",
            "-S",
            "-masm=intel",
            "-fno-asynchronous-unwind-tables",
            "-x",
            "c",
            "-",
            "-o",
            "-",
        ],
        input=function.c_source,
        capture_output=True,
        text=True,
        timeout=COMPILE_TIMEOUT_S,
    )
    if proc.returncode != 0:
        raise CompileError(f"clang -{level} failed on {name}: {proc.stderr.strip()[:300]}")
    return function_body(proc.stdout, name)
