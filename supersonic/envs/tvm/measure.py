"""Build, check and time schedules in a child process, under a timeout.

TVM compiles and runs native code in-process: a bad schedule can crash the interpreter or loop
for ever. So the env never builds in its own process. `Measurer` keeps one persistent worker
process (spawned, so it holds no state of the parent) and sends it `MeasureRequest`s over a
pipe; the worker schedules the workload (`schedule.apply`), compiles it with `tvm.compile`,
runs it once on fixed random inputs and compares the output with numpy's, then times it with
TVM's time evaluator (`repeat` runs, the median). A worker that does not answer within the
timeout is killed, one that died is noticed; both are replaced at the next request and the
request comes back as a `Measurement` with an `error`, never as an exception.

The pipe carries plain dataclasses between two processes of the same program (pickled by
multiprocessing); nothing from the network is ever unpickled here.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from multiprocessing.connection import Connection
from typing import Any

import numpy as np

from supersonic.envs.timing_lock import exclusive_timing, shared_work

DEFAULT_TIMEOUT_S = 20.0
STARTUP_TIMEOUT_S = 120.0  # importing TVM on a loaded machine
RTOL = 1e-3


def usable_cores() -> int:
    """The cores this process may run on (its affinity mask, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0)) or 1
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def worker_threads() -> int:
    """The threads a measured parallel loop runs on: `TVM_NUM_THREADS` when the user set it,
    else every usable core. TVM's own default halves the core count on x86 to skip
    hyper-threads; on a machine whose cores have one thread each (this 2-core one) that left a
    parallel loop on one thread, and "parallel" a knob that could never pay."""
    value = os.environ.get("TVM_NUM_THREADS", "")
    return int(value) if value.isdigit() and int(value) > 0 else usable_cores()


def host_target() -> dict[str, Any]:
    """The CPU this process runs on (LLVM's name for it, so vector widths match), with the
    threads a measurement runs on: what every method, MetaSchedule included, compiles for
    unless told otherwise."""
    from tvm.target import codegen

    return {"kind": "llvm", "mcpu": codegen.llvm_get_system_cpu(), "num-cores": worker_threads()}


@dataclass(frozen=True)
class MeasureRequest:
    """Measure `program` under `chosen` knob values (None: the unscheduled program)."""

    program: str
    chosen: tuple[int, ...] | None
    target: str = ""  # a JSON target dict; "" is `host_target()`
    repeat: int = 5
    min_repeat_ms: int = 10
    check: bool = True
    trace: str | None = None  # instead of `chosen`: a MetaSchedule trace (JSON) to replay
    module: str | None = None  # instead of `chosen`: a scheduled IRModule (`tvm.ir.save_json`)


@dataclass(frozen=True)
class Measurement:
    """Seconds per call (median), or the error that stopped the measurement."""

    seconds: float | None
    error: str | None = None
    build_s: float = 0.0
    max_error: float = 0.0  # the largest |ours - numpy| seen by the check
    threads: int = 0  # the threads TVM ran parallel loops on (0: not reported)

    @property
    def ok(self) -> bool:
        return self.error is None and self.seconds is not None


class _Duplex:
    """One read and one write `Connection` (over two pipes) as one."""

    def __init__(self, reader: Connection, writer: Connection) -> None:
        self.reader, self.writer = reader, writer

    def send(self, obj: Any) -> None:
        self.writer.send(obj)

    def recv(self) -> Any:
        return self.reader.recv()

    def poll(self, timeout: float) -> bool:
        return self.reader.poll(timeout)

    def close(self) -> None:
        self.reader.close()
        self.writer.close()


class Measurer:
    """A persistent measuring worker, replaced when it hangs or dies; see the module docstring."""

    def __init__(
        self, timeout_s: float = DEFAULT_TIMEOUT_S, worker: str = "supersonic.envs.tvm.measure"
    ) -> None:
        """`worker` is the module the worker process runs (`python -m WORKER RFD WFD`): the
        Halide task's measurer is this class with its own worker."""
        if timeout_s <= 0:
            raise ValueError(f"the measurement timeout must be > 0 s, got {timeout_s}")
        self.timeout_s = timeout_s
        self.worker = worker
        self._process: Any = None
        self._conn: _Duplex | None = None
        self.restarts = 0
        self.requests = 0  # measurements asked for (what a caller's trials cost)

    def measure(self, request: Any, timeout_s: float | None = None) -> Measurement:
        """The request's measurement (a `MeasureRequest` of the worker's module); an error if
        it took longer than `timeout_s` (default: the measurer's) or the worker died."""
        timeout = self.timeout_s if timeout_s is None else timeout_s
        self.requests += 1
        started = time.monotonic()
        try:
            conn = self._ensure_worker()
            conn.send(request)
            if conn.poll(timeout):
                result: Measurement = conn.recv()
                return result
        except (EOFError, OSError, BrokenPipeError) as exc:
            self._kill()
            return Measurement(None, f"the measuring process died ({type(exc).__name__})")
        self._kill()
        return Measurement(
            None, f"timeout: no result after {time.monotonic() - started:.1f} s (killed)"
        )

    @property
    def pid(self) -> int | None:
        return None if self._process is None else int(self._process.pid)

    def close(self) -> None:
        if self._conn is not None and self._process is not None and self._process.poll() is None:
            try:
                self._conn.send(None)
                self._process.wait(5)
            except (OSError, subprocess.TimeoutExpired):
                pass
        self._kill(count=False)

    def _ensure_worker(self) -> _Duplex:
        if self._process is not None and self._process.poll() is None and self._conn is not None:
            return self._conn
        if self._process is not None:
            self._kill()
        # A fresh interpreter (not multiprocessing's spawn, which re-runs the caller's
        # __main__): the worker talks over two inherited pipes.
        to_child_r, to_child_w = os.pipe()
        from_child_r, from_child_w = os.pipe()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                self.worker,
                str(to_child_r),
                str(from_child_w),
            ],
            pass_fds=(to_child_r, from_child_w),
            stdin=subprocess.DEVNULL,
        )
        os.close(to_child_r)
        os.close(from_child_w)
        parent = _Duplex(Connection(from_child_r), Connection(to_child_w))
        self._process, self._conn = process, parent
        if not parent.poll(STARTUP_TIMEOUT_S) or parent.recv() != "ready":
            self._kill()
            raise OSError("the measuring process did not start")
        return parent

    def _kill(self, count: bool = True) -> None:
        if self._process is not None:
            if self._process.poll() is None:
                self._process.kill()
            self._process.wait(5)
            if count:
                self.restarts += 1
        if self._conn is not None:
            self._conn.close()
        self._process, self._conn = None, None


