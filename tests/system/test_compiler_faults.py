"""Compiler faults: a pass sequence whose optimized build changes the program's behaviour must
never end up as a best result.

`data/overflow_ub.c` relies on signed overflow (undefined behaviour): at -O0 `INT_MAX + 1 >
INT_MAX` wraps and prints 0; after `mem2reg instcombine` the comparison is folded to true and it
prints 1. The real LLVM validation (replay the passes, build, run, compare with -O0) catches it
after the run; the ledger then puts the best offer that has not failed in its place and keeps
the verdict. A hung compile step (SIGSTOPped service) and a crashed one (SIGKILLed service) cost
their step a penalty and end the episode: tests/test_env.py checks that on the env, and the last
test here inside a real LLVM run (its actor logs `env_failure` for each; see
docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import random
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

from test_chaos import Run, _cmdline, seen
from test_cluster_ssh import children_of
from test_runtime import events, wait_for

from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.launch.config import RunPaths, load_config
from supersonic.launch.launcher import validate_best_results
from supersonic.launch.ledger import Ledger

PROGRAM = str(Path(__file__).with_name("data") / "overflow_ub.c")


def replay(passes: list[str]) -> dict[str, object]:
    """What an evaluation records for `passes` on PROGRAM (its details)."""
    env = LlvmCodeSizeEnv(PROGRAM, max_episode_steps=max(1, len(passes)))
    try:
        _, info = env.reset()
        for name in passes:
            _, _, _, _, info = env.step(name)
        return {"passes": " ".join(passes), "ir": info["ir_instruction_count"]}
    finally:
        env.close()


def test_a_miscompiled_best_result_gives_way_to_the_best_valid_one(tmp_path: Path) -> None:
    config_file = tmp_path / "run.toml"
    config_file.write_text(
        '[run]\ntask = "llvm-codesize"\n[[candidates]]\nalgorithm = "ppo"\n'
        'state_fn = "autophase"\nreward_fn = "ir_oz"\n'
    )
    config = load_config(config_file)
    paths = RunPaths(tmp_path / "run")
    miscompiled = replay(["mem2reg", "instcombine"])
    valid = replay(["mem2reg"])
    assert miscompiled["ir"] < valid["ir"]  # the miscompile is the smaller module
    with Ledger(paths.ledger) as ledger:
        ledger.offer_best(PROGRAM, "plain", 1, 0.4, valid)
        assert ledger.offer_best(PROGRAM, "clever", 3, 0.9, miscompiled)
        assert ledger.best_results()[0]["candidate"] == "clever"
    said: list[str] = []
    best = validate_best_results(config, paths, said.append)
    assert [(b["candidate"], b["metric"]) for b in best] == [("plain", 0.4)]
    assert best[0]["validation"].startswith("valid"), best
    assert said == [
        f"best result for {PROGRAM}: INVALID: prints different output from the -O0 build"
    ]
    with Ledger(paths.ledger) as ledger:
        (rejected,) = ledger.rejected_results()
        assert rejected["candidate"] == "clever" and rejected["validation"].startswith("INVALID")
        # Offered again later (e.g. by an evaluation after a resume): refused.
        assert not ledger.offer_best(PROGRAM, "clever", 3, 0.9, miscompiled)
        assert [b["candidate"] for b in ledger.best_results()] == ["plain"]


# ----------------------------------------------------------------- hangs and crashes in a run
RUN_CONFIG = """
[run]
name = "compiler-faults"
task = "llvm-codesize"
actors = 1
steps_per_candidate = 1000000000
episode_length = 10
batch_size = 32
train = "builtin:validation"
validation = "builtin:validation"
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 20.0
step_timeout_s = 1.0
baseline_random = false

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "autophase"
reward_fn = "ir_oz"
hyperparameters = { rollout_steps = 128, minibatch_size = 32, epochs = 1 }
"""
SERVICE = b"compiler_gym-llvm-service"


def service_pid(actor: int) -> int | None:
    """The actor's live CompilerGym LLVM service (its child, found through /proc)."""
    for pid in children_of(actor):
        if SERVICE in _cmdline(pid) and _state(pid) not in ("Z", "T", "t"):
            return pid
    return None


