"""`supersonic launch`: the supervisor here, one learner per candidate and N actors as children.

Children are separate processes (`python -m supersonic learner|actor ...`), each in this
process's session and with a parent-death signal, so that nothing outlives the launch: on the
end of the run, on Ctrl-C (SIGINT reaches the whole foreground group; each child shuts down
cleanly) and on any failure, `ProcessGroup.stop` sends SIGTERM, waits, then SIGKILLs
stragglers; if the launcher itself is killed, the kernel sends the children SIGTERM.

With a `[cluster]` section some children are `ssh` clients running actors (and learners) on
other hosts; they are stopped the same way, through the remote processes' lifelines (see
launch/cluster.py), and the policies of remote learners are copied back for the export.
"""

from __future__ import annotations

import io
import json
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from supersonic.envs import get_task
from supersonic.launch.accounting import account_totals, record_accounts
from supersonic.launch.backend_config import ray_from_dict, slurm_from_dict
from supersonic.launch.cluster import HostConfig, host_from_dict, ssh_argv, tar_argv
from supersonic.launch.config import ConfigError, RunConfig, RunPaths, validate
from supersonic.launch.ledger import Ledger
from supersonic.launch.supervisor import Supervisor, policy_path
from supersonic.launch.tables import format_table
from supersonic.lifeline import die_with_parent
from supersonic.progress import ProgressBar
from supersonic.protocol.messages import CandidateSpec

MIN_VALIDATION_PROGRAMS = 5  # what the search compares candidates on (ASHA, bandit)


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes]
    log: Path
    host: HostConfig | None = None  # None: a process of this machine; else started over ssh


class ProcessGroup:
    """Child processes started by this launch, here or over ssh, stopped together.

    A remote child is the local `ssh` client; its stdin is a pipe this group holds open, which
    is the remote process's lifeline (see launch/cluster.py): closing it stops the remote
    process cleanly, and if this launch dies the pipe closes by itself. Its output (the remote
    process's stdout and stderr, and ssh's own errors) goes to `logs/NAME.out` like a local
    child's.
    """

    def __init__(self, log_dir: Path, ssh_options: tuple[str, ...] = ()) -> None:
        self.log_dir = log_dir
        self.ssh_options = ssh_options
        self.children: list[Child] = []

    def start(self, name: str, args: list[str], host: HostConfig | None = None) -> Child:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = self.log_dir / f"{name}.out"
        if host is None:
            argv = [sys.executable, "-m", "supersonic", *args]
        else:
            argv = ssh_argv(host, self.ssh_options, [*args, "--lifeline"])
        child = Child(name, argv, self._spawn(argv, log, host is not None), log, host)
        self.children.append(child)
        return child

    @staticmethod
    def _spawn(argv: list[str], log: Path, remote: bool) -> subprocess.Popen[bytes]:
        with log.open("ab") as out:
            return subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.PIPE if remote else subprocess.DEVNULL,
                preexec_fn=die_with_parent(signal.SIGTERM),
                # ssh clients stay out of the terminal's process group: Ctrl-C must not cut a
                # remote process's link before it has shut down (stop() closes it in order).
                start_new_session=remote,
            )

    def restart(self, child: Child) -> Child:
        """Start `child`'s command again (same name and log); returns the new child."""
        again = Child(
            child.name,
            child.argv,
            self._spawn(child.argv, child.log, child.host is not None),
            child.log,
            child.host,
        )
        self.children.append(again)
        return again

    def stop(self, grace_s: float = 5.0, timeout_s: float = 15.0) -> None:
        """Give children `grace_s` to exit by themselves (they were sent STOP), then stop the
        rest (local: SIGTERM; remote: close their lifeline), then SIGKILL whatever is left
        after `timeout_s`."""
        deadline = time.monotonic() + grace_s
        while time.monotonic() < deadline and any(c.process.poll() is None for c in self.children):
            time.sleep(0.05)
        for child in self.children:
            if child.process.poll() is not None:
                continue
            if child.host is None:
                child.process.send_signal(signal.SIGTERM)
            elif child.process.stdin is not None:
                child.process.stdin.close()
        deadline = time.monotonic() + timeout_s
        for child in self.children:
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                child.process.kill()
                child.process.wait()
            if child.process.stdin is not None and not child.process.stdin.closed:
                child.process.stdin.close()

    def pids(self) -> dict[str, int]:
        return {c.name: c.process.pid for c in self.children}

    def check(self) -> None:
        """Called on every supervisor tick; local and ssh children need nothing here (the Ray
        group polls its processes)."""


