"""Tabulate the baseline searches (`supersonic baseline`); the jobs themselves run in
`supersonic.envs.llvm.baseline_jobs`."""

from __future__ import annotations

from collections.abc import Sequence

from supersonic.envs.llvm.baseline_jobs import METHODS, BaselineJob, run_job, run_jobs
from supersonic.envs.llvm.metrics import geomean
from supersonic.envs.llvm.search import SearchResult
from supersonic.launch.tables import format_table

__all__ = ["METHODS", "BaselineJob", "results_table", "run_job", "run_jobs"]


def results_table(results: Sequence[SearchResult]) -> str:
    """One row per (program, method), then the geomeans of each method."""
    header = [
        "program",
        "method",
        "IR -O0",
        "IR -O3",
        "IR -Oz",
        "IR ours",
        "metric",
        "Oz/ours",
        "output",
        "steps",
        "seconds",
    ]
    rows: list[list[object]] = []
    for r in results:
        b = r.baselines
        rows.append(
            [
                r.benchmark.rsplit("/", 1)[-1],
                r.method,
                b.ir_o0,
                b.ir_o3,
                b.ir_oz,
                r.ir_instructions,
                r.metric,
                r.oz_ratio,
                r.validation.label,
                r.env_steps,
                f"{r.seconds:.1f}",
            ]
        )
    for method in dict.fromkeys(r.method for r in results):
        mine = [r for r in results if r.method == method]
        metric = geomean(r.metric for r in mine)
        ratio = geomean(r.oz_ratio for r in mine)
        note = f" ({metric.floored} at 0)" if metric.floored else ""
        rows.append(
            [
                f"geomean of {len(mine)}{note}",
                method,
                "",
                "",
                "",
                "",
                metric.value,
                ratio.value,
                "",
                sum(r.env_steps for r in mine),
                f"{sum(r.seconds for r in mine):.1f}",
            ]
        )
    return format_table(header, rows)
