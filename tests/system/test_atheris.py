"""A short, bounded atheris run against the wire decoder (hypothesis drives the main fuzz
tests; this adds coverage guidance). Skipped where atheris is not installed (`.[fuzz]`)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from supersonic.protocol.codec import encode
from supersonic.protocol.messages import Heartbeat, Hello, Transitions

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("atheris") is None, reason="atheris is not installed (.[fuzz])"
)


def test_the_decoder_survives_a_bounded_atheris_run(tmp_path: Path) -> None:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    seeds = [
        Hello(role="actor", host="h", pid=1, tasks=["cartpole"]),
        Heartbeat(state="training", metrics={"a": 1.5}),
        Transitions(
            candidate="c", actor="a", batch_seq=3, policy_version=1,
            obs=np.zeros((2, 4), np.float32), actions=np.zeros(2, np.int64),
            rewards=np.zeros(2, np.float32), terminated=np.zeros(2, bool),
            truncated=np.zeros(2, bool), logp=np.zeros(2, np.float32),
            values=np.zeros(2, np.float32),
        ),
    ]  # fmt: skip
    for i, msg in enumerate(seeds):
        (corpus / f"seed{i}").write_bytes(b"\xfe\xfe".join(bytes(f) for f in encode(msg, "s", i)))
    done = subprocess.run(
        [sys.executable, str(Path(__file__).with_name("atheris_decoder.py")),
         "-runs=10000", "-max_total_time=8", "-rss_limit_mb=2048", str(corpus)],
        cwd=ROOT, capture_output=True, text=True, timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    assert done.returncode == 0 and "Done " in done.stderr, done.stderr[-3000:]  # no crash
