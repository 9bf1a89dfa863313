"""Every state function on the real env, and every reward function on hand-checked numbers."""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest
from gymnasium import spaces

from supersonic.envs.llvm.env import LlvmCodeSizeEnv, ProgramBaselines
from supersonic.envs.llvm.observations import INST2VEC_DIM, OBSERVATIONS
from supersonic.envs.llvm.task import (
    REWARD_FNS,
    STATE_FNS,
    TAN_SCALE,
    THRESHOLD,
    CodeSize,
    llvm_codesize_task,
    mixed_ir_text,
)
from supersonic.envs.task import StateFunction, env_observation

PROGRAMS = ("nqueens", "base64")
STEPS = ("mem2reg", "instcombine", "simplifycfg")
MODULE_INDEPENDENT = {"ActionHistory"}  # the same for every program at reset

EnvFactory = Callable[[str, str], LlvmCodeSizeEnv]


@pytest.fixture(scope="module")
def envs() -> Iterator[EnvFactory]:
    """One env per (observation, program), made on first use and shared by the module."""
    made: dict[tuple[str, str], LlvmCodeSizeEnv] = {}

    def get(observation: str, program: str) -> LlvmCodeSizeEnv:
        key = (observation, program)
        if key not in made:
            made[key] = LlvmCodeSizeEnv(program, observation=observation)
        return made[key]

    yield get
    for env in made.values():
        env.close()


def state_at_reset(envs: EnvFactory, fn: StateFunction, program: str) -> np.ndarray:
    raw, _ = envs(fn.observation, program).reset()
    return fn(raw)


def check_vector(fn: StateFunction, vec: np.ndarray) -> None:
    assert vec.shape == (fn.dim,)
    assert vec.dtype == np.float32
    assert np.isfinite(vec).all()


def test_the_task_offers_the_tables() -> None:
    task = llvm_codesize_task()
    assert dict(task.state_fns) == STATE_FNS
    assert dict(task.reward_fns) == REWARD_FNS
    for fn in STATE_FNS.values():
        assert fn.observation in OBSERVATIONS
        assert fn.doc
    for reward in REWARD_FNS.values():
        assert reward.doc


@pytest.mark.parametrize("name", list(STATE_FNS))
def test_state_fn_on_the_real_env(envs: EnvFactory, name: str) -> None:
    fn = STATE_FNS[name]
    first, second = (state_at_reset(envs, fn, p) for p in PROGRAMS)
    check_vector(fn, first)
    check_vector(fn, second)
    # Deterministic: resetting again on the same program gives the identical vector.
    np.testing.assert_array_equal(state_at_reset(envs, fn, PROGRAMS[0]), first)
    if fn.observation not in MODULE_INDEPENDENT:
        assert not np.array_equal(first, second), "two programs gave the same state"

    env = envs(fn.observation, PROGRAMS[0])
    for action in STEPS:
        raw, _, _, truncated, _ = env.step(action)
        assert not truncated
    stepped = fn(raw)
    check_vector(fn, stepped)
    assert not np.array_equal(stepped, first), f"{name} did not change after {STEPS}"
    # And back to the start after a reset, however many times the module was recomputed.
    np.testing.assert_array_equal(state_at_reset(envs, fn, PROGRAMS[0]), first)


def test_inst2vec_summary_handles_an_empty_module() -> None:
    fn = STATE_FNS["inst2vec_summary"]
    vec = fn(np.zeros((0, INST2VEC_DIM), dtype=np.float32))
    check_vector(fn, vec)
    assert not vec.any()
    one = fn(np.full((1, INST2VEC_DIM), -2.0, dtype=np.float32))
    assert (one[: 2 * INST2VEC_DIM] == -2.0).all()
    assert one[-1] == pytest.approx(math.log(2))


