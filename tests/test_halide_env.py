"""The Halide schedule env with real Halide: every schedule it can make compiles and computes
the reference output; failures (a compile error, a crash of the compiler, a timeout) cost a
penalty and end the episode, never the caller; bad programs are refused in one line."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supersonic.envs.errors import BenchmarkError, InvalidActionError
from supersonic.envs.halide.env import HalideScheduleEnv
from supersonic.envs.halide.features import MAX_KNOBS, OBSERVATIONS
from supersonic.envs.halide.measure import MeasureRequest, Worker
from supersonic.envs.halide.pipelines import SPECS, parse_program, resolve_programs, tiny
from supersonic.envs.halide.schedule import MAX_OPTIONS, Decisions, knobs_for

ROOT = Path(__file__).resolve().parents[1]
WORKER = Worker()  # in this process, shared: compiled pipelines and references are kept


@pytest.fixture
def env() -> Iterator[HalideScheduleEnv]:
    env = HalideScheduleEnv("blur:64x48", observation=tuple(OBSERVATIONS))
    yield env
    env.close()


def run_episode(env: HalideScheduleEnv, actions: list[int]) -> tuple[float, bool, bool, dict]:
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return reward, terminated, truncated, info
    raise AssertionError("the episode did not end")


def test_there_are_at_least_ten_multi_stage_pipelines_and_numpy_agrees_with_halide() -> None:
    """The default schedule of every pipeline matches its numpy reference where it has one
    (the others are checked against that default output)."""
    assert len(SPECS) >= 10 and all(len(s.stages) >= 1 for s in SPECS)
    assert sum(s.numpy_reference for s in SPECS) >= 7
    for program in tiny():
        if program.spec.numpy_reference:
            m = WORKER.run(MeasureRequest(program.program, None, repeat=1, min_repeat_ms=0))
            assert m.ok, (program.program, m.error)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    program=st.sampled_from(tiny()),
    actions=st.lists(st.integers(0, MAX_OPTIONS - 1), min_size=MAX_KNOBS, max_size=MAX_KNOBS),
)
def test_every_action_sequence_compiles_and_matches_the_reference(program, actions) -> None:
    knobs = knobs_for(program)
    chosen = tuple(k.value(a) for k, a in zip(knobs, actions, strict=False))
    m = WORKER.run(MeasureRequest(program.program, chosen, repeat=1, min_repeat_ms=0))
    assert m.ok, (program.program, Decisions.of(program, chosen).describe(), m.error)


def test_placements_are_clamped_to_what_consumers_allow() -> None:
    program = parse_program("unsharp:64x48")
    names = [k.name for k in knobs_for(program)]
    values = [k.default for k in knobs_for(program)]
    values[names.index("sharpen.place")] = 1  # root
    values[names.index("blur_y.place")] = 0  # inline: its producer may go as deep as sharpen
    values[names.index("blur_x.place")] = 2  # tile, below a root consumer: clamped to root
    plan = Decisions.of(program, values).plan()
    assert (plan["sharpen"].place, plan["blur_y"].place, plan["blur_x"].place) == (
        "root",
        "inline",
        "root",
    )
    defaults = Decisions.of(parse_program("hist_eq"), ()).plan()
    assert defaults["hist"].place == defaults["cdf"].place == "root"
    assert defaults["smooth"].place == defaults["lut"].place == "inline"


def test_an_episode_decides_every_knob_then_measures(env: HalideScheduleEnv) -> None:
    obs, info = env.reset(options={"benchmark": "max_filter:64x48"})
    assert set(obs) == set(OBSERVATIONS)
    assert info["baselines"].default_seconds > 0
    knobs = knobs_for(parse_program("max_filter:64x48"))
    rewards = []
    for i in range(len(knobs)):
        obs, reward, terminated, truncated, info = env.step(i % MAX_OPTIONS)
        assert env.observation_space.contains(obs)
        rewards.append(reward)
        assert terminated == (i == len(knobs) - 1) and not truncated
    assert rewards[:-1] == [0.0] * (len(knobs) - 1)
    assert info["speedup"] == pytest.approx(info["baselines"].default_seconds / info["seconds"])
    assert rewards[-1] == pytest.approx(np.log(info["speedup"]))
    with pytest.raises(Exception, match="reset"):
        env.step(0)
    with pytest.raises(InvalidActionError):
        env.reset()
        env.step(MAX_OPTIONS)


def test_a_schedule_that_fails_to_compile_costs_the_penalty(env: HalideScheduleEnv) -> None:
    env.reset()
    env.target = "no-such-target"  # Halide refuses to compile for it
    reward, terminated, truncated, info = run_episode(env, [1] * MAX_KNOBS)
    assert (reward, terminated, truncated) == (env.failure_penalty, False, True)
    assert info["failure"].startswith("build failed: HalideError")
    # Halide aborts the process when asked to JIT code for another CPU: the penalty again,
    # and the next measurement gets a fresh process.
    pid = env.measurer.pid
    env.target = "arm-64-linux"
    env.reset()
    reward, _, truncated, info = run_episode(env, [2] * MAX_KNOBS)
    assert (reward, truncated) == (env.failure_penalty, True) and "died" in info["failure"]
    env.target = ""
    env.reset()
    _, terminated, _, info = run_episode(env, [2] * MAX_KNOBS)
    assert terminated and info["seconds"] > 0 and env.measurer.pid != pid


def test_a_measurement_past_its_timeout_is_killed_and_the_next_one_works(
    env: HalideScheduleEnv,
) -> None:
    env.reset()  # the default schedule is measured with the long baseline timeout
    first_pid = env.measurer.pid
    env.measurer.timeout_s = 0.5
    env.repeat = 1000  # 1000 runs of >= 10 ms each: far beyond the timeout
    reward, terminated, truncated, info = run_episode(env, [3] * MAX_KNOBS)
    assert (reward, terminated, truncated) == (env.failure_penalty, False, True)
    assert info["failure"].startswith("timeout")
    assert env.measurer.pid is None and env.measurer.restarts == 1
    env.measurer.timeout_s, env.repeat = 60.0, 1
    env.reset()
    reward, terminated, _, info = run_episode(env, [3] * MAX_KNOBS)
    assert terminated and info["seconds"] > 0 and env.measurer.pid != first_pid


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("sobel", "unknown pipeline"),
        ("blur:64", "bad size"),
        ("blur:60x64", "multiple of 16"),
        ("blur:4096x4096", "pixels"),
    ],
)
def test_bad_programs_are_refused_in_one_line(program: str, message: str) -> None:
    with pytest.raises(BenchmarkError, match=message) as caught:
        parse_program(program)
    assert "\n" not in str(caught.value)


def test_datasets_resolve() -> None:
    assert len(resolve_programs("builtin:test")) == len(SPECS)
    assert [p.program for p in resolve_programs("blur,harris:32x32")] == ["blur", "harris:32x32"]


def _cli(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supersonic", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_the_cli_lists_pipelines_and_knobs_and_refuses_bad_ones() -> None:
    listed = _cli("benchmarks", "--task", "halide-schedule")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0].startswith("blur\t1024x1024\t1 stages\t")
    assert len(listed.stdout.splitlines()) == len(SPECS)
    knobs = _cli("actions", "--task", "halide-schedule")
    assert knobs.returncode == 0 and "\tblur_x.place\tinline root tile" in knobs.stdout
    bad = _cli("evaluate", "--task", "halide-schedule", "--programs", "sobel")
    assert bad.returncode == 2
    assert bad.stderr.strip().startswith("error: unknown pipeline 'sobel'")
    assert len(bad.stderr.strip().splitlines()) == 1


def test_evaluate_prints_the_per_pipeline_table(tmp_path: Path) -> None:
    proc = _cli(
        *("evaluate", "--task", "halide-schedule", "--programs", "blur:128x128"),
        *("--methods", "default,random,li2018,anderson2021", "--trials", "2"),
        *("--out", str(tmp_path)),
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| blur:128x128 | li2018 |" in proc.stdout
    rows = {r["method"]: r for r in json.loads((tmp_path / "evaluation.json").read_text())}
    assert rows["default"]["speedup"] == 1.0
    assert rows["random"]["trials"] == 2 and rows["random"]["seconds"] > 0
    assert rows["li2018"]["seconds"] > 0
    # Anderson2021 schedules for GPUs only: reported as failed, with Halide's reason.
    assert rows["anderson2021"]["seconds"] is None
    assert "does not support GPU" in rows["anderson2021"]["note"]


def test_the_env_passes_gymnasiums_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    env = HalideScheduleEnv("iir_blur:32x32", observation=("history", "pipeline"))
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()
