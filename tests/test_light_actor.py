"""A light actor: `pip install supersonic-rl[actor]` into a clean venv (no torch), and that venv's
actor does all the work of a real run: the policies of PPO (actor-critic MLP) and DQN (Q-network)
run as numpy forward passes of the published weights; and, with `inference = "central"`, the
same actor has the learner choose every action (central inference).

The venv is made once per version of pyproject.toml (and checkout) and kept in the temporary
directory, so later runs only pay for the run itself. If pip cannot install the packages at all
(no package index reachable), the test is skipped and says so.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
BASE_PYTHON = shutil.which("python3.11") or "/usr/bin/python3.11"

CONFIG = """
[run]
name = "light"
task = "cartpole"
actors = 0
steps_per_candidate = 2500
batch_size = 64
eval_initial = true
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 4.0

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { rollout_steps = 256, minibatch_size = 64, epochs = 2 }

[[candidates]]
name = "dqn"
algorithm = "dqn"
state_fn = "raw"
reward_fn = "env"
"""


def light_venv() -> Path:
    """A venv with `supersonic-rl[actor]` (editable: this checkout), made once and cached."""
    digest = hashlib.sha256((ROOT / "pyproject.toml").read_bytes() + str(ROOT).encode())
    venv = Path(tempfile.gettempdir()) / f"supersonic-light-actor-{digest.hexdigest()[:12]}"
    lock_path = venv.with_suffix(".lock")
    with lock_path.open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # parallel test runs build it once
        if (venv / "ready").exists():
            return venv
        shutil.rmtree(venv, ignore_errors=True)
        subprocess.run([BASE_PYTHON, "-m", "venv", str(venv)], check=True, timeout=120)
        done = subprocess.run(
            [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "-e", f"{ROOT}[actor]"],
            capture_output=True,
            text=True,
            timeout=600,
        )
        if done.returncode != 0:
            shutil.rmtree(venv, ignore_errors=True)
            pytest.skip(f"pip could not install supersonic-rl[actor]: {done.stderr[-500:]}")
        (venv / "ready").write_text("")
    return venv


@pytest.mark.skipif(not os.path.exists(BASE_PYTHON), reason="python3.11 is not installed")
def test_an_actor_without_torch_does_the_work_of_a_run(tmp_path: Path) -> None:
    venv = light_venv()
    python = str(venv / "bin" / "python")
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    no_torch = subprocess.run(
        [python, "-c", "import torch"], capture_output=True, text=True, env=clean_env
    )
    assert no_torch.returncode != 0 and "No module named 'torch'" in no_torch.stderr
    installed = subprocess.run(
        [python, "-m", "pip", "list", "--format=json"], capture_output=True, text=True, check=True
    )
    names = {p["name"].lower() for p in json.loads(installed.stdout)}
    assert {"pyzmq", "msgpack", "numpy", "gymnasium"} <= names
    assert not names & {"torch", "apache-tvm", "halide"}

    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    run_dir = tmp_path / "run"
    launch = subprocess.Popen(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    actor = None
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "endpoint").exists():
            assert time.monotonic() < deadline and launch.poll() is None, "no endpoint"
            time.sleep(0.1)
        endpoint = (run_dir / "endpoint").read_text().strip()
        log = tmp_path / "light.jsonl"
        argv = [python, "-m", "supersonic", "actor", "--connect", endpoint, "--ident", "light"]
        actor = subprocess.Popen(
            [*argv, "--log-file", str(log)],
            cwd=tmp_path,  # not the checkout: the installed package is what runs
            env=clean_env,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, err = launch.communicate(timeout=300)
        assert launch.returncode == 0, err[-3000:]
        assert actor.wait(timeout=30) == 0, actor.communicate()[1]
    finally:
        for process in (launch, actor):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    results = json.loads((run_dir / "results.json").read_text())
    for candidate in results["candidates"]:
        assert candidate["phase"] == "done"
        assert candidate["scores"]["final"]["policy_version"] >= 1
    events = [json.loads(line) for line in log.read_text().splitlines()]
    assert sum(e["event"] == "eval_done" for e in events) == 4  # initial + final, 2 candidates
    assert not any(e["event"] == "bad_weights" for e in events)


CENTRAL_CONFIG = """
[run]
name = "central"
task = "cartpole"
actors = 0
steps_per_candidate = 600
batch_size = 64
eval_initial = true
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 4.0
inference = "central"

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { rollout_steps = 128, minibatch_size = 64, epochs = 2 }
"""


@pytest.mark.skipif(not os.path.exists(BASE_PYTHON), reason="python3.11 is not installed")
def test_an_actor_without_torch_trains_a_candidate_by_central_inference(tmp_path: Path) -> None:
    venv = light_venv()
    python = str(venv / "bin" / "python")
    clean_env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    config = tmp_path / "run.toml"
    config.write_text(CENTRAL_CONFIG)
    run_dir = tmp_path / "run"
    launch = subprocess.Popen(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    actor = None
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "endpoint").exists():
            assert time.monotonic() < deadline and launch.poll() is None, "no endpoint"
            time.sleep(0.1)
        endpoint = (run_dir / "endpoint").read_text().strip()
        log = tmp_path / "light.jsonl"
        argv = [python, "-m", "supersonic", "actor", "--connect", endpoint, "--ident", "light"]
        actor = subprocess.Popen(
            [*argv, "--log-file", str(log)],
            cwd=tmp_path,
            env=clean_env,
            stderr=subprocess.PIPE,
            text=True,
        )
        _, err = launch.communicate(timeout=120)
        assert launch.returncode == 0, err[-3000:]
        assert actor.wait(timeout=30) == 0, actor.communicate()[1]
    finally:
        for process in (launch, actor):
            if process is not None and process.poll() is None:
                process.kill()
                process.wait()
    (candidate,) = json.loads((run_dir / "results.json").read_text())["candidates"]
    assert candidate["phase"] == "done"
    assert candidate["scores"]["final"]["policy_version"] >= 1  # versions advanced, were served
    actor_events = [json.loads(line) for line in log.read_text().splitlines()]
    assigned = next(e for e in actor_events if e["event"] == "actor_assigned")
    assert assigned["inference"] == "central"
    assert not any(e["event"] in ("bad_weights", "inference_unavailable") for e in actor_events)
    run_events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    exit_event = next(e for e in run_events if e["event"] == "learner_exit")
    # Every segment the learner trained on carries a version its inference endpoint answered
    # with; the actor asked for each of its env steps (training and the two evaluations).
    assert exit_event["segments"] >= 600 // 64
    assert exit_event["served_segments"] == exit_event["segments"]
    assert exit_event["inference_requests"] >= exit_event["transitions"]
    assert exit_event["inference_refused"] == 0
