"""One timed run at a time on a machine: measurements that overlap measure each other.

Several actors on one board each keep a measuring process, and a measured schedule that runs
parallel loops uses every core. Timed side by side, two such runs share the cores and each
reads as up to twice as slow as it is, so the policy learns that parallel code does not pay
(and the figures of a run depend on what else was being timed). Autotuners serialize their
runs per device for this reason (TVM's RPC tracker hands a board to one measurement at a
time); here the measuring processes of one machine take an exclusive `flock` on one file
around the timed part.

Compiling is CPU work too: a parallel loop's threads meet at a barrier after every region, so
with one core taken by another actor's compiler the barrier waits for the kernel to schedule
the second thread. So the work that must not overlap a timed run (building a schedule and
checking its result) holds the lock *shared* (`shared_work`): compiles overlap each other, a
timed run waits until none is running, and none starts while one is timed. The same goes for
the other bursts of CPU work of a run: a measuring process's start-up (importing TVM, seconds
of a core, at every new env) and a learner's update (torch: 0.02-0.2 s of a core or more).
(What prompted it: search evaluations that measured parallel schedules at 6-8 ms which take
0.03-0.4 ms alone. Their cause turned out to be another: a learner spinning on one core at its
budget, fixed in the learner; see docs/tvm-task.md, Measuring.)

The lock is released by the kernel when its holder dies, so a measuring process killed at
its timeout never leaves the others waiting. The file is per machine (the system's temporary
directory), shared by every run on it on purpose; `SUPERSONIC_TIMING_LOCK` names another file,
and `SUPERSONIC_TIMING_LOCK=off` turns serializing off (a machine given to one measurement).
"""

from __future__ import annotations

import fcntl
import os
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

LOCK_ENV = "SUPERSONIC_TIMING_LOCK"
DEFAULT_NAME = "supersonic-timing.lock"


def lock_path() -> Path | None:
    """The lock file of this machine, or None when serializing is turned off."""
    value = os.environ.get(LOCK_ENV, "").strip()
    if value.lower() == "off":
        return None
    return Path(value) if value else Path(tempfile.gettempdir()) / DEFAULT_NAME


@contextmanager
def exclusive_timing() -> Iterator[float]:
    """Hold the machine's timing lock alone for the `with` body (a timed run); yields the
    seconds waited for it."""
    with _locked(fcntl.LOCK_EX) as waited:
        yield waited


@contextmanager
def shared_work() -> Iterator[float]:
    """Hold the machine's timing lock shared for the `with` body (CPU work that may overlap
    other such work but no timed run: compiling, checking); yields the seconds waited."""
    with _locked(fcntl.LOCK_SH) as waited:
        yield waited


@contextmanager
def _locked(operation: int) -> Iterator[float]:
    path = lock_path()
    if path is None:
        yield 0.0
        return
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        started = time.monotonic()
        fcntl.flock(fd, operation)
        yield time.monotonic() - started
    finally:
        os.close(fd)  # closing the last descriptor releases the lock
