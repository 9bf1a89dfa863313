"""Benchmark scripts run in --quick mode and end with their JSON line (figures, not timings)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]


def run_quick(script: str, timeout: float = 600) -> dict[str, Any]:
    """Run `bench/SCRIPT --quick`; its last stdout line, parsed (the bench's JSON line)."""
    proc = subprocess.run(
        [sys.executable, f"bench/{script}", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result: dict[str, Any] = json.loads(proc.stdout.strip().splitlines()[-1])
    result["_stdout"] = proc.stdout
    return result


def test_llvm_env_bench_quick_prints_its_json_line() -> None:
    result = run_quick("llvm_env.py", timeout=300)
    assert result["bench"] == "llvm_env"
    assert result["count_mismatches"] == 0  # both envs computed the same thing
    assert result["raw_steps_per_s"] > 0 and result["ours_steps_per_s"] > 0
    assert isinstance(result["met"], bool) and "target" in result


def test_transport_bench_quick_prints_its_json_line() -> None:
    result = run_quick("transport.py", timeout=300)
    assert result["bench"] == "transport"
    for batch in (1, 16, 256):
        assert result[f"transitions_per_s_batch_{batch}"] > 0
    assert 0 < result["streaming_ratio"] < 2
    assert isinstance(result["met"], bool)


def test_algorithms_bench_quick_learns_cartpole_through_the_runtime() -> None:
    """Every algorithm through the real runtime (supervisor, learner, 2 actors) on CartPole:
    its deterministic evaluation after 20k env steps is far above a random policy's ~22 (and
    the initial policy's ~9). Seen here: 230-500 for each. Then the LLVM part runs."""
    result = run_quick("algorithms.py", timeout=600)
    assert result["bench"] == "algorithms" and result["met"] is False  # 300k is not run
    for algorithm in ("ppo", "a2c", "dqn", "impala"):
        assert result[f"cartpole_{algorithm}_final_eval"] >= 100, (algorithm, result["_stdout"])
        assert result[f"cartpole_{algorithm}_return_at_20k"] is not None
    assert set(result["llvm_final"]) == {"ppo", "a2c"}
    assert all(0 <= v <= 2 for v in result["llvm_final"].values())
    assert result["llvm_random_search"] is not None


def test_search_efficiency_bench_quick_compares_three_strategies() -> None:
    result = run_quick("search_efficiency.py", timeout=900)
    assert result["bench"] == "search_efficiency" and result["candidates"] == 4
    for strategy in ("exhaustive", "asha", "bandit"):
        assert result[f"{strategy}_env_steps"] > 0 and result[f"{strategy}_seconds"] > 0
    # exhaustive trains all 4 candidates to the maximum budget (8,000), the others less
    assert 4 * 8000 <= result["exhaustive_env_steps"] < 4 * 8000 + 4 * 1000
    assert result["asha_env_steps"] < result["exhaustive_env_steps"]
    assert result["bandit_env_steps"] < result["exhaustive_env_steps"]
    assert result["asha_winner"] and result["bandit_winner"]
    assert isinstance(result["met"], bool)


def test_control_plane_bench_quick_registers_every_actor_and_answers_every_heartbeat() -> None:
    result = run_quick("control_plane.py", timeout=120)
    assert result["bench"] == "control_plane" and result["actors"] == 16
    assert 0 < result["assign_all_s"] < 30  # every fake actor got its ASSIGN
    assert result["register_all_s"] <= result["assign_all_s"]
    assert result["heartbeats"] > 0 and result["heartbeat_unanswered"] == 0
    assert 0 < result["heartbeat_rtt_median_ms"] <= result["heartbeat_rtt_p99_ms"]
    assert 0 <= result["supervisor_cpu_share"] < 2
    assert isinstance(result["met"], bool) and "target" in result


def test_inference_bench_quick_prints_its_json_line() -> None:
    result = run_quick("inference.py", timeout=300)
    assert result["bench"] == "inference" and result["quick"] is True
    for key in ("local", "central", "central_batch64"):
        assert result[f"{key}_actions_per_s"] > 0
    assert 0 < result["central_rtt_median_ms"] <= result["central_rtt_p99_ms"]
    assert result["update_s_idle"] > 0 and result["update_slowdown_paced"] > 0
    assert isinstance(result["met"], bool) and "target" in result