MAX_LEARNER_RESTARTS = 3
REMOTE_RESTART_S = 2.0
REMOTE_RESTART_MAX_S = 60.0
EXIT_REJECTED = 3  # a peer the supervisor refused: starting it again would not help


class ChildWatch:
    """Keeps exactly the learners the supervisor wants running: a candidate's learner starts
    when the search strategy gives it work (and again when it is promoted after a pause: it
    resumes from its checkpoint), and stops by itself on the supervisor's STOP. A learner that
    exits with an error while wanted is restarted; after MAX_LEARNER_RESTARTS the candidate is
    failed so the run can finish. Actors are interchangeable: one that dies is declared dead by
    the supervisor, and the launch starts it again after a backoff (REMOTE_RESTART_S doubling to
    REMOTE_RESTART_MAX_S), unless it was refused (status 3): a local actor that crashed or was
    killed, or an actor started over ssh whose ssh command ended while the run goes on (the
    host rebooted, its link broke, the remote process crashed): a board that comes back gets
    its actors back."""

    def __init__(
        self,
        group: ProcessGroup,
        supervisor: Supervisor,
        echo: Callable[[str], None],
        start_learner: Callable[[CandidateSpec], Child],
    ) -> None:
        self.group, self.supervisor, self.echo = group, supervisor, echo
        self.start_learner = start_learner
        self.restarts: dict[str, int] = {}
        self.learners: dict[str, Child] = {}
        self.next_check = 0.0
        self.actors = [c for c in group.children if c.name.startswith("actor-")]
        self.backoff: dict[str, float] = {}  # actor -> current backoff
        self.restart_at: dict[str, float] = {}  # actor -> when to start it again

    def check(self) -> None:
        now = time.monotonic()
        if now < self.next_check:
            return
        self.next_check = now + 0.5
        for name, state in self.supervisor.candidates.items():
            child = self.learners.get(name)
            running = child is not None and child.process.poll() is None
            if running or not self.supervisor.wants_learner(name):
                continue
            if child is not None and child.process.returncode != 0:
                count = self.restarts.get(name, 0) + 1
                self.restarts[name] = count
                code = child.process.returncode
                if count > MAX_LEARNER_RESTARTS:
                    self.supervisor.fail_candidate(
                        name, f"learner exited with status {code} {count - 1} times"
                    )
                    continue
                self.echo(f"learner of {name} exited with status {code}: restart {count}")
                self.supervisor.log.warning(
                    "learner_restart", candidate=name, code=code, restart=count
                )
            self.learners[name] = self.start_learner(state.spec)
        self._check_actors(now)

    def _check_actors(self, now: float) -> None:
        for i, child in enumerate(self.actors):
            code = child.process.poll()
            if code is None or code == EXIT_REJECTED:
                continue
            due = self.restart_at.get(child.name)
            if due is None:
                # A local actor comes back once the supervisor has declared it dead, so that the
                # events read in order (peer_dead, then peer_join); a remote one at once.
                first = REMOTE_RESTART_S
                if child.host is None:
                    first = max(first, self.supervisor.config.heartbeat_timeout_s + 1.0)
                delay = self.backoff.get(child.name, first)
                self.backoff[child.name] = min(delay * 2, REMOTE_RESTART_MAX_S)
                self.restart_at[child.name] = now + delay
                where = "" if child.host is None else f" on {child.host.name}"
                self.echo(
                    f"{child.name}{where} exited with status {code} "
                    f"({_last_line(child.log)}): starting it again in {delay:.0f} s"
                )
                if child.host is None:
                    self.supervisor.log.warning("local_actor_exit", actor=child.name, code=code)
                else:
                    self.supervisor.log.warning(
                        "remote_actor_exit", actor=child.name, host=child.host.name, code=code
                    )
            elif now >= due:
                del self.restart_at[child.name]
                self.actors[i] = self.group.restart(child)


