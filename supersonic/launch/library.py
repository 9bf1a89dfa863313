"""Build the sequence library of an exported LLVM policy (`supersonic library`).

The exported policy guides a search (`supersonic.actors.guided`, without any library) on each
of the given programs, normally the training split, for a few seconds each, in a pool of
worker processes. From each search the library keeps the validated result and its next best
distinct sequences (`per_program` in all); then it picks `size` of them, best rank first and
round-robin over the programs (every program's best sequence before any program's second), so
that a short budget at deployment replays the most varied ones first. The result is written
next to the policy as `sequences.json` (`supersonic.actors.sequence_library`).

Only the first sequence per program has been validated (its program still behaves as at -O0);
the others avoid the passes the search caught changing its program's output. Whatever the
deployed search keeps is validated on the new program anyway.
"""

from __future__ import annotations

import multiprocessing
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

from supersonic.actors.sequence_library import LibrarySequence, SequenceLibrary, save_library
from supersonic.envs.llvm.actions import ACTION_FLAGS
from supersonic.envs.llvm.benchmarks import BenchmarkSpec
from supersonic.envs.llvm.metrics import leaderboard_metric
from supersonic.envs.llvm.search import Budget

DEFAULT_PER_PROGRAM = 3
DEFAULT_SIZE = 32


@dataclass(frozen=True)
class ProgramSequences:
    """What the search on one program contributed: its sequences, best first."""

    program: str
    sequences: tuple[LibrarySequence, ...]
    env_steps: int
    seconds: float
    metric: float  # the validated result's


def _search_program(
    policy: str, benchmark: BenchmarkSpec, seconds: float, per_program: int, seed: int
) -> ProgramSequences:
    from supersonic.actors.guided import GuidedSearch, load_guide, make_search_env

    guide = load_guide(policy)
    env = make_search_env(guide, benchmark)
    try:
        search = GuidedSearch(env, guide, Budget(seconds=seconds), seed=seed, sequences=())
        result = search.run()
        b = result.baselines
        found: list[LibrarySequence] = []
        if result.actions and result.validation.valid is not False:
            found.append(
                LibrarySequence(
                    result.actions,
                    benchmark.name,
                    result.ir_instructions,
                    leaderboard_metric(b.ir_o0, b.ir_oz, result.ir_instructions),
                    result.validation.valid is True,
                )
            )
        for actions, ir in search.candidates.best_first():
            if len(found) >= per_program:
                break
            if not actions or any(a in search.banned for a in actions):
                continue
            if any(s.actions == actions for s in found) or ir >= b.ir_o0:
                continue
            metric = leaderboard_metric(b.ir_o0, b.ir_oz, ir)
            found.append(LibrarySequence(actions, benchmark.name, ir, metric, False))
        return ProgramSequences(
            benchmark.name, tuple(found), result.env_steps, result.seconds, result.metric
        )
    finally:
        env.close()


def select(found: Sequence[ProgramSequences], size: int) -> list[LibrarySequence]:
    """At most `size` distinct sequences: every program's best, then every program's second,
    ...; within a rank, the higher metric first."""
    chosen: list[LibrarySequence] = []
    seen: set[tuple[int, ...]] = set()
    depth = max((len(p.sequences) for p in found), default=0)
    for rank in range(depth):
        tier = [p.sequences[rank] for p in found if len(p.sequences) > rank]
        for sequence in sorted(tier, key=lambda s: -s.metric):
            if len(chosen) >= size:
                return chosen
            if sequence.actions not in seen:
                seen.add(sequence.actions)
                chosen.append(sequence)
    return chosen


def build_library(
    policy: str | Path,
    programs: Sequence[BenchmarkSpec],
    seconds: float,
    *,
    jobs: int = 1,
    per_program: int = DEFAULT_PER_PROGRAM,
    size: int = DEFAULT_SIZE,
    seed: int = 0,
    on_program: Callable[[ProgramSequences], None] | None = None,
) -> tuple[SequenceLibrary, Path]:
    """Search every program with the policy at `policy` (RUN_DIR/best) for `seconds`, select
    the library and write it into the policy's directory; (the library, its path)."""
    from supersonic.actors.guided import TASK, load_guide

    if not seconds > 0:
        raise ValueError(f"the budget must be > 0 seconds, got {seconds}")
    if per_program < 1 or size < 1:
        raise ValueError("per_program and size must be >= 1")
    if not programs:
        raise ValueError("no programs to build the library on")
    guide = load_guide(policy)  # one-line errors before any worker starts
    started = time.monotonic()
    results: list[ProgramSequences] = []
    args = [(str(policy), b, seconds, per_program, seed) for b in programs]
    if jobs <= 1:
        for a in args:
            results.append(_search_program(*a))
            if on_program:
                on_program(results[-1])
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context) as pool:
            futures = [pool.submit(_search_program, *a) for a in args]
            for future in as_completed(futures):
                results.append(future.result())
                if on_program:
                    on_program(results[-1])
    order = {b.name: i for i, b in enumerate(programs)}
    results.sort(key=lambda r: order[r.program])
    library = SequenceLibrary(
        TASK,
        len(ACTION_FLAGS),
        tuple(select(results, size)),
        {
            "programs": [r.program for r in results],
            "budget_seconds": seconds,
            "per_program": per_program,
            "size": size,
            "seed": seed,
            "env_steps": sum(r.env_steps for r in results),
            "wall_seconds": round(time.monotonic() - started, 1),
            "policy_version": guide.policy_version,
        },
    )
    return library, save_library(guide.path, library)