def test_ir_token_bag_ignores_names_and_constants() -> None:
    fn = STATE_FNS["ir_token_bag"]
    a = "define i32 @f(i32 %0) {\n  %2 = add nsw i32 %0, 1\n  ret i32 %2\n}\n"
    b = "define i32 @g(i32 %x) {\n  %y = add nsw i32 %x, 42 ; comment\n  ret i32 %y\n}\n"
    c = "define i32 @f(i32 %0) {\n  %2 = sub nsw i32 %0, 1\n  ret i32 %2\n}\n"
    np.testing.assert_array_equal(fn(a), fn(b))
    assert not np.array_equal(fn(a), fn(c))
    empty = fn("")
    check_vector(fn, empty)
    assert not empty.any()


def test_programl_stats_handles_an_empty_graph() -> None:
    fn = STATE_FNS["programl_stats"]
    graph = spaces.GraphInstance(
        nodes=np.zeros((0, 2), np.int64),
        edges=np.zeros((0, 2), np.int64),
        edge_links=np.zeros((0, 2), np.int64),
    )
    vec = fn(graph)
    check_vector(fn, vec)
    assert not vec.any()


# ------------------------------------------------------------------------------ rewards
B = ProgramBaselines(ir_o0=1000, ir_o3=700, ir_oz=600, text_o0=2000, text_o3=1700, text_oz=1600)


def C(ir: int) -> CodeSize:
    """A measurement whose .text is twice its IR count (so .text moves twice as far, in -Oz
    terms, as IR: 200 bytes of B's 400-byte -Oz gain per 100 instructions of its 400)."""
    return CodeSize(ir, 2 * ir)


# reward name -> (drop 1000 -> 900, no change 900 -> 900, increase 900 -> 1000)
EXPECTED: dict[str, tuple[float, float, float]] = {
    "ir_oz": (0.25, 0.0, -0.25),
    "ir_o0": (0.1, 0.0, -0.1),
    "log_ratio": (math.log(1000 / 900), 0.0, math.log(900 / 1000)),
    "sign": (1.0, 0.0, -1.0),
    "thresholded": (0.25, 0.0, -0.25),
    "tan_shaped": (math.tanh(TAN_SCALE * 0.25), 0.0, -math.tanh(TAN_SCALE * 0.25)),
    # 0.5 * 0.25 (IR: 100 of 400) + 0.5 * 0.5 (.text: 200 of 400 bytes)
    "ir_text_mix": (0.375, 0.0, -0.375),
}


def test_every_reward_fn_has_hand_checked_values() -> None:
    assert set(EXPECTED) == set(REWARD_FNS)


@pytest.mark.parametrize("name", list(REWARD_FNS))
def test_reward_fn_sign_and_scale(name: str) -> None:
    fn = REWARD_FNS[name]
    drop, same, rise = EXPECTED[name]
    assert same == 0.0
    assert fn(C(1000), C(900), B) == pytest.approx(drop)
    assert fn(C(900), C(900), B) == same
    assert fn(C(900), C(1000), B) == pytest.approx(rise)
    assert fn(C(1000), C(900), B) > 0 > fn(C(900), C(1000), B)
    assert isinstance(fn(C(1000), C(900), B), float)


@pytest.mark.parametrize("name", list(REWARD_FNS))
def test_reward_fns_survive_degenerate_baselines(name: str) -> None:
    degenerate: Any = ProgramBaselines(0, 0, 0, 0, 0, 0)
    for before, after in ((0, 0), (5, 0), (0, 5)):
        assert math.isfinite(REWARD_FNS[name](C(before), C(after), degenerate))


def test_thresholded_ignores_negligible_changes() -> None:
    big = ProgramBaselines(ir_o0=100_000, ir_o3=0, ir_oz=0, text_o0=0, text_o3=0, text_oz=0)
    fn = REWARD_FNS["thresholded"]
    assert fn(C(100_000), C(99_950), big) == 0.0  # 0.0005 < THRESHOLD
    assert fn(C(99_950), C(100_000), big) == 0.0
    assert fn(C(100_000), C(99_900), big) == pytest.approx(THRESHOLD)  # at the threshold: kept
    assert REWARD_FNS["ir_oz"](C(100_000), C(99_950), big) == pytest.approx(0.0005)


