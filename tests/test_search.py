"""Random and greedy search, and the validation that keeps miscompiled results out."""

from __future__ import annotations

from pathlib import Path

import pytest

from supersonic.envs.llvm.benchmarks import file_benchmark
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.search import Budget, greedy_search, random_search, replay
from supersonic.envs.llvm.validation import validate


@pytest.fixture
def nqueens() -> object:
    env = LlvmCodeSizeEnv("nqueens", max_episode_steps=20)
    yield env
    env.close()


def test_random_search_improves_within_its_step_budget(nqueens: LlvmCodeSizeEnv) -> None:
    result = random_search(nqueens, Budget(steps=200), seed=1)
    assert result.env_steps == 200
    assert result.ir_instructions < result.baselines.ir_o0
    assert result.metric > 0.3
    assert result.validation.valid is True
    assert replay(nqueens, result.actions) == result.ir_instructions


def test_random_search_is_reproducible_from_its_seed(nqueens: LlvmCodeSizeEnv) -> None:
    a = random_search(nqueens, Budget(steps=100), seed=3, check=False)
    b = random_search(nqueens, Budget(steps=100), seed=3, check=False)
    assert a.actions == b.actions and a.ir_instructions == b.ir_instructions


def test_greedy_search_gets_close_to_oz(nqueens: LlvmCodeSizeEnv) -> None:
    result = greedy_search(nqueens, Budget(steps=3000))
    assert result.metric > 0.8
    assert result.validation.valid is True
    assert result.env_steps <= 3000
    assert len(result.passes) == len(result.actions) > 0


def test_a_time_budget_is_respected(nqueens: LlvmCodeSizeEnv) -> None:
    result = random_search(nqueens, Budget(seconds=1.0), check=False)
    assert result.seconds < 3.0


def test_budget_must_be_positive() -> None:
    with pytest.raises(ValueError):
        Budget()
    with pytest.raises(ValueError):
        Budget(steps=0)
    with pytest.raises(ValueError):
        Budget(seconds=-1)


def test_validation_catches_a_behaviour_change(data_dir: Path) -> None:
    env = LlvmCodeSizeEnv(file_benchmark(data_dir / "signed_overflow.c"))
    try:
        env.reset()
        assert validate(env.program, env.bitcode()).valid is True
        for name in ("mem2reg", "instcombine"):  # folds `x + 1 < x` to false (nsw)
            env.step(name)
        verdict = validate(env.program, env.bitcode())
        assert verdict.valid is False
        assert "different output" in verdict.reason
    finally:
        env.close()


def test_searches_never_report_a_behaviour_changing_result(data_dir: Path) -> None:
    env = LlvmCodeSizeEnv(file_benchmark(data_dir / "signed_overflow.c"), max_episode_steps=10)
    try:
        result = greedy_search(env, Budget(steps=2000))
        assert result.validation.valid is True
        assert result.rejected >= 1
        replay(env, result.actions)
        assert validate(env.program, env.bitcode()).valid is True
    finally:
        env.close()


def test_programs_without_main_are_unchecked_not_invalid(data_dir: Path) -> None:
    env = LlvmCodeSizeEnv(file_benchmark(data_dir / "no_main.ll"))
    try:
        result = greedy_search(env, Budget(steps=500))
        assert result.validation.valid is None
        assert result.ir_instructions < result.baselines.ir_o0
    finally:
        env.close()
