"""`supersonic launch --backend ray` against a real local Ray cluster.

One cluster for the module: `ray start --head` and two more nodes on this machine, each with a
custom resource (`board-a`, `board-b`, and `learner-node` on the head), in a temporary Ray
directory. Ray runs from an environment of its own, as docs/cluster.md tells users to: Ray
2.60's node agent refuses pydantic 1, which CompilerGym needs, so when the project's venv has
pydantic 1 the fixture makes a venv whose site-packages are the project's minus pydantic (links,
no copies) and starts Ray with it; the SuperSonic processes run with the project's interpreter
(`[ray] python`). Afterwards `ray stop --force`, and no process of the cluster or of the run
may be left.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("ray") is None, reason="Ray missing: pip install -e '.[ray]'"
)


@dataclass
class RayCluster:
    address: str
    python: str  # the interpreter Ray runs with
    tag: str  # in every command line of the cluster's processes (its temp dir)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def processes_with(tag: str) -> list[str]:
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [
        line
        for line in listing.splitlines()
        if tag in line and " ps -ww" not in line and line.split()[1][0] != "Z"
    ]


def parent_of(pid: int) -> int:
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("PPid:")).split()[1])


def ray_python(tmp: Path) -> str:
    """An interpreter that has Ray and not pydantic 1 (see the module docstring)."""
    try:
        major = importlib.metadata.version("pydantic").split(".")[0]
    except importlib.metadata.PackageNotFoundError:
        major = ""
    if major != "1":
        return sys.executable
    env = tmp / "rayenv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(env)], check=True)
    ours = Path(importlib.util.find_spec("ray").origin).parents[1]  # type: ignore[arg-type,union-attr]
    (site,) = env.glob("lib/python3*/site-packages")
    for entry in ours.iterdir():
        if not entry.name.startswith(("pydantic", "__editable__", "supersonic")):
            (site / entry.name).symlink_to(entry)
    return str(env / "bin" / "python")


def ray_cli(python: str, *args: str, env: dict[str, str]) -> None:
    done = subprocess.run(
        [python, "-m", "ray.scripts.scripts", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]


@pytest.fixture(scope="module")
def ray_cluster() -> Iterator[RayCluster]:
    tmp = Path(tempfile.mkdtemp(prefix="ssray"))  # short: Ray's socket paths must fit
    python = ray_python(tmp)
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0"}
    address = f"127.0.0.1:{port}"
    common = ["--node-ip-address=127.0.0.1", "--num-cpus=1", "--disable-usage-stats"]
    try:
        ray_cli(
            python,
            "start",
            "--head",
            f"--port={port}",
            f"--temp-dir={tmp / 'ray'}",
            "--include-dashboard=false",
            '--resources={"learner-node": 2}',
            *common,
            env=env,
        )
        for board in ("board-a", "board-b"):  # one after the other: side by side they race
            ray_cli(
                python,
                "start",
                f"--address={address}",
                f'--resources={{"{board}": 1}}',
                *common,
                env=env,
            )
        yield RayCluster(address, python, str(tmp))
    finally:
        subprocess.run(
            [python, "-m", "ray.scripts.scripts", "stop", "--force"],
            capture_output=True,
            env=env,
            timeout=120,
        )
        deadline = time.monotonic() + 20
        while processes_with(str(tmp)) and time.monotonic() < deadline:
            time.sleep(0.2)
        left = processes_with(str(tmp))
        shutil.rmtree(tmp, ignore_errors=True)
        assert not left, f"Ray processes left behind: {left}"


def write_run(tmp: Path, cluster: RayCluster, steps: int, board_b: str = "board-b") -> Path:
    subprocess.run(
        [sys.executable, "-m", "supersonic", "keys", "generate", str(tmp / "keys")],
        check=True,
        capture_output=True,
    )
    config = tmp / "run.toml"
    config.write_text(f"""
[run]
name = "ray"
task = "llvm-codesize"
actors = 0
steps_per_candidate = {steps}
episode_length = 10
batch_size = 32
train = "builtin:validation"
eval_initial = false
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 4.0
keys = "{tmp / "keys"}"  # the learners bind their node's address (not loopback)

