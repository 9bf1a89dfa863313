"""The machine's timing lock: a measuring process times nothing while another one holds it or
compiles, compiles overlap each other, and a holder that dies releases it."""

from __future__ import annotations

import subprocess
import sys
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
