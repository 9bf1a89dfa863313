"""The distributed runtime with real processes, real sockets and the real LLVM env.

Each scenario is a real `supersonic launch` in a subprocess (supervisor, one learner process
per candidate, actor processes) with a small config, checked afterwards through its
`results.json` and `events.jsonl`.
"""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import zmq

ROOT = Path(__file__).resolve().parents[1]
HEARTBEAT_TIMEOUT_S = 4.0


def write_config(
    path: Path, *, candidates: int, actors: int, steps: int, programs: str = "builtin:validation"
) -> Path:
    lines = [
        "[run]",
        'name = "test"',
        'task = "llvm-codesize"',
        f"actors = {actors}",
        f"steps_per_candidate = {steps}",
        "episode_length = 20",
        "batch_size = 32",
        f'train = "{programs}"',
        'validation = "builtin:validation"',
        "heartbeat_interval_s = 0.5",
        f"heartbeat_timeout_s = {HEARTBEAT_TIMEOUT_S}",
        "baseline_random = false",
    ]
    for i in range(candidates):
        state = ("autophase", "instcount_norm")[i % 2]
        lines += [
            "[[candidates]]",
            f'name = "ppo-{i}"',
            'algorithm = "ppo"',
            f'state_fn = "{state}"',
            'reward_fn = "ir_oz"',
            "hyperparameters = { rollout_steps = 512, minibatch_size = 128, lr = 0.001, "
            "epochs = 4 }",
        ]
    path.write_text("\n".join(lines) + "\n")
    return path


def start_launch(config: Path, run_dir: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def events(run_dir: Path) -> list[dict[str, Any]]:
    path = run_dir / "events.jsonl"
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue
    return out


def events_of(run_dir: Path, ident: str) -> list[dict[str, Any]]:
    """The events one process of the run wrote (every process writes the one events.jsonl)."""
    return [e for e in events(run_dir) if e.get("id") == ident]


def wait_for(predicate: Any, timeout: float, what: str) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    pytest.fail(f"timed out after {timeout:.0f} s waiting for {what}")


def no_process_left(pids: list[int]) -> bool:
    for pid in pids:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            continue
        with open(f"/proc/{pid}/stat") as stat:
            if stat.read().split()[2] != "Z":
                return False
    return True


@pytest.fixture(scope="module")
def learning_run(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, dict]]:
    """Supervisor + 2 learners + 3 actors, trained long enough to learn something."""
    tmp = tmp_path_factory.mktemp("learning")
    config = write_config(tmp / "run.toml", candidates=2, actors=3, steps=4000)
    run_dir = tmp / "run"
    proc = start_launch(config, run_dir)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    yield run_dir, json.loads((run_dir / "results.json").read_text())


def test_transitions_flow_and_learner_versions_advance(learning_run: tuple[Path, dict]) -> None:
    run_dir, results = learning_run
    assert len(results["candidates"]) == 2
    for c in results["candidates"]:
        assert c["phase"] == "done"
        assert c["env_steps"] >= 4000
        assert c["version"] >= 4  # at least one PPO update per 512 transitions... and more
        assert c["scores"]["final"]["policy_version"] >= 1  # the actor used new weights
        assert c["scores"]["initial"]["policy_version"] == 0
    learner_events = events_of(run_dir, "learner-ppo-0")
    assert any(e["event"] == "learner_update" for e in learner_events)
    exit_event = next(e for e in learner_events if e["event"] == "learner_exit")
    assert exit_event["lost_segments"] == 0 and exit_event["duplicate_segments"] == 0


