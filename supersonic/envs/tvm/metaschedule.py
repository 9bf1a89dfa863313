"""TVM's own auto-scheduler, MetaSchedule (`tvm.s_tir.meta_schedule`), as a baseline.

`tune` runs `tune_tir` on the workload's unscheduled PrimFunc with a budget of measured
trials (its own builder and runner measure them), takes the best schedule of its database and
returns its trace as JSON, which the measuring process replays and times like every other
method's schedule: the comparison uses one timer, one numpy check and one target.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from supersonic.envs.tvm.measure import host_target
from supersonic.envs.tvm.workloads import Workload

BUILD_TIMEOUT_S = 300.0


@dataclass(frozen=True)
class TunedSchedule:
    trace: str | None  # the best schedule's trace as JSON (None: no valid schedule found)
    trials: int
    seconds: float  # wall time of the tuning
    error: str | None = None


def tune(
    workload: Workload,
    trials: int,
    target: str = "",
    cores: int | None = None,
    population: int = 512,
) -> TunedSchedule:
    """MetaSchedule with `trials` measured candidates (in batches of up to 8) on `workload`;
    its evolutionary search keeps `population` schedules (MetaSchedule's default is 512)."""
    import tvm
    from tvm.s_tir import meta_schedule as ms

    spec = json.loads(target) if target else host_target()
    tvm_target = tvm.target.Target(spec)
    module = tvm.IRModule({"main": workload.prim_func()})
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="supersonic-ms-") as work_dir:
        work_dir = os.environ.get("SUPERSONIC_MS_WORK_DIR", work_dir)
        try:
            database = ms.tune_tir(
                module,
                tvm_target,
                work_dir,
                max_trials_global=trials,
                num_trials_per_iter=min(8, trials),
                num_tuning_cores=cores or int(spec.get("num-cores", 1)),
                strategy=ms.search_strategy.EvolutionarySearch(population_size=population),
                # The defaults (30 s) include starting the pool's worker processes, which a
                # loaded 2-core machine does not always manage: every build then "fails".
                builder=ms.builder.LocalBuilder(timeout_sec=BUILD_TIMEOUT_S),
                runner=ms.runner.LocalRunner(timeout_sec=BUILD_TIMEOUT_S),
                seed=0,
            )
            schedule = database.query_schedule(module, tvm_target, workload_name="main")
        except Exception as exc:  # a TVM failure inside the tuner: reported, not raised
            return TunedSchedule(None, trials, time.monotonic() - started, _short(exc))
    elapsed = time.monotonic() - started
    if schedule is None:
        return TunedSchedule(None, trials, elapsed, "MetaSchedule found no valid schedule")
    return TunedSchedule(_trace_json(schedule), trials, elapsed)


def _trace_json(schedule: Any) -> str:
    import tvm

    return str(tvm.ir.save_json(schedule.trace.as_json()))


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[-300:]}"
