"""Run the baseline searches over many programs, in parallel processes.

Each (program, method) pair runs in its own worker process with its own env and CompilerGym
service, so `workers` workers use `workers` cores; results come back as `SearchResult`s.
`random_search_baseline` is the LLVM task's "random search with the same env steps" that a run
puts next to its candidates.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from typing import Any

from supersonic.envs.llvm.benchmarks import BenchmarkSpec, resolve_benchmark
from supersonic.envs.llvm.bitcode import DEFAULT_MAX_INSTRUCTIONS
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.metrics import geomean
from supersonic.envs.llvm.search import Budget, SearchResult, greedy_search, random_search

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


def random_search_baseline(
    programs: list[str], steps: int, seed: int, episode_length: int, workers: int = 2
) -> dict[str, Any]:
    """Random search over `programs` sharing `steps` env steps equally (unchecked results)."""
    per_program = max(1, steps // len(programs))
    jobs = [
        BaselineJob(
            resolve_benchmark(p),
            "random",
            Budget(steps=per_program),
            seed=seed,
            check=False,
            episode_length=episode_length,
        )
        for p in programs
    ]
    found = run_jobs(jobs, workers=workers)
    return {
        "env_steps": per_program * len(programs),
        "score": geomean(r.metric for r in found).value,
        "metrics": [r.metric for r in found],
        "programs": programs,
    }
