"""`supersonic launch --backend ray`: the learners and actors as Ray actors on a Ray cluster.

Ray only places, starts, restarts and stops the processes; they talk ZeroMQ as always. Each
process is hosted by a `HostedProcess` Ray actor (launch/ray_host.py, which says why it runs a
subprocess) created with the resources the config asks for (`[ray]`: CPUs per actor, GPUs per
learner, custom resources such as a board's), and with `max_restarts`, so Ray brings a crashed
or killed process back on a node that has those resources; it says HELLO again and rejoins.

The supervisor is a Ray actor too (launch/ray_supervisor.py): the launch the user runs is
only a driver that places it and follows it; the supervisor's own launch, inside that Ray
actor, is the Ray driver of the learners and actors, through this module.

Before anything starts, the launch checks what can be checked at once, with a one-line error:
Ray installed, the address reachable (a TCP connect with a short timeout, never a hang), and
every resource request satisfiable by at least one live node (a request no node can meet would
leave its process pending forever).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import socket
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path
from typing import Any, cast

from supersonic.launch.backend_config import RayActorGroup, RaySettings
from supersonic.launch.cluster import HostConfig
from supersonic.launch.config import ConfigError
from supersonic.launch.launcher import EXIT_REJECTED, Child, ProcessGroup

CONNECT_TIMEOUT_S = 3.0
PROBE_TIMEOUT_S = 15.0
Log = Any  # the supervisor's structlog logger (the run's events.jsonl)


def connect(settings: RaySettings, address: str | None, probe: bool = True) -> str:
    """`ray.init` against `address` (default: the config's); returns the address used.
    `probe`: check the address first (skipped by the hosted supervisor: the GCS address its
    Ray actor was started from is known to answer)."""
    ray = import_ray()
    address = address or settings.address
    if probe and address not in ("auto", "local"):
        _check_reachable(address)
        _probe(address)
    try:
        ray.init(
            address=None if address == "local" else address,
            log_to_driver=False,  # each process's output is kept by its host (ray_host.py)
            logging_level=logging.WARNING,
            include_dashboard=False if address == "local" else None,
        )
    except (ConnectionError, RuntimeError, ValueError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ConfigError(
            f"cannot connect to the Ray cluster at {address}: {first}; start one "
            "(`ray start --head`) or give its address (--address ray://HOST:10001)"
        ) from None
    return address


def import_ray() -> Any:
    """`import ray`, with Ray's pydantic bridge loaded while pydantic is hidden when the
    installed pydantic is version 1.

    Ray 2.60 refuses pydantic 1 (its serializer set-up raises ImportError on the first remote
    call), and CompilerGym, which the head needs for the LLVM task, pins pydantic < 2. The
    launch never sends a pydantic object through Ray, so Ray may as well believe pydantic is
    absent, which it supports. The Ray *nodes* cannot be helped this way (their agent imports
    pydantic in a process of its own): they run Ray from an environment without pydantic 1
    and the processes with `[ray] python` (docs/cluster.md)."""
    try:
        pydantic_major = importlib.metadata.version("pydantic").split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        pydantic_major = ""
    try:
        if pydantic_major == "1" and "ray._common.pydantic_compat" not in sys.modules:
            saved = sys.modules.pop("pydantic", None)
            sys.modules["pydantic"] = None  # type: ignore[assignment]  # import -> not found
            try:
                importlib.import_module("ray._common.pydantic_compat")
            finally:
                del sys.modules["pydantic"]
                if saved is not None:
                    sys.modules["pydantic"] = saved
        import ray
    except ModuleNotFoundError as exc:
        if exc.name != "ray" and not (exc.name or "").startswith("ray."):
            raise
        raise ConfigError(
            "--backend ray needs Ray: pip install 'supersonic-rl[ray]' (ray==2.60.0)"
        ) from None
    return ray


def disconnect() -> None:
    """End this driver's Ray job (Ray then removes any Ray actor of it still alive)."""
    import ray

    ray.shutdown()


_PROBE = """
import sys
from supersonic.launch.ray_backend import import_ray
ray = import_ray()
ray.init(address=sys.argv[1], log_to_driver=False, logging_level="ERROR")
print("ray-ok", flush=True)
ray.shutdown()
"""


def _probe(address: str) -> None:
    """`ray.init` in a child process that is killed after PROBE_TIMEOUT_S: a port that
    accepts connections but is no Ray cluster (or one that never answers) makes `ray.init`
    retry for a minute or more, and a hung `ray.init` cannot be interrupted in-process."""
    try:
        done = subprocess.run(
            [sys.executable, "-c", _PROBE, address],
            capture_output=True,
            text=True,
            timeout=PROBE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"the Ray cluster at {address} did not answer within {PROBE_TIMEOUT_S:.0f} s "
            "(something listens there, but not a Ray head that lets this machine in): check "
            "the address and port (`ray status` on its head)"
        ) from None
    if "ray-ok" not in done.stdout:
        lines = [line for line in done.stderr.splitlines() if line.strip()]
        reason = lines[-1][:300] if lines else f"status {done.returncode}"
        raise ConfigError(f"cannot connect to the Ray cluster at {address}: {reason}")


def _check_reachable(address: str) -> None:
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), CONNECT_TIMEOUT_S):
            pass
    except OSError as exc:
        raise ConfigError(
            f"the Ray cluster at {address} is unreachable ({exc.strerror or exc}): check that "
            "it runs (`ray status` on its head) and the address and port, or use --address auto"
        ) from None


