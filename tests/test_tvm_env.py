"""The TVM schedule env with real TVM: every schedule it can make builds and computes what numpy
computes; failures (a build error, a timeout, a dead measuring process) cost a penalty and end
the episode, never the caller; bad workloads are refused in one line."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supersonic.envs.errors import BenchmarkError, InvalidActionError
from supersonic.envs.tvm.env import TvmScheduleEnv
from supersonic.envs.tvm.features import MAX_KNOBS, OBSERVATIONS
from supersonic.envs.tvm.measure import Measurer, MeasureRequest, run_request, worker_threads
from supersonic.envs.tvm.schedule import MAX_OPTIONS, Decisions, apply, knobs_for
from supersonic.envs.tvm.search import handwritten
from supersonic.envs.tvm.workloads import BUILTIN, TINY, parse_workload, resolve_workloads

ROOT = Path(__file__).resolve().parents[1]
BOGUS_TARGET = json.dumps({"kind": "llvm", "mtriple": "bogus-none-none"})


@pytest.fixture
def env() -> Iterator[TvmScheduleEnv]:
    env = TvmScheduleEnv("tiny-dense", observation=tuple(OBSERVATIONS))
    yield env
    env.close()


def run_episode(env: TvmScheduleEnv, actions: list[int]) -> tuple[float, bool, bool, dict]:
    for action in actions:
        _, reward, terminated, truncated, info = env.step(action)
        if terminated or truncated:
            return reward, terminated, truncated, info
    raise AssertionError("the episode did not end")


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    workload=st.sampled_from(TINY),
    actions=st.lists(st.integers(0, MAX_OPTIONS - 1), min_size=MAX_KNOBS, max_size=MAX_KNOBS),
)
def test_every_action_sequence_builds_and_matches_numpy(workload, actions) -> None:
    """Built in this process (the worker's own function) to keep the property test fast."""
    knobs = knobs_for(workload)
    chosen = tuple(k.value(a) for k, a in zip(knobs, actions, strict=False))
    m = run_request(MeasureRequest(workload.program, chosen, repeat=1, min_repeat_ms=0))
    assert m.ok, (workload.program, chosen, m.error)
    assert m.max_error < 1e-3 * max(1.0, workload.macs**0.5)


def test_an_episode_decides_every_knob_then_measures(env: TvmScheduleEnv) -> None:
    obs, info = env.reset(options={"benchmark": "tiny-conv-bias-relu"})
    assert set(obs) == set(OBSERVATIONS)
    assert all(obs[n].shape == (OBSERVATIONS[n],) for n in OBSERVATIONS)
    assert info["baselines"].default_seconds > 0
    knobs = knobs_for(parse_workload("tiny-conv-bias-relu"))
    rewards = []
    for i in range(len(knobs)):
        # Action a picks option a mod the knob's count: a deterministic policy compares options.
        assert env.action_choices() == len(knobs[i].options)
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


def test_the_step_limit_truncates_and_measures_the_partial_schedule() -> None:
    env = TvmScheduleEnv("tiny-conv", max_episode_steps=3)
    try:
        env.reset()
        _, terminated, truncated, info = run_episode(env, [1, 2, 3])
        assert truncated and not terminated and info["seconds"] > 0
    finally:
        env.close()


def test_a_schedule_that_fails_to_build_costs_the_penalty_and_ends_the_episode(
    env: TvmScheduleEnv,
) -> None:
    env.reset()
    env.target = BOGUS_TARGET  # LLVM has no such target: the build of this schedule fails
    reward, terminated, truncated, info = run_episode(env, [0] * MAX_KNOBS)
    assert (reward, terminated, truncated) == (env.failure_penalty, False, True)
    assert info["failure"].startswith("build failed") and "bogus" in info["failure"]


def test_a_measurement_past_its_timeout_is_killed_and_the_next_one_works(
    env: TvmScheduleEnv,
) -> None:
    env.reset()  # the unscheduled program is measured with the long baseline timeout
    first_pid = env.measurer.pid
    env.measurer.timeout_s = 0.5
    env.repeat = 500  # 500 runs of >= 10 ms each: far beyond the timeout
    reward, terminated, truncated, info = run_episode(env, [0] * MAX_KNOBS)
    assert (reward, terminated, truncated) == (env.failure_penalty, False, True)
    assert info["failure"].startswith("timeout")
    assert env.measurer.pid is None and env.measurer.restarts == 1
    assert first_pid is not None and not _alive(first_pid)
    env.repeat = 1
    env.reset()
    reward, terminated, _, info = run_episode(env, [0] * MAX_KNOBS)
    assert terminated and info["seconds"] > 0 and env.measurer.pid != first_pid


def test_a_measuring_process_that_dies_mid_measurement_costs_the_penalty(
    env: TvmScheduleEnv,
) -> None:
    env.reset()
    pid = env.measurer.pid
    assert pid is not None
    env.repeat = 500  # a measurement of >= 5 s, killed after 1 s
    killer = threading.Timer(1.0, os.kill, (pid, signal.SIGKILL))
    killer.start()
    try:
        reward, terminated, truncated, info = run_episode(env, [1] * MAX_KNOBS)
    finally:
        killer.cancel()
    assert (reward, terminated, truncated) == (env.failure_penalty, False, True)
    assert "died" in info["failure"]
    env.repeat = 1
    env.reset()
    _, terminated, _, info = run_episode(env, [1] * MAX_KNOBS)
    assert terminated and info["seconds"] > 0 and env.measurer.pid != pid


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open(f"/proc/{pid}/stat") as stat:
        return stat.read().split()[2] != "Z"


def test_benchmarks_cover_the_operators_and_handwritten_schedules_are_valid() -> None:
    assert len(BUILTIN) >= 5
    assert (
        {w.op for w in BUILTIN}
        == {w.op for w in TINY}
        == {
            "dense",
            "batch_matmul",
            "conv2d",
            "depthwise_conv2d",
            "conv2d_bias_relu",
        }
    )
    for w in TINY:
        m = run_request(MeasureRequest(w.program, handwritten(w), repeat=1, min_repeat_ms=0))
        assert m.ok, (w.program, m.error)


@pytest.mark.parametrize("workload", BUILTIN + TINY, ids=lambda w: w.name)
def test_every_parallel_option_runs_a_loop_of_more_than_one_iteration_in_parallel(
    workload,
) -> None:
    """A leading batch of 1 is not a parallel loop: each option > 0 fuses one more loop of
    extent > 1 (tiles of 1, so every outer loop keeps its whole extent)."""
    knob = next(k for k in knobs_for(workload) if k.kind == "parallel")
    assert knob.options[0] == 0 and len(knob.options) >= 2
    extents = [e for e in workload.spatial_extents if e > 1]
    for depth in knob.options[1:]:
        chosen = {"parallel": depth}
        values = tuple(chosen.get(k.name, k.default) for k in knobs_for(workload))
        script = apply(Decisions.of(workload, values)).script()
        parallel = [int(n) for n in re.findall(r"T\.parallel\((\d+)\)", script)]
        assert parallel == [int(np.prod(extents[:depth]))], (depth, parallel)


def test_a_measurement_runs_parallel_loops_on_every_usable_core(monkeypatch) -> None:
    """TVM's default halves the cores on x86 (for hyper-threads); the worker does not."""
    monkeypatch.delenv("TVM_NUM_THREADS", raising=False)
    assert worker_threads() == len(os.sched_getaffinity(0))
    monkeypatch.setenv("TVM_NUM_THREADS", "3")  # the user's setting wins
    assert worker_threads() == 3
    monkeypatch.setenv("TVM_NUM_THREADS", "many")
    assert worker_threads() == len(os.sched_getaffinity(0))
    measurer = Measurer()
    try:
        measurement = measurer.measure(MeasureRequest("tiny-dense", None, repeat=1))
    finally:
        measurer.close()
    assert measurement.ok, measurement.error
    assert measurement.threads == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(
    ("program", "message"),
    [
        ("resnet-9000", "unknown workload"),
        ("matmul:8x8x8", "unknown operator"),
        ("dense:8x8", "bad shape"),
        ("dense:8x0x8", "must be >= 1"),
        ("conv2d:4x8x8x8x3x1x3", "padding"),
        ("dense:4096x4096x4096", "multiply-adds"),
    ],
)
def test_bad_workloads_are_refused_in_one_line(program: str, message: str) -> None:
    with pytest.raises(BenchmarkError, match=message) as caught:
        parse_workload(program)
    assert "\n" not in str(caught.value)


def test_datasets_and_workload_specs_resolve() -> None:
    assert [w.name for w in resolve_workloads("builtin:test")] == [w.name for w in BUILTIN]
    assert [w.spec for w in resolve_workloads("dense:8x8x8,tiny-bmm")] == [
        "dense:8x8x8",
        "batch_matmul:2x8x16x12",
    ]


def test_the_cli_refuses_an_unknown_workload_in_one_line() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "supersonic",
            "evaluate",
            "--task",
            "tvm-schedule",
            "--programs",
            "nope:1x2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 2
    assert proc.stderr.strip().startswith("error: unknown operator 'nope'")
    assert len(proc.stderr.strip().splitlines()) == 1


def test_evaluate_prints_the_per_workload_table(tmp_path: Path) -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "supersonic", "evaluate", "--task", "tvm-schedule"),
            *("--programs", "dense:32x64x64", "--methods", "default,handwritten,random"),
            *("--trials", "3", "--out", str(tmp_path)),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "| dense:32x64x64 | handwritten |" in proc.stdout
    rows = {r["method"]: r for r in json.loads((tmp_path / "evaluation.json").read_text())}
    assert rows["default"]["speedup"] == 1.0
    assert rows["random"]["trials"] == 3 and rows["random"]["seconds"] > 0
    # 2 cores, vectorized and parallel: seen here 10x; the unscheduled loop nest is scalar.
    assert rows["handwritten"]["speedup"] > 1.5
    assert "in the search" in rows["random"]["note"]  # the figure is a new measurement
    assert "request" not in rows["random"]


