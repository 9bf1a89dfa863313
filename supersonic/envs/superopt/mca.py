"""llvm-mca's static estimate of a body's cost on a named CPU: the performance term of the cost.

llvm-mca simulates the body repeated `ITERATIONS` times on its model of the CPU's pipeline;
`cycles` is Total Cycles / Iterations (what one call costs in a stream of calls, the
dependencies through the stack slots of -O0 code included) and `rthroughput` its Block
RThroughput (the bound from the ports alone). The CPU is `icelake-server` by default: LLVM 14
reads this machine's CPU as an Ice Lake (`llvm-mca --version` says icelake-client, whose
scheduling model is the same). The `ret` is left out: it is the same in every rewrite.

One llvm-mca process costs 10-30 ms, so estimates are cached per body text in the process.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from supersonic.envs.superopt.asm import Instr, render

DEFAULT_CPU = "icelake-server"
ITERATIONS = 100
MCA_TIMEOUT_S = 30.0


@dataclass(frozen=True)
class Estimate:
    cycles: float  # Total Cycles / Iterations
    rthroughput: float  # Block RThroughput


def llvm_mca() -> str:
    for name in ("llvm-mca-14", "llvm-mca"):
        path = shutil.which(name)
        if path:
            return path
    raise FileNotFoundError("llvm-mca is not installed: apt-get install llvm-14")


@lru_cache(maxsize=65536)
def _estimate_text(text: str, cpu: str) -> Estimate | None:
    try:
        proc = subprocess.run(
            [
                llvm_mca(),
                "-mtriple=x86_64-unknown-linux-gnu",
                f"-mcpu={cpu}",
                f"-iterations={ITERATIONS}",
                "-",
            ],
            input=text,
            capture_output=True,
            text=True,
            timeout=MCA_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        return None
    total = re.search(r"^Total Cycles:\s+(\d+)", proc.stdout, re.MULTILINE)
    iterations = re.search(r"^Iterations:\s+(\d+)", proc.stdout, re.MULTILINE)
    rthroughput = re.search(r"^Block RThroughput:\s+([\d.]+)", proc.stdout, re.MULTILINE)
    if proc.returncode != 0 or not (total and iterations and rthroughput):
        return None
    return Estimate(
        int(total.group(1)) / max(1, int(iterations.group(1))), float(rthroughput.group(1))
    )


def estimate(body: Sequence[Instr], cpu: str = DEFAULT_CPU) -> Estimate | None:
    """llvm-mca's estimate for `body`, None if llvm-mca cannot read it. An empty body costs
    nothing (llvm-mca refuses an empty input)."""
    if not body:
        return Estimate(0.0, 0.0)
    return _estimate_text(render(tuple(body), ret=False), cpu)