[ray]
address = "{cluster.address}"
python = "{sys.executable}"
env = {{ PYTHONPATH = "{ROOT}", SUPERSONIC_CACHE = "{os.environ.get("SUPERSONIC_CACHE", "")}" }}
learner_resources = {{ learner-node = 1 }}
max_restarts = 2

[[ray.actors]]
cpus = 0.5
resources = {{ board-a = 1 }}
label = "board-a"

[[ray.actors]]
cpus = 0.5
resources = {{ {board_b} = 1 }}
label = "board-b"

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "autophase"
reward_fn = "ir_oz"
hyperparameters = {{ rollout_steps = 128 }}
""")
    return config


def launch(config: Path, run_dir: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            *(sys.executable, "-m", "supersonic", "launch", str(config)),
            *("--backend", "ray", "--run-dir", str(run_dir), *extra),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "RAY_USAGE_STATS_ENABLED": "0"},
        start_new_session=True,
    )


def events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line being written
    return out


def wait_for(proc: subprocess.Popen[str], run_dir: Path, what: str, found: Any) -> list[Any]:
    """The run's events once `found(events)` is true (240 s at most, the launch alive).

    Generous: on a loaded 2-core machine, importing torch in a Ray worker took a minute
    (each of the supervisor and the learner), where it takes seconds on a quiet one."""
    deadline = time.monotonic() + 240
    while not found(seen := events(run_dir)):
        assert proc.poll() is None, proc.communicate()[1][-3000:]
        assert time.monotonic() < deadline, what
        time.sleep(0.2)
    return seen


def since_last(seen: list[dict[str, Any]], event: str) -> list[dict[str, Any]]:
    """The events after the last `event` (e.g. those of the newest supervisor)."""
    last = max((i for i, e in enumerate(seen) if e["event"] == event), default=len(seen))
    return seen[last:]


def any_event(seen: list[dict[str, Any]], event: str) -> bool:
    return any(e["event"] == event for e in seen)


def assigned(actor: str) -> Any:
    """Whether the newest supervisor has given `actor` work."""
    return lambda seen: any(
        e["event"] == "assign" and e.get("actor") == actor
        for e in since_last(seen, "supervisor_start")
    )


def test_an_llvm_run_survives_killed_ray_workers_of_its_supervisor_and_an_actor(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    tag = f"ray{secrets.token_hex(4)}"
    tmp = tmp_path / tag  # in every hosted process's command line (--keys, the run dir)
    tmp.mkdir()
    config = write_run(tmp, ray_cluster, steps=1600)
    run_dir = tmp / "run"
    proc = launch(config, run_dir)
    try:
        # Once the first supervisor has a process placed (the rest are on their way).
        seen = wait_for(proc, run_dir, "nothing placed", lambda seen: any_event(seen, "ray_placed"))
        # The supervisor runs as a Ray actor, not in the launch: its process (the one that
        # logged supervisor_start) is the child of a Ray worker on the head node.
        (host,) = [e for e in seen if e["event"] == "ray_supervisor_placed"]
        (start,) = [e for e in seen if e["event"] == "supervisor_start"]
        assert start["pid"] == host["pid"] != proc.pid
        assert parent_of(host["pid"]) == host["worker_pid"]
        assert Path(f"/proc/{host['worker_pid']}/cmdline").read_bytes().startswith(b"ray::")
        assert host["node_resources"].get("learner-node") == 2
        # At the default priority, not Ray's worker niceness (15: starved by any busy process).
        assert host["niceness"] == 0 == os.getpriority(os.PRIO_PROCESS, host["worker_pid"])
        # Kill the supervisor's Ray worker: Ray starts it again, the new supervisor resumes
        # the run from the ledger, and new learners and actors join it.
        os.kill(host["worker_pid"], signal.SIGKILL)
        seen = wait_for(
            proc,
            run_dir,
            "the supervisor was not resumed",
            lambda seen: [e for e in seen if e["event"] == "run_plan" and e["resumed"]],
        )
        seen = wait_for(proc, run_dir, "no work after the resume", assigned("actor-g0-0"))
        placed = {
            e["process"]: e for e in since_last(seen, "run_plan") if e["event"] == "ray_placed"
        }
        # Each actor is on the node that has its board's resource; the learner on the head.
        assert placed["actor-g0-0"]["node_resources"].get("board-a") == 1
        assert placed["actor-g1-0"]["node_resources"].get("board-b") == 1
        assert placed["learner-ppo"]["node_resources"].get("learner-node") == 2
        assert len({p["node_id"] for p in placed.values()}) == 3
        assert {p["niceness"] for p in placed.values()} == {0}
        # Kill the Ray worker that hosts actor-g0-0: Ray starts it again on a board-a node
        # and the new actor rejoins through the control endpoint.
        os.kill(placed["actor-g0-0"]["worker_pid"], signal.SIGKILL)
        out, err = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
    assert proc.returncode == 0, err[-3000:]
    assert "candidate" in out and "(winner)" in out  # the final table, as without Ray
    assert "supervisor at tcp://127.0.0.1:" in err  # the supervisor's lines, followed here
    assert "the supervisor's Ray actor died" in err and "resumes the run" in err
    results = json.loads((run_dir / "results.json").read_text())
    assert results["candidates"][0]["phase"] == "done"
    assert (run_dir / "best" / "policy.npz").exists()
    seen = events(run_dir)
    assert [e["restart"] for e in seen if e["event"] == "ray_supervisor_restart"] == [1]
    (again,) = [e for e in seen if e["event"] == "ray_supervisor_replaced"]
    starts = [e for e in seen if e["event"] == "supervisor_start"]
    assert len(starts) == 2 and starts[1]["pid"] == again["pid"] != host["pid"]
    resumed = since_last(seen, "run_plan")
    restarts = [e for e in resumed if e["event"] == "ray_restart"]
    assert [(e["process"], e["restart"]) for e in restarts] == [("actor-g0-0", 1)]
    replaced = [e for e in resumed if e["event"] == "ray_replaced" and e["process"] == "actor-g0-0"]
    assert replaced and replaced[0]["node_resources"].get("board-a") == 1
    joins = [e for e in resumed if e["event"] == "peer_join" and e["peer"] == "actor-g0-0"]
    assert len(joins) == 2 and joins[0]["label"] == "board-a"
    deadline = time.monotonic() + 20
    while processes_with(tag) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not processes_with(tag), processes_with(tag)


def ready_for(sig: int) -> Any:
    if sig == signal.SIGTERM:
        return lambda seen: any(
            e["event"] == "peer_join" and e["peer"] == "learner-ppo" for e in seen
        )
    return lambda seen: len([e for e in seen if e["event"] == "ray_placed"]) == 3


def test_a_stopped_or_killed_launch_takes_the_supervisor_and_its_processes_along(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        tag = f"ray{secrets.token_hex(4)}"
        tmp = tmp_path / tag
        tmp.mkdir()
        run_dir = tmp / "run"
        proc = launch(write_run(tmp, ray_cluster, steps=100_000), run_dir)
        try:
            # SIGTERM once the learner has joined (so STOP reaches everyone and the stop is
            # quick), SIGKILL once the processes are placed (their commands name `tag` too).
            wait_for(proc, run_dir, "not placed", ready_for(sig))
            assert len(processes_with(tag)) >= 5  # the launch, the supervisor, its processes
            os.kill(proc.pid, sig)  # SIGTERM: what Ctrl-C does too (KeyboardInterrupt)
            out, err = proc.communicate(timeout=90)
        finally:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.communicate()
        deadline = time.monotonic() + 30
        while processes_with(tag) and time.monotonic() < deadline:
            time.sleep(0.2)
        assert not processes_with(tag), f"left after {sig.name}: {processes_with(tag)}"
        if sig == signal.SIGTERM:  # a clean stop: STOP to everyone, the table, status 130
            assert proc.returncode == 130, err[-3000:]
            assert "interrupted: stopping the supervisor" in err and "candidate" in out
            assert json.loads((run_dir / "results.json").read_text())["interrupted"]
            stops = [e for e in events(run_dir) if e["event"] == "supervisor_stop"]
            assert [e["reason"] for e in stops] == ["interrupted"]


RESTART_SCENARIO = """
import json, os, signal, sys, threading, time
from supersonic.launch.ray_backend import RayProcess, import_ray