def _last_line(log: Path) -> str:
    """The last line a child wrote (e.g. ssh's own error), for a one-line report."""
    try:
        with log.open("rb") as f:
            f.seek(max(0, log.stat().st_size - 2000))
            lines = f.read().decode(errors="replace").strip().splitlines()
    except OSError:
        return f"see {log}"
    return lines[-1][:200] if lines else f"no output, see {log}"


def default_run_dir(config: RunConfig) -> Path:
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{stamp}-{config.name}"


def load_run_config(run_dir: Path) -> RunConfig:
    """The configuration a run was started with (RUN_DIR/config.json), for --resume."""
    path = RunPaths(run_dir).config
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{run_dir}: not a run directory (no config.json)") from None
    except ValueError as exc:
        raise ConfigError(f"{path}: not valid JSON ({exc})") from None
    data["candidates"] = tuple(CandidateSpec(**c) for c in data["candidates"])
    data["hosts"] = tuple(host_from_dict(h) for h in data.get("hosts", []))
    data["ssh_options"] = tuple(data.get("ssh_options", []))
    data["ray"] = ray_from_dict(data.get("ray", {}))
    data["slurm"] = slurm_from_dict(data.get("slurm", {}))
    config = RunConfig(**data)
    validate(config, str(path))
    return config


def check_programs(config: RunConfig) -> None:
    """Refuse to start when a validation program cannot be loaded (one-line ConfigError)."""
    task = get_task(config.task)
    programs = task.resolve_programs(config.validation or task.validation)
    if config.strategy != "exhaustive" and len(programs) < MIN_VALIDATION_PROGRAMS:
        raise ConfigError(
            f"strategy {config.strategy} compares candidates on at least "
            f"{MIN_VALIDATION_PROGRAMS} validation programs; {len(programs)} given"
        )
    if task.check_program is not None:
        for program in programs:
            try:
                task.check_program(program)
            except (ValueError, OSError) as exc:
                raise ConfigError(f"validation program {program} does not load: {exc}") from None


