"""The code-size metrics SuperSonic reports.

- The CompilerGym leaderboard metric of one program, `(IR_O0 - IR_ours) / max(IR_O0 - IR_Oz, 1)`:
  1.0 matches -Oz, above 1.0 beats it, 0.0 is no better than the unoptimised program.
- `IR_Oz / IR_ours`: above 1.0 means smaller than -Oz.
- Their geometric mean over a dataset. A geomean is only defined for positive values; a program
  on which a method did no better than -O0 scores 0, which would zero the whole mean and hide
  every other program, so values are floored at `GEOMEAN_FLOOR` and `geomean` says how many
  were. The per-program table always shows the raw value.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

GEOMEAN_FLOOR = 1e-3


def leaderboard_metric(ir_o0: int, ir_oz: int, ir_ours: int) -> float:
    """CompilerGym's per-program code-size metric (see the module docstring)."""
    return (ir_o0 - ir_ours) / max(ir_o0 - ir_oz, 1)


def oz_ratio(ir_oz: int, ir_ours: int) -> float:
    """`IR_Oz / IR_ours`: above 1.0 when ours is smaller than -Oz."""
    return ir_oz / max(ir_ours, 1)


@dataclass(frozen=True)
class Geomean:
    value: float
    count: int
    floored: int  # how many values were <= 0 and counted as GEOMEAN_FLOOR


def geomean(values: Iterable[float]) -> Geomean:
    """Geometric mean, with non-positive values floored at GEOMEAN_FLOOR (and counted)."""
    logs = []
    floored = 0
    for v in values:
        if not math.isfinite(v):
            raise ValueError(f"geomean of a non-finite value {v}")
        if v <= GEOMEAN_FLOOR:
            floored += v <= 0
            v = GEOMEAN_FLOOR
        logs.append(math.log(v))
    if not logs:
        return Geomean(float("nan"), 0, 0)
    return Geomean(math.exp(sum(logs) / len(logs)), len(logs), floored)
