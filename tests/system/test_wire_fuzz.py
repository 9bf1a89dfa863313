"""Bad input on the wire, against a live run with CurveZMQ keys: its supervisor's ROUTER, its
learner's PULL and PUB, each reached over real ZeroMQ sockets.

Hypothesis generates frames (random bytes, msgpack maps that look like messages, valid messages
with fields changed) sent by a client whose key is allowed; valid messages are also sent in the
wrong order and replayed; clients with no key or a key that is not on the allow-list try every
endpoint; plain TCP garbage hits every port. Nothing may crash (no restart, no `*_crash`), no
bad message may be acted on, and afterwards a real actor still gets the run done. The decoder
itself is fuzzed in tests/test_protocol.py (hypothesis) and by atheris (test_atheris.py).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_runtime import events, wait_for

from supersonic.launch.accounting import read_events, reconcile
from supersonic.protocol.codec import encode
from supersonic.protocol.messages import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Assign,
    Bye,
    CandidateSpec,
    EvalResult,
    Heartbeat,
    Hello,
    Transitions,
)
from supersonic.protocol.security import KeyPair, Security, authorize_key, generate_keys

ROOT = Path(__file__).resolve().parents[2]
SPEC = CandidateSpec(name="ppo", algorithm="ppo", state_fn="raw", reward_fn="env")
CONFIG = """
[run]
name = "fuzz"
task = "cartpole"
actors = 0
steps_per_candidate = 3000
batch_size = 64
eval_initial = false
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 2.5
keys = "{keys}"

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ rollout_steps = 256, minibatch_size = 64, epochs = 2 }}
"""
FUZZ = settings(
    max_examples=120,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)


@dataclass
class Target:
    tmp: Path
    run_dir: Path
    launch: subprocess.Popen[bytes]
    control: str  # the supervisor's ROUTER
    transitions: str  # the learner's PULL
    weights: str  # the learner's PUB
    head: KeyPair
    good: KeyPair
    wrong: KeyPair
    ctx: zmq.Context[zmq.Socket[bytes]]

    def socket(self, kind: int, endpoint: str, pair: KeyPair | None) -> zmq.Socket[bytes]:
        sock = self.ctx.socket(kind)
        sock.setsockopt(zmq.LINGER, 500)
        if pair is not None:
            Security(pair, self.head.public).client(sock)
        sock.connect(endpoint)
        return sock


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    tmp = tmp_path_factory.mktemp("fuzz")
    head = generate_keys(tmp / "head")
    good = generate_keys(tmp / "good")
    wrong = generate_keys(tmp / "wrong")
    authorize_key(tmp / "head", good.public, "good")
    for name in ("good", "wrong"):
        (tmp / name / "server.public").write_bytes(head.public + b"\n")
    config = tmp / "run.toml"
    config.write_text(CONFIG.format(keys=tmp / "head"))
    run_dir = tmp / "run"
    with (tmp / "launch.out").open("wb") as out:
        launch = subprocess.Popen(
            [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:
        start = wait_for(
            lambda: [e for e in events(run_dir) if e["event"] == "learner_start"], 120, "learner"
        )[0]
        control = (run_dir / "endpoint").read_text().strip()
        yield Target(tmp, run_dir, launch, control, start["transitions"], start["weights"],
                     head, good, wrong, ctx)  # fmt: skip
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.wait()
        ctx.destroy(linger=0)


@pytest.fixture(scope="module")
def clients(target: Target) -> Iterator[dict[str, zmq.Socket[bytes]]]:
    """One client per endpoint with the allowed key, reused by every example."""
    socks = {
        "control": target.socket(zmq.DEALER, target.control, target.good),
        "transitions": target.socket(zmq.PUSH, target.transitions, target.good),
        "weights": target.socket(zmq.XSUB, target.weights, target.good),
    }
    yield socks
    for sock in socks.values():
        sock.close(linger=0)


def message_like() -> st.SearchStrategy[dict[str, Any]]:
    """msgpack maps shaped like messages: the header right, the fields random."""
    scalar = st.one_of(
        st.none(), st.booleans(), st.integers(-(2**63), 2**64 - 1), st.floats(),
        st.text(max_size=20), st.binary(max_size=40),
    )  # fmt: skip
    value = st.recursive(
        scalar,
        lambda inner: (
            st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
        ),
        max_leaves=12,
    )
    return st.fixed_dictionaries(
        {
            "v": st.sampled_from([PROTOCOL_VERSION, PROTOCOL_VERSION, 0, 99]),
            "t": st.sampled_from(sorted(MESSAGE_TYPES)) | st.text(max_size=10),
            "src": st.text(max_size=12),
            "seq": st.integers(-5, 2**40),
        },
        optional={"candidate": value, "batch_seq": value, "obs": value, "role": value},
    )


frames_strategy = st.one_of(
    st.lists(st.binary(max_size=200), min_size=1, max_size=4),
    message_like().map(lambda m: [msgpack.packb(m, use_bin_type=True)]),
    st.tuples(message_like(), st.lists(st.binary(max_size=64), max_size=3)).map(
        lambda mf: [msgpack.packb(mf[0], use_bin_type=True), *mf[1]]
    ),
)


@FUZZ
@given(frames=frames_strategy, where=st.sampled_from(["control", "transitions", "weights"]))
def test_random_frames_on_every_socket_are_dropped(
    target: Target, clients: dict[str, zmq.Socket[bytes]], frames: list[bytes], where: str
) -> None:
    sock = clients[where]
    if where == "weights":  # what a subscriber can send a PUB: (un)subscriptions
        sock.send(b"\x01" + frames[0][:64])
    else:
        sock.send_multipart(frames)
    if target.launch.poll() is not None:
        pytest.fail(f"the launch exited with {target.launch.returncode}")


def test_plain_tcp_garbage_on_every_port_is_survived(target: Target) -> None:
    for endpoint in (target.control, target.transitions, target.weights):
        host, port = endpoint.removeprefix("tcp://").rsplit(":", 1)
        for blob in (os.urandom(300), b"\xff" + b"\x00" * 8 + b"\x7f" + os.urandom(54)):
            with socket.create_connection((host, int(port)), timeout=5) as raw:
                raw.sendall(blob)
                time.sleep(0.05)
    assert target.launch.poll() is None


def _reply(sock: zmq.Socket[bytes]) -> str:
    assert sock.poll(5000), "no answer"
    return str(msgpack.unpackb(sock.recv_multipart()[0])["t"])


def test_valid_messages_in_the_wrong_order_are_not_acted_on(target: Target) -> None:
    sock = target.socket(zmq.DEALER, target.control, target.good)
    result = EvalResult(
        eval_id="forged", candidate="ppo", policy_version=0, programs=["x"], metrics=[1e9],
        details=[{}], env_steps=1,
    )  # fmt: skip
    # Before any HELLO: told to introduce itself, nothing else happens.
    for i, msg in enumerate([Heartbeat(state="training"), result]):
        sock.send_multipart(encode(msg, "fuzz-peer", i))
        assert _reply(sock) == "REJECT"
    hello = Hello(role="actor", host="fuzz", pid=1, tasks=["cartpole"])
    sock.send_multipart(encode(hello, "fuzz-peer", 2))
    assert _reply(sock) == "WELCOME"
    # A result nobody asked for, and a message only the supervisor sends: ignored.
    sock.send_multipart(encode(result, "fuzz-peer", 3))
    assign = Assign(
        candidate=SPEC, transitions_endpoint="tcp://127.0.0.1:1", weights_endpoint="tcp://127.0.0.1:1",
        programs=["x"], episode_length=1, batch_size=1, seed=0, task="cartpole",
    )  # fmt: skip
    sock.send_multipart(encode(assign, "fuzz-peer", 4))
    sock.send_multipart(encode(Bye(reason="done"), "fuzz-peer", 5))
    bye = lambda: [e for e in events(target.run_dir) if e.get("peer") == "fuzz-peer"  # noqa: E731
                   and e["event"] == "peer_bye"]  # fmt: skip
    wait_for(bye, 10, "the BYE")
    ignored = [e for e in events(target.run_dir) if e["event"] == "eval_result_ignored"]
    assert [e["eval_id"] for e in ignored] == ["forged"]
    sock.close(linger=0)


def _segment(seq: int, candidate: str = "ppo", actor: str = "fuzz-actor") -> list[Any]:
    n = 8
    return encode(
        Transitions(
            candidate=candidate, actor=actor, batch_seq=seq, policy_version=0,
            obs=np.zeros((n, 4), np.float32), actions=np.zeros(n, np.int64),
            rewards=np.ones(n, np.float32), terminated=np.zeros(n, bool),
            truncated=np.zeros(n, bool), logp=np.full(n, -0.7, np.float32),
            values=np.zeros(n, np.float32),
        ),
        actor, seq,
    )  # fmt: skip


def test_replayed_and_foreign_segments_are_dropped(target: Target) -> None:
    sock = target.socket(zmq.PUSH, target.transitions, target.good)
    for seq in (0, 1, 2, 1, 2):  # the last two are replays
        sock.send_multipart(_segment(seq))
    sock.send_multipart(_segment(0, candidate="other"))
    sock.close(linger=2000)
    wait_for(
        lambda: any(e["event"] == "foreign_transitions" for e in events(target.run_dir)), 10,
        "the foreign segment",
    )  # fmt: skip


def test_clients_without_the_key_or_with_a_wrong_key_get_nothing_in(target: Target) -> None:
    intruders = {"nokey": None, "wrongkey": target.wrong}
    socks = []
    for name, pair in intruders.items():
        dealer = target.socket(zmq.DEALER, target.control, pair)
        dealer.send_multipart(
            encode(Hello(role="actor", host="x", pid=1, tasks=["cartpole"]), name, 0)
        )
        push = target.socket(zmq.PUSH, target.transitions, pair)
        push.send_multipart(_segment(0, actor=name), flags=zmq.NOBLOCK)
        sub = target.socket(zmq.SUB, target.weights, pair)
        sub.setsockopt(zmq.SUBSCRIBE, b"")
        socks += [dealer, push, sub]
    good = target.socket(zmq.SUB, target.weights, target.good)
    good.setsockopt(zmq.SUBSCRIBE, b"ppo")
    assert good.poll(10000), "an allowed subscriber gets the weights (republished every second)"
    for sock in socks:
        assert not (sock.type in (zmq.DEALER, zmq.SUB) and sock.poll(500)), sock
        sock.close(linger=0)
    good.close(linger=0)
    ev = events(target.run_dir)
    assert not [e for e in ev if e["event"] == "peer_join" and e["peer"] in intruders]
    refused = [e for e in ev if e["event"] == "auth_refused"]
    assert any(e["public_key"] == target.wrong.public.decode() for e in refused), refused


@pytest.fixture(scope="module")
def finished(target: Target) -> dict[str, Any]:
    """A real actor with the allowed key joins and the run completes."""
    actor = subprocess.run(
        [sys.executable, "-m", "supersonic", "actor", "--connect", target.control, "--keys",
         str(target.tmp / "good"), "--ident", "actor-good", "--tasks", "cartpole",
         "--log-file", str(target.tmp / "actor.jsonl")],
        cwd=ROOT, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert actor.returncode == 0, actor.stderr[-2000:]
    assert target.launch.wait(timeout=60) == 0, (target.tmp / "launch.out").read_text()[-3000:]
    return json.loads((target.run_dir / "results.json").read_text())


def test_nothing_crashed_and_a_good_actor_still_got_the_run_done(
    target: Target, finished: dict[str, Any]
) -> None:
    (candidate,) = finished["candidates"]
    assert candidate["phase"] == "done" and candidate["env_steps"] >= 3000
    ev = events(target.run_dir)
    assert not [e for e in ev if e["event"].endswith("_crash") or e["event"] == "learner_restart"]
    assert finished["rejected_messages"] > 0  # the supervisor counted what it dropped
    learner_rejects = [
        e for e in ev if e["event"] == "message_rejected" and e["id"] == "learner-ppo"
    ]
    assert learner_rejects


def test_the_accounting_shows_the_replays_and_flags_the_forged_segments(
    target: Target, finished: dict[str, Any]
) -> None:
    accounts = {a.actor: a for a in reconcile(read_events(target.run_dir / "events.jsonl"))}
    forged = accounts["fuzz-actor"]
    # Three segments taken, the two replays dropped; no actor reported sending them: an
    # allowed key can feed a learner, and the accounting says so.
    assert (forged.received, forged.duplicate, forged.unexplained) == (3, 2, 3)
    assert accounts["actor-good"].unexplained == 0 and accounts["actor-good"].duplicate == 0
    assert "nokey" not in accounts and "wrongkey" not in accounts