# --------------------------------------------------------------------------- the worker side
def _serve(conn: _Duplex) -> None:
    # Before TVM starts its thread pool (see `worker_threads`).
    os.environ["TVM_NUM_THREADS"] = str(worker_threads())
    # Importing TVM takes seconds of a core. A worker starts with every new env, so whenever an
    # actor is given another candidate (e.g. released at a budget while another one evaluates):
    # without the lock that start-up overlapped the other actors' timed runs.
    with shared_work():
        import tvm  # noqa: F401 (imported before "ready": the start-up is not a measurement)

    conn.send("ready")
    cache: dict[str, Any] = {}
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if request is None:
            return
        conn.send(run_request(request, cache))


def run_request(request: MeasureRequest, cache: dict[str, Any] | None = None) -> Measurement:
    """Build, check and time one request in this process (the worker's job)."""
    import tvm

    from supersonic.envs.tvm.schedule import Decisions, apply
    from supersonic.envs.tvm.workloads import parse_workload

    cache = {} if cache is None else cache
    workload = parse_workload(request.program)
    started = time.monotonic()
    with shared_work():  # no compiling while another process times a run (see timing_lock)
        try:
            if request.trace is not None:
                module = replay_trace(workload, request.trace)
            elif request.module is not None:
                module = load_module(request.module)
            elif request.chosen is None:
                module = tvm.IRModule({"main": workload.prim_func()})
            else:
                module = apply(Decisions.of(workload, request.chosen))
            target = tvm.target.Target(
                json.loads(request.target) if request.target else host_target()
            )
            executable = tvm.compile(module, target=target)
        except Exception as exc:  # any TVM error: the schedule does not build
            return Measurement(None, f"build failed: {_one_line(exc)}")
        build_s = time.monotonic() - started
        dev = tvm.cpu()
        key = request.program
        if key not in cache:
            inputs = workload.inputs()
            reference = workload.reference(inputs)
            cache[key] = (inputs, reference)
        inputs, reference = cache[key]
        args = [tvm.runtime.tensor(x, dev) for x in inputs]
        args.append(tvm.runtime.tensor(np.zeros(reference.shape, np.float32), dev))
        try:
            func = executable.mod["main"]
            func(*args)
            got = args[-1].numpy()
        except Exception as exc:
            return Measurement(None, f"run failed: {_one_line(exc)}", build_s)
    max_error = float(np.max(np.abs(got - reference))) if got.size else 0.0
    scale = max(1.0, float(np.max(np.abs(reference))) if reference.size else 1.0)
    if request.check and not np.allclose(got, reference, rtol=RTOL, atol=RTOL * scale):
        return Measurement(
            None, f"wrong result: max |ours - numpy| = {max_error:.3g}", build_s, max_error
        )
    try:
        evaluator = executable.mod.time_evaluator(
            "main", dev, number=1, repeat=request.repeat, min_repeat_ms=request.min_repeat_ms
        )
        with exclusive_timing():
            seconds = float(np.median(evaluator(*args).results))
    except Exception as exc:
        return Measurement(None, f"run failed: {_one_line(exc)}", build_s)
    threads = int(tvm.get_global_func("runtime.NumThreads")())
    return Measurement(seconds, None, build_s, max_error, threads)


def replay_trace(workload: Any, trace_json: str) -> Any:
    """A MetaSchedule trace (as `Trace.as_json()` gives it) applied to the workload."""
    import tvm
    from tvm.s_tir.schedule import Trace

    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": workload.prim_func()}))
    Trace.apply_json_to_schedule(tvm.ir.load_json(trace_json), sch)
    return sch.mod


def load_module(module_json: str) -> Any:
    """A scheduled IRModule as MetaSchedule hands it to its builder, made ready to compile the
    way MetaSchedule's own builder does (its weight-layout rewrite blocks removed). Unlike that
    builder it does not import `tvm.s_tir.tensor_intrin` (seconds of TVMScript parsing): a
    tensorized schedule carries the intrinsics' bodies, and the float32 workloads here are
    never tensorized."""
    import tvm
    from tvm.s_tir.transform import RemoveWeightLayoutRewriteBlock

    module = tvm.ir.load_json(module_json)
    return RemoveWeightLayoutRewriteBlock(skip_tensor_rewrite=True)(module)


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return f"{type(exc).__name__}: {text[-300:]}"


if __name__ == "__main__":
    # Through the module's own name, so what crosses the pipe pickles as
    # supersonic.envs.tvm.measure.Measurement, not __main__.Measurement.
    from supersonic.envs.tvm import measure

    measure._serve(measure._Duplex(Connection(int(sys.argv[1])), Connection(int(sys.argv[2]))))
