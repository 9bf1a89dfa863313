"""`supersonic launch --backend slurm`: the job script for a config, and the script run.

The script is checked line by line for a given config (the heterogeneous job's resource lines
and the `srun --het-group` commands), then submitted through an `sbatch` and run through
`bash` with an `srun` that are local shims on PATH inside the tests that need them (no Slurm
here: the only stand-ins, as the issue asks). The shim `srun` runs the step's command here,
`--ntasks` copies of it; everything else in the run is real: the launch, the supervisor, the
learner and the actors, over CurveZMQ.
"""

from __future__ import annotations

import json
import os
import secrets
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from supersonic.launch.cli import main

ROOT = Path(__file__).resolve().parents[1]

SRUN_SHIM = """#!/bin/bash
# A local srun for tests: skips the options, runs the command --ntasks times here.
n=1
while [[ $# -gt 0 && $1 == -* ]]; do
  case $1 in --ntasks=*) n=${1#--ntasks=} ;; esac
  shift
done
pids=()
for ((i = 0; i < n; i++)); do SLURM_PROCID=$i "$@" & pids+=($!); done
trap 'kill -TERM "${pids[@]}" 2>/dev/null' TERM INT
status=0
for p in "${pids[@]}"; do wait "$p" || status=$?; done
exit $status
"""
SBATCH_SHIM = """#!/bin/bash
# A local sbatch for tests: records its arguments, answers like `sbatch --parsable`.
echo "$@" > "$(dirname "$0")/sbatch.args"
echo 4242
"""


def write_config(tmp: Path, tag: str, **slurm: object) -> Path:
    subprocess.run(
        [sys.executable, "-m", "supersonic", "keys", "generate", str(tmp / "keys")],
        check=True,
        capture_output=True,
    )
    settings = {
        "keys": str(tmp / "keys"),
        "python": sys.executable,
        "actors_per_node": 2,
        "label": f"board-{tag}",
        "port": 0,
        **slurm,
    }
    if not settings["port"]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            settings["port"] = s.getsockname()[1]
    env = {"PYTHONPATH": str(ROOT), "SUPERSONIC_CACHE": os.environ.get("SUPERSONIC_CACHE", "")}
    lines = [f"{k} = {json.dumps(v)}" for k, v in settings.items()]
    lines.append("env = { " + ", ".join(f"{k} = {json.dumps(v)}" for k, v in env.items()) + " }")
    config = tmp / "run.toml"
    config.write_text(
        """
[run]
name = "slurm"
task = "cartpole"
actors = 0
steps_per_candidate = 600
batch_size = 64
eval_initial = false
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 4.0

[slurm]
"""
        + "\n".join(lines)
        + """

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { rollout_steps = 256, minibatch_size = 64, epochs = 2 }
"""
    )
    return config


def shims(tmp: Path) -> dict[str, str]:
    """PATH with the local srun and sbatch first (for this test's processes only)."""
    bin_dir = tmp / "bin"
    bin_dir.mkdir()
    for name, text in (("srun", SRUN_SHIM), ("sbatch", SBATCH_SHIM)):
        (bin_dir / name).write_text(text)
        (bin_dir / name).chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}"}


