"""The machine's timing lock: a measuring process times nothing while another one holds it or
compiles, compiles overlap each other, and a holder that dies releases it."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from supersonic.envs.timing_lock import LOCK_ENV, exclusive_timing, lock_path, shared_work
from supersonic.envs.tvm.measure import Measurer, MeasureRequest


def hold(how: str) -> subprocess.Popen[str]:
    """Another process holding the lock by `how` (a context manager of timing_lock) until
    killed; it prints "held" once it has it."""
    code = (
        f"import time\nfrom supersonic.envs.timing_lock import {how}\n"
        f"with {how}():\n    print('held', flush=True)\n    time.sleep(600)\n"
    )
    return subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)


@pytest.fixture
def lock_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    path = tmp_path / "timing.lock"
    monkeypatch.setenv(LOCK_ENV, str(path))  # inherited by the measuring processes
    return path


def test_the_lock_file_is_per_machine_unless_named_or_off(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv(LOCK_ENV, raising=False)
    default = lock_path()
    assert default is not None and default.name == "supersonic-timing.lock"
    monkeypatch.setenv(LOCK_ENV, str(tmp_path / "x.lock"))
    assert lock_path() == tmp_path / "x.lock"
    monkeypatch.setenv(LOCK_ENV, "off")
    assert lock_path() is None
    with exclusive_timing() as waited:
        assert waited == 0.0


def test_a_measurement_waits_while_another_process_times(lock_file: Path) -> None:
    measurer = Measurer()
    request = MeasureRequest("tiny-dense", None, repeat=1, min_repeat_ms=0)
    try:
        assert measurer.measure(request).ok  # the worker is up: what follows is the lock
        with exclusive_timing():
            blocked = measurer.measure(request, timeout_s=3.0)
        assert not blocked.ok and blocked.error is not None and "timeout" in blocked.error
        after = measurer.measure(request)
        assert after.ok, after.error
    finally:
        measurer.close()


def test_a_holder_that_dies_releases_the_lock(lock_file: Path) -> None:
    holder = hold("exclusive_timing")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        holder.kill()
        holder.wait(10)
        started = time.monotonic()
        with exclusive_timing() as waited:
            assert waited < 5.0
        assert time.monotonic() - started < 5.0
    finally:
        if holder.poll() is None:
            holder.kill()


def test_a_timed_run_waits_for_compiles_and_compiles_overlap(lock_file: Path) -> None:
    """Another process compiling (the lock held shared): this process may compile too, but a
    measurement cannot time its run until the compile ends."""
    measurer = Measurer()
    request = MeasureRequest("tiny-dense", None, repeat=1, min_repeat_ms=0)
    assert measurer.measure(request).ok  # the worker is up before the compile starts
    holder = hold("shared_work")
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with shared_work() as waited:
            assert waited < 5.0  # compiles overlap
        blocked = measurer.measure(request, timeout_s=3.0)
        assert not blocked.ok and blocked.error is not None and "timeout" in blocked.error
        holder.kill()
        holder.wait(10)
        after = measurer.measure(request)
        assert after.ok, after.error
    finally:
        measurer.close()
        if holder.poll() is None:
            holder.kill()


def test_a_measuring_process_starts_up_only_while_no_run_is_timed(lock_file: Path) -> None:
    """Importing TVM takes seconds of a core, at every new env (an actor given another
    candidate): it must not overlap another process's timed run."""
    measurer = Measurer()
    started = time.monotonic()
    measurer._ensure_worker()
    unhindered_s = time.monotonic() - started  # what a start-up takes on this machine now
    measurer.close()
    ready_at: list[float] = []
    starting = threading.Thread(
        target=lambda: (measurer._ensure_worker(), ready_at.append(time.monotonic()))
    )
    try:
        with exclusive_timing():
            starting.start()
            time.sleep(2 * unhindered_s + 1.0)
            released_at = time.monotonic()
        starting.join(60)
        assert ready_at and ready_at[0] >= released_at
    finally:
        starting.join(60)
        measurer.close()


def test_a_learner_update_waits_while_a_run_is_timed(lock_file: Path, tmp_path: Path) -> None:
    """A learner's update keeps every core busy (torch) for a moment: like a compile, it does
    not run under a timed run of this machine."""
    import numpy as np

    from supersonic.learners.learner import Learner, LearnerOptions
    from supersonic.protocol.messages import CandidateSpec, Transitions

    hyperparameters = {"rollout_steps": 64, "minibatch_size": 32, "epochs": 1}
    spec = CandidateSpec(name="ppo-raw", algorithm="ppo", state_fn="raw", reward_fn="env",
                         hyperparameters=hyperparameters)  # fmt: skip
    log = tmp_path / "learner.jsonl"
    learner = Learner(LearnerOptions(connect="tcp://127.0.0.1:9", task="cartpole",
                                     candidate=spec, log_path=log))  # fmt: skip
    rng = np.random.default_rng(0)
    learner._on_transitions(
        Transitions(candidate="ppo-raw", actor="a", batch_seq=0, policy_version=0,
                    obs=rng.standard_normal((64, 4)).astype(np.float32),
                    actions=rng.integers(2, size=64), rewards=np.ones(64, np.float32),
                    terminated=np.zeros(64, bool), truncated=np.zeros(64, bool),
                    logp=np.full(64, np.log(0.5), np.float32), values=np.zeros(64, np.float32))
    )  # fmt: skip
    assert learner.algo.ready()
    try:
        learner.link.connect()
        with exclusive_timing():
            updating = threading.Thread(target=learner._update)
            updating.start()
            time.sleep(1.0)
            assert learner.algo.version == 0  # still waiting for the timed run
        updating.join(60)
        assert learner.algo.version == 1
    finally:
        learner._shutdown()
    updates = [json.loads(x) for x in log.read_text().splitlines() if "learner_update" in x]
    assert updates and updates[0]["lock_wait_s"] >= 0.9
