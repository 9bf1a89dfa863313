"""The Ray actor that hosts one SuperSonic process (an actor or a learner) on a Ray node.

Why a subprocess and not the process's code in the Ray worker itself: our actors and learners
own their process (signal handlers for a clean shutdown, `sys.exit` codes, their own structlog
configuration, ZeroMQ contexts and torch threads), none of which a Ray worker lends out; and a
crash of ours must become a restart of the Ray actor under its `max_restarts`, which only a
worker that exits does. So the host runs `python -m supersonic ARGS --lifeline` with its stdin
on a pipe, and:

- when the process exits 0 (the supervisor's STOP) or 3 (refused: starting it again would not
  help), the host keeps that status for the launch, which then frees the Ray actor;
- when it exits with any other status, the host's worker exits too, so Ray starts the Ray actor
  again (a fresh process that says HELLO again and rejoins through the control endpoint);
- when the host's worker dies (killed, node lost), the pipe closes and the process's lifeline
  stops it (and its parent-death signal, should the lifeline be stuck).

This module runs on the Ray nodes: it imports nothing of SuperSonic beyond the standard library
until it starts the process.
"""

from __future__ import annotations

import collections
import ctypes
import os
import signal
import subprocess
import sys
import threading
import time
from typing import Any

NODE_ADDRESS = "{node_address}"  # replaced in the arguments by the node's IP address
GCS_ADDRESS = "{gcs_address}"  # replaced by the Ray cluster's GCS address (HOST:PORT)
EXIT_REJECTED = 3
TAIL_LINES = 40
OUTPUT_LINES = 2000  # kept for `output` (the hosted supervisor's progress lines)
CRASH_REPORT_S = 1.0  # how long a crashed host lingers so the launch can read why

# The Ray actor options' `runtime_env` of every host. Ray starts its workers at niceness 15
# (the raylet's `worker_niceness`) so that its own daemons stay responsive; a hosted process
# inherits that, and it is the run's whole workload. At 15 it gets about 3% of a core next to
# any process at the default priority: on a 2-core machine with two busy processes at 0, a
# learner took 86 s to import torch and a test of a whole run took 530 s instead of 33 s. An
# actor's timed measurements (TVM, Halide) would be preempted by anything else on the node.
# So the hosts ask the raylet for niceness 0, as Ray's own job supervisor does for a job's
# entrypoint (ray/dashboard/modules/job/job_manager.py). The raylet applies it when it starts
# the worker, so asking for its own niceness needs no privilege.
WORKER_NICENESS = "RAY_worker_niceness"
HOST_RUNTIME_ENV: dict[str, Any] = {"env_vars": {WORKER_NICENESS: "0"}}


def _die_with_parent() -> None:  # in the child between fork and exec
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _niceness(pid: int) -> int | None:
    try:
        return os.getpriority(os.PRIO_PROCESS, pid)
    except OSError:  # it has exited
        return None


class HostedProcess:
    """One `python -m supersonic ...` on the node Ray placed this actor on."""

    def __init__(
        self,
        name: str,
        args: list[str],
        env: dict[str, str],
        python: str,
        final_codes: tuple[int, ...] = (0, EXIT_REJECTED),
    ) -> None:
        import ray

        self.name = name
        # Statuses after which a restart would not help (the launch frees the Ray actor);
        # any other status is a crash: the worker exits and Ray restarts it.
        self.final_codes = final_codes
        self.node_id = ray.get_runtime_context().get_node_id()
        # The address the node was started with (`ray start --node-ip-address`), which can
        # differ from the one get_node_ip_address() guesses from the routing table.
        node: dict[str, Any] = next((n for n in ray.nodes() if n["NodeID"] == self.node_id), {})
        self.node_address = node.get("NodeManagerAddress") or ray.util.get_node_ip_address()
        self.node_resources = {
            k: v
            for k, v in node.get("Resources", {}).items()
            if not k.startswith(("node:", "memory", "object_store"))
        }
        argv = [python or sys.executable, "-m", "supersonic"]
        gcs = ray.get_runtime_context().gcs_address
        argv += [a.replace(NODE_ADDRESS, self.node_address).replace(GCS_ADDRESS, gcs) for a in args]
        self.tail: collections.deque[str] = collections.deque(maxlen=TAIL_LINES)
        self.lines: collections.deque[str] = collections.deque(maxlen=OUTPUT_LINES)
        self.line_count = 0  # lines read so far (`lines` keeps the newest)
        self.lines_lock = threading.Lock()
        self.code: int | None = None
        self.stopping = False
        self.crash_reported = False
        self.done = threading.Event()
        self.process = subprocess.Popen(
            [*argv, "--lifeline"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            # Ray's request for this worker, not an instruction to workers the process starts.
            env={k: v for k, v in {**os.environ, **env}.items() if k != WORKER_NICENESS},
            preexec_fn=_die_with_parent,
        )
        threading.Thread(target=self._pump, name="output", daemon=True).start()

    def _pump(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            line = raw.decode(errors="replace").rstrip()
            self.tail.append(line)
            with self.lines_lock:
                self.lines.append(line)
                self.line_count += 1
        self.code = self.process.wait()
        self.done.set()
        if self.code not in self.final_codes and not self.stopping:
            # A crash of ours: this worker exits so that Ray restarts the actor (max_restarts),
            # once the launch has had a moment to fetch the status and the last lines. They
            # also go to the worker's log (RAY_SESSION/logs/worker-*.err).
            print(f"{self.name} exited with status {self.code}:", file=sys.stderr)
            print("\n".join(self.tail), file=sys.stderr, flush=True)
            time.sleep(CRASH_REPORT_S)
            os._exit(1)

    def info(self) -> dict[str, Any]:
        """Where Ray placed it: the launch logs this (and a test kills `worker_pid`)."""
        return {
            "node_id": self.node_id,
            "node_address": self.node_address,
            "node_resources": self.node_resources,
            "worker_pid": os.getpid(),
            "pid": self.process.pid,
            "niceness": _niceness(self.process.pid),
        }

    def wait(self) -> tuple[int, list[str]]:
        """Block until the process has exited: its status and its last lines of output. After
        a crash has been reported once, block until this worker exits (the caller then waits
        on the restarted actor)."""
        self.done.wait()
        assert self.code is not None
        if self.code not in self.final_codes and not self.stopping:
            if self.crash_reported:
                threading.Event().wait()
            self.crash_reported = True
        return self.code, list(self.tail)

    def output(self, since: int) -> tuple[int, list[str]]:
        """The lines printed after the first `since` (those still kept), and the new count: how
        the launch follows a hosted supervisor's progress."""
        with self.lines_lock:
            count, lines = self.line_count, list(self.lines)
        new = min(count - since, len(lines))
        return count, lines[len(lines) - new :] if new > 0 else []

    def stop(self, grace_s: float) -> int:
        """SIGTERM (its clean shutdown), then SIGKILL after `grace_s`."""
        self.stopping = True
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                self.process.kill()
        self.done.wait(timeout=5)
        return self.process.wait()
