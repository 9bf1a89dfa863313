"""A process of ours that talks to CompilerGym (gRPC) starts children without gRPC's fork
handlers: they stop and restart gRPC's thread pool around every fork(), and once hung the
whole test suite there (supersonic/__init__.py says why they are off)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

CHILD = """
import subprocess
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.lifeline import die_with_parent

env = LlvmCodeSizeEnv("nqueens", observation="Autophase")
env.reset()
env.step(1)  # gRPC is up, with its threads
for _ in range(3):  # fork() + preexec_fn, as the launcher and the LLVM service start theirs
    subprocess.run(["true"], preexec_fn=die_with_parent(), check=True)
env.close()
print("children started")
"""


def test_children_start_without_grpcs_fork_handlers() -> None:
    environ = {k: v for k, v in os.environ.items() if k != "GRPC_ENABLE_FORK_SUPPORT"}
    environ |= {"GRPC_TRACE": "event_engine", "GRPC_VERBOSITY": "debug"}
    done = subprocess.run(
        [sys.executable, "-c", CHILD],
        cwd=ROOT,
        env=environ,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0 and "children started" in done.stdout, done.stderr[-3000:]
    assert "gRPC Tracers" in done.stderr  # the trace is on: its absence below means something
    assert "PrepareFork" not in done.stderr, "gRPC ran its fork handlers"
