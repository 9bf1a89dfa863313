"""A real search on the TVM task through the runtime: `supersonic launch` (supervisor, a learner
process, an actor process, the measuring process), on one small dense workload."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from supersonic.envs.tvm.measure import Measurer, MeasureRequest
from supersonic.envs.tvm.metaschedule import tune
from supersonic.envs.tvm.workloads import parse_workload
from supersonic.launch.knob_search import search_with_policy

ROOT = Path(__file__).resolve().parents[1]
WORKLOAD = "dense:32x128x128"

CONFIG = f"""
[run]
name = "tvm"
task = "tvm-schedule"
actors = 1
steps_per_candidate = 240
batch_size = 32
train = "{WORKLOAD}"
validation = "{WORKLOAD}"
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 20.0
baseline_random = false

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "loop_features+history"
reward_fn = "log_speedup"
hyperparameters = {{ rollout_steps = 64, minibatch_size = 32, epochs = 4, lr = 0.001 }}
"""


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One short search, shared by the tests of this module."""
    tmp_path = tmp_path_factory.mktemp("tvm-run")
    config = tmp_path / "run.toml"
    config.write_text(CONFIG)
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return run_dir


def test_a_short_search_finds_a_valid_schedule_faster_than_the_default(run_dir: Path) -> None:
    """Seen here: the untrained policy's schedule 1.06x, after 240 steps (30 measured
    schedules) 3.4x. 1.5x leaves room for a noisy, shared machine."""
    results = json.loads((run_dir / "results.json").read_text())
    (best,) = results["best_results"]
    assert best["program"] == WORKLOAD
    details = best["details"]
    assert details["speedup"] > 1.5, details
    assert details["seconds"] < details["default_seconds"]
    assert best["validation"].startswith("valid: same output as numpy"), best
    (candidate,) = results["candidates"]
    assert candidate["scores"]["final"]["policy_version"] >= 1


def test_the_best_result_counts_what_training_measured_and_ships_with_the_export(
    run_dir: Path,
) -> None:
    """Every training episode measures a schedule: an actor offers each of its new bests
    (BEST_FOUND), so the run's best result is the best of all of them and of the
    evaluations; the validated one travels in the export for the guided search."""
    results = json.loads((run_dir / "results.json").read_text())
    (best,) = results["best_results"]
    events = [json.loads(line) for line in (run_dir / "events.jsonl").open()]
    found = [e for e in events if e["event"] == "best_found"]
    assert found and all(e["program"] == WORKLOAD for e in found)
    evaluated = [e for e in events if e["event"] == "candidate_score"]
    assert evaluated
    assert best["metric"] >= max(e["metrics"][0] for e in evaluated)
    assert best["metric"] >= max(e["metric"] for e in found) - 1e-4  # (logged to 4 places)
    exported = json.loads((run_dir / "best" / "best_results.json").read_text())
    assert exported["format"] == 1
    row = exported["results"][WORKLOAD]
    assert row["details"] == best["details"] and row["validation"] == best["validation"]


def test_the_policy_search_starts_from_the_exported_best_schedule(run_dir: Path) -> None:
    results = json.loads((run_dir / "results.json").read_text())
    (best,) = results["best_results"]
    found = search_with_policy(str(run_dir / "best"), WORKLOAD, 2, default_seconds=1.0)
    assert found.measured[0] == tuple(int(v) for v in best["details"]["chosen"].split())
    assert len(set(found.measured)) == 2  # then the policy's argmax, or its next-best


def test_the_policy_search_never_measures_a_schedule_twice(run_dir: Path) -> None:
    """A trained policy is sure of most knobs: sampled whole, it repeats schedules. The guided
    search spends each trial on a new one (after the export's best schedule, the policy's
    argmax one)."""
    found = search_with_policy(str(run_dir / "best"), WORKLOAD, 5, default_seconds=1.0)
    assert found.trials == 5 and len(found.measured) == 5
    assert len(set(found.measured)) == 5, found.measured
    assert found.seconds is not None and found.chosen in found.measured


def test_evaluate_runs_the_policy_against_the_default(run_dir: Path, tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "supersonic", "evaluate", "--task", "tvm-schedule"),
            *("--programs", WORKLOAD, "--methods", f"default,policy:{run_dir / 'best'}"),
            *("--trials", "3", "--out", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = {
        r["method"].split(":")[0]: r for r in json.loads((tmp_path / "evaluation.json").read_text())
    }
    assert rows["policy"]["trials"] == 3 and rows["policy"]["seconds"] > 0
    assert rows["policy"]["speedup"] > 1.0, rows["policy"]


def test_metaschedule_measures_its_trials_with_the_shared_measuring_process() -> None:
    """Its candidates go through the same measuring process as every other method's (build,
    numpy check, median time): exactly `trials` of them, and its best one replays valid."""
    workload = parse_workload("dense:16x32x32")
    measurer = Measurer()
    try:
        tuned = tune(workload, 3, population=16, measurer=measurer)
        assert tuned.trace is not None, tuned.error
        assert measurer.requests == 3
        replayed = measurer.measure(MeasureRequest(workload.program, None, trace=tuned.trace))
        assert replayed.ok, replayed.error
    finally:
        measurer.close()
