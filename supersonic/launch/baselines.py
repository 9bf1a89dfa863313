"""Run the baseline searches over many programs, in parallel processes, and tabulate them.

Each (program, method) pair runs in its own worker process with its own env and CompilerGym
service, so `jobs` workers use `jobs` cores; results come back as `SearchResult`s.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from supersonic.envs.llvm.benchmarks import BenchmarkSpec
from supersonic.envs.llvm.bitcode import DEFAULT_MAX_INSTRUCTIONS
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.metrics import geomean
from supersonic.envs.llvm.search import Budget, SearchResult, greedy_search, random_search
from supersonic.launch.tables import format_table

METHODS = ("random", "greedy")


@dataclass(frozen=True)
class BaselineJob:
    benchmark: BenchmarkSpec
    method: str
    budget: Budget
    seed: int = 0
    check: bool = True
    episode_length: int = 50
    max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS


def run_job(job: BaselineJob) -> SearchResult:
    env = LlvmCodeSizeEnv(
        job.benchmark, max_episode_steps=job.episode_length, max_instructions=job.max_instructions
    )
    try:
        if job.method == "random":
            return random_search(env, job.budget, seed=job.seed, check=job.check)
        if job.method == "greedy":
            return greedy_search(env, job.budget, check=job.check)
        raise ValueError(f"unknown method {job.method!r}: choose from {', '.join(METHODS)}")
    finally:
        env.close()


def run_jobs(
    jobs: Sequence[BaselineJob],
    workers: int = 1,
    on_result: Callable[[SearchResult], None] | None = None,
) -> list[SearchResult]:
    """Run every job (in `workers` processes when > 1); results in the order of `jobs`."""
    results: dict[int, SearchResult] = {}
    if workers <= 1:
        for i, job in enumerate(jobs):
            results[i] = run_job(job)
            if on_result:
                on_result(results[i])
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=workers, mp_context=context) as pool:
            futures = {pool.submit(run_job, job): i for i, job in enumerate(jobs)}
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                if on_result:
                    on_result(results[futures[future]])
    return [results[i] for i in range(len(jobs))]


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
