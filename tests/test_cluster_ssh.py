"""The ssh launcher against a real OpenSSH server on loopback.

The test starts its own `sshd` (its own sshd_config on a free port, host key and authorized key
in a temporary directory, public-key authentication only) and a `supersonic launch` whose
`[cluster]` host is that sshd: the actors and the learners all run over ssh, with CurveZMQ keys.
Afterwards the process list must hold nothing the launch started, here or "remotely": no
process whose command line carries the run's unique tag, and no session left under our sshd.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SSHD = shutil.which("sshd") or "/usr/sbin/sshd"

pytestmark = pytest.mark.skipif(
    not (os.path.exists(SSHD) and shutil.which("ssh") and shutil.which("ssh-keygen")),
    reason="OpenSSH server/client missing: bash scripts/install-system-deps.sh",
)


@dataclass
class Sshd:
    port: int
    pid: int
    ssh_options: list[str]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def children_of(pid: int) -> list[int]:
    """Every descendant of `pid` (from /proc)."""
    parents: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        parents.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        for child in parents.get(todo.pop(), []):
            out.append(child)
            todo.append(child)
    return out


def processes_with(tag: str) -> list[str]:
    """Command lines (ps) that contain `tag`, other than this test's own."""
    listing = subprocess.run(
        ["ps", "-ww", "-eo", "pid=,stat=,args="], capture_output=True, text=True, check=True
    ).stdout
    return [
        line
        for line in listing.splitlines()
        if tag in line and " ps -eo" not in line and line.split()[1][0] != "Z"
    ]


@pytest.fixture(scope="module")
def sshd(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Sshd]:
    tmp = tmp_path_factory.mktemp("sshd")
    user = (
        os.environ.get("USER")
        or subprocess.run(["id", "-un"], capture_output=True, text=True, check=True).stdout.strip()
    )
    for key in ("host_key", "client_key"):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(tmp / key)], check=True
        )
    (tmp / "authorized_keys").write_text((tmp / "client_key.pub").read_text())
    port = free_port()
    (tmp / "sshd_config").write_text(
        "\n".join(
            [
                f"Port {port}",
                "ListenAddress 127.0.0.1",
                f"HostKey {tmp / 'host_key'}",
                f"PidFile {tmp / 'sshd.pid'}",
                f"AuthorizedKeysFile {tmp / 'authorized_keys'}",
                "PubkeyAuthentication yes",
                "PasswordAuthentication no",
                "KbdInteractiveAuthentication no",
                "PermitRootLogin prohibit-password",
                "StrictModes no",  # the keys live under /tmp
                "UsePAM no",
                f"AllowUsers {user}",
                "LogLevel ERROR",
            ]
        )
        + "\n"
    )
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # privilege separation directory
    server = subprocess.Popen(
        [SSHD, "-D", "-e", "-f", str(tmp / "sshd_config")],
        stdout=subprocess.DEVNULL,
        stderr=(tmp / "sshd.log").open("wb"),
    )
    options = [
        "-F", "/dev/null",
        "-i", str(tmp / "client_key"),
        "-o", "IdentitiesOnly=yes",
        "-o", f"UserKnownHostsFile={tmp / 'known_hosts'}",
        "-o", "StrictHostKeyChecking=accept-new",
        "-o", "LogLevel=ERROR",
    ]  # fmt: skip
    try:
        deadline = time.monotonic() + 20
        while True:
            probe = subprocess.run(
                ["ssh", *options, "-p", str(port), f"{user}@127.0.0.1", "true"],
                capture_output=True,
                text=True,
                timeout=20,
            )
            if probe.returncode == 0:
                break
            if time.monotonic() > deadline or server.poll() is not None:
                pytest.fail(
                    f"sshd did not come up: {probe.stderr} {(tmp / 'sshd.log').read_text()}"
                )
            time.sleep(0.2)
        yield Sshd(port, server.pid, [*options])
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()


def write_run(tmp: Path, sshd: Sshd, tag: str, steps: int, dead_host: bool = False) -> Path:
    subprocess.run(
        [sys.executable, "-m", "supersonic", "keys", "generate", str(tmp / "keys")],
        check=True,
        capture_output=True,
    )
    user = os.environ.get("USER") or "root"
    cache = os.environ.get("SUPERSONIC_CACHE", "")
    dead = (
        f"""
[[cluster.hosts]]
name = "down{tag}"
ssh = "{user}@127.0.0.1"
port = {free_port()}
python = "{sys.executable}"
keys = "{tmp / "keys"}"
"""
        if dead_host
        else ""
    )
    config = tmp / "run.toml"
    config.write_text(
        f"""
[run]
name = "ssh"
task = "cartpole"
actors = 0
steps_per_candidate = {steps}
batch_size = 64
eval_initial = false
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 4.0
keys = "{tmp / "keys"}"

[cluster]
ssh_options = {json.dumps(sshd.ssh_options)}

[[cluster.hosts]]
name = "{tag}"
ssh = "{user}@127.0.0.1"
port = {sshd.port}
python = "{sys.executable}"
workdir = "{tmp / "remote"}"
env = {{ PYTHONPATH = "{ROOT}", SUPERSONIC_CACHE = "{cache}" }}
actors = 2
roles = ["actor", "learner"]
keys = "{tmp / "keys"}"
address = "127.0.0.1"
label = "loopback-board"

{dead}
[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ rollout_steps = 256, minibatch_size = 64, epochs = 2 }}
"""
    )
    return config


