"""`supersonic launch --backend ray`: the supervisor as a Ray actor, followed by this launch.

Why: the run must not depend on the machine the user typed the command on (a laptop, a login
node behind `ray://`). So this launch is only Ray's driver: it checks the request, places the
supervisor's Ray actor (on the head node by default, `[ray] supervisor_resources` elsewhere),
prints what the supervisor prints, and exits with its status. The Ray actor is a
`HostedProcess` (launch/ray_host.py) running the supervisor's own launch,

    supersonic launch --resume RUN_DIR --backend ray --address GCS --ray-hosted [--bind-host NODE]

which is the same code as a launch without Ray, placing the learners and actors as Ray actors
of its own (launch/ray_backend.py; Ray allows nested drivers). RUN_DIR is written by the
supervisor, so it must be on a filesystem that the supervisor's node shares with this machine
(this launch writes `config.json` there first and reads `results.json` at the end).

Failures, each handled once:
- Ctrl-C or SIGTERM here: the supervisor gets SIGTERM, its clean shutdown (STOP to everyone,
  its Ray actors stopped), then the final table, status 130.
- this launch SIGKILLed: Ray kills the Ray actors a dead driver owned (none is detached), so the
  supervisor's worker dies, its process's lifeline stops it (then Ray kills *its* Ray actors).
- the supervisor crashes or its worker or node dies: Ray restarts the Ray actor (`[ray]
  max_restarts`) and the new supervisor resumes from the ledger (`--resume` semantics: the
  ledger has every score); its learners and actors start again and join it. Past max_restarts
  the launch ends with one line saying how to resume.
"""

from __future__ import annotations

import json
import signal
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from supersonic import logs
from supersonic.launch import ray_backend
from supersonic.launch.config import ConfigError, RunConfig, RunPaths
from supersonic.launch.ray_host import GCS_ADDRESS, NODE_ADDRESS

EXIT_USER_ERROR = 2  # the supervisor's launch refused the run (one line): no restart helps
EXIT_INTERRUPTED = 130
FINAL_CODES = (0, EXIT_USER_ERROR, 3, EXIT_INTERRUPTED)
STOP_GRACE_S = 40.0  # the supervisor's clean shutdown: STOP, its processes' grace, Ray kills
POLL_S = 0.5
LOOPBACK = ("127.0.0.1", "localhost", "::1")


@dataclass
class HostedRun:
    """How the hosted supervisor ended: its status, the results it wrote (None when it wrote
    none) and its last line of output."""

    code: int
    results: dict[str, Any] | None
    last_line: str


def supervisor_args(config: RunConfig, run_dir: Path) -> list[str]:
    """The supervisor's launch inside its Ray actor: always `--resume`, so that a Ray restart
    continues the run from its ledger (a first start finds an empty one)."""
    args = ["launch", "--resume", str(run_dir.resolve()), "--backend", "ray"]
    args += ["--address", GCS_ADDRESS, "--ray-hosted"]
    if config.bind_host not in LOOPBACK:
        # It may not run on this machine: it binds the address of the node Ray put it on.
        args += ["--bind-host", NODE_ADDRESS]
    return args


def run(
    config: RunConfig,
    run_dir: Path,
    echo: Callable[[str], None],
    address: str | None,
) -> HostedRun:
    """Check, place the supervisor, follow it to its end; see the module docstring."""
    from supersonic.launch.ray_host import HOST_RUNTIME_ENV, HostedProcess

    ray = ray_backend.import_ray()  # a one-line error when Ray is missing

    if config.hosts:
        raise ConfigError("--backend ray places every process itself: remove [cluster] hosts")
    settings = config.ray
    ray_backend.connect(settings, address)
    try:
        ray_backend.check_resources(
            settings.actor_groups(config.actors),
            settings.learner_demand(),
            settings.supervisor_demand(),
        )
        paths = RunPaths(run_dir)
        run_dir.mkdir(parents=True, exist_ok=True)
        # Always: on --resume too, with this command line's overrides, which the supervisor
        # reads from here.
        paths.config.write_text(json.dumps(config.to_dict(), indent=2))
        paths.results.unlink(missing_ok=True)  # the one the supervisor writes is its answer
        log = logs.configure("driver", "launch", paths.events)
        demand = settings.supervisor_demand()
        custom = {k: v for k, v in demand.items() if k != "CPU"}
        handle = (
            ray.remote(HostedProcess)
            .options(
                num_cpus=demand["CPU"],
                resources=custom,
                max_restarts=settings.max_restarts,
                runtime_env=HOST_RUNTIME_ENV,
                max_concurrency=4,  # wait() blocks while output() and stop() answer
            )
            .remote(
                "supervisor",
                supervisor_args(config, run_dir),
                settings.env,
                settings.python,
                FINAL_CODES,
            )
        )
        log.info("ray_supervisor_start", demand=demand, run_dir=str(run_dir.resolve()))
        code, last = _follow(handle, settings.max_restarts, log, echo)
    finally:
        ray_backend.disconnect()  # kills the supervisor's Ray actor if it is still there
    results = json.loads(paths.results.read_text()) if paths.results.exists() else None
    return HostedRun(code, results, last)