def test_the_job_script_has_the_resource_lines_and_commands_of_the_config(
    tmp_path: Path,
) -> None:
    config = write_config(
        tmp_path,
        "x",
        partition="gpu",
        actor_partition="boards",
        account="lab",
        time="01:30:00",
        head_cpus=8,
        head_gpus=2,
        actor_nodes=3,
        actors_per_node=4,
        actor_cpus=2,
        constraint="a72",
        port=6000,
    )
    run_dir = tmp_path / "run"
    out = CliRunner().invoke(
        main,
        ["launch", str(config), "--backend", "slurm", "--dry-run", "--run-dir", str(run_dir)],
    )
    assert out.exit_code == 0, out.output
    script = out.output
    sbatch = [line for line in script.splitlines() if line.startswith("#SBATCH")]
    assert sbatch == [
        "#SBATCH --job-name=supersonic-slurm",
        f"#SBATCH --output={run_dir.resolve()}/slurm-%j.out",
        "#SBATCH --time=01:30:00",
        "#SBATCH --partition=gpu",
        "#SBATCH --account=lab",
        "#SBATCH --nodes=1",
        "#SBATCH --ntasks=1",
        "#SBATCH --cpus-per-task=8",
        "#SBATCH --gpus-per-node=2",
        "#SBATCH hetjob",
        "#SBATCH --partition=boards",
        "#SBATCH --account=lab",
        "#SBATCH --nodes=3",
        "#SBATCH --ntasks-per-node=4",
        "#SBATCH --cpus-per-task=2",
        "#SBATCH --constraint=a72",
    ]
    keys = tmp_path / "keys"
    assert "srun --het-group=0 --nodes=1 --ntasks=1 \\" in script
    assert (
        f'"$PYTHON" -m supersonic launch {config.resolve()} --run-dir {run_dir.resolve()} '
        f'--port 6000 --concurrent 12 --keys {keys} --bind-host "$HEAD_ADDR" &'
    ) in script
    assert "srun --het-group=1 --ntasks=12 --kill-on-bad-exit=0 \\" in script
    assert (
        f'"$PYTHON" -m supersonic actor --tasks cartpole --cores 2 --keys {keys} '
        '--label board-x --connect "$ENDPOINT" &'
    ) in script
    assert 'ENDPOINT="tcp://$HEAD_ADDR:6000"' in script
    assert f"PYTHON={sys.executable}" in script
    assert not run_dir.exists()  # a dry run writes nothing
    syntax = subprocess.run(["bash", "-n"], input=script, text=True, capture_output=True)
    assert syntax.returncode == 0, syntax.stderr


def test_without_slurm_or_keys_the_launch_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = write_config(tmp_path, "x")
    monkeypatch.setenv("PATH", str(tmp_path))  # no sbatch anywhere
    out = CliRunner().invoke(main, ["launch", str(config), "--backend", "slurm"])
    assert out.exit_code == 2
    assert out.output == (
        "error: Slurm is not installed here (no sbatch on PATH): run this on the cluster's "
        "login node, or add --dry-run to print the job script\n"
    )
    plain = tmp_path / "plain.toml"
    plain.write_text(config.read_text().replace(f'keys = "{tmp_path / "keys"}"', ""))
    out = CliRunner().invoke(main, ["launch", str(plain), "--backend", "slurm", "--dry-run"])
    assert out.exit_code == 2
    assert out.output.startswith("error: [slurm] the job's processes talk across nodes: give")
    assert len(out.output.splitlines()) == 1


def test_the_submitted_script_runs_the_whole_search_through_srun(tmp_path: Path) -> None:
    tag = f"sl{secrets.token_hex(4)}"
    tmp = tmp_path / tag  # in every command line of the job (--keys, --run-dir)
    tmp.mkdir()
    config = write_config(tmp, tag)
    run_dir = tmp / "run"
    env = shims(tmp)
    submitted = subprocess.run(
        [
            *(sys.executable, "-m", "supersonic", "launch", str(config)),
            *("--backend", "slurm", "--run-dir", str(run_dir)),
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert submitted.returncode == 0, submitted.stderr
    job = run_dir / "job.sbatch"
    assert submitted.stdout.startswith(f"submitted Slurm job 4242 ({job})")
    assert (tmp / "bin" / "sbatch.args").read_text().split() == ["--parsable", str(job)]
    proc = subprocess.Popen(
        ["bash", str(job)],
        cwd=tmp,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,
    )
    try:
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, 9)
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "supersonic: supervisor on" in out
    results = json.loads((run_dir / "results.json").read_text())
    assert results["candidates"][0]["phase"] == "done"
    events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
    actors = {
        e["peer"] for e in events if e["event"] == "peer_join" and e["label"] == f"board-{tag}"
    }
    assert len(actors) == 2  # the actor step's two tasks joined, with the job's label
    byes = {e["peer"] for e in events if e["event"] == "peer_bye"}
    assert actors <= byes  # and were STOPped cleanly at the end
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        listing = subprocess.run(
            ["ps", "-ww", "-eo", "stat=,args="], capture_output=True, text=True
        )
        left = [x for x in listing.stdout.splitlines() if tag in x and not x.startswith("Z")]
        left = [x for x in left if " ps -ww" not in x]
        if not left:
            break
        time.sleep(0.2)
    assert not left, left
