"""Test set-up: a private SuperSonic cache per test session, and shared helpers.

The cache (prepared bitcode, baselines, reference outputs, the CompilerGym tool pack) is pointed
at a temporary directory before anything imports SuperSonic, so tests never read results that
an earlier version of the code left in the user's cache.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

_CACHE = tempfile.mkdtemp(prefix="supersonic-test-cache-")
os.environ["SUPERSONIC_CACHE"] = _CACHE
os.environ.pop("COMPILER_GYM_SITE_DATA", None)

DATA = Path(__file__).parent / "data"


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Remove the session's private cache (each run would otherwise leave one in /tmp)."""
    shutil.rmtree(_CACHE, ignore_errors=True)


@pytest.fixture(scope="session")
def data_dir() -> Path:
    return DATA


@pytest.fixture
def llvm_env() -> Iterator[object]:
    """A fresh LLVM env on the default program, closed after the test."""
    from supersonic.envs.llvm.env import LlvmCodeSizeEnv

    env = LlvmCodeSizeEnv()
    yield env
    env.close()