def launch(
    config: RunConfig,
    run_dir: Path,
    echo: Callable[[str], None],
    resume: bool = False,
    backend: str = "local",
    ray_address: str | None = None,
    hosted: bool = False,
) -> dict[str, Any]:
    """Run the whole search; returns the results (also in RUN_DIR).

    `resume`: continue the run in `run_dir` (its config, ledger and checkpoints).
    `backend`: "local" (here, plus any [cluster] hosts over ssh) or "ray" (the learners and
    actors as Ray actors, launch/ray_backend.py; `ray_address` overrides [ray] address).
    `hosted`: this is the supervisor inside its Ray actor (launch/ray_supervisor.py)."""
    paths = RunPaths(run_dir)
    terminated = threading.Event()  # hosted: SIGTERM, turned into the Ctrl-C path at a tick
    if config.hosts and shutil.which("ssh") is None:
        raise ConfigError("[cluster] needs the OpenSSH client: install openssh-client")
    check_programs(config)
    ray_groups = config.ray.actor_groups(config.actors) if backend == "ray" else ()
    if backend == "ray":
        from supersonic.launch import ray_backend

        if config.hosts:
            raise ConfigError("--backend ray places every process itself: remove [cluster] hosts")
        ray_backend.connect(config.ray, ray_address, probe=not hosted)
        if hosted:  # after ray.init, whose own SIGTERM handler aborts the process
            signal.signal(signal.SIGTERM, lambda signum, frame: terminated.set())
        try:
            ray_backend.check_resources(ray_groups, config.ray.learner_demand())
        except ConfigError:
            ray_backend.disconnect()
            raise
        config = replace(config, actors=sum(g.count for g in ray_groups))
    run_dir.mkdir(parents=True, exist_ok=True)
    if not resume:
        paths.config.write_text(json.dumps(config.to_dict(), indent=2))
    supervisor = Supervisor(config, paths, resume=resume)
    (run_dir / "endpoint").write_text(supervisor.endpoint + "\n")
    group = ProcessGroup(paths.logs, config.ssh_options)
    if backend == "ray":
        group = ray_backend.RayProcessGroup(paths.logs, config.ray, supervisor.log, echo)
    placements = LearnerPlacement(config, paths, supervisor.endpoint, ray=backend == "ray")

    def start_learner(spec: CandidateSpec) -> Child:
        host = placements.host_for(spec.name)
        return group.start(f"learner-{spec.name}", placements.args(spec, host), host)

    try:
        for gi, ray_group in enumerate(ray_groups):
            assert isinstance(group, ray_backend.RayProcessGroup)
            for i in range(ray_group.count):
                ident = f"actor-g{gi}-{i}"
                args = ray_actor_args(config, supervisor.endpoint, ident, ray_group.label)
                group.start_actor(ident, args, ray_group)
        for i in range(0 if ray_groups else config.actors):
            group.start(
                f"actor-{i}",
                [
                    *actor_args(config, supervisor.endpoint, f"actor-{i}", None),
                    "--log-file",
                    str(paths.events),
                    "--no-forward-events",  # it writes the run's events.jsonl itself
                ],
            )
        for host in config.hosts:
            for i in range(host.actors):
                ident = f"actor-{host.name}-{i}"
                # The event log goes to stderr, which ssh forwards into logs/IDENT.out.
                args = [*actor_args(config, supervisor.endpoint, ident, host), "--log-file", "-"]
                group.start(ident, args, host)
        (run_dir / "processes.json").write_text(json.dumps(group.pids(), indent=2))
        remote = sum(h.actors for h in config.hosts)
        echo(
            f"run {run_dir}{' (resumed)' if resume else ''}: supervisor at "
            f"{supervisor.endpoint}, {len(config.candidates)} candidates "
            f"({supervisor.strategy.describe()}), {config.actors} actors"
            + (f" + {remote} on {len(config.hosts)} hosts" if config.hosts else "")
        )
        started = time.monotonic()
        bar = ProgressBar(
            supervisor.strategy.expected_env_steps() * config.seeds, "env steps (estimate)"
        )
        say = bar.above(echo)
        if backend == "ray":
            group.echo = say  # type: ignore[attr-defined]  # a RayProcessGroup's messages
        watch = ChildWatch(group, supervisor, say, start_learner)

        def tick() -> None:
            if terminated.is_set():  # raised here, never inside Ray's C code
                raise KeyboardInterrupt
            watch.check()
            group.check()
            bar.update(sum(s.env_steps for s in supervisor.candidates.values()))

        try:
            results = supervisor.run(on_progress=say, on_tick=tick)
        except KeyboardInterrupt:
            echo("interrupted: stopping every process")
            supervisor.request_stop()
            supervisor.stop_everyone("interrupted")
            results = supervisor.results()
            results["interrupted"] = True
        finally:
            bar.close()
        results["seconds"] = round(time.monotonic() - started, 1)
    finally:
        group.stop()
        accounts = record_accounts(paths.events, supervisor.ledger)  # every child has exited
        supervisor.log.info("segment_accounts", **account_totals(accounts))
        supervisor.close()
        if backend == "ray":
            ray_backend.disconnect()
    results["segments"] = account_totals(accounts)
    if not results.get("interrupted"):
        placements.fetch_policies(echo)
    if not results.get("interrupted"):
        results["best_results"] = validate_best_results(config, paths, echo, supervisor.log)
    if results.get("winner") and not results.get("interrupted"):
        results["exported"] = export_winner(config, paths, results, echo)
    if config.baseline_random and not results.get("interrupted"):
        random = random_search_same_steps(config, results, echo)
        if random is not None:
            results["random_search"] = random
            supervisor.log.info(
                "random_search",
                score=random["score"],
                env_steps=random["env_steps"],
                programs=list(random["programs"]),
                metrics=[float(m) for m in random["metrics"]],
            )
    paths.results.write_text(json.dumps(results, indent=2))
    return results


def actor_args(config: RunConfig, endpoint: str, ident: str, host: HostConfig | None) -> list[str]:
    """`supersonic actor ...` for an actor the launch starts here (`host` None) or on a host."""
    args = ["actor", "--connect", endpoint, "--ident", ident]
    keys = config.keys if host is None else host.keys
    if keys:
        args += ["--keys", keys]
    if host is not None and host.label:
        args += ["--label", host.label]
    return args


def ray_actor_args(config: RunConfig, endpoint: str, ident: str, label: str) -> list[str]:
    """`supersonic actor ...` for an actor hosted by Ray: its events go to its output and,
    forwarded, to the supervisor (it may run on another node than RUN_DIR)."""
    args = ["actor", "--connect", endpoint, "--ident", ident, "--log-file", "-"]
    keys = config.ray.keys or config.keys
    if keys:
        args += ["--keys", keys]
    if label:
        args += ["--label", label]
    return args


