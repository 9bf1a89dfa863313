"""Network faults between boards and the head, in network namespaces (tests/netns.py).

The kernel here has no `sch_netem` (and no modprobe), so packet loss and delay come from a
token bucket (`tc qdisc ... tbf`) with a tiny queue on both boards' links: it delays what it
queues and drops what overflows, which TCP retransmits. Board 2's link also goes down for longer
than the heartbeat timeout (its actor is declared dead), comes back (it rejoins), and blips
once more for less than the timeout. Afterwards every TRANSITIONS segment is accounted for per
sequence number: what each actor numbered and sent equals what the learner took (no gap, no
duplicate), and the qdisc's counters show that packets were really dropped.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from netns import Hosts, available
from test_cluster_netns import events, wait_for

from supersonic.launch.accounting import read_events, reconcile
from supersonic.protocol.security import authorize_key, generate_keys

ROOT = Path(__file__).resolve().parents[2]
PYTHON = sys.executable
STEPS = 10_000
SHAPING = ["tbf", "rate", "160kbit", "burst", "4kb", "limit", "3000"]

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))

CONFIG = """
[run]
name = "netfaults"
task = "cartpole"
actors = 0
steps_per_candidate = {steps}
batch_size = 64
eval_initial = false
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 2.5
bind_host = "{bind}"
keys = "{keys}"

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ rollout_steps = 256, minibatch_size = 64, epochs = 2 }}
"""


def tc(ns: str, *args: str) -> str:
    done = subprocess.run(
        ["ip", "netns", "exec", ns, "tc", *args], capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 0, done.stderr
    return done.stdout


def dropped(ns: str) -> int:
    """Packets the board's qdisc dropped so far."""
    out = tc(ns, "-s", "qdisc", "show", "dev", "eth0")
    return int(out.split("dropped", 1)[1].split(",")[0])


def test_shaped_and_cut_links_lose_and_double_count_nothing(tmp_path: Path) -> None:
    head_keys = tmp_path / "head"
    generate_keys(head_keys)
    for board in ("board1", "board2"):
        pair = generate_keys(tmp_path / board)
        authorize_key(head_keys, pair.public, board)
        (tmp_path / board / "server.public").write_bytes((head_keys / "id.public").read_bytes())
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with Hosts(boards=2) as net:
        head, (board1, board2) = net.head, net.boards
        for board in (board1, board2):
            tc(board, "qdisc", "add", "dev", "eth0", "root", *SHAPING)
        config = tmp_path / "run.toml"
        config.write_text(CONFIG.format(steps=STEPS, bind=net.address(head), keys=head_keys))
        run_dir = tmp_path / "run"
        argv = [PYTHON, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)]
        launch = net.start(head, argv, tmp_path / "launch.out", env)
        endpoint = wait_for(
            lambda: (run_dir / "endpoint").exists() and (run_dir / "endpoint").read_text().strip(),
            60, "the endpoint", launch,
        )  # fmt: skip
        for ns, ident in ((board1, "actor-board1"), (board2, "actor-board2")):
            a = [PYTHON, "-m", "supersonic", "actor", "--connect", endpoint, "--ident", ident]
            a += ["--keys", str(tmp_path / ident.removeprefix("actor-")), "--tasks", "cartpole"]
            net.start(ns, a, tmp_path / f"{ident}.out", env)

        def count(event: str, **match: Any) -> int:
            return sum(
                1
                for e in events(run_dir)
                if e["event"] == event and all(e.get(k) == v for k, v in match.items())
            )

        wait_for(lambda: count("learner_update") >= 2, 120, "training over shaped links", launch)
        net.link(board2, up=False)  # longer than the heartbeat timeout
        wait_for(lambda: count("peer_dead", peer="actor-board2"), 30, "board 2 dead", launch)
        net.link(board2, up=True)
        wait_for(lambda: count("peer_join", peer="actor-board2") >= 2, 60, "board 2 back", launch)
        net.link(board2, up=False)  # a blip shorter than the timeout
        time.sleep(1.0)
        net.link(board2, up=True)
        drops = {"board1": dropped(board1), "board2": dropped(board2)}
        assert launch.wait(timeout=240) == 0, (tmp_path / "launch.out").read_text()[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    assert results["candidates"][0]["phase"] == "done"
    assert sum(drops.values()) > 0, drops  # the links really lost packets
    accounts = {a.actor: a for a in reconcile(read_events(run_dir / "events.jsonl"))}
    assert set(accounts) == {"actor-board1", "actor-board2"}
    for a in accounts.values():
        # Per sequence number: no gap, no duplicate, and every segment numbered and handed
        # to the link reached the learner (trained on, or still queued when it stopped).
        assert (a.lost, a.duplicate, a.unexplained) == (0, 0, 0), a
        assert a.sent == a.taken or "sent after the learner had stopped" in a.reason, a
    assert count("peer_dead", peer="actor-board1") == 0  # shaping alone never looked like death
