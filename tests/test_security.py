"""CurveZMQ keys, the ZAP allow-list and the refusals, with real sockets on loopback; and the
one-line errors of `supersonic keys`, `actor` and `launch` for bad security input."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest
import zmq

from supersonic.protocol.security import (
    KeyPair,
    Security,
    SecurityError,
    ZapHandler,
    check_bind,
    generate_keys,
    is_loopback,
)

ROOT = Path(__file__).resolve().parents[1]


def supersonic(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supersonic", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )


def one_line_error(done: subprocess.CompletedProcess[str], text: str) -> None:
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and text in lines[0], done.stderr


def test_keys_generate_writes_a_private_secret_and_never_overwrites(tmp_path: Path) -> None:
    done = supersonic("keys", "generate", "head", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    secret = (tmp_path / "head" / "id.secret").read_text().strip()
    public = (tmp_path / "head" / "id.public").read_text().strip()
    assert public in done.stdout and secret not in done.stdout + done.stderr
    assert stat.S_IMODE((tmp_path / "head" / "id.secret").stat().st_mode) == 0o600
    assert zmq.curve_public(secret.encode()).decode() == public
    one_line_error(supersonic("keys", "generate", "head", cwd=tmp_path), "not overwriting")
    assert (tmp_path / "head" / "id.secret").read_text().strip() == secret
    assert secret not in repr(Security.from_dir(tmp_path / "head"))


def test_keys_authorize_fills_the_allow_list_and_refuses_garbage(tmp_path: Path) -> None:
    generate_keys(tmp_path / "head")
    board = generate_keys(tmp_path / "board")
    done = supersonic("keys", "authorize", "head", "board/id.public", "--name", "b1", cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    allowed = Security.from_dir(tmp_path / "head").allowed
    assert allowed[zmq.utils.z85.decode(board.public)] == "b1"
    one_line_error(
        supersonic("keys", "authorize", "head", "not-a-key", cwd=tmp_path), "not a CurveZMQ key"
    )
    (tmp_path / "head" / "authorized_keys").write_text("garbage\n")
    with pytest.raises(SecurityError, match="authorized_keys:1"):
        Security.from_dir(tmp_path / "head")


@pytest.mark.timeout(60)
def test_an_unknown_key_is_refused_with_its_address_and_a_known_one_gets_through(
    tmp_path: Path,
) -> None:
    head = generate_keys(tmp_path / "head")
    board = generate_keys(tmp_path / "board")
    rogue = generate_keys(tmp_path / "rogue")
    (tmp_path / "head" / "authorized_keys").write_text(board.public.decode() + " board\n")
    server = Security.from_dir(tmp_path / "head")
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    refused: list[tuple[str, str, str]] = []
    zap = ZapHandler(ctx, server.allowed, lambda *r: refused.append(r)).start()
    try:
        router = ctx.socket(zmq.ROUTER)
        server.server(router)
        port = router.bind_to_random_port("tcp://127.0.0.1")

        def client(pair: KeyPair) -> tuple[zmq.Socket[bytes], zmq.Socket[bytes]]:
            sock = ctx.socket(zmq.DEALER)
            Security(pair, head.public).client(sock)
            monitor = sock.get_monitor_socket(zmq.EVENT_HANDSHAKE_FAILED_AUTH)
            sock.connect(f"tcp://127.0.0.1:{port}")
            sock.send(b"hello")
            return sock, monitor

        good, good_monitor = client(board)
        bad, bad_monitor = client(rogue)
        assert router.poll(5000)
        identity, body = router.recv_multipart()
        assert body == b"hello"
        router.send_multipart([identity, b"welcome"])
        assert good.poll(5000) and good.recv() == b"welcome"
        assert bad_monitor.poll(5000)  # the rogue client learns its key was refused
        assert not router.poll(500)  # and nothing of it ever reaches the server
        assert refused and refused[0][0] == "127.0.0.1"
        assert refused[0][1] == rogue.public.decode()
        for sock in (good, good_monitor, bad, bad_monitor, router):
            sock.close(linger=0)
    finally:
        zap.stop()
        ctx.term()


def test_a_public_bind_needs_keys_or_insecure(tmp_path: Path) -> None:
    assert is_loopback("127.0.0.1") and is_loopback("localhost") and is_loopback("::1")
    assert not is_loopback("10.1.2.3")
    with pytest.raises(SecurityError, match="--insecure"):
        check_bind("10.1.2.3", Security(), insecure=False)
    check_bind("10.1.2.3", Security(), insecure=True)
    check_bind("127.0.0.1", Security(), insecure=False)
    config = tmp_path / "run.toml"
    config.write_text(
        '[run]\ntask = "cartpole"\nbind_host = "10.1.2.3"\nbaseline_random = false\n'
        '[[candidates]]\nalgorithm = "ppo"\nstate_fn = "raw"\nreward_fn = "env"\n'
    )
    started = time.monotonic()
    one_line_error(supersonic("launch", str(config), cwd=tmp_path), "needs CurveZMQ keys")
    assert time.monotonic() - started < 30


@pytest.mark.parametrize(
    ("cluster", "message"),
    [
        ("[[cluster.hosts]]\nname = 'b'\n", "ssh (the destination"),
        ("[[cluster.hosts]]\nssh = 'b'\nroles = ['gpu']\n", "roles must be"),
        ("[[cluster.hosts]]\nssh = 'b'\ncolour = 1\n", "unknown key(s) colour"),
        ("[[cluster.hosts]]\nssh = 'b'\nroles = ['learner']\nactors = 2\n", "actors must be"),
        ("[cluster]\nhosts = 3\n", "[[cluster.hosts]] tables"),
        ("[cluster]\nports = 3\n", "unknown [cluster] key(s) ports"),
    ],
)
def test_bad_cluster_sections_are_refused_in_one_line(
    tmp_path: Path, cluster: str, message: str
) -> None:
    from supersonic.launch.config import ConfigError, parse_config

    text = (
        '[run]\ntask = "cartpole"\n'
        '[[candidates]]\nalgorithm = "ppo"\nstate_fn = "raw"\nreward_fn = "env"\n' + cluster
    )
    with pytest.raises(ConfigError, match=re.escape(message)):
        parse_config(text, "run.toml")


def test_a_run_with_keys_needs_each_hosts_key_directory(tmp_path: Path) -> None:
    from supersonic.launch.config import ConfigError, parse_config

    missing = (
        f'[run]\ntask = "cartpole"\nkeys = "{tmp_path / "nowhere"}"\n'
        '[[candidates]]\nalgorithm = "ppo"\nstate_fn = "raw"\nreward_fn = "env"\n'
    )
    with pytest.raises(ConfigError, match="no such directory"):
        parse_config(missing, "run.toml")
    generate_keys(tmp_path / "head")
    text = (
        f'[run]\ntask = "cartpole"\nkeys = "{tmp_path / "head"}"\n'
        '[[candidates]]\nalgorithm = "ppo"\nstate_fn = "raw"\nreward_fn = "env"\n'
        '[[cluster.hosts]]\nssh = "board1"\n'
    )
    with pytest.raises(ConfigError, match="remote key directory"):
        parse_config(text, "run.toml")


def test_actor_command_line_errors_are_one_line(tmp_path: Path) -> None:
    one_line_error(supersonic("actor", "--connect", "localhost:1", cwd=tmp_path), "tcp://HOST")
    one_line_error(
        supersonic("actor", "--connect", "tcp://127.0.0.1:1", "--keys", "nowhere", cwd=tmp_path),
        "no such key directory",
    )
    one_line_error(
        supersonic("actor", "--connect", "tcp://127.0.0.1:1", "--tasks", "chess", cwd=tmp_path),
        "unknown task(s) chess",
    )


def test_a_fixed_port_that_is_taken_is_one_line(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        config = tmp_path / "run.toml"
        config.write_text(
            f'[run]\ntask = "cartpole"\nport = {port}\nbaseline_random = false\n'
            '[[candidates]]\nalgorithm = "ppo"\nstate_fn = "raw"\nreward_fn = "env"\n'
        )
        one_line_error(supersonic("launch", str(config), cwd=tmp_path), "cannot bind tcp://")


@pytest.mark.timeout(120)
def test_an_actor_whose_security_does_not_match_the_supervisors_says_so_and_exits_3(
    tmp_path: Path,
) -> None:
    """CURVE against a plain endpoint, or plain against a CURVE one: the handshake can never
    succeed, so the actor prints one line and exits 3 instead of reconnecting forever."""
    head = generate_keys(tmp_path / "head")
    generate_keys(tmp_path / "board")
    (tmp_path / "board" / "server.public").write_bytes(head.public + b"\n")
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        for server_curve, extra, message in (
            (True, [], "requires CurveZMQ: start this process with --keys"),
            (False, ["--keys", "board"], "does not use CurveZMQ"),
        ):
            router = ctx.socket(zmq.ROUTER)
            if server_curve:
                Security.from_dir(tmp_path / "head").server(router)
            port = router.bind_to_random_port("tcp://127.0.0.1")
            done = supersonic(
                "actor", "--connect", f"tcp://127.0.0.1:{port}", "--log-file", "-", *extra,
                cwd=tmp_path,
            )  # fmt: skip
            router.close(linger=0)
            assert done.returncode == 3, done.stderr
            errors = [line for line in done.stderr.splitlines() if line.startswith("error: ")]
            assert len(errors) == 1 and message in errors[0], done.stderr
    finally:
        ctx.term()