class LearnerPlacement:
    """Where each candidate's learner runs: here, or on the cluster's learner hosts (round
    robin in candidate order), or where Ray places it, and the command line it gets there."""

    def __init__(
        self, config: RunConfig, paths: RunPaths, endpoint: str, ray: bool = False
    ) -> None:
        self.config, self.paths, self.endpoint, self.ray = config, paths, endpoint, ray
        hosts = config.learner_hosts
        self.hosts: dict[str, HostConfig | None] = {
            c.name: hosts[i % len(hosts)] if hosts else None
            for i, c in enumerate(config.candidates)
        }

    def host_for(self, candidate: str) -> HostConfig | None:
        return self.hosts[candidate]

    def remote_dir(self) -> str:
        """A remote learner's run directory, relative to its host's workdir."""
        return f"supersonic-runs/{self.paths.root.resolve().name}"

    def args(self, spec: CandidateSpec, host: HostConfig | None) -> list[str]:
        config = self.config
        if host is None and self.ray:
            from supersonic.launch.ray_host import NODE_ADDRESS

            # On a Ray node: RUN_DIR must be on a filesystem the learner nodes share (the
            # export reads the policies there); it binds its node's address.
            checkpoints = str(self.paths.checkpoints.resolve() / spec.name)
            log_file, bind, keys = "-", NODE_ADDRESS, config.ray.keys or config.keys
        elif host is None:
            checkpoints = str(self.paths.checkpoints / spec.name)
            log_file = str(self.paths.events)  # the run's one events.jsonl (docs/events.md)
            bind, keys = config.bind_host, config.keys
        else:
            # Its events go to stderr (ssh brings them into logs/NAME.out) and, forwarded, to
            # the supervisor, which writes them into events.jsonl.
            checkpoints = f"{self.remote_dir()}/checkpoints/{spec.name}"
            log_file, bind, keys = "-", host.reach, host.keys
        args = [
            "learner",
            "--connect",
            self.endpoint,
            "--task",
            config.task,
            "--candidate",
            json.dumps(asdict(spec)),
            "--device",
            config.device,
            "--threads",
            str(config.learner_threads),
            "--checkpoint-dir",
            checkpoints,
            "--log-file",
            log_file,
            "--bind-host",
            bind,
        ]
        if host is None and not self.ray:
            args.append("--no-forward-events")  # it writes the run's events.jsonl itself
        if keys:
            args += ["--keys", keys]
        if config.insecure:
            args.append("--insecure")
        return args

    def fetch_policies(self, echo: Callable[[str], None]) -> None:
        """Copy the scored policies of remote learners into RUN_DIR (a tar stream over ssh),
        for the export."""
        for name, host in self.hosts.items():
            if host is None:
                continue
            local = self.paths.checkpoints / name
            local.mkdir(parents=True, exist_ok=True)
            remote = f"{self.remote_dir()}/checkpoints/{name}/policies"
            argv = tar_argv(host, self.config.ssh_options, remote)
            done = subprocess.run(argv, capture_output=True, timeout=300)
            if done.returncode != 0:  # a candidate that never scored has none: not an error
                reason = done.stderr.decode(errors="replace").strip().splitlines()[-1:]
                echo(f"no policies copied from {host.name} for {name}: {' '.join(reason)}")
                continue
            with tarfile.open(fileobj=io.BytesIO(done.stdout)) as tar:
                tar.extractall(local, filter="data")  # plain files under `local` only


def validate_best_results(
    config: RunConfig, paths: RunPaths, echo: Callable[[str], None], log: Any = None
) -> list[dict[str, Any]]:
    """Check the best result of every validation program (LLVM: replay its passes, compare the
    program's behaviour with -O0) and record the verdict in the ledger. One that fails
    (INVALID) never stays a best result: the next best offer takes its place and is checked."""
    task = get_task(config.task)
    with Ledger(paths.ledger) as ledger:
        if task.validate_result is not None:
            for best in ledger.best_results():
                row: dict[str, Any] | None = best
                while row is not None and not row["validation"]:  # "": not validated yet
                    try:
                        verdict = task.validate_result(row["program"], row["details"])
                    except Exception as exc:  # a verdict, not a crash of the whole run
                        verdict = f"unchecked: {type(exc).__name__}: {exc}"
                    if not verdict.startswith("valid"):
                        echo(f"best result for {row['program']}: {verdict}")
                    if verdict.startswith("INVALID"):
                        row = ledger.reject_best(row["program"], verdict)
                        if log is not None:
                            log.warning(
                                "best_result_rejected", program=best["program"], verdict=verdict
                            )
                    else:
                        ledger.set_validation(row["program"], verdict)
                        row = None
        return ledger.best_results()


