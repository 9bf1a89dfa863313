"""The LLVM code-size gymnasium env: API, spaces, actions, baselines, and service faults."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import gymnasium
import numpy as np
import pytest
from gymnasium.error import ResetNeeded
from gymnasium.utils.env_checker import check_env

import supersonic.envs
from supersonic.envs.errors import (
    InvalidActionError,
    ProgramNotFoundError,
    UnknownActionError,
    UnknownObservationError,
)
from supersonic.envs.llvm import service
from supersonic.envs.llvm.actions import ACTION_FLAGS, NUM_ACTIONS, action_index, action_name
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.observations import OBSERVATIONS


def test_registered_with_gymnasium_and_defaults_to_a_training_program() -> None:
    env = gymnasium.make(supersonic.envs.LLVM_CODESIZE_ID)
    try:
        obs, info = env.reset(seed=0)
        assert info["benchmark"].startswith("benchmark://supersonic-builtin-v0/")
        assert env.unwrapped.benchmark.split == "train"
        assert obs.shape == (56,)
        _, _, terminated, truncated, info = env.step(0)
        assert not terminated and not truncated
    finally:
        env.close()


def test_gymnasium_make_takes_a_benchmark() -> None:
    env = gymnasium.make(supersonic.envs.LLVM_CODESIZE_ID, benchmark="nqueens")
    try:
        _, info = env.reset()
        assert info["benchmark"].endswith("/nqueens")
    finally:
        env.close()


@pytest.mark.parametrize("observation", sorted(OBSERVATIONS))
def test_passes_the_gymnasium_env_checker(observation: str) -> None:
    env = LlvmCodeSizeEnv("nqueens", observation=observation, max_episode_steps=5)
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()


def test_the_action_space_is_compiler_gyms(llvm_env: LlvmCodeSizeEnv) -> None:
    llvm_env.reset()
    assert NUM_ACTIONS == 124
    service_flags = [f.lstrip("-") for f in llvm_env._session.action_space.flags]
    assert service_flags == list(ACTION_FLAGS)


def test_actions_by_index_and_by_name_do_the_same(llvm_env: LlvmCodeSizeEnv) -> None:
    llvm_env.reset()
    _, r_index, *_ = llvm_env.step(action_index("mem2reg"))
    count_index = llvm_env.ir_instruction_count
    llvm_env.reset()
    _, r_name, *_ = llvm_env.step("-mem2reg")
    assert llvm_env.ir_instruction_count == count_index
    assert r_name == r_index > 0
    assert action_name(action_index("sroa")) == "sroa"


@pytest.mark.parametrize("bad", [NUM_ACTIONS, -1, 2.5, None, True, [1]])
def test_bad_action_values_raise_invalid_action(llvm_env: LlvmCodeSizeEnv, bad: object) -> None:
    llvm_env.reset()
    with pytest.raises(InvalidActionError):
        llvm_env.step(bad)  # type: ignore[arg-type]
    llvm_env.step(0)  # the env is still usable


def test_unknown_pass_name_raises_unknown_action(llvm_env: LlvmCodeSizeEnv) -> None:
    llvm_env.reset()
    with pytest.raises(UnknownActionError, match="unknown pass 'no-such-pass'"):
        llvm_env.step("no-such-pass")


def test_unknown_observation_and_program() -> None:
    with pytest.raises(UnknownObservationError, match="Autophase"):
        LlvmCodeSizeEnv(observation="NoSuchObservation")
    with pytest.raises(ProgramNotFoundError):
        LlvmCodeSizeEnv("no_such_program")


def test_reward_is_the_oz_normalised_instruction_drop(llvm_env: LlvmCodeSizeEnv) -> None:
    _, info = llvm_env.reset()
    b = info["baselines"]
    assert b.ir_o0 == info["ir_instruction_count"]
    assert b.ir_oz < b.ir_o0 and b.ir_o3 < b.ir_o0
    total = 0.0
    for name in ("mem2reg", "instcombine", "simplifycfg"):
        _, reward, _, _, info = llvm_env.step(name)
        total += reward
    expected = (b.ir_o0 - info["ir_instruction_count"]) / (b.ir_o0 - b.ir_oz)
    assert total == pytest.approx(expected)


def test_object_size_in_info_when_asked() -> None:
    env = LlvmCodeSizeEnv("nqueens", object_size_in_info=True)
    try:
        _, info = env.reset()
        assert info["object_text_size"] == info["baselines"].text_o0
        _, _, _, _, info = env.step("mem2reg")
        assert 0 < info["object_text_size"] == env.object_text_size()
    finally:
        env.close()


def test_reset_switches_program_and_episode_truncates_at_the_step_limit() -> None:
    env = LlvmCodeSizeEnv("nqueens", max_episode_steps=3)
    try:
        _, info = env.reset(options={"benchmark": "base64"})
        assert info["benchmark"].endswith("/base64")
        truncated = [env.step(0)[3] for _ in range(3)]
        assert truncated == [False, False, True]
        with pytest.raises(ResetNeeded):
            env.step(0)
    finally:
        env.close()


def test_action_history_counts_applied_passes() -> None:
    env = LlvmCodeSizeEnv("nqueens", observation="ActionHistory")
    try:
        obs, _ = env.reset()
        assert obs.sum() == 0
        for a in (3, 3, 7):
            obs, *_ = env.step(a)
        assert obs[3] == 2 and obs[7] == 1 and obs.sum() == 3
    finally:
        env.close()


def test_fork_is_independent(llvm_env: LlvmCodeSizeEnv) -> None:
    llvm_env.reset()
    llvm_env.step("mem2reg")
    fork = llvm_env.fork()
    try:
        before = llvm_env.ir_instruction_count
        fork.step("instcombine")
        assert fork.ir_instruction_count < before == llvm_env.ir_instruction_count
        assert fork.actions == [*llvm_env.actions, action_index("instcombine")]
    finally:
        fork.close()


def test_reset_with_a_seed_is_deterministic(llvm_env: LlvmCodeSizeEnv) -> None:
    a, _ = llvm_env.reset(seed=7)
    b, _ = llvm_env.reset(seed=7)
    np.testing.assert_array_equal(a, b)


def test_render_ansi_lists_the_passes() -> None:
    env = LlvmCodeSizeEnv("nqueens", render_mode="ansi")
    try:
        env.reset()
        env.step("mem2reg")
        text = env.render()
        assert text is not None and "-mem2reg" in text and "nqueens" in text
    finally:
        env.close()


# ------------------------------------------------------------------------------- faults
def _process_state(pid: int) -> str:
    """The one-letter state of `pid` in /proc (T: stopped)."""
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().rsplit(")", 1)[1].split()[0]


def test_hung_service_truncates_with_a_penalty_and_recovers() -> None:
    env = LlvmCodeSizeEnv("nqueens", step_timeout_s=2.0, failure_penalty=-5.0)
    try:
        env.reset()
        pid = service.service_pid(env._session)
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)  # the service stops answering, as if hung
        # A stop is delivered asynchronously: on a loaded machine the step below could
        # otherwise reach the service before it has stopped.
        deadline = time.monotonic() + 10
        while _process_state(pid) != "T" and time.monotonic() < deadline:
            time.sleep(0.01)
        assert _process_state(pid) == "T"
        started = time.monotonic()
        obs, reward, terminated, truncated, info = env.step("mem2reg")
        elapsed = time.monotonic() - started
        assert truncated and not terminated
        assert reward == -5.0
        assert "failure" in info
        assert obs in env.observation_space
        assert elapsed < 2.0 + service.WATCHDOG_GRACE_S + 3.0
        _, info = env.reset()  # a new service
        assert service.service_pid(env._session) != pid
        assert env.service_restarts == 1
        _, reward, _, truncated, _ = env.step("mem2reg")
        assert reward > 0 and not truncated
    finally:
        env.close()


def test_crashed_service_truncates_with_a_penalty_and_recovers() -> None:
    env = LlvmCodeSizeEnv("nqueens")
    try:
        env.reset()
        os.kill(service.service_pid(env._session), signal.SIGKILL)
        _, reward, _, truncated, info = env.step("mem2reg")
        assert truncated and reward == env.failure_penalty and "failure" in info
        env.reset()
        _, reward, _, truncated, _ = env.step("mem2reg")
        assert reward > 0 and not truncated
    finally:
        env.close()


def test_a_service_that_dies_between_episodes_is_counted_at_the_next_reset() -> None:
    """CompilerGym's reset quietly retries on a new service; the env counts it and says why,
    so that an actor can log the fault (`env_failure` at reset)."""
    env = LlvmCodeSizeEnv("nqueens")
    try:
        env.reset()
        pid = service.service_pid(env._session)
        os.kill(pid, signal.SIGKILL)
        env.reset()
        assert service.service_pid(env._session) != pid
        assert env.service_restarts == 1 and "failed at reset" in env.last_failure
        _, reward, _, truncated, _ = env.step("mem2reg")
        assert reward > 0 and not truncated
    finally:
        env.close()


def test_closing_leaves_no_service_process() -> None:
    env = LlvmCodeSizeEnv("nqueens")
    env.reset()
    pid = service.service_pid(env._session)
    env.close()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    pytest.fail(f"service process {pid} still alive after close()")


def test_a_killed_process_takes_its_services_with_it() -> None:
    """An actor that is SIGKILLed cannot close its env: its service must not outlive it."""
    code = (
        "from supersonic.envs.llvm.env import LlvmCodeSizeEnv\n"
        "from supersonic.envs.llvm import service\n"
        "import sys, time\n"
        "env = LlvmCodeSizeEnv('nqueens'); env.reset()\n"
        "print(service.service_pid(env._session), flush=True)\n"
        "time.sleep(600)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        pid = int(proc.stdout.readline())
        os.kill(pid, 0)  # the service runs
    finally:
        proc.kill()
        proc.wait()
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return
        if _process_state(pid) == "Z":  # killed, waiting for init to reap it
            return
        time.sleep(0.1)
    os.kill(pid, signal.SIGKILL)
    pytest.fail(f"service process {pid} outlived the process that started it")