def test_the_best_result_per_program_is_recorded_and_validated(
    learning_run: tuple[Path, dict],
) -> None:
    """Every validation program's best result is in the ledger with the passes that reach it;
    replaying them gives the recorded IR count and a program that behaves as at -O0. It is
    the best of the evaluations and of the training episodes the actors offered (BEST_FOUND):
    seen here, 0.946 from training on a program whose best evaluation reached 0.819.

    When a program's best fails validation (seen here: LLVM passes that changed topo_sort's
    output), the best offer that has not failed takes its place; that offer may never have
    been a best on its own (no `best_found`), so it is looked up among the ledger's offers."""
    run_dir, results = learning_run
    best = results["best_results"]
    assert len(best) == 6
    supervisor = events_of(run_dir, "supervisor")
    found = [e for e in supervisor if e["event"] == "best_found"]
    rejected = {e["program"] for e in supervisor if e["event"] == "best_result_rejected"}
    with sqlite3.connect(run_dir / "ledger.sqlite") as db:
        offered = db.execute(
            "SELECT program, candidate, policy_version, metric FROM offers WHERE validation = ''"
        ).fetchall()
    for row in best:
        details = row["details"]
        evaluated = max(
            c["scores"][stage]["metrics"][c["scores"][stage]["programs"].index(row["program"])]
            for c in results["candidates"]
            for stage in c["scores"]
        )
        assert row["metric"] >= evaluated
        if row["metric"] > evaluated and row["program"] in rejected:  # the next offer
            assert any(
                (p, c, v) == (row["program"], row["candidate"], row["policy_version"])
                and abs(m - row["metric"]) < 1e-4
                for p, c, v, m in offered
            ), row
        elif row["metric"] > evaluated:  # then a training episode found it
            assert any(
                e["program"] == row["program"] and abs(e["metric"] - row["metric"]) < 1e-4
                for e in found
            ), row
        if details["ir"] < details["ir_o0"]:
            assert details["passes"], row
        assert row["validation"].startswith(("valid:", "unchecked:")), row


def test_a_ppo_candidate_improves_over_its_initial_policy(learning_run: tuple[Path, dict]) -> None:
    """The training episodes' mean score (the sampled policy on the training programs, last 50
    episodes, as each learner update logs it) rises from the first update to the last.

    Not the deterministic validation score: an untrained network's argmax sequence sometimes
    lands on a good pass pair by chance and scores 0.752 before any update (seen here), so
    "final > initial" on 6 programs fails with a policy that did learn. Seen here over runs:
    0.30-0.35 at the first update, 0.54-0.60 at the last."""
    run_dir, results = learning_run
    gains = {}
    for c in results["candidates"]:
        name = c["spec"]["name"]
        updates = [
            e for e in events_of(run_dir, f"learner-{name}") if e["event"] == "learner_update"
        ]
        assert len(updates) >= 4, name
        gains[name] = updates[-1]["episode_score"] - updates[0]["episode_score"]
    assert all(g > 0.05 for g in gains.values()) and max(gains.values()) > 0.1, gains


def test_every_process_of_the_run_is_gone(learning_run: tuple[Path, dict]) -> None:
    run_dir, _ = learning_run
    pids = list(json.loads((run_dir / "processes.json").read_text()).values())
    assert wait_for(lambda: no_process_left(pids), 10, "children to exit")


def test_killed_actor_is_noticed_and_a_restarted_one_rejoins(tmp_path: Path) -> None:
    # A budget large enough that the run is still going when the new actor arrives.
    config = write_config(tmp_path / "run.toml", candidates=1, actors=2, steps=15000)
    run_dir = tmp_path / "run"
    proc = start_launch(config, run_dir)
    try:
        wait_for(
            lambda: any(
                e.get("event") == "assign" and e.get("actor") == "actor-1" for e in events(run_dir)
            ),
            120,
            "actor-1 to get work",
        )
        wait_for(
            lambda: any(
                e.get("event") == "learner_update" for e in events_of(run_dir, "learner-ppo-0")
            ),
            120,
            "a first update",
        )
        pid = json.loads((run_dir / "processes.json").read_text())["actor-1"]
        killed_at = time.time()
        os.kill(pid, signal.SIGKILL)
        dead = wait_for(
            lambda: [
                e
                for e in events(run_dir)
                if e.get("event") == "peer_dead" and e.get("peer") == "actor-1"
            ],
            30,
            "peer_dead",
        )
        noticed_after = _ts(dead[0]) - killed_at
        assert noticed_after <= HEARTBEAT_TIMEOUT_S + 2.0
        endpoint = (run_dir / "endpoint").read_text().strip()
        rejoin = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "supersonic",
                "actor",
                "--connect",
                endpoint,
                "--ident",
                "actor-new",
            ],
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_for(
                lambda: any(
                    e.get("event") == "assign" and e.get("actor") == "actor-new"
                    for e in events(run_dir)
                ),
                60,
                "the new actor to get work",
            )
            _, err = proc.communicate(timeout=600)
            assert proc.returncode == 0, err[-3000:]
            assert rejoin.wait(timeout=30) == 0  # STOPped cleanly at the end of the run
        finally:
            if rejoin.poll() is None:
                rejoin.kill()
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
            proc.wait(60)
    results = json.loads((run_dir / "results.json").read_text())
    assert results["candidates"][0]["phase"] == "done"
    assert "actor-1" in results["dead_peers"]


