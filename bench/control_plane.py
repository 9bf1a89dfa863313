"""The control plane at cluster size: many lightweight actors against one real supervisor.

A real `Supervisor` (the class `supersonic launch` runs, its ROUTER, codec, bookkeeping and
scheduling loop) runs in its own process with 8 candidates. This process plays 8 learners and
N actors (N = 64; 16 with --quick), each a DEALER speaking the real protocol through the real
codec, but doing no RL: an actor says HELLO, heartbeats every second, and records what comes
back. Measured:

- registration: from the first actor HELLO until every actor has its WELCOME, and until every
  actor has its ASSIGN (the supervisor spreads them over the 8 candidates);
- heartbeat round trip: each actor's HEARTBEAT until the supervisor's answer (median, p99),
  over a steady window with every actor heartbeating once a second;
- supervisor CPU: its process's user+system time over that window, as a share of one core.

Target: all actors registered and assigned within 1 s, heartbeat p99 under 20 ms and the
supervisor under 10% of one core at one heartbeat per actor per second (on 2 shared cores).

    .venv/bin/python bench/control_plane.py [--quick] [--actors N]
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zmq

CANDIDATES = 8
TARGET = {"assign_s": 1.0, "heartbeat_p99_ms": 20.0, "supervisor_cpu": 0.10}

CONFIG = """
[run]
name = "control-plane"
task = "cartpole"
actors = 0
steps_per_candidate = 100000000
batch_size = 64
eval_initial = false
baseline_random = false
heartbeat_interval_s = 1.0
heartbeat_timeout_s = 10.0