def check_resources(
    groups: tuple[RayActorGroup, ...],
    learner: dict[str, float],
    supervisor: dict[str, float] | None = None,
) -> None:
    """Refuse requests the live nodes cannot satisfy (one line naming the request)."""
    import ray

    nodes = [n["Resources"] for n in ray.nodes() if n.get("Alive")]
    offered = "; ".join(_describe(n) for n in nodes) or "no live node"

    def fits(demand: dict[str, float]) -> bool:
        return any(all(n.get(k, 0.0) >= v for k, v in demand.items()) for n in nodes)

    requests = [(f"actor group {i}", g.demand()) for i, g in enumerate(groups)]
    if supervisor is not None:
        requests.append(("the supervisor", supervisor))
    for what, demand in [*requests, ("a learner", learner)]:
        if not fits(demand):
            raise ConfigError(
                f"[ray] {what} asks for {_describe(demand)} but no node of the Ray cluster has "
                f"that (nodes offer: {offered}): start a node with it (ray start --resources "
                "...) or change the request in [ray]"
            )
    totals: dict[str, float] = defaultdict(float)
    for n in nodes:
        for k, v in n.items():
            totals[k] += v
    need: dict[str, float] = defaultdict(float)
    for g in groups:
        for k, v in g.demand().items():
            need[k] += v * g.count
    for k, v in [*learner.items(), *(supervisor or {}).items()]:
        need[k] += v
    for k, v in need.items():
        if totals[k] < v:
            raise ConfigError(
                f"[ray] the actors and one learner need {k} = {v:g} but the Ray cluster has "
                f"{totals[k]:g} in all: fewer actors ([[ray.actors]] count) or more nodes"
            )


def _describe(resources: dict[str, float]) -> str:
    shown = {k: v for k, v in resources.items() if not k.startswith(("node:", "memory", "object"))}
    return ", ".join(f"{k}={v:g}" for k, v in sorted(shown.items()))


def still_restarting(exc: Exception, replacing: bool) -> bool:
    """Whether a failed call on a hosted Ray actor is the restart already counted, not a new
    death. Ray (2.60) fails a call made while it restarts the actor, at once, with
    ActorUnavailableError ("The actor is restarting"); the calls we make again right after
    counting a death meet exactly that when the new worker takes a while to start (a loaded
    node). Counted again, one SIGKILL became two restarts and used up `max_restarts` twice as
    fast. Until the new incarnation answers `info`, such errors are waited out: Ray itself
    ends a restart that fails for good with ActorDiedError, which always counts."""
    from ray.exceptions import ActorUnavailableError

    return replacing and isinstance(exc, ActorUnavailableError)


class RayProcess:
    """The launch's view of one hosted process: the part of Popen's interface that ChildWatch
    uses (`poll`, `returncode`), from the host's `wait` and Ray's actor errors."""

    def __init__(
        self, name: str, handle: Any, max_restarts: int, log: Log, echo: Callable[[str], None]
    ) -> None:
        self.name, self.handle, self.max_restarts = name, handle, max_restarts
        self.log, self.echo = log, echo
        self.returncode: int | None = None
        self.pid = 0  # the hosting worker's pid, once Ray has placed it
        self.deaths = 0
        self.replacing = False  # a death counted; its new incarnation has not answered yet
        self.tail: list[str] = []
        self._wait = handle.wait.remote()
        self._info: Any = handle.info.remote()

    def poll(self) -> int | None:
        import ray
        from ray.exceptions import GetTimeoutError, RayActorError

        if self.returncode is not None:
            return self.returncode
        if self._info is not None and ray.wait([self._info], timeout=0)[0]:
            try:
                info = ray.get(self._info)
                self.pid = int(info["worker_pid"])
                self.replacing = False
                if self.deaths == 0:
                    self.log.info("ray_placed", process=self.name, **info)
                else:
                    self.log.info("ray_replaced", process=self.name, restarts=self.deaths, **info)
            except RayActorError:
                pass  # it died again before answering: the wait below says so
            self._info = None
        if not ray.wait([self._wait], timeout=0)[0]:
            return None
        try:
            code, self.tail = ray.get(self._wait, timeout=5)
        except GetTimeoutError:
            return None
        except RayActorError as exc:
            if still_restarting(exc, self.replacing):
                self._wait = self.handle.wait.remote()
                if self._info is None:  # its last answer was an error too
                    self._info = self.handle.info.remote()
                return None
            self.deaths += 1
            self.replacing = True
            reason = str(exc).strip().splitlines()[0][:200] if str(exc).strip() else ""
            if self.deaths > self.max_restarts:
                self.log.error("ray_process_failed", process=self.name, deaths=self.deaths)
                self.returncode = 1
                return 1
            self.log.warning("ray_restart", process=self.name, restart=self.deaths, reason=reason)
            self._wait = self.handle.wait.remote()  # fails while Ray restarts it: see above
            self._info = self.handle.info.remote()
            return None
        if code not in (0, EXIT_REJECTED):  # a crash: its host exits, Ray restarts it
            last = next((line for line in reversed(self.tail) if line.strip()), "no output")
            self.echo(
                f"{self.name} exited with status {code} ({last[:200]}): Ray restarts it "
                f"({self.deaths + 1} of {self.max_restarts})"
                if self.deaths < self.max_restarts
                else f"{self.name} exited with status {code} ({last[:200]})"
            )
            self.log.warning("ray_process_exit", process=self.name, code=int(code), line=last[:200])
            self._wait = self.handle.wait.remote()
            return None
        self.returncode = int(code)
        ray.kill(self.handle, no_restart=True)  # free its resources (a learner's GPU) now
        return self.returncode


