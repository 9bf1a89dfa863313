"""Deploy a search's winner: optimize new programs with it, and compare it with the baselines.

`optimize_program` (`supersonic optimize`) runs the policy-guided search
(`supersonic.actors.guided`) on one program within a time budget and writes a directory:

    OUT/optimized.bc    the optimized module (LLVM 10 bitcode; LLVM 14's tools read it)
    OUT/passes.txt      the pass sequence that makes it from the unoptimised module, one line
    OUT/summary.json    IR instructions and object .text bytes at -O0, -O3, -Oz and ours, the
                        leaderboard metric, IR_Oz / IR_ours, the validation verdict, beats_o0,
                        env steps and seconds (see `optimize_program`)

`evaluate_methods` (`supersonic evaluate`) runs every method on every program with the same
time budget, each (program, method) pair as one job in a pool of worker processes, and writes
`evaluation.csv` and `evaluation.md`: one row per program and method, then the geomeans per
method of the leaderboard metric and of IR_Oz / IR_ours, and the wall time. Methods:

    policy:PATH   the guided search with the exported policy at PATH (RUN_DIR/best) and its
                  sequence library, if it has one
    policy-only:PATH  the same without the library (what the policy's own guidance is worth)
    random        random search (`search.random_search`, episodes of `episode_length` passes)
    greedy        greedy search (`search.greedy_search`)
    oz            LLVM's -Oz as measured by the env (metric 1.0 by definition; not re-validated)

A program on which no method makes the module smaller than at -O0 is flagged in both tables.
"""

from __future__ import annotations

import csv
import json
import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from supersonic.envs.errors import ProgramNotFoundError
from supersonic.envs.llvm.benchmarks import (
    SPLITS,
    BenchmarkSpec,
    directory_dataset,
    resolve_benchmark,
    resolve_dataset,
)
from supersonic.envs.llvm.bitcode import DEFAULT_MAX_INSTRUCTIONS
from supersonic.envs.llvm.metrics import geomean, leaderboard_metric, oz_ratio
from supersonic.envs.llvm.search import Budget

BITCODE_FILE = "optimized.bc"
PASSES_FILE = "passes.txt"
SUMMARY_FILE = "summary.json"
CSV_FILE = "evaluation.csv"
MARKDOWN_FILE = "evaluation.md"
BASELINE_METHODS = ("random", "greedy", "oz")
DEFAULT_EPISODE_LENGTH = 50  # random search's episodes; greedy's longest sequence
NO_IMPROVEMENT = "no method beats -O0"


def _check_seconds(seconds: float) -> None:
    if not seconds > 0:
        raise ValueError(f"the budget must be > 0 seconds, got {seconds:g}")


