"""The `supersonic` command line.

Errors a user can cause (a missing program, a bad pass name, a broken machine set-up) end with a
one-line `error: ...` on stderr and exit status 2, never a traceback.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, replace
from functools import wraps
from pathlib import Path
from typing import Any, TypeVar

import click

from supersonic.envs import TASKS
from supersonic.envs.errors import SupersonicEnvError
from supersonic.envs.llvm.bitcode import DEFAULT_MAX_INSTRUCTIONS
from supersonic.envs.llvm.toolpack import ToolpackError
from supersonic.progress import ProgressBar

F = TypeVar("F", bound=Callable[..., Any])


def _user_errors(fn: F) -> F:
    """Turn errors the user can fix into one line and exit status 2."""

    @wraps(fn)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except (SupersonicEnvError, ToolpackError) as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except ValueError as exc:  # bad option values that click cannot express
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)

    return wrapper  # type: ignore[return-value]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="supersonic-rl")
def main() -> None:
    """SuperSonic: find the RL architecture that best learns a code-optimization task."""


dataset_option = click.option(
    "--dataset",
    default="builtin",
    show_default=True,
    help="builtin, llvm-stress:FIRST-LAST, csmith:FIRST-LAST, or a directory.",
)
task_option = click.option(
    "--task",
    type=click.Choice(TASKS),
    default=TASKS[0],
    show_default=True,
    help="The code-optimization task.",
)


@main.command()
def doctor() -> None:
    """Check this machine for everything the tasks need."""
    from supersonic.launch.doctor import run_checks

    checks = run_checks()
    width = max(len(c.name) for c in checks)
    failed = False
    for check in checks:
        mark = "ok  " if check.ok else ("FAIL" if check.required else "warn")
        click.echo(f"{mark}  {check.name.ljust(width)}  {check.detail}")
        if not check.ok:
            click.echo(f"      {''.ljust(width)}  fix: {check.fix}")
            failed = failed or check.required
    if failed:
        click.echo("some required parts are missing: run the fixes above", err=True)
        sys.exit(1)
    click.echo("everything SuperSonic needs is here")


@main.command()
@task_option
@dataset_option
@click.option(
    "--split",
    type=click.Choice(["train", "validation", "test"]),
    default=None,
    help="Only this split.",
)
@_user_errors
def benchmarks(task: str, dataset: str, split: str | None) -> None:
    """List benchmarks, one per line: URI, split, size in IR instructions (tvm-schedule:
    workload, its OP:DIMS spec, multiply-adds)."""
    from supersonic.envs.llvm.benchmarks import resolve_dataset

    if task == "halide-schedule":
        from supersonic.launch.halide_evaluate import benchmark_lines

        for line in benchmark_lines(dataset, split):
            click.echo(line)
        return
    if task == "superopt":
        from supersonic.envs.superopt.cli_lists import list_functions

        list_functions(dataset, split, click.echo)
        return
    if task == "tvm-schedule":
        from supersonic.envs.tvm.workloads import DATASETS, resolve_workloads

        if dataset not in DATASETS:
            raise ValueError(
                f"unknown dataset {dataset!r} for tvm-schedule; choose one of {', '.join(DATASETS)}"
            )
        for workload in resolve_workloads(f"{dataset}:{split or 'train'}"):
            click.echo(f"{workload.program}\t{workload.spec}\t{workload.macs}")
        return

    data = resolve_dataset(dataset)
    chosen = data.split(split) if split else list(data.benchmarks)
    for bench in chosen:
        try:
            size: object = bench.prepare(max_instructions=None).ir_instructions
        except SupersonicEnvError as exc:
            size = f"unusable: {exc}"
        click.echo(f"{bench.uri}\t{bench.split}\t{size}")


@main.command()
@task_option
def actions(task: str) -> None:
    """List the actions (LLVM passes): index and name (tvm-schedule: the knobs of a workload
    are decided in turn, action i picks option i mod n of the current knob)."""
    from supersonic.envs.llvm.actions import ACTION_FLAGS

    if task == "halide-schedule":
        from supersonic.launch.halide_evaluate import action_lines

        for line in action_lines():
            click.echo(line)
        return
    if task == "superopt":
        from supersonic.envs.superopt.cli_lists import list_moves

        list_moves(click.echo)
        return
    if task == "tvm-schedule":
        from supersonic.envs.tvm.schedule import MAX_OPTIONS, knobs_for
        from supersonic.envs.tvm.workloads import BUILTIN

        click.echo(f"{MAX_OPTIONS} actions: action i picks option i mod n of the knob decided now")
        for workload in BUILTIN:
            click.echo(f"{workload.program}:")
            for knob in knobs_for(workload):
                click.echo(f"\t{knob.name}\t{' '.join(map(str, knob.options))}")
        return

    for i, name in enumerate(ACTION_FLAGS):
        click.echo(f"{i}\t-{name}")


@main.command()
@task_option
@click.option(
    "--method",
    "methods",
    multiple=True,
    type=click.Choice(["random", "greedy"]),
    default=("random", "greedy"),
    show_default=True,
    help="Repeat for several.",
)
@click.option(
    "--program",
    "programs",
    multiple=True,
    help="A built-in name, URI or .c/.ll/.bc file (repeatable); else --dataset.",
)
@dataset_option
@click.option(
    "--split",
    type=click.Choice(["train", "validation", "test"]),
    default="validation",
    show_default=True,
)
@click.option("--steps", type=int, default=None, help="Env-step budget per program and method.")
@click.option("--seconds", type=float, default=None, help="Time budget per program and method.")
@click.option(
    "--episode-length",
    type=int,
    default=50,
    show_default=True,
    help="Random search's episode length (and greedy's longest sequence).",
)
@click.option(
    "--max-instructions",
    type=int,
    default=DEFAULT_MAX_INSTRUCTIONS,
    show_default=True,
    help="Refuse programs with more IR instructions than this.",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--jobs",
    type=int,
    default=os.cpu_count() or 1,
    show_default=True,
    help="Parallel worker processes.",
)
@click.option(
    "--no-validate",
    is_flag=True,
    help="Do not build and run optimized programs to check their output.",
)
@click.option(
    "--json",
    "json_path",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="Also write every result to this JSON file.",
)
@_user_errors
def baseline(
    task: str,
    methods: tuple[str, ...],
    programs: tuple[str, ...],
    dataset: str,
    split: str,
    steps: int | None,
    seconds: float | None,
    episode_length: int,
    seed: int,
    jobs: int,
    max_instructions: int,
    no_validate: bool,
    json_path: Path | None,
) -> None:
    """Random and greedy search over pass sequences, with the leaderboard metric vs -Oz."""
    from supersonic.envs.llvm.benchmarks import resolve_benchmark, resolve_dataset
    from supersonic.envs.llvm.search import Budget
    from supersonic.launch.baselines import BaselineJob, results_table, run_jobs

    if task != "llvm-codesize":
        raise ValueError(
            f"baseline searches LLVM pass sequences; for {task} run "
            f"`supersonic evaluate --task {task}` (its baselines are methods there)"
        )
    if steps is None and seconds is None:
        steps = 1000
    budget = Budget(steps=steps, seconds=seconds)
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    specs = (
        [resolve_benchmark(p) for p in programs]
        if programs
        else resolve_dataset(dataset).split(split)
    )
    if not specs:
        raise ValueError(f"no programs in the {split} split of {dataset}")
    for spec in specs:  # fail fast, in this process, on a program that cannot be prepared
        spec.prepare(max_instructions)
    work = [
        BaselineJob(spec, m, budget, seed, not no_validate, episode_length, max_instructions)
        for spec in specs
        for m in methods
    ]
    click.echo(
        f"{len(work)} searches ({', '.join(methods)}) on {len(specs)} programs, "
        f"budget {budget} each, {min(jobs, len(work))} workers",
        err=True,
    )
    with _counted_progress(
        len(work),
        "searches",
        lambda r: f"{r.benchmark} {r.method}: metric {r.metric:.3f} ({r.validation.label})",
    ) as progress:
        results = run_jobs(work, workers=min(jobs, len(work)), on_result=progress)
    click.echo(results_table(results))
    if json_path is not None:
        json_path.write_text(
            json.dumps(
                [
                    dict(asdict(r), metric=r.metric, oz_ratio=r.oz_ratio, passes=r.passes)
                    for r in results
                ],
                indent=2,
            )
        )


@main.command()
@click.argument("config_path", required=False, type=click.Path(path_type=Path))
@click.option(
    "--run-dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Where the run keeps its files (default: runs/TIMESTAMP-NAME).",
)
@click.option(
    "--resume",
    "resume_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="Continue the run in this directory (after a crash or a kill): its config, ledger "
    "and checkpoints.",
)
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="CurveZMQ key directory of the head (overrides [run] keys).",
)
@click.option(
    "--insecure",
    is_flag=True,
    help="Allow binding a non-loopback bind_host without keys (a network you trust).",
)
@click.option(
    "--backend",
    type=click.Choice(["local", "ray", "slurm"]),
    default="local",
    show_default=True,
    help="Who starts the processes: this launch (and ssh for [cluster] hosts), a Ray "
    "cluster, or a Slurm job (docs/cluster.md).",
)
@click.option("--address", default=None, help="--backend ray: auto, ray://HOST:PORT or HOST:PORT.")
@click.option("--dry-run", is_flag=True, help="--backend slurm: print the job script only.")
@click.option("--bind-host", default=None, help="Overrides [run] bind_host.")
@click.option("--port", type=int, default=None, help="Overrides [run] port.")
@click.option("--concurrent", type=int, default=None, help="Overrides [search] concurrent.")
@click.option("--ray-hosted", is_flag=True, hidden=True, help="The supervisor in its Ray actor.")
@click.option("--lifeline", is_flag=True, hidden=True, help="Exit when stdin closes.")
@_user_errors
def launch(
    config_path: Path | None,
    run_dir: Path | None,
    resume_dir: Path | None,
    keys_dir: Path | None,
    insecure: bool,
    backend: str,
    address: str | None,
    dry_run: bool,
    bind_host: str | None,
    port: int | None,
    concurrent: int | None,
    ray_hosted: bool,
    lifeline: bool,
) -> None:
    """Run the architecture search: supervisor, learners for the candidates, N actors.

    Without CONFIG_PATH it runs the embedded default: the LLVM code-size task on the built-in
    training programs with three candidates, sized for a 2-core machine.
    """
    from supersonic.launch.config import ConfigError, load_config, validate
    from supersonic.launch.launcher import default_run_dir, load_run_config, results_table
    from supersonic.launch.launcher import launch as run_launch

    if resume_dir is not None and (config_path is not None or run_dir is not None):
        raise ValueError("--resume takes the run directory alone (its config is inside)")
    if address is not None and backend != "ray":
        raise ValueError("--address is for --backend ray")
    if dry_run and backend != "slurm":
        raise ValueError("--dry-run is for --backend slurm (it prints the job script)")
    try:
        if resume_dir is not None:
            config, target = load_run_config(resume_dir), resume_dir
        else:
            config = load_config(config_path)
            target = run_dir or default_run_dir(config)
        overrides = (keys_dir, bind_host, port, concurrent)
        if insecure or any(o is not None for o in overrides):
            config = replace(
                config,
                keys=str(keys_dir) if keys_dir is not None else config.keys,
                insecure=insecure or config.insecure,
                bind_host=config.bind_host if bind_host is None else bind_host,
                port=config.port if port is None else port,
                concurrent=config.concurrent if concurrent is None else concurrent,
            )
            validate(config, "command line")
        if backend == "slurm":
            _submit_slurm(config, config_path, target, resume_dir is not None, dry_run)
            return
        if backend == "ray" and not ray_hosted:
            _follow_ray_supervisor(config, target, address)
            return
        resume = resume_dir is not None
        if ray_hosted:  # the supervisor inside its Ray actor (launch/ray_supervisor.py)
            resume = _hosted_by_ray(target, lifeline)
        results = run_launch(
            config,
            target,
            lambda line: click.echo(line, err=True),
            resume=resume,
            backend=backend,
            ray_address=address,
            hosted=ray_hosted,
        )
    except ConfigError as exc:
        raise ValueError(str(exc)) from None
    if not ray_hosted:  # the launch that follows it prints the table
        click.echo(results_table(results))
    if results.get("interrupted"):
        sys.exit(130)


def _hosted_by_ray(run_dir: Path, lifeline: bool) -> bool:
    """Set up the supervisor's launch in its Ray actor; returns whether it resumes (after a Ray
    restart the ledger has the run so far; a first start finds none). Its SIGTERM (from the
    launch that follows it, or its lifeline) is handled by `launch(hosted=True)`."""
    from supersonic.launch.config import RunPaths

    if lifeline:
        from supersonic.lifeline import watch_stdin

        watch_stdin()
    return RunPaths(run_dir).ledger.exists()


def _follow_ray_supervisor(config: Any, run_dir: Path, address: str | None) -> None:
    """`launch --backend ray`: the supervisor as a Ray actor, followed from here."""
    from supersonic.launch import ray_supervisor
    from supersonic.launch.launcher import check_programs, results_table

    check_programs(config)  # a bad program is refused here, before Ray places anything
    done = ray_supervisor.run(config, run_dir, lambda line: click.echo(line, err=True), address)
    if done.results is not None and done.code in (0, ray_supervisor.EXIT_INTERRUPTED):
        click.echo(results_table(done.results))
    if done.code == 0:
        return
    if done.code == ray_supervisor.EXIT_INTERRUPTED:
        sys.exit(done.code)
    if done.code == ray_supervisor.EXIT_USER_ERROR:  # its one line, already shown above
        sys.exit(done.code)
    click.echo(
        f"error: the supervisor failed (status {done.code}: {done.last_line[:200]}); continue "
        f"the run with: supersonic launch --resume {run_dir} --backend ray",
        err=True,
    )
    sys.exit(1)


def _submit_slurm(
    config: Any, config_path: Path | None, run_dir: Path, resume: bool, dry_run: bool
) -> None:
    """`launch --backend slurm`: write RUN_DIR/job.sbatch and submit it (launch/slurm.py)."""
    from supersonic.launch import slurm
    from supersonic.launch.config import DEFAULT_CONFIG

    if resume:
        raise ValueError("--backend slurm does not take --resume: submit RUN_DIR/job.sbatch again")
    slurm.check(config)
    if config_path is None:  # the embedded default: the job reads it from the run directory
        config_path = run_dir / "run.toml"
        if not dry_run:
            run_dir.mkdir(parents=True, exist_ok=True)
            config_path.write_text(DEFAULT_CONFIG)
    text = slurm.script(config, config_path, run_dir)
    if dry_run:
        click.echo(text, nl=False)
        return
    run_dir.mkdir(parents=True, exist_ok=True)
    path = run_dir / "job.sbatch"
    path.write_text(text)
    job = slurm.submit(path)
    click.echo(f"submitted Slurm job {job} ({path}); follow it with: supersonic monitor {run_dir}")


@main.command()
@click.option("--connect", required=True, help="The supervisor's endpoint, tcp://HOST:PORT.")
@click.option(
    "--keys",
    "keys_dir",
    type=click.Path(path_type=Path),
    default=None,
    help="CurveZMQ key directory: id.public, id.secret and the head's key as server.public "
    "(see docs/cluster.md). Needed when the supervisor is not on loopback.",
)
@click.option("--ident", default="", help="A unique id (default: actor-HOST-PID).")
@click.option(
    "--label", default=None, help="A free-form target label (default: this machine's CPU model)."
)
@click.option(
    "--tasks",
    "tasks_csv",
    default="",
    help="Comma-separated tasks this actor offers (default: every task it can import).",
)
@click.option(
    "--cores", type=int, default=None, help="CPU cores it offers (default: this machine's)."
)
@click.option(
    "--log-file",
    default=None,
    help="Where to write JSON event lines ('-' for stderr; default: "
    "~/.cache/supersonic/logs/IDENT.jsonl).",
)
@click.option("--protocol-version", type=int, default=None, hidden=True)
@click.option("--lifeline", is_flag=True, hidden=True, help="Exit when stdin closes (over ssh).")
@click.option(
    "--no-forward-events",
    is_flag=True,
    hidden=True,
    help="Do not send events to the supervisor (`launch` uses it for the actors it starts: "
    "they write the run's events.jsonl themselves).",
)
@_user_errors
def actor(
    connect: str,
    keys_dir: Path | None,
    ident: str,
    label: str | None,
    tasks_csv: str,
    cores: int | None,
    log_file: str | None,
    protocol_version: int | None,
    lifeline: bool,
    no_forward_events: bool,
) -> None:
    """Run one actor that connects to a supervisor and works for it.

    Started by hand (or by a board's service manager) it registers its capabilities, is
    assigned work like any other actor and reconnects with backoff when the supervisor goes
    away.
    """
    from supersonic.actors.actor import ActorOptions, default_ident, machine_label, run_actor
    from supersonic.envs import task_names
    from supersonic.paths import cache_dir
    from supersonic.protocol.messages import PROTOCOL_VERSION
    from supersonic.protocol.security import Security

    if not connect.startswith("tcp://") or ":" not in connect[len("tcp://") :]:
        raise ValueError(f"--connect takes tcp://HOST:PORT, got {connect!r}")
    if cores is not None and cores < 1:
        raise ValueError(f"--cores must be >= 1, got {cores}")
    tasks = tuple(t.strip() for t in tasks_csv.split(",") if t.strip())
    unknown = [t for t in tasks if t not in task_names() and ":" not in t]
    if unknown:
        raise ValueError(
            f"--tasks: unknown task(s) {', '.join(unknown)}; known: {', '.join(task_names())}"
        )
    if keys_dir is not None:
        Security.from_dir(keys_dir)  # a missing or malformed key file: one line, now
    ident = ident or default_ident()
    # stderr stays for the user (one-line errors); the event log goes to a file by default.
    if log_file == "-":
        log_path = None
    elif log_file:
        log_path = Path(log_file)
    else:
        log_path = cache_dir() / "logs" / f"{ident}.jsonl"
    if lifeline:
        from supersonic.lifeline import watch_stdin

        watch_stdin()
    options = ActorOptions(
        connect=connect,
        ident=ident,
        label=machine_label() if label is None else label,
        tasks=tasks,
        log_path=log_path,
        cores=cores or os.cpu_count() or 1,
        protocol_version=protocol_version or PROTOCOL_VERSION,
        keys=keys_dir,
        forward_events=not no_forward_events,
    )
    sys.exit(run_actor(options))


@main.command(hidden=True)
@click.option("--connect", required=True)
@click.option("--task", required=True)
@click.option("--candidate", "candidate_json", required=True, help="The CandidateSpec as JSON.")
@click.option("--device", default="cpu")
@click.option(
    "--threads", type=click.IntRange(min=0), default=1, help="torch threads (0: torch's default)."
)
@click.option("--checkpoint-dir", type=click.Path(path_type=Path), default=None)
@click.option("--log-file", default=None, help="JSON event lines ('-' or none: stderr).")
@click.option("--bind-host", default="127.0.0.1", help="Where to bind transitions and weights.")
@click.option("--keys", "keys_dir", type=click.Path(path_type=Path), default=None)
@click.option("--insecure", is_flag=True)
@click.option("--lifeline", is_flag=True, help="Exit when stdin closes (over ssh).")
@click.option(
    "--no-forward-events",
    is_flag=True,
    help="Do not send events to the supervisor (`launch` writes the run's events.jsonl itself).",
)
@_user_errors
def learner(
    connect: str,
    task: str,
    candidate_json: str,
    device: str,
    threads: int,
    checkpoint_dir: Path | None,
    log_file: str | None,
    bind_host: str,
    keys_dir: Path | None,
    insecure: bool,
    lifeline: bool,
    no_forward_events: bool,
) -> None:
    """Run the learner of one candidate (started by `supersonic launch`)."""
    from supersonic.learners.learner import LearnerOptions, run_learner
    from supersonic.protocol.messages import CandidateSpec

    spec = CandidateSpec(**json.loads(candidate_json))
    if lifeline:
        from supersonic.lifeline import watch_stdin

        watch_stdin()
    sys.exit(
        run_learner(
            LearnerOptions(
                connect=connect,
                task=task,
                candidate=spec,
                checkpoint_dir=checkpoint_dir,
                device=device,
                threads=threads,
                log_path=None if log_file in (None, "-") else Path(str(log_file)),
                bind_host=bind_host,
                keys=keys_dir,
                insecure=insecure,
                forward_events=not no_forward_events,
            )
        )
    )


@main.group()
def keys() -> None:
    """CurveZMQ keys for endpoints off loopback (see docs/cluster.md)."""


@keys.command("generate")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@_user_errors
def keys_generate(directory: Path) -> None:
    """Make a key pair in DIRECTORY: id.public (share it) and id.secret (mode 600)."""
    from supersonic.protocol.security import PUBLIC_FILE, SECRET_FILE, generate_keys

    pair = generate_keys(directory)
    click.echo(f"public key {pair.public.decode()}")
    click.echo(
        f"wrote {directory / PUBLIC_FILE} and {directory / SECRET_FILE} (secret: keep it there)"
    )


@keys.command("authorize")
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.argument("public_key")
@click.option("--name", default="", help="A name for the key (e.g. the board's).")
@_user_errors
def keys_authorize(directory: Path, public_key: str, name: str) -> None:
    """Allow a client: add PUBLIC_KEY (the key, or a file holding it, e.g. a board's
    id.public) to DIRECTORY/authorized_keys."""
    from supersonic.protocol.security import ALLOW_FILE, authorize_key, load_key_pair

    load_key_pair(directory)  # the server's own directory, with its pair
    path = Path(public_key)
    key = path.read_bytes().strip() if path.is_file() else public_key.encode()
    authorize_key(directory, key, name or (path.parent.name if path.is_file() else ""))
    click.echo(f"added to {directory / ALLOW_FILE}")


@main.command()
@click.option("--task", "task_name", default=None, help="Only this task.")
@_user_errors
def tasks(task_name: str | None) -> None:
    """List tasks: their state functions, reward functions, algorithms and hyperparameters."""
    from supersonic.envs import get_task
    from supersonic.envs.task import task_names
    from supersonic.learners.algorithm import algorithm_class

    for name in [task_name] if task_name else list(task_names()):
        task = get_task(name)
        click.echo(f"task {task.name}: {task.doc}")
        click.echo(f"  {task.n_actions} actions; score: {task.metric}")
        click.echo(
            f"  datasets: train {task.train}, validation {task.validation}, test {task.test}"
        )
        click.echo("  state functions (join names with '+' to concatenate them):")
        for fn in task.state_fns.values():
            seq = f" (first {fn.seq_len}: token ids < {fn.vocab})" if fn.seq_len else ""
            click.echo(f"    {fn.name:<18} {fn.observation:<12} dim {fn.dim:<5} {fn.doc}{seq}")
        click.echo("  reward functions:")
        for reward in task.reward_fns.values():
            click.echo(f"    {reward.name:<18} {reward.doc}")
        click.echo("  algorithms:")
        for algorithm in task.algorithms:
            cls = algorithm_class(algorithm)
            click.echo(f"    {algorithm}:")
            for hp in cls.hyperparameters:
                scale = ", log scale" if hp.log else ""
                click.echo(f"      {hp.name:<16} default {hp.default!r:<10} {hp.describe()}{scale}")


@contextlib.contextmanager
def _counted_progress(
    total: int, unit: str, describe: Callable[[Any], str]
) -> Iterator[Callable[[Any], None]]:
    """A callback for each finished item of a long command: prints `[k/total] describe(item)`
    above a progress bar of `total` `unit` (drawn only on a terminal), closed on the way out."""
    bar = ProgressBar(total, unit)
    say = bar.above(lambda line: click.echo(line, err=True))
    done = 0

    def progress(item: Any) -> None:
        nonlocal done
        done += 1
        say(f"[{done}/{total}] {describe(item)}")
        bar.update(done)

    try:
        yield progress
    finally:
        bar.close()


def _budget(seconds: float) -> float:
    if not seconds > 0:
        raise ValueError(f"--budget must be > 0 seconds, got {seconds:g}")
    return seconds


_policy_option = click.option(
    "--policy",
    "policy_path",
    required=True,
    type=click.Path(path_type=Path),
    help="The exported policy: RUN_DIR/best of an llvm-codesize search.",
)


@main.command()
@click.argument("program")
@_policy_option
@click.option(
    "--budget",
    type=float,
    default=30.0,
    show_default=True,
    help="Seconds of policy-guided search.",
)
@click.option(
    "-o",
    "--out",
    required=True,
    type=click.Path(file_okay=False, path_type=Path),
    help="Output directory: optimized.bc, passes.txt, summary.json.",
)
@click.option("--max-steps", type=int, default=None, help="Also stop after this many env steps.")
@click.option("--max-depth", type=int, default=None, help="Longest pass sequence (default 200).")
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--max-instructions",
    type=int,
    default=DEFAULT_MAX_INSTRUCTIONS,
    show_default=True,
    help="Refuse programs with more IR instructions than this.",
)
@click.option(
    "--no-validate",
    is_flag=True,
    help="Do not build and run the optimized program to check its output.",
)
@_user_errors
def optimize(
    program: str,
    policy_path: Path,
    budget: float,
    out: Path,
    max_steps: int | None,
    max_depth: int | None,
    seed: int,
    max_instructions: int,
    no_validate: bool,
) -> None:
    """Optimize PROGRAM (.c, .ll, .bc or a built-in name) with a search's exported policy.

    Runs the policy's own episode and its sequence library (if it has one), then a tree search
    of rollouts sampled from its action probabilities, for --budget seconds; writes the best
    module whose output matches -O0's, its passes and a summary (IR instructions and .text
    bytes vs -O0 and -Oz) to OUT.
    """
    from supersonic.launch.deploy import optimize_program, summary_lines

    if max_steps is not None and max_steps < 1:
        raise ValueError(f"--max-steps must be >= 1, got {max_steps}")
    if max_depth is not None and max_depth < 1:
        raise ValueError(f"--max-depth must be >= 1, got {max_depth}")
    try:
        summary = optimize_program(
            policy_path,
            program,
            _budget(budget),
            out,
            max_steps=max_steps,
            max_depth=max_depth,
            check=not no_validate,
            seed=seed,
            max_instructions=max_instructions,
        )
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None
    for line in summary_lines(summary):
        click.echo(line)
    click.echo(f"wrote {out}/: optimized.bc, passes.txt, summary.json")


@main.command()
@click.option(
    "--task",
    type=click.Choice(["llvm-codesize", "tvm-schedule", "halide-schedule", "superopt"]),
    default="llvm-codesize",
    show_default=True,
    help="The task (tvm-schedule: workloads, with methods default, handwritten, random, "
    "metaschedule, policy:PATH, and --trials; halide-schedule: pipelines, with methods "
    "default, random, adams2019, li2018, mullapudi2016, anderson2021, policy:PATH; superopt: "
    "functions, with methods O0, O2, O3, Os, mcmc, policy:PATH, and --trials evaluations per "
    "search).",
)
@click.option(
    "--programs",
    required=True,
    help="A directory of .c/.ll/.bc files, a program file, DATASET:SPLIT (builtin:test), or a "
    "dataset; comma-separated for several.",
)
@click.option(
    "--methods",
    default="random,greedy,oz",
    show_default=True,
    help="Comma-separated: policy:RUN_DIR/best (repeatable), policy-only:RUN_DIR/best (without "
    "its sequence library), random, greedy, oz.",
)
@click.option(
    "--budget",
    type=float,
    default=10.0,
    show_default=True,
    help="Seconds per program and method.",
)
@click.option(
    "--jobs",
    type=int,
    default=os.cpu_count() or 1,
    show_default=True,
    help="Parallel worker processes.",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write evaluation.csv and evaluation.md (default: runs/evaluate-TIMESTAMP).",
)
@click.option(
    "--episode-length",
    type=int,
    default=50,
    show_default=True,
    help="Random search's episode length (and greedy's longest sequence).",
)
@click.option("--seed", type=int, default=0, show_default=True)
@click.option(
    "--max-instructions",
    type=int,
    default=DEFAULT_MAX_INSTRUCTIONS,
    show_default=True,
    help="Refuse programs with more IR instructions than this.",
)
@click.option(
    "--no-validate",
    is_flag=True,
    help="Do not build and run optimized programs to check their output.",
)
@click.option(
    "--trials",
    type=int,
    default=16,
    show_default=True,
    help="tvm-schedule: measured schedules per method and workload.",
)
@_user_errors
def evaluate(
    task: str,
    programs: str,
    methods: str,
    budget: float,
    jobs: int,
    out_dir: Path | None,
    episode_length: int,
    seed: int,
    max_instructions: int,
    no_validate: bool,
    trials: int,
) -> None:
    """Every method on every program with the same time budget: a table per program, the
    geomean of the leaderboard metric and of IR_Oz / IR_ours per method, and the wall time.
    With --task tvm-schedule: every method on every workload with --trials measured schedules,
    and the speedups over the unscheduled program."""
    import time

    if task != "llvm-codesize":
        _evaluate_trials(_trial_evaluation(task), programs, methods, trials, seed, out_dir)
        return
    from supersonic.launch.deploy import (
        evaluate_methods,
        markdown,
        parse_methods,
        resolve_programs_arg,
    )

    _budget(budget)
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    if episode_length < 1:
        raise ValueError(f"--episode-length must be >= 1, got {episode_length}")
    try:
        chosen = parse_methods(methods)
    except FileNotFoundError as exc:
        raise ValueError(str(exc)) from None
    specs = resolve_programs_arg(programs)
    for spec in specs:  # fail fast, in this process, on a program that cannot be prepared
        spec.prepare(max_instructions)
    target = out_dir or Path("runs") / f"evaluate-{time.strftime('%Y%m%d-%H%M%S')}"
    total = len(specs) * len(chosen)
    click.echo(
        f"{total} searches ({', '.join(m.label for m in chosen)}) on {len(specs)} programs, "
        f"{budget:g} s each, {min(jobs, total)} workers",
        err=True,
    )
    with _counted_progress(
        total,
        "searches",
        lambda row: f"{row.program} {row.method}: metric {row.metric:.3f} ({row.validation})",
    ) as progress:
        evaluation = evaluate_methods(
            specs,
            chosen,
            budget,
            jobs=jobs,
            out_dir=target,
            seed=seed,
            check=not no_validate,
            episode_length=episode_length,
            max_instructions=max_instructions,
            on_result=progress,
        )
    click.echo(markdown(evaluation), nl=False)
    click.echo(f"wrote {target / 'evaluation.csv'} and {target / 'evaluation.md'}", err=True)


@dataclass(frozen=True)
class _TrialEvaluation:
    """What `evaluate` needs of a task whose methods each get --trials measurements (TVM,
    Halide, superopt): its programs, methods, the evaluation itself and its outputs."""

    programs_noun: str  # what the task's programs are called ("workloads")
    trials_noun: str  # what one measured trial is called ("trials", "evaluations")
    resolve: Callable[[str], list[str]]  # --programs -> program names
    default_methods: str
    parse_methods: Callable[[str], list[str]]
    evaluate: Callable[..., list[Any]]  # (names, methods, trials, seed=, on_result=) -> rows
    table: Callable[[list[Any], int], str]
    write: Callable[[list[Any], int, Path], Any]  # -> the files written
    line: Callable[[Any], str]  # a finished row, for the progress bar


def _trial_evaluation(task: str) -> _TrialEvaluation:
    """The task's evaluation parts, imported only when asked for (each pulls its compiler)."""
    if task == "tvm-schedule":
        from supersonic.envs.tvm.workloads import resolve_workloads
        from supersonic.launch import tvm_evaluate as tvm

        return _TrialEvaluation(
            "workloads",
            "trials",
            lambda spec: [w.program for w in resolve_workloads(spec)],
            tvm.DEFAULT_METHODS,
            tvm.parse_tvm_methods,
            tvm.evaluate_tvm,
            tvm.markdown_table,
            tvm.write_results,
            lambda row: f"{row.program} {row.method}: speedup {row.speedup:.2f}",
        )
    if task == "halide-schedule":
        from supersonic.envs.halide.pipelines import resolve_programs
        from supersonic.launch import halide_evaluate as halide

        return _TrialEvaluation(
            "pipelines",
            "trials",
            lambda spec: [p.program for p in resolve_programs(spec)],
            halide.DEFAULT_METHODS,
            halide.parse_halide_methods,
            halide.evaluate_halide,
            halide.markdown_table,
            halide.write_halide_results,
            lambda row: f"{row.program} {row.method}: speedup {row.speedup:.2f}",
        )
    if task == "superopt":
        from supersonic.envs.superopt.functions import resolve_functions
        from supersonic.launch import superopt_evaluate as superopt

        return _TrialEvaluation(
            "functions",
            "evaluations",
            lambda spec: [f.name for f in resolve_functions(spec)],
            superopt.DEFAULT_METHODS,
            superopt.parse_superopt_methods,
            superopt.evaluate_superopt,
            superopt.markdown_table,
            superopt.write_results,
            lambda row: f"{row.function} {row.method}: {row.speedup:.2f}x",
        )
    raise ValueError(f"evaluate has no --trials methods for task {task}")


