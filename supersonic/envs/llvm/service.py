"""A CompilerGym `llvm-v0` session that can be killed and replaced when the service misbehaves.

CompilerGym already turns most service errors of a step into `info["error_type"]`, but it then
closes the session politely with an RPC that waits up to 300 s on a hung or stopped service. So
every call into the service runs under a `Watchdog` that SIGKILLs the service process (ours, one
per session) shortly after the step's own deadline: the pending RPCs then fail at once, and a
hang costs the step timeout plus a grace period, never more.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import threading
import time
import types
from types import TracebackType
from typing import Any

from supersonic.envs.llvm import toolpack
from supersonic.lifeline import die_with_parent


def _import_compiler_gym() -> Any:
    toolpack.configure()  # must precede CompilerGym's first path lookup
    import compiler_gym

    _services_die_with_their_process()
    return compiler_gym


class _PopenDyingWithParent(subprocess.Popen):
    """`subprocess.Popen` whose child gets SIGKILL when this process dies, when started from
    the main thread (the kernel ties the signal to the starting thread, see lifeline.py)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        if threading.current_thread() is threading.main_thread():
            kwargs.setdefault("preexec_fn", _KILL_WITH_PARENT)
        super().__init__(*args, **kwargs)


_KILL_WITH_PARENT = die_with_parent(signal.SIGKILL)


def _services_die_with_their_process() -> None:
    """Make CompilerGym start its service processes so that they die with the process that
    started them.

    CompilerGym spawns `compiler_gym-llvm-service` with a plain `subprocess.Popen` and stops it
    only from `close()`: an actor that is SIGKILLed (a crash, the OOM killer, a fault-injection
    test) left its services running forever, reparented to init. CompilerGym offers no hook for
    this, so its connection module gets a `subprocess` namespace whose `Popen` sets the
    parent-death signal; everything else in it is the real module.
    """
    from compiler_gym.service import connection

    if getattr(connection.subprocess, "Popen", None) is _PopenDyingWithParent:
        return
    shim = types.SimpleNamespace(
        **{name: getattr(subprocess, name) for name in dir(subprocess) if not name.startswith("__")}
    )
    shim.Popen = _PopenDyingWithParent
    connection.subprocess = shim


def compiler_gym_errors() -> tuple[type[BaseException], ...]:
    """The exception types a misbehaving service raises out of CompilerGym calls."""
    from compiler_gym import errors

    names = (
        "ServiceError",
        "ServiceInitError",
        "ServiceIsClosed",
        "ServiceOSError",
        "ServiceTransportError",
        "SessionNotFound",
    )
    return (*(getattr(errors, name) for name in names), TimeoutError, OSError)


def make_session(benchmark: Any, rpc_timeout_s: float) -> Any:
    """Start a new `llvm-v0` service and session on `benchmark` (a CompilerGym Benchmark)."""
    compiler_gym = _import_compiler_gym()
    from compiler_gym.service.connection import ConnectionOpts

    opts = ConnectionOpts(
        rpc_call_max_seconds=rpc_timeout_s,
        rpc_max_retries=1,
        init_max_seconds=max(30.0, rpc_timeout_s),
        local_service_exit_max_seconds=2.0,
    )
    return compiler_gym.make("llvm-v0", benchmark=benchmark, connection_settings=opts)


def make_benchmark(uri: str, bitcode: bytes) -> Any:
    _import_compiler_gym()
    from compiler_gym.datasets import Benchmark

    return Benchmark.from_file_contents(uri, bitcode)


def service_pid(session: Any) -> int | None:
    """The pid of the session's service process, if it runs locally."""
    connection = getattr(getattr(session, "service", None), "connection", None)
    process = getattr(connection, "process", None)
    return getattr(process, "pid", None)


WATCHDOG_GRACE_S = 2.0
WATCHDOG_POLL_S = 0.25


class Watchdog:
    """Kills service processes whose calls have run past their deadlines.

    One daemon thread for the whole process polls the armed deadlines; arming and disarming a
    call are single dict operations, so guarding a ~1 ms step costs next to nothing (a timer
    thread per call cost more than 10% of a step).
    """

    def __init__(self) -> None:
        self._armed: dict[object, tuple[float, int]] = {}
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self.fired = 0

    def guard(self, pid: int | None, timeout_s: float) -> _Armed:
        """`with WATCHDOG.guard(pid, t):` kills `pid` if the block runs past t + grace."""
        if self._thread is None:
            with self._lock:
                if self._thread is None:
                    self._thread = threading.Thread(
                        target=self._watch, name="service-watchdog", daemon=True
                    )
                    self._thread.start()
        return _Armed(self._armed, pid, timeout_s + WATCHDOG_GRACE_S)

    def _watch(self) -> None:
        while True:
            time.sleep(WATCHDOG_POLL_S)
            now = time.monotonic()
            for token, (deadline, pid) in list(self._armed.items()):
                if now > deadline and self._armed.pop(token, None) is not None:
                    self.fired += 1
                    with contextlib.suppress(ProcessLookupError, PermissionError):
                        os.kill(pid, signal.SIGKILL)


class _Armed:
    def __init__(
        self, armed: dict[object, tuple[float, int]], pid: int | None, seconds: float
    ) -> None:
        self._armed, self._pid, self._seconds = armed, pid, seconds

    def __enter__(self) -> None:
        if self._pid is not None:
            self._armed[self] = (time.monotonic() + self._seconds, self._pid)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._armed.pop(self, None)


WATCHDOG = Watchdog()


def close_session(session: Any) -> None:
    """Close a healthy session: ends it in the service and stops the service process."""
    if session is None:
        return
    with contextlib.suppress(Exception):
        session.close()


def kill_session(session: Any) -> None:
    """Close a session whose service may be hung, stopped or dead, without waiting on it."""
    if session is None:
        return
    pid = service_pid(session)
    if pid is not None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    with contextlib.suppress(Exception):
        session.close()