# ------------------------------------------------------------------------------- optimize
def optimize_program(
    policy: str | Path,
    program: str | Path,
    seconds: float,
    out: Path,
    *,
    max_steps: int | None = None,
    max_depth: int | None = None,
    check: bool = True,
    seed: int = 0,
    max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS,
) -> dict[str, Any]:
    """Optimize `program` (.c, .ll, .bc, a built-in name or URI) with the exported `policy`
    within `seconds` (and `max_steps` env steps, if given); write OUT (see the module
    docstring) and return the summary that OUT/summary.json holds.

    ValueError / FileNotFoundError (one line) for a bad budget or policy, the env's errors for a
    program that cannot be used.
    """
    from supersonic.actors.guided import (
        DEFAULT_MAX_DEPTH,
        guided_search,
        load_guide,
        make_search_env,
    )

    _check_seconds(seconds)
    started = time.monotonic()
    guide = load_guide(policy)
    env = make_search_env(guide, program, max_instructions=max_instructions)
    try:
        result = guided_search(
            env,
            guide,
            Budget(steps=max_steps, seconds=seconds),
            max_depth=max_depth or DEFAULT_MAX_DEPTH,
            seed=seed,
            check=check,
        )
        bitcode = env.bitcode()
        text_ours = env.object_text_size()
    finally:
        env.close()
    b = result.baselines
    summary: dict[str, Any] = {
        "program": result.benchmark,
        "policy": str(guide.path),
        "budget_seconds": seconds,
        "ir_instructions": {
            "O0": b.ir_o0,
            "O3": b.ir_o3,
            "Oz": b.ir_oz,
            "ours": result.ir_instructions,
        },
        "text_bytes": {"O0": b.text_o0, "O3": b.text_o3, "Oz": b.text_oz, "ours": text_ours},
        "metric": result.metric,
        "oz_ratio": result.oz_ratio,
        "beats_o0": result.ir_instructions < b.ir_o0,
        "beats_oz": result.ir_instructions < b.ir_oz,
        "passes": result.passes,
        "validation": {"verdict": result.validation.label, "reason": result.validation.reason},
        "rejected": result.rejected,
        "banned_passes": list(result.banned),
        "validations": result.validations,
        "service_failures": result.service_failures,
        "policy_episode_ir_instructions": result.policy_ir,
        "library_sequences": result.sequences_tried,
        "library_best_ir_instructions": result.sequence_ir or None,
        "env_steps": result.env_steps,
        "forks": result.forks,
        "rollouts": result.rollouts,
        "tree_nodes": result.tree_nodes,
        "stopped": result.stopped,
        "search_seconds": round(result.seconds, 3),
        "total_seconds": round(time.monotonic() - started, 3),
        "files": {"bitcode": BITCODE_FILE, "passes": PASSES_FILE},
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    (out / BITCODE_FILE).write_bytes(bitcode)
    (out / PASSES_FILE).write_text(" ".join(result.passes) + "\n")
    (out / SUMMARY_FILE).write_text(json.dumps(summary, indent=2) + "\n")
    return summary


def summary_lines(summary: dict[str, Any]) -> list[str]:
    """What `supersonic optimize` prints about a summary."""
    ir, text = summary["ir_instructions"], summary["text_bytes"]
    lines = [
        f"{summary['program']}: {summary['env_steps']} env steps in "
        f"{summary['search_seconds']:.1f} s ({summary['stopped']})",
        f"  IR instructions  -O0 {ir['O0']:>7}  -Oz {ir['Oz']:>7}  ours {ir['ours']:>7}",
        f"  .text bytes      -O0 {text['O0']:>7}  -Oz {text['Oz']:>7}  ours {text['ours']:>7}",
        f"  metric {summary['metric']:.3f} (1.0 = -Oz), IR_Oz / IR_ours "
        f"{summary['oz_ratio']:.3f}, output {summary['validation']['verdict']}: "
        f"{summary['validation']['reason']}",
        f"  passes: {' '.join(summary['passes']) or '(none)'}",
    ]
    if not summary["beats_o0"]:
        lines.append(
            "  no pass sequence found beats -O0 on this program: the output is the unoptimised "
            "module"
        )
    return lines


# ------------------------------------------------------------------------------- evaluate
def resolve_programs_arg(spec: str) -> list[BenchmarkSpec]:
    """Programs from `--programs`: a directory (every .c/.ll/.bc in it), a program file, a
    built-in program's name or a URI, DATASET:SPLIT (e.g. builtin:test), a dataset (builtin,
    llvm-stress:0-9, ...), or several of these separated by commas."""
    programs: list[BenchmarkSpec] = []
    for part in (p.strip() for p in spec.split(",")):
        if not part:
            continue
        path = Path(part).expanduser()
        if path.is_dir():
            programs += directory_dataset(path).benchmarks
        elif path.is_file():
            programs.append(resolve_benchmark(path))
        elif "://" in part:
            programs.append(resolve_benchmark(part))
        else:
            dataset, sep, split = part.rpartition(":")
            if sep and split in SPLITS:
                programs += resolve_dataset(dataset).split(split)
                continue
            try:
                programs += resolve_dataset(part).benchmarks
            except ProgramNotFoundError:
                programs.append(resolve_benchmark(part))  # a built-in program's name
    unique = list({p.uri: p for p in programs}.values())
    if not unique:
        raise ValueError(f"--programs {spec!r} names no programs")
    return unique


@dataclass(frozen=True)
class Method:
    """One method of an evaluation: its kind, the policy path for kind "policy", its label."""

    kind: str  # "policy", "random", "greedy", "oz"
    label: str
    policy: str | None = None
    library: bool = True  # for kind "policy": replay the export's sequence library first


def parse_methods(spec: str | Sequence[str]) -> list[Method]:
    """`policy:PATH,random,greedy,oz` (or a list of such items) -> methods, each checked: a
    policy must load and be an LLVM code-size policy."""
    from supersonic.actors.guided import load_guide

    items = [spec] if isinstance(spec, str) else list(spec)
    names = [n.strip() for item in items for n in item.split(",") if n.strip()]
    if not names:
        raise ValueError("no methods given: use e.g. policy:RUN_DIR/best,random,greedy,oz")
    kinds = [n.split(":", 1)[0] for n in names]
    methods: list[Method] = []
    for name, kind in zip(names, kinds, strict=True):
        if kind in ("policy", "policy-only") and ":" in name:
            path = name.split(":", 1)[1]
            load_guide(path)  # fail here, once, rather than in every worker
            label = kind if kinds.count(kind) == 1 else name  # several: labelled by their path
            methods.append(Method("policy", label, path, library=kind == "policy"))
        elif name in BASELINE_METHODS:
            methods.append(Method(name, name))
        else:
            raise ValueError(
                f"unknown method {name!r}: choose policy:PATH, policy-only:PATH, "
                f"{', '.join(BASELINE_METHODS)}"
            )
    labels = [m.label for m in methods]
    if len(set(labels)) != len(labels):
        raise ValueError(f"a method is named twice in {', '.join(names)}")
    return methods


@dataclass(frozen=True)
class EvaluationJob:
    benchmark: BenchmarkSpec
    method: Method
    seconds: float
    seed: int = 0
    check: bool = True
    episode_length: int = DEFAULT_EPISODE_LENGTH
    max_steps: int | None = None
    max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS


@dataclass(frozen=True)
class EvaluationRow:
    """One method's result on one program."""

    program: str  # short name
    benchmark: str  # URI
    method: str  # label
    ir_o0: int
    ir_oz: int
    ir_ours: int
    text_o0: int
    text_oz: int
    text_ours: int
    validation: str  # valid, INVALID, unchecked
    env_steps: int
    seconds: float
    passes: tuple[str, ...] = ()
    note: str = ""
    total_seconds: float = 0.0  # the whole job: env start-up, search, replay, validation

    @property
    def metric(self) -> float:
        return leaderboard_metric(self.ir_o0, self.ir_oz, self.ir_ours)

    @property
    def oz_ratio(self) -> float:
        return oz_ratio(self.ir_oz, self.ir_ours)

    @property
    def beats_o0(self) -> bool:
        return self.ir_ours < self.ir_o0


def run_evaluation_job(job: EvaluationJob) -> EvaluationRow:
    """Run one method on one program (in the calling process)."""
    started = time.monotonic()
    row = _run_method(job)
    return replace(row, total_seconds=time.monotonic() - started)


def _run_method(job: EvaluationJob) -> EvaluationRow:
    from supersonic.actors.guided import guided_search, load_guide, make_search_env
    from supersonic.envs.llvm.env import LlvmCodeSizeEnv
    from supersonic.envs.llvm.search import greedy_search, random_search, replay

    method = job.method
    budget = Budget(steps=job.max_steps, seconds=job.seconds)
    if method.kind == "policy":
        assert method.policy is not None
        guide = load_guide(method.policy)
        env = make_search_env(guide, job.benchmark, max_instructions=job.max_instructions)
    else:
        env = LlvmCodeSizeEnv(
            job.benchmark,
            max_episode_steps=job.episode_length,
            max_instructions=job.max_instructions,
        )
    try:
        # Start the service and measure the baselines before any budget starts to run.
        env.reset()
        if method.kind == "oz":
            b = env.baselines
            assert b is not None
            return EvaluationRow(
                job.benchmark.name,
                env.benchmark.uri,
                method.label,
                b.ir_o0,
                b.ir_oz,
                b.ir_oz,
                b.text_o0,
                b.text_oz,
                b.text_oz,
                "unchecked",
                0,
                0.0,  # no search: the env measured -Oz with its baselines
                ("-Oz",),
            )
        if method.kind == "policy":
            result: Any = guided_search(
                env,
                guide,
                budget,
                seed=job.seed,
                check=job.check,
                sequences=None if method.library else (),
            )
        elif method.kind == "random":
            result = random_search(env, budget, seed=job.seed, check=job.check)
        elif method.kind == "greedy":
            result = greedy_search(env, budget, check=job.check)
        else:
            raise ValueError(f"unknown method {method.kind!r}")
        # The searches leave the env at their result's module; replay only if one did not.
        if env.actions != list(result.actions) and replay(env, result.actions) is None:
            raise RuntimeError(f"{result.benchmark}: replaying {method.label}'s result failed")
        b = result.baselines
        note = ""
        if getattr(result, "service_failures", 0):
            note = f"{result.service_failures} service failures (stopped: {result.stopped})"
        return EvaluationRow(
            job.benchmark.name,
            result.benchmark,
            method.label,
            b.ir_o0,
            b.ir_oz,
            result.ir_instructions,
            b.text_o0,
            b.text_oz,
            env.object_text_size(),
            result.validation.label,
            result.env_steps,
            result.seconds,
            tuple(result.passes),
            note,
        )
    finally:
        env.close()


def run_evaluation_jobs(
    jobs: Sequence[EvaluationJob],
    workers: int = 1,
    on_result: Callable[[EvaluationRow], None] | None = None,
) -> list[EvaluationRow]:
    """Run every job (in `workers` spawned processes when > 1); rows in the order of `jobs`."""
    results: dict[int, EvaluationRow] = {}
    if workers <= 1:
        for i, job in enumerate(jobs):
            results[i] = run_evaluation_job(job)
            if on_result:
                on_result(results[i])
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(run_evaluation_job, job): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_result:
                    on_result(results[futures[future]])
    return [results[i] for i in range(len(jobs))]


@dataclass(frozen=True)
class MethodSummary:
    method: str
    programs: int
    metric: float  # geomean of the leaderboard metric
    oz_ratio: float  # geomean of IR_Oz / IR_ours
    floored: int  # programs whose metric was <= 0 (counted at the geomean's floor)
    beats_o0: int
    env_steps: int
    seconds: float  # search time, all programs
    total_seconds: float  # job time, all programs (start-up, validation included)


@dataclass
class Evaluation:
    rows: list[EvaluationRow]
    methods: list[MethodSummary]
    no_improvement: list[str]  # programs on which no method beats -O0
    seconds_budget: float
    wall_seconds: float
    workers: int
    out_dir: Path | None = None
    files: list[Path] = field(default_factory=list)

    def method(self, label: str) -> MethodSummary:
        for summary in self.methods:
            if summary.method == label:
                return summary
        raise KeyError(label)


def summarize(rows: Sequence[EvaluationRow]) -> tuple[list[MethodSummary], list[str]]:
    """The per-method geomeans, and the programs on which no method beats -O0."""
    summaries = []
    for label in dict.fromkeys(r.method for r in rows):
        mine = [r for r in rows if r.method == label]
        metric = geomean(r.metric for r in mine)
        summaries.append(
            MethodSummary(
                label,
                len(mine),
                metric.value,
                geomean(r.oz_ratio for r in mine).value,
                metric.floored,
                sum(r.beats_o0 for r in mine),
                sum(r.env_steps for r in mine),
                sum(r.seconds for r in mine),
                sum(r.total_seconds for r in mine),
            )
        )
    programs = dict.fromkeys(r.benchmark for r in rows)
    stuck = [p for p in programs if not any(r.beats_o0 for r in rows if r.benchmark == p)]
    return summaries, stuck


def evaluate_methods(
    programs: Sequence[BenchmarkSpec],
    methods: Sequence[Method],
    seconds: float,
    *,
    jobs: int = 1,
    out_dir: Path | None = None,
    seed: int = 0,
    check: bool = True,
    episode_length: int = DEFAULT_EPISODE_LENGTH,
    max_steps: int | None = None,
    max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS,
    on_result: Callable[[EvaluationRow], None] | None = None,
) -> Evaluation:
    """Every method on every program with a budget of `seconds` each, in `jobs` processes; the
    tables go to `out_dir` when given (see the module docstring)."""
    _check_seconds(seconds)
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    if not programs or not methods:
        raise ValueError("an evaluation needs at least one program and one method")
    work = [
        EvaluationJob(
            program, method, seconds, seed, check, episode_length, max_steps, max_instructions
        )
        for program in programs
        for method in methods
    ]
    workers = min(jobs, len(work))
    started = time.monotonic()
    rows = run_evaluation_jobs(work, workers, on_result)
    wall = time.monotonic() - started
    summaries, stuck = summarize(rows)
    rows = [r if r.benchmark not in stuck else _with_note(r, NO_IMPROVEMENT) for r in rows]
    evaluation = Evaluation(rows, summaries, stuck, seconds, wall, workers, out_dir)
    if out_dir is not None:
        out_dir.mkdir(parents=True, exist_ok=True)
        evaluation.files = [
            write_csv(evaluation, out_dir / CSV_FILE),
            write_markdown(evaluation, out_dir / MARKDOWN_FILE),
        ]
    return evaluation


def _with_note(row: EvaluationRow, note: str) -> EvaluationRow:
    return replace(row, note=f"{row.note}; {note}" if row.note else note)


CSV_HEADER = (
    "program",
    "method",
    "ir_o0",
    "ir_oz",
    "ir_ours",
    "text_o0",
    "text_oz",
    "text_ours",
    "metric",
    "oz_ratio",
    "beats_o0",
    "output",
    "env_steps",
    "seconds",
    "total_seconds",
    "passes",
    "note",
    "benchmark",
)


def write_csv(evaluation: Evaluation, path: Path) -> Path:
    """One row per program and method, then one `geomean` row per method, then the wall time."""
    with path.open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CSV_HEADER)
        for r in evaluation.rows:
            writer.writerow(
                [
                    r.program,
                    r.method,
                    r.ir_o0,
                    r.ir_oz,
                    r.ir_ours,
                    r.text_o0,
                    r.text_oz,
                    r.text_ours,
                    f"{r.metric:.6f}",
                    f"{r.oz_ratio:.6f}",
                    int(r.beats_o0),
                    r.validation,
                    r.env_steps,
                    f"{r.seconds:.3f}",
                    f"{r.total_seconds:.3f}",
                    " ".join(r.passes),
                    r.note,
                    r.benchmark,
                ]
            )
        for m in evaluation.methods:
            note = f"{m.floored} programs at 0 counted as 0.001" if m.floored else ""
            writer.writerow(
                [
                    f"geomean of {m.programs}",
                    m.method,
                    *[""] * 6,
                    f"{m.metric:.6f}",
                    f"{m.oz_ratio:.6f}",
                    m.beats_o0,
                    "",
                    m.env_steps,
                    f"{m.seconds:.3f}",
                    f"{m.total_seconds:.3f}",
                    "",
                    note,
                    "",
                ]
            )
        writer.writerow(["wall time", "", *[""] * 12, f"{evaluation.wall_seconds:.3f}", "", "", ""])
    return path