def ledger_rows_dicts(run_dir: Path, table: str) -> list[dict[str, Any]]:
    with sqlite3.connect(run_dir / "ledger.sqlite", timeout=10) as db:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute(f"SELECT * FROM {table}")]


def _state(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return "?"


def fault(run: Run, actor: int, sig: signal.Signals) -> tuple[str, int, float]:
    """Send `sig` to the actor's compiler service; wait for the failure and the next service."""
    mark = run.mark()
    pid = wait_for(lambda: service_pid(actor), 30, "the actor's compiler service")
    started = time.monotonic()
    os.kill(pid, sig)
    wait_for(lambda: seen(run.run_dir, mark, event="env_failure"), 30, "env_failure")
    seconds = time.monotonic() - started
    # The next episode starts a new service; the old one is gone (the watchdog or the env
    # killed a stopped one), so a hang leaves no process behind.
    wait_for(lambda: service_pid(actor) not in (None, pid), 30, "a new service")
    assert wait_for(lambda: _state(pid) in ("?", "Z"), 10, f"service {pid} to go")
    return sig.name, pid, seconds


def test_hung_and_crashed_compiler_services_cost_their_episode_only(tmp_path: Path) -> None:
    """A real LLVM run; its actor's compiler service is SIGSTOPped (a hang: the 1 s step
    timeout and the watchdog end it) and SIGKILLed (a crash), twice each in a random order.
    Each fault must be logged as an `env_failure`, the actor must survive (same process, never
    declared dead), training must go on, every segment must be accounted and no best result
    may come from an episode that failed."""
    seed = int(os.environ.get("FAULT_SEED", random.randrange(10**6)))
    print(f"FAULT_SEED={seed}")
    rng = random.Random(seed)
    config = tmp_path / "run.toml"
    config.write_text(RUN_CONFIG)
    run = Run(tmp_path / "run", tmp_path / "launch.out", config)
    faults = [signal.SIGSTOP, signal.SIGSTOP, signal.SIGKILL, signal.SIGKILL]
    rng.shuffle(faults)
    done: list[tuple[str, int, float]] = []
    try:
        wait_for(lambda: seen(run.run_dir, 0, event="learner_update"), 120, "training")
        actor = run.actor_pid("actor-0")
        for sig in faults:
            time.sleep(rng.uniform(0.0, 1.0))
            done.append(fault(run, actor, sig))
        mark = run.mark()
        wait_for(lambda: seen(run.run_dir, mark, event="learner_update"), 60, "more training")
        assert run.actor_pid("actor-0") == actor  # the same actor process carried on
        run.launch.send_signal(signal.SIGINT)
        assert run.launch.wait(timeout=120) == 130, run.out.read_text()[-3000:]
    finally:
        if run.launch.poll() is None:
            run.launch.kill()
            run.launch.wait()
    print(done)
    for _, _, seconds in done:  # a hang costs the step timeout + the watchdog's grace
        assert seconds < 15, done
    ev = events(run.run_dir)
    failures = [e for e in ev if e["event"] == "env_failure"]
    assert len(failures) >= len(faults), failures
    assert not [e for e in ev if e["event"] in ("actor_crash", "learner_crash", "peer_dead")]
    assert [e["pid"] for e in ev if e["event"] == "peer_join" and e["peer"] == "actor-0"] == [actor]
    results = json.loads((run.run_dir / "results.json").read_text())
    assert results["segments"]["unexplained"] == 0 and results["segments"]["duplicate"] == 0
    assert results["segments"]["received"] > 0
    failed = {
        (program, e["candidate"], e["policy_version"])
        for e in ledger_rows_dicts(run.run_dir, "evaluations")
        for program, details in zip(
            json.loads(e["programs"]), json.loads(e["details"]), strict=True
        )
        if "failure" in details
    }
    best = ledger_rows_dicts(run.run_dir, "best_results")
    assert best  # the initial evaluation offered some
    for b in best:
        assert (b["program"], b["candidate"], b["policy_version"]) not in failed, b
