"""JIT-compile, check and time Halide schedules in a child process, under a timeout.

Halide compiles and runs native code in-process, and its errors can abort the interpreter, so
the env never compiles in its own process: it uses the TVM task's `Measurer` (a persistent
worker process, killed past the timeout or when it died, replaced at the next request, its
failures returned as a `Measurement` with an `error`) with this module as the worker.

The worker builds the pipeline, applies the schedule (the env's knobs, or one of Halide's
autoschedulers), JIT-compiles it, runs it once and compares the output with the pipeline's
reference (numpy, or the default schedule's output: `pipelines.py`), then times it: `repeat`
runs of at least `min_repeat_ms` each, the median per call. Compiled pipelines are kept per
schedule (up to `CACHE_SIZE`): JIT compilation, not running, is what a measurement costs, and a
search meets the same schedule again.
"""

from __future__ import annotations

import math
import os
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import numpy as np

from supersonic.envs.timing_lock import exclusive_timing, shared_work
from supersonic.envs.tvm.measure import Measurement, Measurer, _Duplex, usable_cores

DEFAULT_TIMEOUT_S = 30.0
AUTOSCHEDULE_TIMEOUT_S = 300.0  # Adams2019 searches with its cost model: tens of seconds
WORKER = "supersonic.envs.halide.measure"
CACHE_SIZE = 64
RTOL = 1e-4
AUTOSCHEDULERS = ("Adams2019", "Li2018", "Mullapudi2016", "Anderson2021")

__all__ = ["MeasureRequest", "Measurement", "halide_measurer", "run_request"]


def halide_measurer(timeout_s: float = DEFAULT_TIMEOUT_S) -> Measurer:
    """A measuring process for Halide schedules (see the module docstring)."""
    return Measurer(timeout_s, worker=WORKER)


@dataclass(frozen=True)
class MeasureRequest:
    """Measure `program` under `chosen` knob values (None: its default schedule), or as the
    autoscheduler `autoscheduler` schedules it."""

    program: str
    chosen: tuple[int, ...] | None
    autoscheduler: str = ""
    target: str = ""  # a Halide target string; "" is this machine's JIT target
    repeat: int = 5
    min_repeat_ms: int = 10
    check: bool = True


@dataclass
class _Prepared:
    """A program's inputs (numpy and Halide buffers) and reference output, kept per worker."""

    inputs: list[np.ndarray]
    buffers: list[Any]
    reference: np.ndarray


