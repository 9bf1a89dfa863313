"""A real search on the superopt task through the runtime: `supersonic launch` (supervisor, a
learner process, an actor process with unicorn, llvm-mca and keystone), on one function."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CONFIG = """
[run]
name = "superopt"
task = "superopt"
actors = 1
steps_per_candidate = 256
batch_size = 32
episode_length = 32
train = "abs"
validation = "abs"
heartbeat_interval_s = 0.5
heartbeat_timeout_s = 20.0
baseline_random = false

[[candidates]]
name = "ppo"
algorithm = "ppo"
state_fn = "cursor+summary"
reward_fn = "cost"
hyperparameters = { rollout_steps = 64, minibatch_size = 32, epochs = 4, lr = 0.001 }
"""


def test_a_short_search_finds_a_proved_rewrite_faster_than_O0(tmp_path: Path) -> None:
    """Seen here: the untrained policy's episode keeps the -O0 code (1.0x), after 256 steps
    its deterministic episode forwards the spilled argument twice: 10.04 -> 8.05 cycles."""
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
    results = json.loads((run_dir / "results.json").read_text())
    (best,) = results["best_results"]
    assert best["program"] == "abs"
    details = best["details"]
    assert details["speedup"] > 1.0, details
    assert details["cycles"] < details["o0_cycles"]
    assert best["validation"] == "valid: proved equivalent (z3)", best
