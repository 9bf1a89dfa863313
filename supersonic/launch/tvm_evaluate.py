"""`supersonic evaluate --task tvm-schedule`: every method on every workload, the same number of
measured trials each, one table of times and speedups over the unscheduled program.

Methods:

    default       the unscheduled program as TVM lowers it (speedup 1 by definition)
    handwritten   the rule-based schedule of `search.handwritten` (one trial)
    random        uniformly random schedules of the env's knobs
    metaschedule  TVM's MetaSchedule (evolutionary search with its cost model)
    policy:PATH   an exported policy (RUN_DIR/best of a tvm-schedule search): its deterministic
                  schedule first, then schedules it proposes (`knob_search`), the best one

Every schedule is built, checked against numpy and timed by the same measuring process
(`supersonic.envs.tvm.measure`), and speedups are against one measurement of the unscheduled
program per workload.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

from supersonic.envs.tvm.measure import Measurer, MeasureRequest
from supersonic.envs.tvm.search import SearchResult, geomean, handwritten, random_search
from supersonic.envs.tvm.workloads import Workload, parse_workload
from supersonic.launch.knob_search import search_with_policy

BASELINES = ("default", "handwritten", "random", "metaschedule")
DEFAULT_METHODS = ",".join(BASELINES)


@dataclass(frozen=True)
class TvmRow:
    """One method's best schedule on one workload."""

    program: str
    method: str
    default_seconds: float
    seconds: float | None
    trials: int
    failures: int
    schedule: str  # the knob values, or "metaschedule trace"
    note: str = ""

    @property
    def speedup(self) -> float:
        return self.default_seconds / self.seconds if self.seconds else 0.0


def parse_tvm_methods(spec: str) -> list[str]:
    """`default,random,policy:RUN/best` -> the method names, each checked (a policy must load
    and be a tvm-schedule policy)."""
    return check_methods(spec, "tvm-schedule", BASELINES)


def check_methods(spec: str, task: str, baselines: Sequence[str]) -> list[str]:
    """The comma-separated methods of `spec` for a schedule task: each one of `baselines` or
    `policy:PATH` of an exported policy of `task`, none twice (one-line ValueErrors)."""
    from supersonic.actors.exported import load_policy

    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(f"no methods given: use e.g. {','.join(baselines)},policy:RUN_DIR/best")
    for name in names:
        if name.startswith("policy:"):
            try:
                policy = load_policy(name.split(":", 1)[1])
            except FileNotFoundError as exc:
                raise ValueError(str(exc)) from None
            if policy.task.name != task:
                raise ValueError(f"{name}: was trained for task {policy.task.name}, not {task}")
        elif name not in baselines:
            raise ValueError(f"unknown method {name!r}: choose policy:PATH, {', '.join(baselines)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a method is named twice in {spec}")
    return names


def policy_search(
    path: str, workload: Workload, trials: int, default_seconds: float, seed: int = 0
) -> SearchResult:
    """The exported policy's guided search (`knob_search`) with `trials` measured schedules."""
    return search_with_policy(path, workload.program, trials, default_seconds, seed)


def run_method(
    method: str,
    workload: Workload,
    trials: int,
    default_seconds: float,
    measurer: Measurer,
    seed: int = 0,
    population: int = 512,
) -> TvmRow:
    """One method on one workload with `trials` measured schedules (`population`: the size of
    MetaSchedule's evolutionary population; 512 is its own default)."""
    program = workload.program
    if method == "default":
        return TvmRow(program, method, default_seconds, default_seconds, 1, 0, "unscheduled")
    if method == "handwritten":
        chosen = handwritten(workload)
        m = measurer.measure(MeasureRequest(program, chosen))
        return TvmRow(
            program,
            method,
            default_seconds,
            m.seconds,
            1,
            int(not m.ok),
            _knobs(chosen),
            m.error or "",
        )
    if method == "metaschedule":
        from supersonic.envs.tvm.metaschedule import tune

        tuned = tune(workload, trials, population=population, measurer=measurer)
        if tuned.trace is None:
            return TvmRow(
                program, method, default_seconds, None, trials, trials, "", tuned.error or ""
            )
        m = measurer.measure(MeasureRequest(program, None, trace=tuned.trace))
        return TvmRow(
            program,
            method,
            default_seconds,
            m.seconds,
            trials,
            int(not m.ok),
            "metaschedule trace",
            m.error or f"tuning took {tuned.seconds:.0f} s",
        )
    if method == "random":
        found = random_search(workload, trials, default_seconds, measurer, seed)
    else:
        found = policy_search(method.split(":", 1)[1], workload, trials, default_seconds, seed)
    return TvmRow(
        program,
        method,
        default_seconds,
        found.seconds,
        found.trials,
        found.failures,
        _knobs(found.chosen),
    )


def _knobs(chosen: Sequence[int]) -> str:
    return " ".join(map(str, chosen))


def evaluate_tvm(
    programs: Sequence[str],
    methods: Sequence[str],
    trials: int,
    *,
    seed: int = 0,
    on_result: Callable[[TvmRow], None] | None = None,
) -> list[TvmRow]:
    """Every method on every workload (in this process, one after another: timings of
    methods running side by side on a small machine would disturb each other)."""
    if trials < 1:
        raise ValueError(f"--trials must be >= 1, got {trials}")
    workloads = [parse_workload(p) for p in programs]
    rows: list[TvmRow] = []
    measurer = Measurer()
    try:
        for workload in workloads:
            default = measurer.measure(MeasureRequest(workload.program, None), 300.0)
            if not default.ok or default.seconds is None:
                raise RuntimeError(
                    f"cannot measure the unscheduled {workload.program}: {default.error}"
                )
            for method in methods:
                row = run_method(method, workload, trials, default.seconds, measurer, seed)
                rows.append(row)
                if on_result:
                    on_result(row)
    finally:
        measurer.close()
    return rows


def markdown_table(rows: Sequence[TvmRow], trials: int) -> str:
    """Per workload and method: milliseconds, speedup over default; then geomeans per method."""
    lines = [
        f"# TVM schedules: {trials} measured trials per method and workload",
        "",
        "| workload | method | default ms | ours ms | speedup | trials | failures | note |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ours = f"{r.seconds * 1e3:.4f}" if r.seconds else "-"
        lines.append(
            f"| {r.program} | {r.method} | {r.default_seconds * 1e3:.4f} | {ours} "
            f"| {r.speedup:.2f} | {r.trials} | {r.failures} | {r.note} |"
        )
    lines += ["", "| method | geomean speedup | workloads |", "| --- | ---: | ---: |"]
    for method in dict.fromkeys(r.method for r in rows):
        mine = [r.speedup for r in rows if r.method == method]
        lines.append(f"| {method} | {geomean(mine):.2f} | {len(mine)} |")
    return "\n".join(lines) + "\n"


def write_results(rows: Sequence[TvmRow], trials: int, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "evaluation.md"
    md.write_text(markdown_table(rows, trials))
    js = out_dir / "evaluation.json"
    js.write_text(json.dumps([{**asdict(r), "speedup": r.speedup} for r in rows], indent=1))
    return [md, js]
