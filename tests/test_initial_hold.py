"""The initial score is the score of the initial weights, however late the evaluating actor.

CI once recorded a candidate's "initial" score at policy version 1: the actor asked to
evaluate got its first weights after the other actors' transitions had let the learner update.
The supervisor now holds the learner (TRAIN_UNTIL 0) until the initial score is recorded.

Here the evaluating actor is a peer that takes the EVAL_REQUEST and sits on it (a slow board),
while a real actor trains next to it for seconds; then the slow one leaves, and the real actor
gets the evaluation. Supervisor, learner and actor are the real ones, over real sockets.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import zmq
from test_events import read_events

from supersonic.launch.config import RunPaths, load_config
from supersonic.launch.supervisor import Supervisor
from supersonic.protocol.messages import Bye, Hello
from supersonic.protocol.transport import Channel

ROOT = Path(__file__).resolve().parents[1]
SLOW_S = 6.0  # how long the slow actor sits on the evaluation: dozens of updates' worth

CONFIG = """
[run]
name = "hold"
task = "cartpole"
actors = 2
steps_per_candidate = 100000
batch_size = 64
eval_initial = true
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 30.0

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { rollout_steps = 128, minibatch_size = 64, epochs = 1 }
"""
SPEC = {
    "name": "ppo",
    "algorithm": "ppo",
    "state_fn": "raw",
    "reward_fn": "env",
    "hyperparameters": {"rollout_steps": 128, "minibatch_size": 64, "epochs": 1},
}


def test_the_learner_waits_for_the_initial_score_of_its_weights(tmp_path: Path) -> None:
    (tmp_path / "run.toml").write_text(CONFIG)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    supervisor = Supervisor(load_config(tmp_path / "run.toml"), RunPaths(run_dir))
    run_events = run_dir / "events.jsonl"
    processes: list[subprocess.Popen[str]] = []
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()

    def start(role: str, *args: str) -> None:
        command = [sys.executable, "-m", "supersonic", role, "--connect", supervisor.endpoint]
        processes.append(
            subprocess.Popen(
                [*command, *args, "--log-file", str(tmp_path / f"{role}.jsonl")],
                cwd=ROOT,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
                text=True,
            )
        )

    def supervise(until: Callable[[], bool], seconds: float, what: str) -> None:
        deadline = time.monotonic() + seconds
        while not until():
            assert time.monotonic() < deadline, f"no {what} within {seconds} s"
            supervisor._pump(100)
            supervisor._reap(time.monotonic())
            supervisor._schedule(time.monotonic())

    def seen(event: str, **match: Any) -> list[dict[str, Any]]:
        return [
            e
            for e in read_events(run_events)
            if e.get("event") == event and all(e.get(k) == v for k, v in match.items())
        ]

    try:
        start("learner", "--task", "cartpole", "--candidate", json.dumps(SPEC))
        supervise(lambda: bool(seen("peer_join", peer_role="learner")), 90, "learner")
        slow_socket = ctx.socket(zmq.DEALER)
        slow_socket.setsockopt(zmq.LINGER, 0)
        slow_socket.connect(supervisor.endpoint)
        slow = Channel(slow_socket, "actor-slow")
        slow.send(
            Hello(role="actor", host=socket.gethostname(), pid=os.getpid(), tasks=["cartpole"])
        )
        supervise(lambda: bool(seen("eval_request", actor="actor-slow")), 30, "eval request")

        start("actor", "--ident", "actor-b")
        supervise(lambda: bool(seen("assign", actor="actor-b")), 60, "assignment")
        quiet_until = time.monotonic() + SLOW_S
        supervise(lambda: time.monotonic() >= quiet_until, SLOW_S + 5, "")
        learner_log = tmp_path / "learner.jsonl"
        while_slow = read_events(learner_log)
        assert seen("assign", actor="actor-b")

        slow.send(Bye(reason="the test's slow actor leaves"))
        supervise(lambda: bool(seen("candidate_score", stage="initial")), 60, "initial score")
        (score,) = seen("candidate_score", stage="initial")
        assert score["policy_version"] == 0
        budgets = [e for e in while_slow if e["event"] == "learner_budget"]
        assert budgets and budgets[0]["env_steps"] == 0, budgets  # held...
        assert not [e for e in while_slow if e["event"] == "learner_update"]
        assert seen("initial_hold_end", reason="initial weights scored")  # ...until scored
        # ...and then it trains: the held transitions were queued, not lost
        supervise(
            lambda: any(e["event"] == "learner_update" for e in read_events(learner_log)),
            60,
            "learner update after the hold",
        )
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            process.wait(timeout=30)
        supervisor.close()
        ctx.destroy(linger=0)