class Worker:
    """The worker's state: prepared programs and compiled schedules (see the module docstring)."""

    def __init__(self) -> None:
        self.prepared: dict[str, _Prepared] = {}
        self.compiled: OrderedDict[tuple[Any, ...], tuple[Any, Any, float]] = OrderedDict()
        self.plugins_loaded = False

    def prepare(self, program: Any) -> _Prepared:
        import halide as hl

        key = program.program
        if key not in self.prepared:
            inputs = program.inputs()
            buffers = [hl.Buffer(np.ascontiguousarray(a)) for a in inputs]
            reference = program.reference(inputs)
            self.prepared[key] = _Prepared(inputs, buffers, np.empty(0))
            if reference is None:  # the default schedule's output is the reference
                pipeline, out, _ = self.compile(program, None, "", "")
                pipeline.realize(out)
                reference = np.array(out, copy=True)
            self.prepared[key].reference = reference
        return self.prepared[key]

    def compile(
        self, program: Any, chosen: tuple[int, ...] | None, autoscheduler: str, target: str
    ) -> tuple[Any, Any, float]:
        """(the compiled Pipeline, its output buffer, seconds it took), cached per schedule."""
        import halide as hl

        from supersonic.envs.halide.schedule import Decisions, apply

        key = (program.program, chosen, autoscheduler, target)
        if key in self.compiled:
            self.compiled.move_to_end(key)
            return self.compiled[key]
        started = time.monotonic()
        funcs = program.build(self.prepare(program).buffers)
        output = funcs["output"]
        pipeline = hl.Pipeline(output)
        jit_target = hl.Target(target) if target else hl.get_jit_target_from_environment()
        if autoscheduler:
            self._load_plugins()
            extents = [program.width, program.height]
            if program.spec.channels > 1:
                extents.append(program.spec.channels)
            output.set_estimates([hl.Range(0, e) for e in extents])
            params = hl.AutoschedulerParams(autoscheduler, {"parallelism": str(usable_cores())})
            pipeline.apply_autoscheduler(jit_target, params)
        else:
            apply(Decisions.of(program, chosen or ()), funcs)
        pipeline.compile_jit(jit_target)
        out_type = hl.UInt(8) if program.spec.out_type == "uint8" else hl.Float(32)
        out = hl.Buffer(out_type, list(reversed(program.out_shape())))
        entry = (pipeline, out, time.monotonic() - started)
        self.compiled[key] = entry
        while len(self.compiled) > CACHE_SIZE:
            self.compiled.popitem(last=False)
        return entry

    def _load_plugins(self) -> None:
        import halide as hl

        if not self.plugins_loaded:
            lib = Path(hl.__file__).parent / "lib64"
            for name in AUTOSCHEDULERS:
                hl.load_plugin(str(lib / f"libautoschedule_{name.lower()}.so"))
            self.plugins_loaded = True

    def run(self, request: MeasureRequest) -> Measurement:
        from supersonic.envs.halide.pipelines import parse_program

        program = parse_program(request.program)
        try:
            with shared_work():  # no compiling while another process times a run
                prepared = self.prepare(program)
                pipeline, out, build_s = self.compile(
                    program, request.chosen, request.autoscheduler, request.target
                )
        except Exception as exc:  # a Halide error: the schedule does not compile
            what = "autoscheduler failed" if request.autoscheduler else "build failed"
            return Measurement(None, f"{what}: {_one_line(exc)}")
        try:
            with shared_work():
                pipeline.realize(out)
                got = np.asarray(out).astype(np.float64)
            reference = prepared.reference.astype(np.float64)
            max_error = float(np.max(np.abs(got - reference))) if got.size else 0.0
            tolerance = program.spec.atol
            if program.spec.out_type != "uint8":
                tolerance += RTOL * max(1.0, float(np.max(np.abs(reference))))
            if request.check and not max_error <= tolerance:
                return Measurement(
                    None, f"wrong result: max |ours - reference| = {max_error:.3g}", build_s
                )
            with exclusive_timing():
                seconds = _time(pipeline, out, request.repeat, request.min_repeat_ms)
        except Exception as exc:
            return Measurement(None, f"run failed: {_one_line(exc)}", build_s)
        return Measurement(seconds, None, build_s, max_error)


def _time(pipeline: Any, out: Any, repeat: int, min_repeat_ms: int) -> float:
    """The median over `repeat` runs of the seconds per call, each run at least
    `min_repeat_ms` long (as many calls as that takes, judged from one call)."""
    started = time.perf_counter()
    pipeline.realize(out)
    one = max(time.perf_counter() - started, 1e-7)
    calls = max(1, math.ceil(min_repeat_ms / 1e3 / one))
    results = []
    for _ in range(max(1, repeat)):
        started = time.perf_counter()
        for _ in range(calls):
            pipeline.realize(out)
        results.append((time.perf_counter() - started) / calls)
    return float(np.median(results))


def run_request(request: MeasureRequest, worker: Worker | None = None) -> Measurement:
    """Compile, check and time one request in this process (the worker's job)."""
    return (worker or Worker()).run(request)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[-300:]}"


def _serve(conn: _Duplex) -> None:
    with shared_work():  # start-up is CPU work too (envs/timing_lock.py)
        import halide  # noqa: F401 (imported before "ready": the start-up is not a measurement)

    # Halide prints a warning (on stdout or stderr) for many schedules it accepts (storage it
    # does not fold, update definitions left serial), for every compile: thousands of lines in
    # a run, mixed into the parent's output. The worker talks over its pipes; its failures
    # reach the parent as errors or as its death, not through these.
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)

    conn.send("ready")
    worker = Worker()
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        conn.send(worker.run(request))


if __name__ == "__main__":
    # Through the module's own name, so what crosses the pipe pickles by its real module.
    from supersonic.envs.halide import measure

    measure._serve(_Duplex(Connection(int(sys.argv[1])), Connection(int(sys.argv[2]))))