[search]
concurrent = {candidates}
"""


def _serve(run_dir: Path) -> None:
    """The supervisor process: a real Supervisor until SIGTERM."""
    from supersonic.launch.config import RunPaths, parse_config
    from supersonic.launch.supervisor import Supervisor

    text = CONFIG.format(candidates=CANDIDATES)
    for i in range(CANDIDATES):
        text += (
            f'[[candidates]]\nname = "c{i}"\nalgorithm = "ppo"\nstate_fn = "raw"\n'
            'reward_fn = "env"\n'
        )
    config = parse_config(text, "control_plane")
    supervisor = Supervisor(config, RunPaths(run_dir))
    signal.signal(signal.SIGTERM, lambda *_: supervisor.request_stop())
    (run_dir / "endpoint.tmp").write_text(supervisor.endpoint)
    (run_dir / "endpoint.tmp").rename(run_dir / "endpoint")
    try:
        supervisor.run()
    finally:
        supervisor.close()


@dataclass
class FakePeer:
    """One DEALER speaking the protocol; what the bench records about it."""

    ident: str
    channel: Any
    welcomed_at: float | None = None
    assigned_at: float | None = None
    beat_sent: float | None = None  # the outstanding heartbeat, if any
    rtts: list[float] = field(default_factory=list)


def _connect(ctx: zmq.Context[zmq.Socket[bytes]], endpoint: str, ident: str) -> FakePeer:
    from supersonic.protocol.transport import Channel

    sock = ctx.socket(zmq.DEALER)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(endpoint)
    return FakePeer(ident, Channel(sock, ident))


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _drain(peers: list[FakePeer], poller: zmq.Poller, timeout_ms: int, recording: bool) -> None:
    from supersonic.protocol.messages import Assign, Heartbeat, Welcome

    by_socket = {p.channel.socket: p for p in peers}
    for sock, _ in poller.poll(timeout_ms):
        peer = by_socket[sock]
        while (received := peer.channel.recv(block=False)) is not None:
            now, msg = time.perf_counter(), received.message
            if isinstance(msg, Welcome) and peer.welcomed_at is None:
                peer.welcomed_at = now
            elif isinstance(msg, Assign) and peer.assigned_at is None:
                peer.assigned_at = now
            elif isinstance(msg, Heartbeat) and peer.beat_sent is not None:
                if recording:
                    peer.rtts.append(now - peer.beat_sent)
                peer.beat_sent = None


def run(actors: int, window_s: float) -> dict[str, Any]:
    from supersonic.protocol.messages import Bye, CandidateSpec, Heartbeat, Hello

    run_dir = Path(tempfile.mkdtemp(prefix="supersonic-control-plane-"))
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve", str(run_dir)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    peers: list[FakePeer] = []
    try:
        deadline = time.monotonic() + 60
        while not (run_dir / "endpoint").exists():
            if server.poll() is not None or time.monotonic() > deadline:
                err = server.stderr.read() if server.stderr and server.poll() is not None else ""
                raise RuntimeError(f"the supervisor did not start: {err[-2000:]}")
            time.sleep(0.05)
        endpoint = (run_dir / "endpoint").read_text()
        host, pid = socket.gethostname(), os.getpid()
        learners = [_connect(ctx, endpoint, f"learner-c{i}") for i in range(CANDIDATES)]
        for i, learner in enumerate(learners):
            spec = CandidateSpec(f"c{i}", "ppo", "raw", "env")
            learner.channel.send(
                Hello(
                    role="learner",
                    host=host,
                    pid=pid,
                    candidate=spec,
                    transitions_endpoint="tcp://127.0.0.1:9",  # never used: no real actors
                    weights_endpoint="tcp://127.0.0.1:9",
                )
            )
        poller = zmq.Poller()
        for learner in learners:
            poller.register(learner.channel.socket, zmq.POLLIN)
        while any(p.welcomed_at is None for p in learners):
            _drain(learners, poller, 100, False)
        fakes = [_connect(ctx, endpoint, f"actor-{i}") for i in range(actors)]
        for fake in fakes:
            poller.register(fake.channel.socket, zmq.POLLIN)
        peers = learners + fakes
        time.sleep(0.5)  # let the TCP connections come up: registration, not connect, is timed
        started = time.perf_counter()
        for fake in fakes:
            fake.channel.send(Hello(role="actor", host=host, pid=pid, tasks=["cartpole"], cores=1))
        deadline = time.monotonic() + 30
        while any(f.assigned_at is None for f in fakes) and time.monotonic() < deadline:
            _drain(peers, poller, 50, False)
        registered = max((f.welcomed_at or float("inf")) for f in fakes) - started
        assigned = max((f.assigned_at or float("inf")) for f in fakes) - started
        # Steady state: every peer heartbeats once a second, spread over the second.
        offsets = np.linspace(0.0, 1.0, len(peers), endpoint=False)
        begin = time.perf_counter()
        next_beat = [begin + o for o in offsets]
        cpu_before = _cpu_seconds(server.pid)
        while (now := time.perf_counter()) < begin + window_s:
            for i, peer in enumerate(peers):
                if now >= next_beat[i]:
                    next_beat[i] += 1.0
                    peer.beat_sent = time.perf_counter()
                    peer.channel.send(Heartbeat(state="idle"), block=False)
            wait_ms = max(0, int((min(next_beat) - time.perf_counter()) * 1000))
            _drain(peers, poller, min(wait_ms, 20), True)
        cpu = (_cpu_seconds(server.pid) - cpu_before) / window_s
        for peer in peers:
            peer.channel.send(Bye(reason="bench done"), block=False)
    finally:
        time.sleep(0.2)
        for peer in peers:
            peer.channel.socket.close(linger=0)
        ctx.term()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
    rtts = np.array([r for p in peers for r in p.rtts]) * 1000
    unanswered = sum(1 for p in peers if p.beat_sent is not None)
    return {
        "actors": actors,
        "candidates": CANDIDATES,
        "register_all_s": round(registered, 4),
        "assign_all_s": round(assigned, 4),
        "heartbeats": int(rtts.size),
        "heartbeat_unanswered": unanswered,
        "heartbeat_rtt_median_ms": round(float(np.median(rtts)), 3) if rtts.size else None,
        "heartbeat_rtt_p99_ms": round(float(np.percentile(rtts, 99)), 3) if rtts.size else None,
        "supervisor_cpu_share": round(cpu, 4),
        "window_s": window_s,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="16 actors, 8 s window (< 60 s)")
    parser.add_argument("--actors", type=int, default=None)
    parser.add_argument("--serve", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve is not None:
        _serve(args.serve)
        return
    actors = args.actors or (16 if args.quick else 64)
    figures = run(actors, window_s=8.0 if args.quick else 30.0)
    met = (
        figures["assign_all_s"] <= TARGET["assign_s"]
        and figures["heartbeat_rtt_p99_ms"] is not None
        and figures["heartbeat_rtt_p99_ms"] <= TARGET["heartbeat_p99_ms"]
        and figures["supervisor_cpu_share"] <= TARGET["supervisor_cpu"]
    )
    print(
        f"{actors} actors: registered in {figures['register_all_s']} s, assigned in "
        f"{figures['assign_all_s']} s; heartbeat RTT median {figures['heartbeat_rtt_median_ms']} "
        f"ms, p99 {figures['heartbeat_rtt_p99_ms']} ms; supervisor CPU "
        f"{figures['supervisor_cpu_share']:.1%} of a core",
        file=sys.stderr,
    )
    line = {
        "bench": "control_plane",
        "quick": args.quick,
        **figures,
        "target": "every actor registered and assigned within 1 s, heartbeat RTT p99 <= 20 ms, "
        "supervisor <= 10% of one core at 1 heartbeat/s per actor",
        "met": met,
    }
    print(json.dumps(line))


if __name__ == "__main__":
    main()