def _evaluate_trials(
    parts: _TrialEvaluation,
    programs: str,
    methods: str,
    trials: int,
    seed: int,
    out_dir: Path | None,
) -> None:
    import time

    if trials < 1:
        raise ValueError(f"--trials must be >= 1, got {trials}")
    names = parts.resolve(programs)
    if methods == "random,greedy,oz":  # the LLVM default: take the task's own
        methods = parts.default_methods
    chosen = parts.parse_methods(methods)
    target = out_dir or Path("runs") / f"evaluate-{time.strftime('%Y%m%d-%H%M%S')}"
    total = len(names) * len(chosen)
    click.echo(
        f"{total} searches ({', '.join(chosen)}) on {len(names)} {parts.programs_noun}, "
        f"{trials} {parts.trials_noun} each",
        err=True,
    )
    with _counted_progress(total, "searches", parts.line) as progress:
        rows = parts.evaluate(names, chosen, trials, seed=seed, on_result=progress)
    click.echo(parts.table(rows, trials), nl=False)
    files = parts.write(rows, trials, target)
    click.echo(f"wrote {' and '.join(str(f) for f in files)}", err=True)


@main.command()
@_policy_option
@click.option(
    "--programs",
    default="builtin:train",
    show_default=True,
    help="Programs to search (as for evaluate): normally the search's training programs.",
)
@click.option(
    "--budget", type=float, default=5.0, show_default=True, help="Seconds of search per program."
)
@click.option("--jobs", type=int, default=os.cpu_count() or 1, show_default=True)
@click.option(
    "--size", type=int, default=32, show_default=True, help="Sequences kept in the library."
)
@click.option(
    "--per-program", type=int, default=3, show_default=True, help="Sequences taken per program."
)
@click.option("--seed", type=int, default=0, show_default=True)
@_user_errors
def library(
    policy_path: Path,
    programs: str,
    budget: float,
    jobs: int,
    size: int,
    per_program: int,
    seed: int,
) -> None:
    """Build the sequence library of an exported LLVM policy: the policy guides a search on each
    program; the best sequences found are written to POLICY/sequences.json, where `optimize` and
    `evaluate` replay them on new programs before searching."""
    from supersonic.launch.deploy import resolve_programs_arg
    from supersonic.launch.library import build_library

    _budget(budget)
    if jobs < 1:
        raise ValueError(f"--jobs must be >= 1, got {jobs}")
    specs = resolve_programs_arg(programs)
    for spec in specs:
        spec.prepare()
    click.echo(
        f"searching {len(specs)} programs, {budget:g} s each, {min(jobs, len(specs))} workers",
        err=True,
    )
    with _counted_progress(
        len(specs),
        "programs",
        lambda f: f"{f.program}: metric {f.metric:.3f}, {len(f.sequences)} sequences",
    ) as progress:
        try:
            built, path = build_library(
                policy_path,
                specs,
                budget,
                jobs=jobs,
                per_program=per_program,
                size=size,
                seed=seed,
                on_program=progress,
            )
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None
    metrics = sorted(s.metric for s in built.sequences)
    median = metrics[len(metrics) // 2] if metrics else float("nan")
    click.echo(
        f"wrote {path}: {len(built.sequences)} sequences from {len(specs)} programs "
        f"(median metric on their own program {median:.3f})"
    )


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option("--once", is_flag=True, help="Print one snapshot and exit (for scripts).")
@click.option(
    "--interval",
    type=float,
    default=1.0,
    show_default=True,
    help="Seconds between redraws of the live view.",
)
@_user_errors
def monitor(run_dir: Path, once: bool, interval: float) -> None:
    """Watch a run from its events.jsonl: candidates, actors, pruning, progress and ETA.

    RUN_DIR is a run directory (live, finished, or copied from another machine) or an
    events.jsonl file. The live view ends with the run; Ctrl-C leaves it at any time.
    """
    from supersonic.monitor.events import events_path, read_all
    from supersonic.monitor.live import follow, render
    from supersonic.monitor.state import fold

    path = events_path(run_dir)
    if once:
        events, reader = read_all(path)
        if not events:
            raise ValueError(f"{path}: no events yet ({reader.skipped} lines that are not events)")
        click.echo(render(fold(events), reader.skipped), nl=False)
        return
    if not interval > 0:
        raise ValueError(f"--interval must be > 0 seconds, got {interval:g}")
    try:
        follow(path, interval)
    except KeyboardInterrupt:
        click.echo("", err=True)


@main.command()
@click.argument("run_dir", type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--out",
    "out_dir",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Where to write report.html and the PNG figures (default: RUN_DIR/report).",
)
@_user_errors
def report(run_dir: Path, out_dir: Path | None) -> None:
    """Write a self-contained HTML report of a run (and its figures as PNG files).

    Learning curves, successive-halving rungs, best result per program against the baselines
    the run recorded, throughput over time; it reads only RUN_DIR/events.jsonl.
    """
    from supersonic.monitor.events import events_path, read_all
    from supersonic.monitor.report import write_report

    path = events_path(run_dir)
    events, reader = read_all(path)
    if not events:
        raise ValueError(f"{path}: no events ({reader.skipped} lines that are not events)")
    target = out_dir or path.parent / "report"
    written = write_report(path, target)
    if written.skipped:
        click.echo(f"skipped {written.skipped} lines that are not events", err=True)
    click.echo(f"wrote {written.html_path} and {len(written.figures)} PNG figures in {target}")
