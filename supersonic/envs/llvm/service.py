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
import threading
from types import TracebackType
from typing import Any

from supersonic.envs.llvm import toolpack


def _import_compiler_gym() -> Any:
    toolpack.configure()  # must precede CompilerGym's first path lookup
    import compiler_gym

    return compiler_gym


def compiler_gym_errors() -> tuple[type[BaseException], ...]:
    """The exception types a misbehaving service raises out of CompilerGym calls."""
    from compiler_gym.errors import (
        ServiceError,
        ServiceInitError,
        ServiceIsClosed,
        ServiceOSError,
        ServiceTransportError,
        SessionNotFound,
    )

    return (
        ServiceError,
        ServiceInitError,
        ServiceIsClosed,
        ServiceOSError,
        ServiceTransportError,
        SessionNotFound,
        TimeoutError,
        OSError,
    )


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


class Watchdog:
    """Kill `pid` if the `with` block has not finished `deadline_s` seconds after it began."""

    def __init__(self, pid: int | None, deadline_s: float) -> None:
        self.pid = pid
        self.fired = False
        self._timer = threading.Timer(deadline_s, self._fire)
        self._timer.daemon = True

    def _fire(self) -> None:
        if self.pid is not None:
            self.fired = True
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(self.pid, signal.SIGKILL)

    def __enter__(self) -> Watchdog:
        self._timer.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self._timer.cancel()


def watchdog(session: Any, timeout_s: float) -> Watchdog:
    """A watchdog on `session`'s service for a call whose own deadline is `timeout_s`."""
    return Watchdog(service_pid(session), timeout_s + WATCHDOG_GRACE_S)


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
