"""Soak: a long CartPole search with many actors; does any process grow, is anything dropped?

A real `supersonic launch` (supervisor, one learner per candidate, N actor processes) runs for
the given time with a budget it cannot reach; then it is interrupted the way a user would
(SIGINT: everyone gets STOP and exits cleanly). The resident memory (VmRSS in /proc/PID/status)
of every process of the run is read after a warm-up and at the end; the message counts come
from the run itself: the TRANSITIONS segments the actors sent against what the learners took
(the ledger's `segment_accounts`, supersonic/launch/accounting.py), the messages the supervisor
rejected, the segments actors dropped. Target: no process grows by more than 10% after warm-up
(a process restarted in between is compared from its restart) and zero unexplained drops.

    .venv/bin/python bench/soak.py [--minutes 10] [--actors 16] [--quick]
"""

from __future__ import annotations

import argparse
import json
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """
[run]
name = "soak"
task = "cartpole"
actors = {actors}
steps_per_candidate = 1000000000
batch_size = 64
eval_initial = false
baseline_random = false
heartbeat_interval_s = 1.0
heartbeat_timeout_s = 10.0
"""
CANDIDATE = """
[[candidates]]
name = "ppo-{i}"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
seed = {i}
hyperparameters = {{ rollout_steps = 512, minibatch_size = 128, epochs = 2 }}
"""
MAX_GROWTH = 0.10


def tree(pid: int) -> list[int]:
    """`pid` and all its descendants, from /proc."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo += children.get(p, [])
    return out


def name_of(pid: int, launch_pid: int) -> str:
    """supervisor, learner-CANDIDATE or actor-N, from the process's command line."""
    if pid == launch_pid:
        return "supervisor"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return f"pid-{pid}"
    if "--ident" in argv:
        return argv[argv.index("--ident") + 1]
    if "learner" in argv and "--candidate" in argv:
        return "learner-" + json.loads(argv[argv.index("--candidate") + 1])["name"]
    return Path(argv[0]).name + f"-{pid}"


def rss_kib(pid: int) -> int | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return None


def snapshot(launch_pid: int) -> dict[str, tuple[int, int]]:
    """name -> (pid, RSS in KiB) for every live process of the run."""
    out = {}
    for pid in tree(launch_pid):
        rss = rss_kib(pid)
        if rss is not None:
            out[name_of(pid, launch_pid)] = (pid, rss)
    return out


def wait_for_updates(run_dir: Path, timeout: float) -> None:
    """Until a learner has made its first update (the run is up and training)."""
    deadline = time.monotonic() + timeout
    path = run_dir / "events.jsonl"
    while time.monotonic() < deadline:
        if path.exists() and '"learner_update"' in path.read_text():
            return
        time.sleep(1.0)
    raise SystemExit("error: no learner made an update: see the run's logs/")


def _json(line: str) -> dict[str, Any]:
    try:
        value = json.loads(line)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def soak(minutes: float, actors: int, candidates: int, warmup_s: float, quick: bool) -> dict:
    tmp = Path(tempfile.mkdtemp(prefix="soak-"))
    config = tmp / "run.toml"
    config.write_text(
        CONFIG.format(actors=actors) + "".join(CANDIDATE.format(i=i) for i in range(candidates))
    )
    run_dir = tmp / "run"
    with (tmp / "launch.out").open("wb") as out:
        launch = subprocess.Popen(
            [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )
    try:
        wait_for_updates(run_dir, timeout=300)
        started = time.monotonic()
        time.sleep(warmup_s)
        first = snapshot(launch.pid)
        time.sleep(max(0.0, minutes * 60 - warmup_s))
        last = snapshot(launch.pid)
        soaked_s = time.monotonic() - started
        launch.send_signal(signal.SIGINT)  # a user's Ctrl-C: STOP to everyone, clean exits
        code = launch.wait(timeout=120)
    finally:
        if launch.poll() is None:
            launch.kill()
            launch.wait()
    if code != 130:  # interrupted, as asked (supersonic launch's status after Ctrl-C)
        raise SystemExit(f"error: the launch exited with {code}: see {tmp / 'launch.out'}")
    growth = {}
    for name, (pid, rss) in last.items():
        if name in first and first[name][0] == pid:
            growth[name] = round((rss - first[name][1]) / first[name][1], 4)
    restarted = sorted(n for n in last if n in first and first[n][0] != last[n][0])
    with sqlite3.connect(run_dir / "ledger.sqlite") as db:
        accounts = db.execute(
            "SELECT sum(sent), sum(received), sum(unconsumed), sum(unsent), sum(lost), "
            "sum(duplicate), sum(unexplained) FROM segment_accounts"
        ).fetchone()
    events = [_json(line) for line in (run_dir / "events.jsonl").read_text().splitlines()]
    results = json.loads((run_dir / "results.json").read_text())
    sent, received, unconsumed, unsent, lost, duplicate, unexplained = (
        int(v or 0) for v in accounts
    )
    worst = max(growth.values()) if growth else None
    met = worst is not None and worst <= MAX_GROWTH and unexplained == 0 and lost == 0
    return {
        "bench": "soak",
        "quick": quick,
        "actors": actors,
        "candidates": candidates,
        "soak_s": round(soaked_s, 1),
        "warmup_s": warmup_s,
        "rss_start_mib": {n: round(r / 1024, 1) for n, (_, r) in sorted(first.items())},
        "rss_end_mib": {n: round(r / 1024, 1) for n, (_, r) in sorted(last.items())},
        "rss_growth": dict(sorted(growth.items())),
        "rss_growth_max": worst,
        "restarted": restarted,
        "env_steps": results["env_steps_total"],
        "segments_sent": sent,
        "segments_received": received,
        "segments_unconsumed_at_stop": unconsumed,
        "segments_unsent": unsent,
        "segments_lost": lost,
        "segments_duplicate": duplicate,
        "segments_unexplained": unexplained,
        "segments_dropped_by_actors": sum(1 for e in events if e.get("event") == "segment_dropped"),
        "rejected_messages": results["rejected_messages"],
        "dead_peers": len(results["dead_peers"]),
        "run_dir": str(run_dir),
        "target": "no process grows by more than 10% RSS after warm-up; zero unexplained "
        "(and zero lost) TRANSITIONS segments",
        "met": met,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--minutes", type=float, default=10.0)
    parser.add_argument("--actors", type=int, default=16)
    parser.add_argument("--candidates", type=int, default=4)
    parser.add_argument("--quick", action="store_true", help="<= 60 s: 4 actors, 2 candidates")
    args = parser.parse_args()
    if args.quick:
        line = soak(minutes=0.4, actors=4, candidates=2, warmup_s=8.0, quick=True)
    else:
        warmup = min(120.0, args.minutes * 60 / 5)
        line = soak(args.minutes, args.actors, args.candidates, warmup, quick=False)
    print(json.dumps(line))


if __name__ == "__main__":
    main()
