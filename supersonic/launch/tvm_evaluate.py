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
(`supersonic.envs.tvm.measure`).

The figures are not the searches' own measurements. On this kind of machine (a 2-core VM) the
same program measures up to 1.5x slower for a while and then fast again (the unscheduled
depthwise convolution, ten measurements in a row: 0.120-0.177 ms; more repeats per measurement
do not help, the slow phases last seconds), so a method's figure depended on when it ran, and
the best of 16 noisy trials is biased fast (the winner's curse) where MetaSchedule's best was
measured once more. So when every method has searched a workload, `remeasure` times the
unscheduled program and each method's best schedule `REMEASURE_ROUNDS` times, round-robin, and
the table reports the medians: every method sees the same phases, and none keeps a lucky
draw. `note` keeps what the search itself measured.
"""

from __future__ import annotations

import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from supersonic.envs.tvm.measure import Measurer, MeasureRequest
from supersonic.envs.tvm.search import SearchResult, geomean, handwritten, random_search
from supersonic.envs.tvm.workloads import Workload, parse_workload
from supersonic.launch.knob_search import search_with_policy

BASELINES = ("default", "handwritten", "random", "metaschedule")
REMEASURE_ROUNDS = 5
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
    # What measures the best schedule again (`remeasure`); not part of the results written.
    request: MeasureRequest | None = field(default=None, repr=False, compare=False)

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
        return TvmRow(
            program,
            method,
            default_seconds,
            default_seconds,
            1,
            0,
            "unscheduled",
            request=MeasureRequest(program, None),
        )
    if method == "handwritten":
        chosen = handwritten(workload)
        request = MeasureRequest(program, chosen)
        m = measurer.measure(request)
        return TvmRow(
            program,
            method,
            default_seconds,
            m.seconds,
            1,
            int(not m.ok),
            _knobs(chosen),
            m.error or "",
            request if m.ok else None,
        )
    if method == "metaschedule":
        from supersonic.envs.tvm.metaschedule import tune

        tuned = tune(workload, trials, population=population, measurer=measurer)
        if tuned.trace is None:
            return TvmRow(
                program, method, default_seconds, None, trials, trials, "", tuned.error or ""
            )
        request = MeasureRequest(program, None, trace=tuned.trace)
        m = measurer.measure(request)
        return TvmRow(
            program,
            method,
            default_seconds,
            m.seconds,
            trials,
            int(not m.ok),
            "metaschedule trace",
            m.error or f"tuning took {tuned.seconds:.0f} s",
            request if m.ok else None,
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
        request=MeasureRequest(program, found.chosen) if found.seconds else None,
    )


def remeasure(rows: Sequence[TvmRow], measurer: Measurer, rounds: int) -> list[TvmRow]:
    """`rows` (one workload's methods, the unscheduled program's among them or not) with the
    unscheduled program and every best schedule measured `rounds` times round-robin: seconds
    and default_seconds become the medians (see the module docstring). A row whose schedule
    fails every time keeps no seconds, and says so."""
    if rounds < 1:
        return list(rows)
    programs = {r.program for r in rows}
    if len(programs) != 1:
        raise ValueError(f"remeasure takes one workload's rows, got {sorted(programs)}")
    default = MeasureRequest(rows[0].program, None)
    times: dict[int, list[float]] = {i: [] for i, r in enumerate(rows) if r.request}
    default_times: list[float] = []
    for _ in range(rounds):
        m = measurer.measure(default, 300.0)
        if m.seconds is not None:
            default_times.append(m.seconds)
        for i in times:
            request = rows[i].request
            assert request is not None
            if _unscheduled(request):
                continue  # the default row: timed above
            m = measurer.measure(request)
            if m.seconds is not None:
                times[i].append(m.seconds)
    if not default_times:
        raise RuntimeError(f"cannot measure the unscheduled {default.program} again")
    default_s = statistics.median(default_times)
    out = []
    for i, row in enumerate(rows):
        searched = f"in the search {row.seconds * 1e3:.4f} ms" if row.seconds else ""
        note = "; ".join(n for n in (row.note, searched) if n)
        if row.request is not None and _unscheduled(row.request):
            out.append(replace(row, seconds=default_s, default_seconds=default_s))
        elif times.get(i):
            seconds = statistics.median(times[i])
            out.append(replace(row, seconds=seconds, default_seconds=default_s, note=note))
        elif i in times:
            note = "; ".join(n for n in (note, "failed when measured again") if n)
            out.append(replace(row, seconds=None, default_seconds=default_s, note=note))
        else:
            out.append(replace(row, default_seconds=default_s))
    return out


def _unscheduled(request: MeasureRequest) -> bool:
    """Whether `request` measures the unscheduled program (no knobs, trace or module)."""
    return request.chosen is None and request.trace is None and request.module is None


def _knobs(chosen: Sequence[int]) -> str:
    return " ".join(map(str, chosen))


def evaluate_tvm(
    programs: Sequence[str],
    methods: Sequence[str],
    trials: int,
    *,
    seed: int = 0,
    on_result: Callable[[TvmRow], None] | None = None,
    rounds: int = REMEASURE_ROUNDS,
) -> list[TvmRow]:
    """Every method on every workload (in this process, one after another: timings of
    methods running side by side on a small machine would disturb each other), then each
    workload's best schedules measured again `rounds` times (`remeasure`)."""
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
            found = [
                run_method(method, workload, trials, default.seconds, measurer, seed)
                for method in methods
            ]
            for row in remeasure(found, measurer, rounds):
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
    records = [{**asdict(r), "speedup": r.speedup} for r in rows]
    for record in records:
        record.pop("request", None)
    js.write_text(json.dumps(records, indent=1))
    return [md, js]
