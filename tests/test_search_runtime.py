"""The search strategies in real runs: ASHA's bookkeeping against the ledger, SIGKILL and
`--resume`, the exported winner. CartPole keeps these runs short; the code path is the LLVM
task's."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from supersonic.launch.strategies import make_strategy

ROOT = Path(__file__).resolve().parents[1]

# Four architectures of clearly different quality: PPO and IMPALA learn CartPole quickly, A2C
# with a tiny learning rate hardly learns (pruned early).
CONFIG = """
[run]
name = "asha"
task = "cartpole"
actors = 2
seed = 3
steps_per_candidate = {max_budget}
batch_size = 64
eval_initial = false
baseline_random = false
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 8.0

[search]
strategy = "asha"
min_budget = {min_budget}
reduction_factor = 2
concurrent = 2

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ rollout_steps = 512, minibatch_size = 128, epochs = 10, lr = 0.001 }}

[[candidates]]
name = "a2c-slow"
algorithm = "a2c"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ lr = 0.00001 }}

[[candidates]]
name = "impala"
algorithm = "impala"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ lr = 0.001, ent_coef = 0.0 }}

[[candidates]]
name = "a2c-slow-2"
algorithm = "a2c"
state_fn = "raw"
reward_fn = "env"
hyperparameters = {{ lr = 0.00001, gamma = 0.95 }}
"""


def launch(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "supersonic", "launch", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def ledger_rows(run_dir: Path, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(run_dir / "ledger.sqlite") as db:
        return db.execute(query).fetchall()


@pytest.fixture(scope="module")
def asha_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any]]:
    tmp = tmp_path_factory.mktemp("asha")
    config = tmp / "run.toml"
    config.write_text(CONFIG.format(max_budget=8000, min_budget=2000))
    run_dir = tmp / "run"
    proc = launch(str(config), "--run-dir", str(run_dir))
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return run_dir, json.loads((run_dir / "results.json").read_text())


def test_rung_bookkeeping_follows_ashas_rules(asha_run: tuple[Path, dict[str, Any]]) -> None:
    run_dir, results = asha_run
    rungs = ledger_rows(run_dir, "SELECT grp, budget, score FROM rung_scores ORDER BY seq")
    budgets = {b for _, b, _ in rungs}
    assert budgets <= {2000, 4000, 8000} and 2000 in budgets and 8000 in budgets
    # Replaying the ledger's rung scores into ASHA gives the outcome the run reports: who
    # reached which budget, who was stopped where, and the winner.
    names = [c["spec"]["name"] for c in results["candidates"]]
    strategy = make_strategy(
        "asha", names, min_budget=2000, max_budget=8000, reduction_factor=2, slots=2
    )
    for group, budget, score in rungs:
        strategy.replay_report(group, budget, score)
    while strategy.next_work() is not None:  # nothing may be left to do
        pytest.fail("the replayed strategy still had work: the run ended early")
    by_name = {c["spec"]["name"]: c for c in results["candidates"]}
    for name in names:
        reached = max(b for g, b, _ in rungs if g == name)
        candidate = by_name[name]
        assert candidate["budget"] == reached, name
        assert candidate["phase"] == ("done" if reached == 8000 else "stopped"), name
        assert candidate["env_steps"] >= reached  # trained at least to its budget...
        assert candidate["env_steps"] < reached + 1500  # ...and not far past it (TRAIN_UNTIL)
        # a stopped candidate has no evaluation beyond the rung it stopped at
        stages = {
            r[0]
            for r in ledger_rows(
                run_dir, f"SELECT stage FROM evaluations WHERE candidate = '{name}'"
            )
        }
        assert stages == {f"b{b}" for g, b, _ in rungs if g == name}
    # Promotion by ASHA's rule: a candidate went from rung budget b to 2b only while it was in
    # the top half of those reported at b (checked on the recorded order).
    seen: dict[int, list[tuple[str, float]]] = {}
    for group, budget, score in rungs:
        seen.setdefault(budget, []).append((group, score))
    for budget in (4000, 8000):
        for group, _ in seen.get(budget, []):
            below = dict(seen[budget // 2])
            assert group in below
    assert results["winner"] == strategy.winner()
    # The winner is the best of those that reached the maximum budget (which candidate that is
    # depends on the run: on CartPole even an untrained deterministic policy can score well).
    at_max = {g: sc for g, b, sc in rungs if b == 8000}
    assert at_max[results["winner"]] == max(at_max.values())
    # ASHA spent far less than training all four to the maximum
    assert results["env_steps_total"] < 0.75 * 4 * 8000


def test_every_evaluation_and_best_result_is_in_the_ledger(
    asha_run: tuple[Path, dict[str, Any]],
) -> None:
    run_dir, results = asha_run
    evaluations = ledger_rows(run_dir, "SELECT candidate, stage, score, metrics FROM evaluations")
    scored = sum(len([k for k in c["scores"] if k != "final"]) for c in results["candidates"])
    assert len(evaluations) == scored
    for _, _, score, metrics in evaluations:
        values = json.loads(metrics)
        assert len(values) == 10 and score == pytest.approx(sum(values) / 10)
    best = ledger_rows(run_dir, "SELECT program, metric FROM best_results")
    assert len(best) == 10  # one per validation seed
    for program, metric in best:
        assert metric == max(
            json.loads(m)[int(program.split(":")[1]) - 1000] for _, _, _, m in evaluations
        )
    policies = ledger_rows(run_dir, "SELECT candidate, path FROM policies")
    assert all((run_dir / path).exists() for _, path in policies)


def test_the_winner_is_exported_and_reproduces_its_score(
    asha_run: tuple[Path, dict[str, Any]],
) -> None:
    run_dir, results = asha_run
    best = run_dir / "best"
    spec = json.loads((best / "spec.json").read_text())
    assert spec["candidate"]["name"] == results["winner"]
    recorded = next(c for c in results["candidates"] if c["spec"]["name"] == results["winner"])
    code = (
        "import json, sys, supersonic\n"
        f"p = supersonic.load_policy({str(best)!r})\n"
        "score, _ = p.evaluate(p.validation_programs, p.episode_length)\n"
        "print(json.dumps({'score': score, 'torch': 'torch' in sys.modules}))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr[-2000:]
    loaded = json.loads(out.stdout.strip().splitlines()[-1])
    # The export is the winner's best-scoring evaluation (not always its final one), and it
    # reproduces that evaluation's recorded score exactly.
    exported = json.loads((best / "scores.json").read_text())["exported"]
    evaluations = [v for k, v in recorded["scores"].items() if k != "initial"]
    assert exported["score"] == max(v["score"] for v in evaluations)
    assert spec["policy_version"] == exported["policy_version"]
    assert loaded["score"] == pytest.approx(exported["score"], abs=1e-9)
    assert loaded["torch"] is False


def test_sigkill_of_the_supervisor_then_resume_loses_no_recorded_score(tmp_path: Path) -> None:
    config = tmp_path / "run.toml"
    config.write_text(CONFIG.format(max_budget=8000, min_budget=2000))
    run_dir = tmp_path / "run"
    proc = launch(str(config), "--run-dir", str(run_dir))
    # Kill once at least two rung scores are recorded (mid-search).
    deadline = time.monotonic() + 300
    recorded: list[tuple[Any, ...]] = []
    while time.monotonic() < deadline:
        if (run_dir / "ledger.sqlite").exists():
            try:
                recorded = ledger_rows(run_dir, "SELECT grp, budget, score FROM rung_scores")
            except sqlite3.OperationalError:
                recorded = []
            if len(recorded) >= 2:
                break
        time.sleep(0.2)
    assert len(recorded) >= 2, "the run recorded no rung scores"
    os.kill(proc.pid, signal.SIGKILL)
    proc.communicate(timeout=60)
    before_rungs = set(ledger_rows(run_dir, "SELECT grp, budget, score FROM rung_scores"))
    before_evals = set(
        ledger_rows(run_dir, "SELECT eval_id, candidate, stage, score FROM evaluations")
    )
    before_best = ledger_rows(run_dir, "SELECT program, metric FROM best_results")
    time.sleep(1.0)  # children die with their parent (parent-death signal)
    resumed = launch("--resume", str(run_dir))
    _, err = resumed.communicate(timeout=600)
    assert resumed.returncode == 0, err[-3000:]
    assert "(resumed)" in err
    after_rungs = set(ledger_rows(run_dir, "SELECT grp, budget, score FROM rung_scores"))
    after_evals = set(
        ledger_rows(run_dir, "SELECT eval_id, candidate, stage, score FROM evaluations")
    )
    assert before_rungs <= after_rungs and before_evals <= after_evals
    best_after = dict(ledger_rows(run_dir, "SELECT program, metric FROM best_results"))
    for program, metric in before_best:
        assert best_after[program] >= metric
    results = json.loads((run_dir / "results.json").read_text())
    assert results["winner"] is not None
    assert any(c["phase"] == "done" and c["budget"] == 8000 for c in results["candidates"])
    assert (run_dir / "best" / "policy.npz").exists()


def test_bad_search_configs_are_refused_at_start(tmp_path: Path) -> None:
    cases = {
        "reduction_factor = 1": "reduction_factor must be >= 2",
        "min_budget = 100000": "smaller than one rung",
        'strategy = "grid"': "unknown strategy 'grid'",
    }
    for line, expected in cases.items():
        config = tmp_path / "run.toml"
        text = CONFIG.format(max_budget=8000, min_budget=2000).replace(
            'strategy = "asha"', f'strategy = "asha"\n{line}' if "strategy" not in line else line
        )
        if line.startswith("reduction_factor"):
            text = text.replace("reduction_factor = 2\n", "")
        if line.startswith("min_budget"):
            text = text.replace("min_budget = 2000\n", "")
        config.write_text(text)
        proc = launch(str(config), "--run-dir", str(tmp_path / "never"))
        _, err = proc.communicate(timeout=120)
        assert proc.returncode == 2, (line, err)
        assert expected in err and len(err.strip().splitlines()) == 1, (line, err)
    # validation programs that do not load (an LLVM file that is not a program)
    broken = tmp_path / "programs"
    (broken / "validation").mkdir(parents=True)
    for i in range(5):
        (broken / "validation" / f"p{i}.c").write_text(f"int main(void) {{ return {i}; }}\n")
    (broken / "validation" / "bad.c").write_text("this is not C\n")
    config = tmp_path / "llvm.toml"
    config.write_text(
        f"""
[run]
task = "llvm-codesize"
validation = "{broken}:validation"
[[candidates]]
algorithm = "ppo"
state_fn = "autophase"
reward_fn = "ir_oz"
"""
    )
    proc = launch(str(config), "--run-dir", str(tmp_path / "never2"))
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 2, err
    assert "does not load" in err and len(err.strip().splitlines()) == 1, err