def test_wrong_protocol_version_is_refused_and_garbage_is_survived(tmp_path: Path) -> None:
    config = write_config(tmp_path / "run.toml", candidates=1, actors=1, steps=1500)
    run_dir = tmp_path / "run"
    proc = start_launch(config, run_dir)
    try:
        endpoint = wait_for(
            lambda: (run_dir / "endpoint").exists() and (run_dir / "endpoint").read_text().strip(),
            60,
            "the endpoint",
        )
        # Garbage at the control socket: random bytes, a truncated map, a wrong type.
        ctx = zmq.Context()
        dealer = ctx.socket(zmq.DEALER)
        dealer.connect(endpoint)
        for frames in (
            [os.urandom(64)],
            [b"\x85\xa1v\x01"],
            [b"\x81\xa1t\xa5HELLO"],
            [b"", b"\xc1"],
            [b"\x93\x01\x02\x03"],
        ):
            dealer.send_multipart(frames)
        dealer.close(linger=2000)  # deliver everything before closing
        ctx.term()
        old = subprocess.run(
            [
                sys.executable,
                "-m",
                "supersonic",
                "actor",
                "--connect",
                endpoint,
                "--ident",
                "actor-old",
                "--protocol-version",
                "99",
            ],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert old.returncode != 0
        lines = old.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: ")
        assert "protocol version 99" in lines[0]
        _, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
    rejected = [e for e in events(run_dir) if e.get("event") == "message_rejected"]
    assert len(rejected) >= 4
    assert json.loads((run_dir / "results.json").read_text())["rejected_messages"] >= 4


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines() if path.exists() else []


def _ts(event: dict[str, Any]) -> float:
    from datetime import datetime

    return datetime.fromisoformat(event["ts"].replace("Z", "+00:00")).timestamp()


def test_actor_reconnects_to_a_restarted_supervisor_and_exits_0_on_sigterm(
    tmp_path: Path,
) -> None:
    from supersonic.launch.config import RunPaths, load_config
    from supersonic.launch.supervisor import Supervisor

    config = load_config(
        write_config(tmp_path / "run.toml", candidates=1, actors=0 + 1, steps=1000)
    )

    def serve(run_dir: Path, port: int, until: Any) -> Supervisor:
        run_dir.mkdir(parents=True, exist_ok=True)
        supervisor = Supervisor(config, RunPaths(run_dir), port=port)
        deadline = time.monotonic() + 60
        while not until(run_dir) and time.monotonic() < deadline:
            supervisor._pump(100)
            supervisor._reap(time.monotonic())
        return supervisor

    def joined(run_dir: Path) -> bool:
        return any(
            e.get("event") == "peer_join" and e.get("peer") == "actor-r" for e in events(run_dir)
        )

    first = Supervisor(config, RunPaths(_mkdir(tmp_path / "first")))
    port = int(first.endpoint.rsplit(":", 1)[1])
    actor = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "supersonic",
            "actor",
            "--connect",
            first.endpoint,
            "--ident",
            "actor-r",
            "--log-file",
            str(tmp_path / "actor.jsonl"),
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not joined(tmp_path / "first") and time.monotonic() < deadline:
            first._pump(100)
        assert joined(tmp_path / "first")
        first.close()  # the supervisor goes away without a word, for longer than the timeout
        time.sleep(HEARTBEAT_TIMEOUT_S + 2.0)
        second = serve(tmp_path / "second", port, joined)  # a new one on the same endpoint
        assert joined(tmp_path / "second"), "the actor did not reconnect"
        actor.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 30
        while actor.poll() is None and time.monotonic() < deadline:
            second._pump(100)
        assert actor.returncode == 0
        second._pump(500)
        assert any(
            e.get("event") == "peer_bye" and e.get("peer") == "actor-r"
            for e in events(tmp_path / "second")
        )
        second.close()
    finally:
        if actor.poll() is None:
            actor.kill()
    actor_events = [json.loads(line) for line in _lines(tmp_path / "actor.jsonl")]
    assert any(e["event"] == "supervisor_silent" for e in actor_events)


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


def test_every_algorithm_learns_through_the_runtime(tmp_path: Path) -> None:
    """A2C, DQN and IMPALA candidates (with other state and reward functions) each train
    through real actors and learners on the LLVM task; the better of A2C and IMPALA beats its
    initial policy within this budget. Scores after 4,000 steps are noisy (each of them has
    stayed at its initial 0.001 in some run), so no single one is required to improve."""
    config = tmp_path / "run.toml"
    config.write_text("""
[run]
name = "algorithms"
actors = 2
steps_per_candidate = 4000
episode_length = 20
batch_size = 32
train = "builtin:validation"
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 4.0
baseline_random = false

[[candidates]]
algorithm = "a2c"
state_fn = "ir_token_bag"
reward_fn = "tan_shaped"

[[candidates]]
algorithm = "dqn"
state_fn = "ir_token_bag"
reward_fn = "ir_oz"
[candidates.hyperparameters]
learning_starts = 500
train_every = 64
gradient_steps = 32
eps_decay_steps = 2000

[[candidates]]
algorithm = "impala"
state_fn = "autophase"
reward_fn = "ir_oz"
""")
    run_dir = tmp_path / "run"
    proc = start_launch(config, run_dir)
    _, err = proc.communicate(timeout=900)
    assert proc.returncode == 0, err[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    gains = []
    for c in results["candidates"]:
        scores = c["scores"]
        assert c["version"] >= 2, c["spec"]["name"]
        assert scores["final"]["policy_version"] >= 2, c["spec"]["name"]
        if c["spec"]["algorithm"] != "dqn":
            gains.append(scores["final"]["score"] - scores["initial"]["score"])
    # Seen here: initial 0.001, final 0.001 to 0.38 for each; at least one of the two improves.
    # (That each algorithm learns through the runtime is checked on CartPole, in test_bench.)
    assert max(gains) > 0.02, gains


def test_a_sequence_encoder_concatenation_and_the_mixed_reward_run_through_the_runtime(
    tmp_path: Path,
) -> None:
    """The widest candidate the search space offers: an attention encoder over the opcode
    sequence concatenated with Autophase (the env computes both observations in one step) and
    the IR + .text reward (the env compiles an object every step). Checked to train end to end:
    weights with the encoder reach the actors, their segments fit the learner's network, and
    the evaluation reports the task's details."""
    config = tmp_path / "run.toml"
    config.write_text("""
[run]
name = "wide"
actors = 2
steps_per_candidate = 600
episode_length = 10
batch_size = 32
train = "builtin:validation"
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 6.0
baseline_random = false
eval_initial = false

[[candidates]]
algorithm = "ppo"
state_fn = "ir_opcode_seq+autophase"
reward_fn = "ir_text_mix"
hyperparameters = { encoder = "attention", encoder_dim = 16, rollout_steps = 128 }
""")
    run_dir = tmp_path / "run"
    proc = start_launch(config, run_dir)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    (c,) = results["candidates"]
    assert c["phase"] == "done" and c["version"] >= 3
    final = c["scores"]["final"]
    assert final["policy_version"] >= 3
    assert len(final["details"]) == len(final["programs"]) == len(final["metrics"])
    assert {"ir", "ir_o0", "ir_oz"} <= set(final["details"][0])
    learner = events_of(run_dir, f"learner-{c['spec']['name']}")
    exit_event = next(e for e in learner if e["event"] == "learner_exit")
    assert exit_event["lost_segments"] == 0
    assert not any(e["event"] == "bad_transitions" for e in learner)
    for actor in ("actor-0", "actor-1"):
        assert not any(
            e["event"] in ("bad_weights", "actor_crash") for e in events_of(run_dir, actor)
        )