def test_the_best_schedules_are_measured_again_round_robin() -> None:
    """`remeasure`: the default and each method's best, `rounds` times each, medians."""
    from supersonic.launch.tvm_evaluate import TvmRow, remeasure, run_method

    workload = parse_workload("dense:16x32x32")
    measurer = Measurer()
    try:
        default = measurer.measure(MeasureRequest(workload.program, None))
        assert default.seconds is not None
        rows = [
            run_method(method, workload, 2, default.seconds, measurer)
            for method in ("default", "handwritten", "random")
        ]
        failed = TvmRow(workload.program, "broken", default.seconds, None, 2, 2, "")
        before = measurer.requests
        again = remeasure([*rows, failed], measurer, rounds=3)
        # 3 rounds of: the default, the hand-written best, the random best (a row without a
        # schedule is not measured; the default row is the default's measurement).
        assert measurer.requests - before == 3 * 3
    finally:
        measurer.close()
    by_method = {r.method: r for r in again}
    assert by_method["default"].speedup == 1.0
    assert len({r.default_seconds for r in again}) == 1
    for method in ("handwritten", "random"):
        assert by_method[method].seconds is not None
        assert by_method[method].seconds != next(r for r in rows if r.method == method).seconds
        assert "in the search" in by_method[method].note
    assert by_method["broken"].seconds is None
    assert remeasure(rows, measurer, rounds=0) == rows  # 0 rounds: the searches' figures
    with pytest.raises(ValueError, match="one workload"):
        other = run_method("default", parse_workload("tiny-dense"), 1, 1.0, measurer)
        remeasure([rows[0], other], measurer, rounds=1)


def test_the_cli_lists_workloads_and_knobs() -> None:
    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "supersonic", *args],
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=120,
        )

    listed = run("benchmarks", "--task", "tvm-schedule")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.splitlines()[0] == "bert-ffn-dense\tdense:32x768x768\t18874368"
    assert len(listed.stdout.splitlines()) == len(BUILTIN)
    bad = run("benchmarks", "--task", "tvm-schedule", "--dataset", "nope")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: unknown dataset 'nope' for tvm-schedule; choose one of builtin, tiny"
    )
    knobs = run("actions", "--task", "tvm-schedule")
    assert knobs.returncode == 0 and "\tcache_write\t0 1" in knobs.stdout


def test_the_env_passes_gymnasiums_checker() -> None:
    from gymnasium.utils.env_checker import check_env

    env = TvmScheduleEnv("tiny-bmm", observation=("history", "shape"))
    try:
        check_env(env, skip_render_check=True)
    finally:
        env.close()