def test_tan_shaped_is_bounded() -> None:
    fn = REWARD_FNS["tan_shaped"]
    assert 0.99 < fn(C(1000), C(0), B) < 1.0
    assert -1.0 < fn(C(0), C(1000), B) < -0.99


def test_mix_weights_ir_and_text() -> None:
    ir_only = CodeSize(900, 2000)  # IR fell by 100 (0.25 of -Oz's gain), .text unchanged
    text_only = CodeSize(1000, 1800)  # .text fell by 200 bytes (0.5), IR unchanged
    start = CodeSize(1000, 2000)
    assert mixed_ir_text(1.0)(start, ir_only, B) == pytest.approx(0.25)
    assert mixed_ir_text(0.0)(start, text_only, B) == pytest.approx(0.5)
    assert mixed_ir_text(0.25)(start, text_only, B) == pytest.approx(0.75 * 0.5)
    assert REWARD_FNS["ir_text_mix"](start, ir_only, B) == pytest.approx(0.125)
    # A program where -Oz does not shrink .text: the scale is 1% of -O0's .text, not 1 byte.
    flat = ProgramBaselines(1000, 700, 600, text_o0=2000, text_o3=2000, text_oz=2000)
    assert mixed_ir_text(0.0)(start, CodeSize(1000, 1980), flat) == pytest.approx(1.0)
    with pytest.raises(ValueError, match=r"object \.text size"):
        REWARD_FNS["ir_text_mix"](CodeSize(1000), CodeSize(900), B)


def test_mix_reward_on_the_real_env() -> None:
    """The mixed reward asks the env for object sizes; the scorer turns them into rewards that
    add up to the mix of the IR and .text progress towards -Oz."""
    task = llvm_codesize_task()
    reward_fn = task.reward_fn("ir_text_mix")
    env = LlvmCodeSizeEnv("nqueens", **reward_fn.env_options)
    scorer = task.scorer(reward_fn)
    try:
        _, info = env.reset()
        scorer.start(info)
        b = info["baselines"]
        total = 0.0
        for name in STEPS:
            _, _, _, _, info = env.step(name)
            total += scorer.step(0.0, info)
        ir, text = info["ir_instruction_count"], info["object_text_size"]
        expected = 0.5 * (b.ir_o0 - ir) / (b.ir_o0 - b.ir_oz) + 0.5 * (b.text_o0 - text) / max(
            b.text_o0 - b.text_oz, b.text_o0 // 100, 1
        )
        assert total == pytest.approx(expected)
        assert scorer.details()["ir"] <= b.ir_o0
    finally:
        env.close()


# ------------------------------------------------------------------------ concatenations
def test_concatenation_reads_every_observation_in_one_env() -> None:
    task = llvm_codesize_task()
    both = task.state_fn("autophase+action_history")
    assert both.parts == ("autophase", "action_history")
    assert both.observations == ("Autophase", "ActionHistory")
    assert both.dim == STATE_FNS["autophase"].dim + STATE_FNS["action_history"].dim
    env = LlvmCodeSizeEnv("nqueens", observation=env_observation(both))
    try:
        raw, _ = env.reset()
        assert set(raw) == {"Autophase", "ActionHistory"}
        assert env.observation_space.contains(raw)
        raw, *_ = env.step("mem2reg")
        vec = both(raw)
        check_vector(both, vec)
        assert np.array_equal(
            vec[: STATE_FNS["autophase"].dim], STATE_FNS["autophase"](raw["Autophase"])
        )
        tail = STATE_FNS["action_history"](raw["ActionHistory"])
        assert np.array_equal(vec[STATE_FNS["autophase"].dim :], tail)
        assert tail.sum() > 0  # the history saw the step
    finally:
        env.close()


def test_bad_concatenations_are_refused() -> None:
    task = llvm_codesize_task()
    with pytest.raises(ValueError, match=r"unknown state function.*nope.*choose one of"):
        task.state_fn("autophase+nope")
    with pytest.raises(ValueError, match="repeats"):
        task.state_fn("autophase+autophase")
