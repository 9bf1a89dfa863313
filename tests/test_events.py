"""Events: the catalogue in docs/events.md matches what the code logs, and an actor that is not
started by the launch forwards its events to the supervisor, which writes them into the run's
one events.jsonl (a real supervisor and a real actor process over ZeroMQ)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import zmq

ROOT = Path(__file__).resolve().parents[1]
LOG_METHODS = {"debug", "info", "warning", "error", "exception", "critical", "msg"}


def logged_events() -> dict[str, list[str]]:
    """Event name -> where it is logged, from every `<...>.log.<level>(...)` call in the
    package; a name that is not a string literal is reported as such (the catalogue could not
    be checked for it)."""
    found: dict[str, list[str]] = {}
    for path in sorted((ROOT / "supersonic").rglob("*.py")):
        tree = ast.parse(path.read_text(), str(path))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            if node.func.attr not in LOG_METHODS:
                continue
            receiver = node.func.value
            name = (
                receiver.attr
                if isinstance(receiver, ast.Attribute)
                else receiver.id
                if isinstance(receiver, ast.Name)
                else ""
            )
            if name not in ("log", "logger") or not node.args:
                continue
            first = node.args[0]
            where = f"{path.relative_to(ROOT)}:{node.lineno}"
            if isinstance(first, ast.Constant) and isinstance(first.value, str):
                found.setdefault(first.value, []).append(where)
            else:
                found.setdefault(f"<not a literal: {ast.unparse(first)}>", []).append(where)
    return found


def catalogue() -> set[str]:
    """The event names of docs/events.md's tables (first column, in backquotes)."""
    text = (ROOT / "docs" / "events.md").read_text()
    part = text.split("## Catalogue", 1)[1]
    return set(re.findall(r"^\| `([a-z0-9_]+)` \|", part, flags=re.MULTILINE))


def test_every_logged_event_is_in_the_catalogue_and_nothing_else_is() -> None:
    logged = logged_events()
    assert len(logged) > 40  # the scan does find the logger calls
    assert "candidate_score" in logged and "learner_update" in logged
    documented = catalogue()
    missing = {name: where for name, where in logged.items() if name not in documented}
    assert not missing, f"events logged but not in docs/events.md: {missing}"
    stale = documented - set(logged)
    assert not stale, f"docs/events.md lists events nothing logs: {sorted(stale)}"


CONFIG = """
[run]
name = "fwd"
task = "cartpole"
actors = 1
steps_per_candidate = 1000
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 8.0
baseline_random = false

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
"""


def read_events(path: Path) -> list[dict[str, Any]]:
    out = []
    for line in path.read_text().splitlines() if path.exists() else []:
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def test_a_remote_actors_events_reach_the_runs_events_file(tmp_path: Path) -> None:
    from supersonic.launch.config import RunPaths, load_config
    from supersonic.launch.supervisor import Supervisor
    from supersonic.protocol.messages import Events, Hello, Log
    from supersonic.protocol.transport import Channel

    (tmp_path / "run.toml").write_text(CONFIG)
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    supervisor = Supervisor(load_config(tmp_path / "run.toml"), RunPaths(run_dir))
    events_file = run_dir / "events.jsonl"
    own_log = tmp_path / "actor-f.jsonl"
    actor = subprocess.Popen(
        [
            *(sys.executable, "-m", "supersonic", "actor", "--connect", supervisor.endpoint),
            *("--ident", "actor-f", "--label", "board-7", "--log-file", str(own_log)),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    # A learner started without the launch forwards too (here the candidate has no work: the
    # supervisor stops it at once, and it sends what it logged before saying BYE).
    spec = {"name": "ppo", "algorithm": "ppo", "state_fn": "raw", "reward_fn": "env"}
    learner = subprocess.Popen(
        [
            *(sys.executable, "-m", "supersonic", "learner", "--connect", supervisor.endpoint),
            *("--task", "cartpole", "--candidate", json.dumps(spec)),
            *("--log-file", str(tmp_path / "learner.jsonl")),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    try:

        def forwarded(ident: str = "actor-f") -> list[dict[str, Any]]:
            return [e for e in read_events(events_file) if e.get("id") == ident]

        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not (
            any(e["event"] == "peer_welcome" for e in forwarded())
            and any(e["event"] == "learner_stop" for e in forwarded("learner-ppo"))
        ):
            supervisor._pump(100)
        from_learner = forwarded("learner-ppo")
        assert {"learner_start", "peer_welcome", "learner_stop"} <= {
            e["event"] for e in from_learner
        }
        assert all(e["role"] == "learner" and e["via"] == "supervisor" for e in from_learner)
        lines = forwarded()
        assert {"peer_connect", "peer_welcome"} <= {e["event"] for e in lines}
        for e in lines:
            assert e["role"] == "actor" and e["via"] == "supervisor"
        # the same events, as the actor wrote them in its own file
        own = [e for e in read_events(own_log) if e["event"] == "peer_welcome"]
        assert own and own[0]["ts"] == next(e["ts"] for e in lines if e["event"] == "peer_welcome")
        assert "via" not in own[0]

        # A peer that sends garbage, a line claiming to be someone else, and a drop count.
        sock = ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.connect(supervisor.endpoint)
        fake = Channel(sock, "actor-x")
        fake.send(Hello(role="actor", host="far-away", pid=1, tasks=["cartpole"]))
        spoof = {"event": "eval_start", "ts": "2026-01-01T00:00:00Z", "id": "supervisor"}
        fake.send(Events(lines=["{not json", json.dumps(spoof), "[1, 2]", "x" * 70_000], dropped=4))
        fake.send(Log(level="warning", event="compile_timeout", fields={"id": "x", "s": 30.0}))
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not any(
            e["event"] == "compile_timeout" for e in read_events(events_file)
        ):
            supervisor._pump(100)
        written = read_events(events_file)
        from_x = [e for e in written if e.get("id") == "actor-x"]
        assert [e["event"] for e in from_x] == ["eval_start", "compile_timeout"]
        assert from_x[1]["level"] == "warning" and from_x[1]["s"] == 30.0
        assert from_x[0]["role"] == "actor" and from_x[0]["host"] == "far-away"
        assert from_x[0]["ts"] == "2026-01-01T00:00:00Z"
        rejected = next(e for e in written if e["event"] == "forwarded_events_rejected")
        assert rejected["peer"] == "actor-x" and rejected["lines"] == 3
        dropped = next(e for e in written if e["event"] == "forwarded_events_dropped")
        assert dropped["lines"] == 4
    finally:
        for process in (actor, learner):
            process.terminate()
            process.wait(timeout=30)
        supervisor.close()
        ctx.destroy(linger=0)