def markdown(evaluation: Evaluation) -> str:
    """The evaluation as markdown: per-program rows, the geomeans, the wall time."""
    lines = [
        f"# Evaluation: {len(evaluation.methods)} methods on "
        f"{len({r.benchmark for r in evaluation.rows})} programs, "
        f"{evaluation.seconds_budget:g} s each",
        "",
        "| program | method | IR -O0 | IR -Oz | IR ours | .text -O0 | .text -Oz | .text ours "
        "| metric | Oz/ours | output | steps | search s | total s | note |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | ---: | ---: "
        "| ---: | --- |",
    ]
    for r in evaluation.rows:
        lines.append(
            f"| {r.program} | {r.method} | {r.ir_o0} | {r.ir_oz} | {r.ir_ours} | {r.text_o0} "
            f"| {r.text_oz} | {r.text_ours} | {r.metric:.3f} | {r.oz_ratio:.3f} "
            f"| {r.validation} | {r.env_steps} | {r.seconds:.1f} | {r.total_seconds:.1f} "
            f"| {r.note} |"
        )
    lines += [
        "",
        "| method | programs | geomean metric | geomean IR_Oz / IR_ours | beats -O0 | env steps "
        "| search s | total s |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for m in evaluation.methods:
        floored = f" ({m.floored} at 0)" if m.floored else ""
        lines.append(
            f"| {m.method} | {m.programs} | {m.metric:.3f}{floored} | {m.oz_ratio:.3f} "
            f"| {m.beats_o0}/{m.programs} | {m.env_steps} | {m.seconds:.1f} "
            f"| {m.total_seconds:.1f} |"
        )
    lines += [
        "",
        f"Wall time: {evaluation.wall_seconds:.1f} s with {evaluation.workers} worker processes.",
    ]
    if evaluation.no_improvement:
        names = ", ".join(u.rsplit("/", 1)[-1] for u in evaluation.no_improvement)
        lines.append(f"Programs where {NO_IMPROVEMENT}: {names}.")
    return "\n".join(lines) + "\n"


def write_markdown(evaluation: Evaluation, path: Path) -> Path:
    path.write_text(markdown(evaluation))
    return path