class RayProcessGroup(ProcessGroup):
    """The launch's processes as Ray actors: `start` places a learner, `start_actor` an actor
    of a `[[ray.actors]]` group; `stop` stops them cleanly, then kills their Ray actors."""

    def __init__(
        self, log_dir: Path, settings: RaySettings, log: Log, echo: Callable[[str], None]
    ) -> None:
        super().__init__(log_dir)
        self.settings, self.log, self.echo = settings, log, echo
        self.next_check = 0.0

    def _host(self, name: str, args: list[str], demand: dict[str, float]) -> Child:
        import ray

        from supersonic.launch.ray_host import HOST_RUNTIME_ENV, HostedProcess

        self.log_dir.mkdir(parents=True, exist_ok=True)
        custom = {k: v for k, v in demand.items() if k not in ("CPU", "GPU")}
        remote = ray.remote(HostedProcess).options(
            name=None,
            num_cpus=demand.get("CPU", 1.0),
            num_gpus=demand.get("GPU", 0.0),
            resources=custom or None,
            max_restarts=self.settings.max_restarts,
            runtime_env=HOST_RUNTIME_ENV,
            max_concurrency=4,  # wait() blocks while info() and stop() answer
        )
        handle = remote.remote(name, args, self.settings.env, self.settings.python)
        process = RayProcess(
            name, handle, self.settings.max_restarts, self.log, lambda line: self.echo(line)
        )
        self.log.info("ray_start", process=name, demand=demand)
        # RayProcess offers what ChildWatch reads of a Popen (poll, returncode).
        child = Child(name, ["ray", *args], cast(Any, process), self.log_dir / f"{name}.out")
        self.children.append(child)
        return child

    def start(self, name: str, args: list[str], host: HostConfig | None = None) -> Child:
        """Start a learner (ChildWatch's start_learner) with `[ray]`'s learner resources."""
        return self._host(name, args, self.settings.learner_demand())

    def start_actor(self, name: str, args: list[str], group: RayActorGroup) -> Child:
        return self._host(name, args, group.demand())

    def restart(self, child: Child) -> Child:
        raise NotImplementedError("Ray restarts hosted processes itself (max_restarts)")

    def check(self) -> None:
        """Poll every process (placement, restarts, exits are logged as they happen) and
        write the output tail of those that ended into logs/NAME.out."""
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + 0.5
        for child in self.children:
            process = cast(RayProcess, child.process)
            if process.returncode is None and process.poll() is not None:
                with child.log.open("a") as out:
                    out.write("\n".join(process.tail) + "\n")

    def stop(self, grace_s: float = 5.0, timeout_s: float = 15.0) -> None:
        import ray

        processes = [cast(RayProcess, c.process) for c in self.children]
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(p.poll() is None for p in processes):
            time.sleep(0.1)
        refs = [p.handle.stop.remote(timeout_s / 2) for p in processes if p.returncode is None]
        if refs:
            ray.wait(refs, num_returns=len(refs), timeout=timeout_s)
        for p in processes:
            try:
                ray.kill(p.handle, no_restart=True)
            except Exception as exc:  # already gone: nothing left to stop
                self.log.info("ray_kill_failed", process=p.name, error=str(exc)[:200])

    def pids(self) -> dict[str, int]:
        return {c.name: cast(RayProcess, c.process).pid for c in self.children}