ray = import_ray()  # as the launch does (Ray 2.60 and the project's pydantic 1)

address, marker = sys.argv[1], sys.argv[2]


class SlowToRestart:  # defined in __main__: Ray ships it to the worker by value
    def __init__(self, marker: str) -> None:
        if os.path.exists(marker):
            time.sleep(4)  # the new incarnation: a slow start (a loaded node)
        open(marker, "a").close()

    def info(self) -> dict:
        return {"worker_pid": os.getpid()}

    def wait(self) -> None:
        threading.Event().wait()


class Events:  # the part of the launch's logger RayProcess uses
    def __init__(self) -> None:
        self.names: list[str] = []

    def info(self, event: str, **fields: object) -> None:
        self.names.append(event)

    warning = error = info


ray.init(address=address, log_to_driver=False, logging_level="ERROR")
handle = ray.remote(SlowToRestart).options(
    num_cpus=0, max_restarts=3, max_concurrency=4
).remote(marker)
events = Events()
process = RayProcess("slow", handle, 3, events, lambda line: None)
deadline = time.monotonic() + 60
while not process.pid and time.monotonic() < deadline:
    process.poll()
    time.sleep(0.1)
os.kill(process.pid, signal.SIGKILL)
while "ray_replaced" not in events.names and time.monotonic() < deadline:
    process.poll()
    time.sleep(0.1)
