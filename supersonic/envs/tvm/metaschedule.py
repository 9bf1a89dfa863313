"""TVM's own auto-scheduler, MetaSchedule (`tvm.s_tir.meta_schedule`), as a baseline.

`tune` runs `tune_tir` on the workload's unscheduled PrimFunc with a budget of measured
trials, takes the best schedule of its database and returns its trace as JSON, which the
measuring process replays and times like every other method's schedule: the comparison uses
one timer, one numpy check and one target.

MetaSchedule's candidates are measured by our measuring process (`SharedBuilder` hands
the scheduled module over as JSON, `SharedRunner` has the measuring process build, check and
time it), so its search sees the same timings as every other method's and its trials are
counted the same way. It is also what makes a small tuning fast: MetaSchedule's own
`LocalBuilder` and `LocalRunner` start pools of worker processes that each import TVM, which
took 50-100 s of a 4-trial tuning on a loaded 2-core machine (the measuring process is started
once and already running).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from dataclasses import dataclass
from typing import Any

from supersonic.envs.tvm.measure import Measurer, MeasureRequest, host_target
from supersonic.envs.tvm.workloads import Workload


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
    measurer: Measurer | None = None,
) -> TunedSchedule:
    """MetaSchedule with `trials` measured candidates (in batches of up to 8) on `workload`;
    its evolutionary search keeps `population` schedules (MetaSchedule's default is 512).
    The candidates are measured by `measurer` (one is started for the call when not given;
    see the module docstring)."""
    if measurer is None:
        own = Measurer()
        try:
            return tune(workload, trials, target, cores, population, own)
        finally:
            own.close()
    import tvm
    from tvm.s_tir import meta_schedule as ms

    _prime_inspect_cache()
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
                **_builder_and_runner(workload.program, target, measurer),
                # MetaSchedule's default callbacks also delete each candidate's build
                # directory, which a shared-runner candidate does not have.
                measure_callbacks=[
                    ms.measure_callback.AddToDatabase(),
                    ms.measure_callback.UpdateCostModel(),
                ],
                seed=0,
            )
            schedule = database.query_schedule(module, tvm_target, workload_name="main")
        except Exception as exc:  # a TVM failure inside the tuner: reported, not raised
            return TunedSchedule(None, trials, time.monotonic() - started, _short(exc))
    elapsed = time.monotonic() - started
    if schedule is None:
        return TunedSchedule(None, trials, elapsed, "MetaSchedule found no valid schedule")
    return TunedSchedule(_trace_json(schedule), trials, elapsed)


def _prime_inspect_cache() -> None:
    """Map the frozen stdlib modules' pseudo file names (`<frozen importlib._bootstrap>`) to
    their modules in `inspect`'s file-to-module cache.

    MetaSchedule imports `tvm.s_tir.tensor_intrin`, which parses a few hundred TVMScript
    functions at import; the parser calls `inspect.stack()` for each, and for every frame of
    the import machinery (files that do not exist on disk) `inspect.getmodule` scans all of
    `sys.modules`. That was 20-30 s of CPU per process here; with the mapping it is ~4 s. The
    entries are true (each names the module the frames belong to), so nothing else changes."""
    import inspect

    for name, module in list(sys.modules.items()):
        if getattr(getattr(module, "__spec__", None), "origin", None) == "frozen":
            inspect.modulesbyfile.setdefault(f"<frozen {name}>", name)


def _builder_and_runner(program: str, target: str, measurer: Measurer) -> dict[str, Any]:
    modules: dict[str, str] = {}
    return {
        "builder": _shared_builder_class()(modules),
        "runner": _shared_runner_class()(modules, measurer, program, target),
    }


def _shared_builder_class() -> Any:
    """`SharedBuilder(modules)`: "builds" a candidate by keeping its module as JSON in
    `modules` under a made-up artifact path; the measuring process compiles it."""
    import tvm
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.builder import BuilderInput, BuilderResult, PyBuilder

    @derived_object
    class SharedBuilder(PyBuilder):
        def __init__(self, modules: dict[str, str]) -> None:
            super().__init__()
            self.modules = modules

        def build(self, build_inputs: list[BuilderInput]) -> list[BuilderResult]:
            results = []
            for build_input in build_inputs:
                path = f"candidate-{len(self.modules)}"
                self.modules[path] = str(tvm.ir.save_json(build_input.mod))
                results.append(BuilderResult(path, None))
            return results

    return SharedBuilder


def _shared_runner_class() -> Any:
    """`SharedRunner(modules, measurer, program, target)`: measures each kept module with the
    measuring process (build, numpy check, median time) and answers at once."""
    from tvm.ir.utils import derived_object
    from tvm.s_tir.meta_schedule.runner import (
        PyRunner,
        PyRunnerFuture,
        RunnerFuture,
        RunnerInput,
        RunnerResult,
    )

    @derived_object
    class MeasuredFuture(PyRunnerFuture):
        def __init__(self, seconds: float | None, error: str | None) -> None:
            super().__init__()
            self.seconds, self.error = seconds, error

        def done(self) -> bool:
            return True

        def result(self) -> RunnerResult:
            if self.seconds is None:
                return RunnerResult(None, self.error or "not measured")
            return RunnerResult([self.seconds], None)

    @derived_object
    class SharedRunner(PyRunner):
        def __init__(
            self, modules: dict[str, str], measurer: Measurer, program: str, target: str
        ) -> None:
            super().__init__()
            self.modules, self.measurer = modules, measurer
            self.program, self.target = program, target

        def run(self, runner_inputs: list[RunnerInput]) -> list[RunnerFuture]:
            futures = []
            for runner_input in runner_inputs:
                module = self.modules.pop(str(runner_input.artifact_path))
                m = self.measurer.measure(
                    MeasureRequest(self.program, None, self.target, module=module)
                )
                futures.append(MeasuredFuture(m.seconds if m.ok else None, m.error))
            return futures

    return SharedRunner


def _trace_json(schedule: Any) -> str:
    import tvm

    return str(tvm.ir.save_json(schedule.trace.as_json()))


def _short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {' '.join(str(exc).split())[-300:]}"
