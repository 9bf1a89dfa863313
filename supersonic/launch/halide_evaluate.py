"""`supersonic evaluate --task halide-schedule`: every method on every pipeline, one table of
times and speedups over the pipeline's default schedule.

Methods:

    default        the default schedule (all inlined into a serial output; reductions at the
                   root where `pipelines.py` says so): speedup 1 by definition
    random         uniformly random schedules of the env's knobs (--trials measured)
    adams2019, li2018, mullapudi2016, anderson2021
                   Halide's autoschedulers (one schedule each; Anderson2021 targets GPUs and
                   fails on a CPU: the table says so)
    policy:PATH    an exported policy (RUN_DIR/best of a halide-schedule search): its
                   deterministic schedule first, then schedules it proposes (`knob_search`),
                   the best one

Every schedule is compiled, checked against the reference and timed by the same measuring
process (`supersonic.envs.halide.measure`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from supersonic.envs.halide.measure import AUTOSCHEDULERS, MeasureRequest, halide_measurer
from supersonic.envs.halide.pipelines import Program, parse_program
from supersonic.envs.halide.search import autoschedule, geomean, random_search
from supersonic.envs.tvm.measure import Measurer
from supersonic.launch.knob_search import search_with_policy
from supersonic.launch.tvm_evaluate import TvmRow, check_methods, write_results

AUTOSCHEDULER_METHODS = {a.lower(): a for a in AUTOSCHEDULERS}
BASELINES = ("default", "random", *AUTOSCHEDULER_METHODS)
DEFAULT_METHODS = ",".join(BASELINES)
TASK = "halide-schedule"


@dataclass(frozen=True)
class HalideRow(TvmRow):
    """One method's best schedule on one pipeline (the TVM table's row, the same columns)."""


def parse_halide_methods(spec: str) -> list[str]:
    """`default,random,policy:RUN/best` -> the method names, each checked (a policy must load
    and be a halide-schedule policy)."""
    return check_methods(spec, TASK, BASELINES)


def run_method(
    method: str,
    program: Program,
    trials: int,
    default_seconds: float,
    measurer: Measurer,
    seed: int = 0,
) -> HalideRow:
    """One method on one pipeline (`trials` measured schedules for random and a policy)."""
    name = program.program
    if method == "default":
        return HalideRow(name, method, default_seconds, default_seconds, 1, 0, "default")
    if method in AUTOSCHEDULER_METHODS:
        found, error = autoschedule(
            program, AUTOSCHEDULER_METHODS[method], default_seconds, measurer
        )
        schedule = "" if error else f"{AUTOSCHEDULER_METHODS[method]} schedule"
        return HalideRow(
            name, method, default_seconds, found.seconds, 1, found.failures, schedule, error
        )
    if method == "random":
        found = random_search(program, trials, default_seconds, measurer, seed)
    else:
        found = search_with_policy(
            method.split(":", 1)[1], program.program, trials, default_seconds, seed
        )
    return HalideRow(
        name,
        method,
        default_seconds,
        found.seconds,
        found.trials,
        found.failures,
        " ".join(map(str, found.chosen)),
    )


def benchmark_lines(dataset: str, split: str | None) -> list[str]:
    """`supersonic benchmarks --task halide-schedule`: pipeline, size, stages, description."""
    from supersonic.envs.halide.pipelines import DATASETS, resolve_programs

    if dataset not in DATASETS:
        raise ValueError(
            f"unknown dataset {dataset!r} for {TASK}; choose one of {', '.join(DATASETS)}"
        )
    return [
        f"{p.program}\t{p.width}x{p.height}\t{len(p.spec.stages)} stages\t{p.spec.doc}"
        for p in resolve_programs(f"{dataset}:{split or 'train'}")
    ]


def action_lines() -> list[str]:
    """`supersonic actions --task halide-schedule`: the knobs of every built-in pipeline."""
    from supersonic.envs.halide.pipelines import builtin
    from supersonic.envs.halide.schedule import MAX_OPTIONS, knobs_for

    lines = [f"{MAX_OPTIONS} actions: action i picks option i mod n of the knob decided now"]
    for program in builtin():
        lines.append(f"{program.program}:")
        for knob in knobs_for(program):
            lines.append(f"\t{knob.name}\t{' '.join(knob.label(v) for v in knob.options)}")
    return lines


def measure_default(program: Program, measurer: Measurer) -> float:
    """The default schedule's seconds (a failure here is a broken set-up: an error)."""
    default = measurer.measure(MeasureRequest(program.program, None), 300.0)
    if not default.ok or default.seconds is None:
        raise RuntimeError(
            f"cannot measure the default schedule of {program.program}: {default.error}"
        )
    return default.seconds


def evaluate_halide(
    programs: Sequence[str],
    methods: Sequence[str],
    trials: int,
    *,
    seed: int = 0,
    on_result: Callable[[HalideRow], None] | None = None,
) -> list[HalideRow]:
    """Every method on every pipeline, one after another in this process (timings of methods
    running side by side on a small machine would disturb each other)."""
    if trials < 1:
        raise ValueError(f"--trials must be >= 1, got {trials}")
    parsed = [parse_program(p) for p in programs]
    rows: list[HalideRow] = []
    measurer = halide_measurer()
    try:
        for program in parsed:
            default_seconds = measure_default(program, measurer)
            for method in methods:
                row = run_method(method, program, trials, default_seconds, measurer, seed)
                rows.append(row)
                if on_result:
                    on_result(row)
    finally:
        measurer.close()
    return rows


def markdown_table(rows: Sequence[HalideRow], trials: int) -> str:
    """Per pipeline and method: milliseconds, speedup over default; then geomeans per method
    (a failed method counts as 0.001x in its geomean, and its failures column says so)."""
    lines = [
        f"# Halide schedules: {trials} measured trials for random and policies, "
        "one schedule per autoscheduler",
        "",
        "| pipeline | method | default ms | ours ms | speedup | trials | failures | note |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ours = f"{r.seconds * 1e3:.3f}" if r.seconds else "-"
        note = r.note if len(r.note) < 90 else r.note[:87] + "..."
        lines.append(
            f"| {r.program} | {r.method} | {r.default_seconds * 1e3:.3f} | {ours} "
            f"| {r.speedup:.2f} | {r.trials} | {r.failures} | {note} |"
        )
    lines += [
        "",
        "| method | geomean speedup | pipelines | failed |",
        "| --- | ---: | ---: | ---: |",
    ]
    for method in dict.fromkeys(r.method for r in rows):
        mine = [r for r in rows if r.method == method]
        failed = sum(1 for r in mine if not r.seconds)
        speedups = [r.speedup for r in mine]
        lines.append(f"| {method} | {geomean(speedups):.2f} | {len(mine)} | {failed} |")
    return "\n".join(lines) + "\n"


def write_halide_results(rows: Sequence[HalideRow], trials: int, out_dir: Path) -> list[Path]:
    """evaluation.md (this table) and evaluation.json (the rows)."""
    files = write_results(rows, trials, out_dir)
    files[0].write_text(markdown_table(rows, trials))
    return files
