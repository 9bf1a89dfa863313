"""`supersonic launch --backend slurm`: the run as one heterogeneous Slurm job.

The job has two components: group 0, one node with the GPUs, runs `supersonic launch` itself
(the supervisor, the learners, and `[run] actors` actors: the same local launch as without
Slurm); group 1, `actor_nodes` nodes, runs `actors_per_node` standalone actors each
(`supersonic actor --connect`), which find the supervisor at the first node's address. Both run
under `srun --het-group=N`, so Slurm accounts, binds and cleans up every process; the actors
reconnect with backoff until the supervisor is up and exit 0 on its STOP at the end.

The processes talk across nodes, so they use CurveZMQ: one key directory on a filesystem every
node sees (`[slurm] keys`, or `[run] keys`) serves the head and the actors alike (a process
with no `server.public` trusts its own key, which the head also uses).

Why a script and not Slurm's REST API: `sbatch` is on every Slurm login node, the script can be
read before it runs (`--dry-run`), and a user can keep and resubmit it by hand.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
from pathlib import Path

from supersonic.launch.config import ConfigError, RunConfig

SBATCH_TIMEOUT_S = 60


def keys_dir(config: RunConfig) -> str:
    return config.slurm.keys or config.keys


def check(config: RunConfig) -> None:
    """What the job needs that can be checked on the login node (one-line ConfigError)."""
    keys = keys_dir(config)
    if not keys and not config.insecure:
        raise ConfigError(
            "[slurm] the job's processes talk across nodes: give a key directory every node "
            "sees ([slurm] keys = DIR, from `supersonic keys generate DIR`), or insecure = true "
            "on a network you trust"
        )
    if keys and not Path(keys).is_dir():
        raise ConfigError(f"[slurm] keys = {keys!r}: no such directory (supersonic keys generate)")
    if config.hosts:
        raise ConfigError("--backend slurm places every process itself: remove [cluster] hosts")


def script(config: RunConfig, config_path: Path, run_dir: Path) -> str:
    """The sbatch script of the run (RUN.toml at `config_path`, files in `run_dir`)."""
    s = config.slurm
    q = shlex.quote
    port = config.port or s.port
    keys = keys_dir(config)
    run = str(run_dir.resolve())
    head = [
        f"--job-name=supersonic-{config.name}",
        f"--output={run}/slurm-%j.out",
        f"--time={s.time}",
        *([f"--partition={s.partition}"] if s.partition else []),
        *([f"--account={s.account}"] if s.account else []),
        "--nodes=1",
        "--ntasks=1",
        f"--cpus-per-task={s.head_cpus}",
        *([f"--gpus-per-node={s.head_gpus}"] if s.head_gpus else []),
        *s.sbatch_options,
    ]
    actor_partition = s.actor_partition or s.partition
    actors = [
        *([f"--partition={actor_partition}"] if actor_partition else []),
        *([f"--account={s.account}"] if s.account else []),
        f"--nodes={s.actor_nodes}",
        f"--ntasks-per-node={s.actors_per_node}",
        f"--cpus-per-task={s.actor_cpus}",
        *([f"--constraint={s.constraint}"] if s.constraint else []),
    ]
    security = ["--keys", keys] if keys else ["--insecure"]
    total = s.actor_nodes * s.actors_per_node
    # Candidates training at once: by default one per actor, counting the actor nodes' too.
    concurrent = config.concurrent or max(1, (total + config.actors) // config.seeds)
    launch = [
        "launch",
        str(config_path.resolve()),
        "--run-dir",
        run,
        "--port",
        str(port),
        "--concurrent",
        str(concurrent),
        *security,
    ]
    actor = ["actor", "--tasks", config.task, "--cores", str(s.actor_cpus)]
    actor += ["--keys", keys] if keys else []
    actor += ["--label", s.label] if s.label else []
    lines = [
        "#!/bin/bash",
        f"# SuperSonic run {config.name}: written by `supersonic launch --backend slurm`.",
        "# Group 0: the head node (supervisor, learners); group 1: the actor nodes.",
        *(f"#SBATCH {o}" for o in head),
        "#SBATCH hetjob",
        *(f"#SBATCH {o}" for o in actors),
        "set -u",
        *([f"cd {q(s.workdir)}"] if s.workdir else []),
        *(f"export {k}={q(v)}" for k, v in sorted(s.env.items())),
        f"PYTHON={q(s.python)}",
        "HEAD_HOST=$(hostname)",
        "# The supervisor binds the first node's address; every other process connects to it.",
        """HEAD_ADDR=$(getent ahostsv4 "$HEAD_HOST" | awk 'NR == 1 {print $1}')""",
        "HEAD_ADDR=${HEAD_ADDR:-$HEAD_HOST}",
        f'ENDPOINT="tcp://$HEAD_ADDR:{port}"',
        'echo "supersonic: supervisor on $HEAD_HOST at $ENDPOINT"',
        "srun --het-group=0 --nodes=1 --ntasks=1 \\",
        f'    "$PYTHON" -m supersonic {shlex.join(launch)} --bind-host "$HEAD_ADDR" &',
        "LAUNCH=$!",
        f"srun --het-group=1 --ntasks={total} --kill-on-bad-exit=0 \\",
        f'    "$PYTHON" -m supersonic {shlex.join(actor)} --connect "$ENDPOINT" &',
        "ACTORS=$!",
        """trap 'kill -TERM "$LAUNCH" "$ACTORS" 2>/dev/null' TERM INT""",
        "STATUS=0",
        'wait "$LAUNCH" || STATUS=$?',
        'while kill -0 "$LAUNCH" 2>/dev/null; do wait "$LAUNCH"; STATUS=$?; done',
        "# The supervisor STOPs its actors at the end; end their step if some are left.",
        'for _ in $(seq 30); do kill -0 "$ACTORS" 2>/dev/null || break; sleep 1; done',
        'kill -TERM "$ACTORS" 2>/dev/null',
        'wait "$ACTORS"',
        'exit "$STATUS"',
    ]
    return "\n".join(lines) + "\n"


def submit(path: Path) -> str:
    """`sbatch --parsable PATH`; returns the job id."""
    sbatch = shutil.which("sbatch")
    if sbatch is None:
        raise ConfigError(
            "Slurm is not installed here (no sbatch on PATH): run this on the cluster's login "
            "node, or add --dry-run to print the job script"
        )
    try:
        done = subprocess.run(
            [sbatch, "--parsable", str(path)],
            capture_output=True,
            text=True,
            timeout=SBATCH_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise ConfigError(
            f"sbatch did not answer within {SBATCH_TIMEOUT_S} s: is slurmctld up? (sinfo)"
        ) from None
    if done.returncode != 0:
        reason = (done.stderr.strip().splitlines() or [f"status {done.returncode}"])[-1]
        raise ConfigError(f"sbatch refused the job: {reason} (the script is {path})")
    return done.stdout.strip().split(";")[0]