def launch(config: Path, run_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, like a shell's foreground job
    )


def wait_until_gone(tag: str, sshd: Sshd, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not processes_with(tag) and not children_of(sshd.pid):
            return
        time.sleep(0.2)
    pytest.fail(f"left behind: {processes_with(tag)} sshd children {children_of(sshd.pid)}")


def test_a_run_over_ssh_completes_forwards_output_and_leaves_no_process(
    sshd: Sshd, tmp_path: Path
) -> None:
    tag = f"lo{secrets.token_hex(4)}"
    config = write_run(tmp_path, sshd, tag, steps=3000, dead_host=True)
    run_dir = tmp_path / f"run-{tag}"
    proc = launch(config, run_dir)
    _, err = proc.communicate(timeout=240)
    assert proc.returncode == 0, err[-3000:]
    # A host that is down (nothing listens on its port) does not stop the run: its ssh command
    # fails, the launch says why and keeps trying with backoff.
    assert f"actor-down{tag}-0 on down{tag} exited with status 255" in err
    assert "Connection refused" in err
    results = json.loads((run_dir / "results.json").read_text())
    assert results["candidates"][0]["phase"] == "done"
    assert (run_dir / "best" / "policy.npz").exists()  # fetched from the remote learner (scp)
    events = [json.loads(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    joined = {e["peer"]: e for e in events if e["event"] == "peer_join"}
    assert {f"actor-{tag}-0", f"actor-{tag}-1", "learner-ppo"} <= set(joined)
    assert joined[f"actor-{tag}-0"]["label"] == "loopback-board"
    # The remote processes' output (their JSON events on stderr) is in the run's logs.
    forwarded = (run_dir / "logs" / f"actor-{tag}-0.out").read_text()
    assert '"event": "peer_welcome"' in forwarded
    assert '"event": "learner_exit"' in (run_dir / "logs" / "learner-ppo.out").read_text()
    wait_until_gone(tag, sshd, 20)


def test_a_crashed_remote_actor_comes_back_and_a_killed_launch_takes_every_remote_process(
    sshd: Sshd, tmp_path: Path
) -> None:
    """A remote actor killed mid-run is started again over ssh. Then SIGKILL of the launch: its
    ssh clients die with it (parent-death signal), which closes the remote processes' stdin,
    and their lifelines stop them."""
    tag = f"lo{secrets.token_hex(4)}"
    config = write_run(tmp_path, sshd, tag, steps=10**6)
    run_dir = tmp_path / f"run-{tag}"
    proc = launch(config, run_dir)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            text = (
                (run_dir / "events.jsonl").read_text()
                if (run_dir / "events.jsonl").exists()
                else ""
            )
            if '"event": "assign"' in text:
                break
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            time.sleep(0.2)
        else:
            pytest.fail("no actor was assigned work")
        # A remote actor dies (as on a board that crashed): the launch starts it again.
        ident = f"actor-{tag}-0"
        remote = [line for line in processes_with(f"--ident {ident}") if line.split()[2] != "ssh"]
        assert remote, processes_with(tag)
        os.kill(int(remote[0].split()[0]), signal.SIGKILL)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
            joins = [e for e in events if e["event"] == "peer_join" and e["peer"] == ident]
            if len(joins) >= 2:
                break
            time.sleep(0.2)
        else:
            pytest.fail(f"{ident} did not come back")
        assert any(e["event"] == "remote_actor_exit" and e["actor"] == ident for e in events)
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)
        wait_until_gone(tag, sshd, 30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()


def test_ctrl_c_stops_every_process_here_and_on_the_host(sshd: Sshd, tmp_path: Path) -> None:
    """Ctrl-C reaches the launch's foreground process group (not the ssh clients, which have
    their own session): the launch stops everyone in order and exits 130."""
    tag = f"lo{secrets.token_hex(4)}"
    config = write_run(tmp_path, sshd, tag, steps=10**6)
    run_dir = tmp_path / f"run-{tag}"
    proc = launch(config, run_dir)
    try:
        deadline = time.monotonic() + 120
        while '"event": "assign"' not in (
            (run_dir / "events.jsonl").read_text() if (run_dir / "events.jsonl").exists() else ""
        ):
            assert time.monotonic() < deadline and proc.poll() is None, "no actor was assigned"
            time.sleep(0.2)
        assert processes_with(tag)
        os.killpg(proc.pid, signal.SIGINT)
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 130, err[-3000:]
        assert "interrupted: stopping every process" in err
        wait_until_gone(tag, sshd, 20)
        events = [json.loads(x) for x in (run_dir / "events.jsonl").read_text().splitlines()]
        byes = {e["peer"] for e in events if e["event"] == "peer_bye"}
        assert {f"actor-{tag}-0", f"actor-{tag}-1"} <= byes  # they shut down cleanly
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.communicate()
