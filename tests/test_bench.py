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
