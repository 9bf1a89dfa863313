"""Process faults in one CartPole search: actors SIGKILLed (twice) and SIGSTOPped, the learner
SIGKILLed twice, the supervisor SIGKILLed and the run resumed twice, in a random order at random
moments; then Ctrl-C.

Afterwards the ledger must say that no TRANSITIONS segment was lost silently or counted twice
(`segment_accounts`: every difference between what the actors sent and what the learners took
is explained by a process death, see supersonic/launch/accounting.py), that no score recorded
before the supervisor died is gone, and the events must show each recovery: a killed actor is
started again by the launch, a killed learner restarts from its checkpoint and its actors carry
on with it, a stopped actor is declared dead and rejoins. The seed of the fault schedule is in
the test's output (`CHAOS_SEED=N` replays it).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from test_cluster_ssh import children_of
from test_runtime import events, no_process_left, wait_for

ROOT = Path(__file__).resolve().parents[2]
HEARTBEAT_TIMEOUT_S = 2.5

CONFIG = """
[run]
name = "chaos"
task = "cartpole"
actors = 3
steps_per_candidate = {steps}
batch_size = 64
eval_initial = true
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = {timeout}

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ rollout_steps = 256, minibatch_size = 64, epochs = 2 }}
"""
# A budget the run never reaches: it ends with Ctrl-C once the faults are over, so that how
# fast this machine is decides nothing (a run that finished early would leave faults undone).
STEPS = 10**9


def start(args: list[str], out: Path) -> subprocess.Popen[bytes]:
    with out.open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-m", "supersonic", "launch", *args],
            cwd=ROOT,
            stdout=sink,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
        )


def child_pid(launch: subprocess.Popen[bytes], last_arg_of: str, value: str) -> int | None:
    """The live child of the launch whose argument after `last_arg_of` is `value`."""
    for pid in children_of(launch.pid):
        argv = _cmdline(pid).decode(errors="replace").split("\0")
        for i, arg in enumerate(argv[:-1]):
            if arg == last_arg_of and argv[i + 1] == value:
                return pid
    return None


def ledger_rows(run_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run_dir / "ledger.sqlite", timeout=10) as db:
        return db.execute(query).fetchall()


def seen(run_dir: Path, after: float, **match: Any) -> list[dict[str, Any]]:
    """Events with these fields logged at or after `after` (index into events.jsonl)."""
    return [
        e for e in events(run_dir)[int(after) :] if all(e.get(k) == v for k, v in match.items())
    ]


@dataclass
class Chaos:
    run_dir: Path
    results: dict[str, Any]
    log: list[dict[str, Any]] = field(default_factory=list)  # the faults done, in order
    pids: list[int] = field(default_factory=list)


class Run:
    """The launch under test; `launch` changes when the supervisor is killed and resumed."""

    def __init__(self, run_dir: Path, out: Path, config: Path) -> None:
        self.run_dir, self.out = run_dir, out
        self.launch = start([str(config), "--run-dir", str(run_dir)], out)
        self.pids: list[int] = [self.launch.pid]

    def mark(self) -> int:
        assert self.launch.poll() is None, (
            "the run ended during the faults:\n" + self.out.read_text()[-2000:]
        )
        self.pids += children_of(self.launch.pid)
        return len(events(self.run_dir))

    def actor_pid(self, ident: str) -> int:
        pid = child_pid(self.launch, "--ident", ident)
        assert pid is not None, f"{ident} is not running"
        return pid


def kill_actor(run: Run, rng: random.Random) -> dict[str, Any]:
    ident = f"actor-{rng.randrange(3)}"
    mark = run.mark()
    pid = run.actor_pid(ident)
    os.kill(pid, signal.SIGKILL)
    wait_for(lambda: seen(run.run_dir, mark, event="local_actor_exit", actor=ident), 20, "exit")
    wait_for(lambda: seen(run.run_dir, mark, event="peer_join", peer=ident), 30, "its restart")
    return {"fault": "sigkill", "target": ident, "mark": mark, "pid": pid}


def kill_learner(run: Run, rng: random.Random) -> dict[str, Any]:
    mark = run.mark()
    pid = child_pid(run.launch, "--checkpoint-dir", str(run.run_dir / "checkpoints" / "ppo"))
    assert pid is not None, "the learner is not running"
    os.kill(pid, signal.SIGKILL)
    restarted = wait_for(
        lambda: seen(run.run_dir, mark, event="learner_start", candidate="ppo"), 60, "restart"
    )
    return {"fault": "sigkill", "target": "learner-ppo", "mark": mark,
            "restored_version": restarted[0]["restored_version"]}  # fmt: skip


def stop_actor(run: Run, rng: random.Random) -> dict[str, Any]:
    ident = f"actor-{rng.randrange(3)}"
    mark = run.mark()
    pid = run.actor_pid(ident)
    os.kill(pid, signal.SIGSTOP)
    try:
        wait_for(lambda: seen(run.run_dir, mark, event="peer_dead", peer=ident), 20, "peer_dead")
        time.sleep(rng.uniform(0.0, 1.0))
    finally:
        os.kill(pid, signal.SIGCONT)
    wait_for(lambda: seen(run.run_dir, mark, event="peer_join", peer=ident), 30, "its rejoin")
    return {"fault": "sigstop", "target": ident, "mark": mark, "pid": pid}


def kill_supervisor(run: Run, rng: random.Random) -> dict[str, Any]:
    query = "SELECT eval_id, candidate, stage, score FROM evaluations"
    recorded = wait_for(lambda: ledger_rows(run.run_dir, query), 60, "the initial score")
    mark = run.mark()
    os.kill(run.launch.pid, signal.SIGKILL)
    run.launch.wait(timeout=30)
    time.sleep(1.0)  # its children stop by themselves (parent-death signal)
    run.launch = start(["--resume", str(run.run_dir)], run.out)
    run.pids.append(run.launch.pid)
    # The next fault needs the learner back.
    wait_for(lambda: seen(run.run_dir, mark, event="learner_start", candidate="ppo"), 60, "learner")
    return {"fault": "sigkill", "target": "supervisor", "mark": mark, "recorded": recorded}


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


@pytest.fixture(scope="module")
def chaos(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chaos]:
    seed = int(os.environ.get("CHAOS_SEED", random.randrange(10**6)))
    print(f"CHAOS_SEED={seed}")
    rng = random.Random(seed)
    tmp = tmp_path_factory.mktemp("chaos")
    config = tmp / "run.toml"
    config.write_text(CONFIG.format(steps=STEPS, timeout=HEARTBEAT_TIMEOUT_S))
    run = Run(tmp / "run", tmp / "launch.out", config)
    log: list[dict[str, Any]] = []
    try:
        # Faults start once the learner has a checkpoint to restart from.
        wait_for(lambda: seen(run.run_dir, 0, event="learner_checkpoint"), 120, "a checkpoint")
        faults = [kill_actor, kill_actor, kill_learner, kill_learner, stop_actor]
        faults += [kill_supervisor, kill_supervisor]
        rng.shuffle(faults)
        for fault in faults:
            time.sleep(rng.uniform(0.0, 2.0))
            log.append(fault(run, rng))
        mark = run.mark()  # the learner trains on after the last fault...
        wait_for(lambda: seen(run.run_dir, mark, event="learner_update"), 60, "training")
        run.launch.send_signal(signal.SIGINT)  # ...until a user's Ctrl-C stops everyone
        assert run.launch.wait(timeout=120) == 130, run.out.read_text()[-3000:]
        log.append({"fault": "sigint", "target": "supervisor", "mark": mark})
        run.pids += json.loads((run.run_dir / "processes.json").read_text()).values()
    finally:
        if run.launch.poll() is None:
            run.launch.kill()
            run.launch.wait()
    print(json.dumps([{k: v for k, v in f.items() if k != "recorded"} for f in log]))
    results = json.loads((run.run_dir / "results.json").read_text())
    yield Chaos(run.run_dir, results, log, run.pids)


def test_the_run_survives_every_fault_and_stops_cleanly(chaos: Chaos) -> None:
    (candidate,) = chaos.results["candidates"]
    assert chaos.results["interrupted"] is True and candidate["phase"] == "training"
    assert candidate["scores"]["initial"]["policy_version"] == 0
    assert candidate["env_steps"] > 0 and candidate["version"] > 5
    assert wait_for(lambda: no_process_left(chaos.pids), 15, "every process to exit")
    ev = events(chaos.run_dir)
    assert not [e for e in ev if e["event"] in ("learner_crash", "actor_crash", "candidate_failed")]


def test_no_segment_is_lost_silently_or_counted_twice(chaos: Chaos) -> None:
    rows = ledger_rows(
        chaos.run_dir,
        "SELECT actor, sent, received, unconsumed, lost, duplicate, reason, unexplained "
        "FROM segment_accounts",
    )
    assert {r[0] for r in rows} == {"actor-0", "actor-1", "actor-2"}
    for row in rows:
        assert row[-1] == 0, row  # unexplained
        assert row[5] == 0, row  # duplicate
    totals = chaos.results["segments"]
    assert totals["unexplained"] == 0 and totals["duplicate"] == 0
    # The data came so: the actors sent what they collected and the learners took some. (How
    # much they took is only on record for learners that exited: a SIGKILLed one leaves none,
    # and with two learner kills that was most of it in one run, 1,515 of 1,914 segments, all
    # explained by the kills.)
    assert totals["sent"] * 64 >= chaos.results["env_steps_total"] / 2
    assert totals["received"] > 0


def test_a_killed_learner_restarts_from_its_checkpoint_and_its_actors_carry_on(
    chaos: Chaos,
) -> None:
    kills = [f for f in chaos.log if f["target"] == "learner-ppo"]
    assert len(kills) == 2
    for kill in kills:
        assert kill["restored_version"] is not None and kill["restored_version"] >= 5, kill
        assert seen(chaos.run_dir, kill["mark"], event="learner_restart", candidate="ppo")
        after = seen(chaos.run_dir, kill["mark"], event="learner_update", candidate="ppo")
        assert any(e["version"] > kill["restored_version"] for e in after), kill


def test_a_killed_actor_is_started_again(chaos: Chaos) -> None:
    kills = [f for f in chaos.log if f["fault"] == "sigkill" and f["target"].startswith("actor")]
    assert len(kills) == 2
    for kill in kills:
        assert seen(chaos.run_dir, kill["mark"], event="local_actor_exit", actor=kill["target"])
        joins = seen(chaos.run_dir, kill["mark"], event="peer_join", peer=kill["target"])
        assert joins[0]["pid"] != kill["pid"]


def test_a_stopped_actor_is_declared_dead_and_rejoins_without_duplicates(chaos: Chaos) -> None:
    (stop,) = [f for f in chaos.log if f["fault"] == "sigstop"]
    ev = seen(chaos.run_dir, stop["mark"])
    dead = next(
        i for i, e in enumerate(ev) if e["event"] == "peer_dead" and e["peer"] == stop["target"]
    )
    assert any(
        e["event"] == "peer_join" and e["peer"] == stop["target"] and e["pid"] == stop["pid"]
        for e in ev[dead:]
    )
    rows = ledger_rows(
        chaos.run_dir,
        f"SELECT duplicate, unexplained FROM segment_accounts WHERE actor = '{stop['target']}'",
    )
    assert rows == [(0, 0)]


def test_no_recorded_score_is_lost_by_the_supervisors_death(chaos: Chaos) -> None:
    kills = [f for f in chaos.log if f["target"] == "supervisor" and f["fault"] == "sigkill"]
    assert len(kills) == 2
    query = "SELECT eval_id, candidate, stage, score FROM evaluations"
    for kill in kills:
        assert kill["recorded"] and set(kill["recorded"]) <= set(ledger_rows(chaos.run_dir, query))
        assert seen(chaos.run_dir, kill["mark"], event="supervisor_resume")
        starts = seen(chaos.run_dir, kill["mark"], event="learner_start", candidate="ppo")
        assert starts[0]["restored_version"] is not None  # the resumed learner took its checkpoint