def _follow(
    handle: Any, max_restarts: int, log: Any, echo: Callable[[str], None]
) -> tuple[int, str]:
    """Echo the supervisor's output until it exits; returns (status, last line). Ray restarts
    of its Ray actor are logged and told; Ctrl-C or SIGTERM stop it cleanly.

    The signals only set a flag that the loop reads every POLL_S: an exception raised by a
    handler inside Ray's C code (a `ray.wait`) comes out as a SystemError, not as itself."""
    import ray
    from ray.exceptions import RayActorError

    interrupted = threading.Event()

    def on_signal(signum: int, frame: Any) -> None:
        interrupted.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    seen, deaths, last = 0, 0, ""
    replacing = False  # a death counted; the new supervisor has not answered `info` yet
    output: Any = None
    info: Any = handle.info.remote()
    wait: Any = handle.wait.remote()
    try:
        while not interrupted.is_set():
            try:
                if info is not None and ray.wait([info], timeout=0)[0]:
                    where = ray.get(info)
                    replacing = False
                    if deaths == 0:
                        log.info("ray_supervisor_placed", restarts=deaths, **where)
                    else:
                        log.info("ray_supervisor_replaced", restarts=deaths, **where)
                    info = None
                # Asked once and read when answered: while Ray has not placed the supervisor
                # yet (its resources are busy) nothing answers, and that is no error.
                output = output or handle.output.remote(seen)
                if ray.wait([output], timeout=0)[0]:
                    seen, lines = ray.get(output)
                    output = None
                    for line in lines:
                        echo(line)
                        last = line if line.strip() else last
                if ray.wait([wait], timeout=POLL_S)[0]:
                    code, tail = ray.get(wait)
                    last = next((x for x in reversed(tail) if x.strip()), last)
                    if code in FINAL_CODES:
                        if output is not None:
                            seen, lines = ray.get(output, timeout=30)
                            for line in lines:
                                echo(line)
                        seen, lines = ray.get(handle.output.remote(seen), timeout=30)
                        for line in lines:
                            echo(line)
                        return int(code), last
                    # A crash: its worker exits and Ray restarts it (it resumes).
                    log.warning("ray_supervisor_exit", code=int(code), line=last[:200])
                    echo(f"the supervisor exited with status {code} ({last[:200]})")
                    wait = handle.wait.remote()
            except RayActorError as exc:
                if ray_backend.still_restarting(exc, replacing):
                    time.sleep(POLL_S)  # the calls fail at once until Ray has restarted it
                    output = None
                    info, wait = handle.info.remote(), handle.wait.remote()
                    continue
                deaths += 1
                replacing = True
                reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
                if deaths > max_restarts:
                    log.error("ray_supervisor_failed", deaths=deaths, reason=reason)
                    return 1, last or reason
                log.warning("ray_supervisor_restart", restart=deaths, reason=reason)
                echo(
                    f"the supervisor's Ray actor died ({reason}): Ray starts it again "
                    f"({deaths} of {max_restarts}) and it resumes the run from its ledger"
                )
                seen, output = 0, None  # a new process: its output starts again
                info, wait = handle.info.remote(), handle.wait.remote()
        echo("interrupted: stopping the supervisor (it stops every process)")
        return _stop(handle, seen, echo), last
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _stop(handle: Any, seen: int, echo: Callable[[str], None]) -> int:
    """SIGTERM to the supervisor, which stops its learners and actors (their STOP, then their
    Ray actors); its output meanwhile. Signals stay caught: a second Ctrl-C must not cut it."""
    import ray
    from ray.exceptions import GetTimeoutError, RayActorError

    stopped = handle.stop.remote(STOP_GRACE_S)
    deadline = time.monotonic() + STOP_GRACE_S + 10
    code = EXIT_INTERRUPTED
    try:
        while time.monotonic() < deadline:
            seen, lines = ray.get(handle.output.remote(seen), timeout=10)
            for line in lines:
                echo(line)
            if ray.wait([stopped], timeout=POLL_S)[0]:
                code = int(ray.get(stopped))
                break
        seen, lines = ray.get(handle.output.remote(seen), timeout=10)
        for line in lines:
            echo(line)
    except (RayActorError, GetTimeoutError):
        pass  # it is gone already: ray.shutdown() cleans up whatever is left
    return EXIT_INTERRUPTED if code in (0, -signal.SIGTERM, EXIT_INTERRUPTED) else code