def best_evaluation(scores: dict[str, Any]) -> tuple[str, dict[str, Any]] | None:
    """The winner's evaluation to export: its best-scoring one after training started (ties:
    the later version), not necessarily its last. A policy can get worse with more training
    (the demo's winner scored 0.751 at 2,000 and 6,000 steps and 0.056 at 18,000); like a
    tuner's best checkpoint, the export is the weights that earned the best score."""
    stages = [(k, v) for k, v in scores.items() if k != "initial"]
    if not stages:
        return None
    return max(stages, key=lambda kv: (kv[1]["score"], kv[1]["policy_version"]))


def export_winner(
    config: RunConfig, paths: RunPaths, results: dict[str, Any], echo: Callable[[str], None]
) -> str | None:
    """Write RUN_DIR/best/ for the winner, from the policy file of its best evaluation
    (`best_evaluation`); its scores.json records which one as "exported"."""
    from supersonic.launch.export import export_best

    winner = next(c for c in results["candidates"] if c["spec"]["name"] == results["winner"])
    chosen = best_evaluation(winner["scores"])
    if chosen is None:
        return None
    stage, evaluation = chosen
    version = int(evaluation["policy_version"])
    policy = paths.root / policy_path(winner["spec"]["name"], version)
    if not policy.exists():
        echo(f"cannot export the winner: {policy} was not written")
        return None
    task = get_task(config.task)
    best = export_best(
        paths.root,
        task=config.task,
        spec=CandidateSpec(**winner["spec"]),
        policy_file=policy,
        scores={**winner["scores"], "exported": {**evaluation, "stage": stage}},
        episode_length=config.episode_length,
        validation_programs=task.resolve_programs(config.validation or task.validation),
        best_results=results.get("best_results"),
    )
    final = winner["scores"].get("final", {})
    if final and int(final["policy_version"]) != version:
        echo(
            f"winner {results['winner']}: exported its best evaluation ({stage}, version "
            f"{version}, score {evaluation['score']:.3f}; its final one scored "
            f"{final['score']:.3f}) to {best}"
        )
    else:
        echo(f"winner {results['winner']}: exported to {best}")
    if config.task == "llvm-codesize":
        echo(f"next: supersonic library --policy {best}  (its sequence library, docs/deploy.md)")
    return str(best)


def random_search_same_steps(
    config: RunConfig, results: dict[str, Any], echo: Callable[[str], None]
) -> dict[str, Any] | None:
    """The task's random search on the validation programs with the env steps each candidate
    used (None for a task without one)."""
    task = get_task(config.task)
    if task.random_baseline is None:
        return None
    programs = task.resolve_programs(config.validation or task.validation)
    steps = max(int(c["env_steps"]) for c in results["candidates"])
    echo(f"random search with the same env steps ({steps} over {len(programs)} programs)")
    return task.random_baseline(programs, steps, config.seed, config.episode_length)


def results_table(results: dict[str, Any]) -> str:
    header = [
        "candidate",
        "algorithm",
        "state",
        "reward",
        "env steps",
        "outcome",
        "initial",
        "final",
    ]
    rows: list[list[object]] = []
    for c in results["candidates"]:
        spec, scores = c["spec"], c["scores"]
        outcome = c["phase"] if c["phase"] != "stopped" else f"stopped at {c['budget']}"
        if spec["name"] == results.get("winner"):
            outcome += " (winner)"
        rows.append(
            [
                spec["name"],
                spec["algorithm"],
                spec["state_fn"],
                spec["reward_fn"],
                c["env_steps"],
                outcome,
                scores.get("initial", {}).get("score"),
                scores.get("final", {}).get("score"),
            ]
        )
    random = results.get("random_search")
    if random:
        rows.append(["random search", "", "", "", random["env_steps"], "", "", random["score"]])
    return format_table(header, rows)