ray.kill(handle, no_restart=True)
print(json.dumps({"deaths": process.deaths, "events": events.names}))
"""


def test_one_death_of_a_slowly_restarting_ray_actor_counts_once(
    ray_cluster: RayCluster, tmp_path: Path
) -> None:
    """Ray fails the calls made while it restarts an actor ("The actor is restarting"); the
    launch makes them again at once, and they met the restart it had just counted: one
    SIGKILL read as two restarts (CI-like load, the supervisor's and an actor's). The new
    incarnation here takes 4 s to start, so every poll meanwhile meets that error."""
    done = subprocess.run(
        [sys.executable, "-c", RESTART_SCENARIO, ray_cluster.address, str(tmp_path / "started")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["events"] == ["ray_placed", "ray_restart", "ray_replaced"], result
    assert result["deaths"] == 1


def test_bad_ray_input_is_one_line_within_seconds(ray_cluster: RayCluster, tmp_path: Path) -> None:
    config = write_run(tmp_path, ray_cluster, steps=600, board_b="board-c")
    text = config.read_text().replace('task = "llvm-codesize"', 'task = "cartpole"')
    text = text.replace('train = "builtin:validation"\n', "")
    config.write_text(
        text.replace('state_fn = "autophase"', 'state_fn = "raw"').replace(
            'reward_fn = "ir_oz"', 'reward_fn = "env"'
        )
    )
    started = time.monotonic()
    proc = launch(config, tmp_path / "run")
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    (line,) = err.strip().splitlines()
    assert line.startswith("error: [ray] actor group 1 asks for CPU=0.5, board-c=1 but no node")
    assert "board-a=1" in line and "ray start --resources" in line
    closed = f"127.0.0.1:{free_port()}"
    proc = launch(config, tmp_path / "run", "--address", closed)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 2
    assert err.strip() == (
        f"error: the Ray cluster at {closed} is unreachable (Connection refused): check that "
        "it runs (`ray status` on its head) and the address and port, or use --address auto"
    )
    assert time.monotonic() - started < 40  # two launches, each a few seconds
    assert not (tmp_path / "run" / "ledger.sqlite").exists()  # nothing started


def test_without_ray_installed_the_launch_says_how_to_get_it(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(
        '[run]\ntask = "cartpole"\n[[candidates]]\nalgorithm = "ppo"\n'
        'state_fn = "raw"\nreward_fn = "env"\n'
    )
    code = (
        "import sys; sys.modules['ray'] = None  # as if Ray were not installed\n"
        "from supersonic.launch.cli import main; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "launch", str(config), "--backend", "ray"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "error: --backend ray needs Ray: pip install 'supersonic-rl[ray]' (ray==2.60.0)"
    )
