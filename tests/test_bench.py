"""Benchmark scripts run in --quick mode and end with their JSON line (figures, not timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_llvm_env_bench_quick_prints_its_json_line() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/llvm_env.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bench"] == "llvm_env"
    assert result["count_mismatches"] == 0  # both envs computed the same thing
    assert result["raw_steps_per_s"] > 0 and result["ours_steps_per_s"] > 0
    assert isinstance(result["met"], bool) and "target" in result


def test_transport_bench_quick_prints_its_json_line() -> None:
    proc = subprocess.run(
        [sys.executable, "bench/transport.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bench"] == "transport"
    for batch in (1, 16, 256):
        assert result[f"transitions_per_s_batch_{batch}"] > 0
    assert 0 < result["streaming_ratio"] < 2
    assert isinstance(result["met"], bool)


def test_algorithms_bench_quick_learns_cartpole_through_the_runtime() -> None:
    """Every algorithm through the real runtime (supervisor, learner, 2 actors) on CartPole:
    its deterministic evaluation after 20k env steps is far above a random policy's ~22 (and
    the initial policy's ~9). Seen here: 230-500 for each. Then the LLVM part runs."""
    proc = subprocess.run(
        [sys.executable, "bench/algorithms.py", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["bench"] == "algorithms" and result["met"] is False  # 300k is not run
    for algorithm in ("ppo", "a2c", "dqn", "impala"):
        assert result[f"cartpole_{algorithm}_final_eval"] >= 100, (algorithm, proc.stdout)
        assert result[f"cartpole_{algorithm}_return_at_20k"] is not None
    assert set(result["llvm_final"]) == {"ppo", "a2c"}
    assert all(0 <= v <= 2 for v in result["llvm_final"].values())
    assert result["llvm_random_search"] is not None
