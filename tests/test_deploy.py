"""Deployment: `supersonic optimize` and `supersonic evaluate` on real programs with a real
exported policy (an untrained PPO policy, exported as a search exports its winner)."""

from __future__ import annotations

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from supersonic.actors.guided import guided_search, load_guide, make_search_env
from supersonic.envs.llvm import service
from supersonic.envs.llvm.actions import ACTION_FLAGS
from supersonic.envs.llvm.benchmarks import builtin_programs_dir, resolve_benchmark
from supersonic.envs.llvm.bitcode import compile_c
from supersonic.envs.llvm.downgrade import count_instructions
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.search import Budget
from supersonic.envs.llvm.toolpack import llvm_tool
from supersonic.envs.llvm.validation import build_and_run, reference_outcome
from supersonic.launch.deploy import (
    NO_IMPROVEMENT,
    EvaluationRow,
    evaluate_methods,
    markdown,
    optimize_program,
    parse_methods,
    summarize,
    summary_lines,
)
from supersonic.launch.export import export_best
from supersonic.learners.algorithm import make_algorithm
from supersonic.protocol.messages import CandidateSpec
from supersonic.protocol.policy_file import save_policy_file

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(__file__).parent / "data"
TEST_PROGRAMS = ("prime_sieve", "lcs", "knapsack")  # from the built-in test split


def _export(run_dir: Path, task: str, spec: CandidateSpec, obs_dim: int, n_actions: int) -> Path:
    run_dir.mkdir(parents=True)
    algorithm = make_algorithm(spec.algorithm, obs_dim=obs_dim, n_actions=n_actions, seed=0)
    arch, tensors = algorithm.policy_weights()
    save_policy_file(run_dir / "v1.npz", arch, tensors)
    return export_best(
        run_dir,
        task=task,
        spec=spec,
        policy_file=run_dir / "v1.npz",
        scores={},
        episode_length=25 if task == "llvm-codesize" else 500,
        validation_programs=[],
    )


@pytest.fixture(scope="module")
def policy_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = CandidateSpec("ppo-autophase-ir_oz", "ppo", "autophase", "ir_oz")
    return _export(tmp_path_factory.mktemp("llvm") / "run", "llvm-codesize", spec, 56, 124)


@pytest.fixture(scope="module")
def cartpole_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    spec = CandidateSpec("ppo-raw", "ppo", "raw", "env")
    return _export(tmp_path_factory.mktemp("cartpole") / "run", "cartpole", spec, 4, 2)


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "supersonic", *args],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        check=False,
    )


def _disassembled_count(bitcode_path: Path) -> int:
    proc = subprocess.run(
        [str(llvm_tool("llvm-dis")), str(bitcode_path), "-o", "-"],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return count_instructions(proc.stdout)


def _replay(program: str, passes: list[str] | tuple[str, ...]) -> tuple[int, int]:
    """(IR instructions, .text bytes) after `passes` on `program`, in a fresh env."""
    env = LlvmCodeSizeEnv(program, max_episode_steps=max(1, len(passes)))
    try:
        env.reset()
        for name in passes:
            _, _, _, _, info = env.step(name)
            assert "failure" not in info
        return env.ir_instruction_count, env.object_text_size()
    finally:
        env.close()


def _check_output(out: Path, program: str) -> dict:
    summary = json.loads((out / "summary.json").read_text())
    ir = summary["ir_instructions"]
    # The bitcode loads with LLVM 14's tools and has the reported instruction count.
    assert _disassembled_count(out / "optimized.bc") == ir["ours"]
    assert (out / "passes.txt").read_text().split() == summary["passes"]
    # Replaying the passes in a fresh env gives the same module size and .text size.
    assert _replay(program, summary["passes"]) == (ir["ours"], summary["text_bytes"]["ours"])
    # The built program prints what the -O0 build prints.
    prepared = resolve_benchmark(program).prepare()
    reference = reference_outcome(prepared)
    optimized = build_and_run((out / "optimized.bc").read_bytes(), 30.0)
    assert (optimized.stdout, optimized.returncode) == (reference.stdout, reference.returncode)
    assert summary["validation"]["verdict"] == "valid"
    assert summary["metric"] == pytest.approx((ir["O0"] - ir["ours"]) / (ir["O0"] - ir["Oz"]))
    assert summary["beats_o0"] == (ir["ours"] < ir["O0"])
    return summary


def test_optimize_builtin_program(policy_dir: Path, tmp_path: Path) -> None:
    program = str(builtin_programs_dir() / "prime_sieve.c")  # a test-split program, as a file
    # A step budget ends the search first, so the result does not depend on the machine's load.
    summary = optimize_program(policy_dir, program, 120.0, tmp_path / "out", max_steps=300)
    _check_output(tmp_path / "out", program)
    assert summary["stopped"] == "steps"
    assert summary["env_steps"] == 300
    assert summary["beats_o0"]  # even an untrained policy's beam finds something
    assert summary["policy_episode_ir_instructions"] >= summary["ir_instructions"]["ours"]
    assert any("IR instructions" in line for line in summary_lines(summary))


def test_optimize_ll_file_through_the_cli(policy_dir: Path, tmp_path: Path) -> None:
    source = builtin_programs_dir() / "lcs.c"
    ll = tmp_path / "lcs.ll"
    ll.write_text(compile_c(source.read_bytes(), str(source)))
    out = tmp_path / "out"
    proc = _cli(
        "optimize", str(ll), "--policy", str(policy_dir), "--budget", "60", "--max-steps", "200",
        "-o", str(out),
    )  # fmt: skip
    assert proc.returncode == 0, proc.stderr
    assert "IR instructions" in proc.stdout
    summary = _check_output(out, str(ll))
    assert summary["env_steps"] == 200


def test_guided_search_stops_at_the_time_budget(policy_dir: Path) -> None:
    guide = load_guide(policy_dir)
    env = make_search_env(guide, "knapsack")
    try:
        result = guided_search(env, guide, Budget(seconds=0.5))
        assert result.stopped == "time"
        assert 0.5 <= result.seconds < 0.5 + 0.5  # one fork or step past the deadline at most
        assert env.ir_instruction_count == result.ir_instructions  # left at its module
        assert env.actions == list(result.actions)
    finally:
        env.close()


def test_a_pass_that_changes_the_output_is_banned_and_never_reported(policy_dir: Path) -> None:
    """signed_overflow.c: instcombine (and other folds) change its output (signed overflow)."""
    guide = load_guide(policy_dir)
    env = make_search_env(guide, str(DATA / "signed_overflow.c"))
    try:
        result = guided_search(env, guide, Budget(steps=800))
        assert result.validation.valid is True
        assert result.banned and result.validations >= 2
        reference = reference_outcome(env.program)
        optimized = build_and_run(env.bitcode(), 30.0)  # the env holds the reported module
        assert (optimized.stdout, optimized.returncode) == (reference.stdout, reference.returncode)
        assert env.ir_instruction_count == result.ir_instructions
    finally:
        env.close()


def test_the_search_survives_a_killed_compiler_service(
    policy_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A pass that crashes the service kills every fork: the search restarts it and goes on."""
    from supersonic.actors import guided

    guide = load_guide(policy_dir)
    env = make_search_env(guide, "knapsack")
    original = guided.GuidedSearch._step

    def step(self: guided.GuidedSearch, probe: LlvmCodeSizeEnv, action: int) -> object:
        if self.steps == 100:  # SIGKILL the service under the 101st pass
            os.kill(service.service_pid(probe._session), signal.SIGKILL)
        return original(self, probe, action)

    monkeypatch.setattr(guided.GuidedSearch, "_step", step)
    try:
        result = guided_search(env, guide, Budget(steps=400))
        assert result.service_failures == 1
        assert result.stopped == "steps" and result.env_steps == 400
        assert result.validation.valid is True and result.ir_instructions < result.baselines.ir_o0
        assert env.ir_instruction_count == result.ir_instructions
    finally:
        env.close()


def test_evaluate_three_programs_three_methods(policy_dir: Path, tmp_path: Path) -> None:
    programs = [resolve_benchmark(p) for p in TEST_PROGRAMS]
    methods = parse_methods(f"policy:{policy_dir},random,oz")
    evaluation = evaluate_methods(programs, methods, 1.0, jobs=2, out_dir=tmp_path)
    assert [(r.program, r.method) for r in evaluation.rows] == [
        (p, m) for p in TEST_PROGRAMS for m in ("policy", "random", "oz")
    ]
    with (tmp_path / "evaluation.csv").open() as f:
        table = list(csv.DictReader(f))
    rows = {(r["program"], r["method"]): r for r in table}
    for row in evaluation.rows:
        written = rows[(row.program, row.method)]
        assert int(written["ir_ours"]) == row.ir_ours
        assert float(written["metric"]) == pytest.approx(row.metric, abs=1e-6)
        if row.method == "oz":
            assert row.metric == pytest.approx(1.0)
            assert row.ir_ours == row.ir_oz
            continue
        assert row.validation in ("valid", "unchecked")
        # The table's numbers are what replaying its passes measures.
        assert _replay(row.benchmark, written["passes"].split()) == (row.ir_ours, row.text_ours)
    for method in ("policy", "random", "oz"):
        geomean_row = rows[("geomean of 3", method)]
        assert float(geomean_row["metric"]) == pytest.approx(
            evaluation.method(method).metric, abs=1e-6
        )
    text = (tmp_path / "evaluation.md").read_text()
    assert "geomean metric" in text and "Wall time" in text
    assert "| oz | 3 | 1.000 |" in text


def test_a_program_no_method_improves_is_flagged() -> None:
    def row(program: str, method: str, ours: int) -> EvaluationRow:
        return EvaluationRow(
            program, f"benchmark://x/{program}", method, 100, 60, ours, 900, 800, 900, "valid",
            10, 1.0,
        )  # fmt: skip

    rows = [row("a", "policy", 70), row("a", "random", 100), row("b", "policy", 100)]
    rows.append(row("b", "random", 104))
    summaries, stuck = summarize(rows)
    assert stuck == ["benchmark://x/b"]
    assert [s.floored for s in summaries] == [1, 2]
    from supersonic.launch.deploy import Evaluation

    text = markdown(Evaluation(rows, summaries, stuck, 1.0, 2.0, 1))
    assert f"Programs where {NO_IMPROVEMENT}: b." in text
    unimproved = {
        "program": "p",
        "env_steps": 3,
        "search_seconds": 1.0,
        "stopped": "time",
        "ir_instructions": {"O0": 10, "Oz": 5, "ours": 10},
        "text_bytes": {"O0": 10, "Oz": 5, "ours": 10},
        "metric": 0.0,
        "oz_ratio": 0.5,
        "validation": {"verdict": "valid", "reason": "the unoptimised program"},
        "passes": [],
        "beats_o0": False,
    }
    assert summary_lines(unimproved)[-1].strip().startswith("no pass sequence found beats -O0")


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("missing", "no such export"),
        ("cartpole", "was trained for task cartpole, not llvm-codesize"),
        ("broken", "broken.c"),
        ("zero", "--budget must be > 0"),
        ("evaluate-zero", "--budget must be > 0"),
        ("evaluate-cartpole", "was trained for task cartpole"),
    ],
)
def test_bad_inputs_are_one_line_errors(
    case: str, expected: str, policy_dir: Path, cartpole_dir: Path, tmp_path: Path
) -> None:
    policy, program, budget = str(policy_dir), "prime_sieve", "1"
    if case == "missing":
        policy = str(tmp_path / "no-such-run" / "best")
    elif case == "cartpole":
        policy = str(cartpole_dir)
    elif case == "broken":
        program = str(DATA / "broken.c")
    elif case == "zero":
        budget = "0"
    if case.startswith("evaluate"):
        methods = f"policy:{cartpole_dir if case == 'evaluate-cartpole' else policy_dir},random"
        budget = "0" if case == "evaluate-zero" else "1"
        proc = _cli(
            "evaluate", "--programs", "prime_sieve", "--methods", methods, "--budget", budget,
            "--out", str(tmp_path / "eval"),
        )  # fmt: skip
    else:
        proc = _cli(
            "optimize", program, "--policy", policy, "--budget", budget, "-o", str(tmp_path / "o")
        )
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert expected in lines[0]
    assert not (tmp_path / "o").exists()


# ------------------------------------------------------------------------ sequence library
def test_the_sequence_library_is_built_and_replayed_on_new_programs(
    policy_dir: Path, tmp_path: Path
) -> None:
    """`build_library` searches each program with the policy and keeps its best sequences;
    every recorded count replays exactly, each program's validated best comes first (round
    robin), and the guided search replays the library before its tree search."""
    from supersonic.actors.sequence_library import LIBRARY_FILE, load_library
    from supersonic.launch.library import build_library

    export = tmp_path / "best"
    shutil.copytree(policy_dir, export)
    programs = [resolve_benchmark(name) for name in ("quicksort", "crc32")]
    library, path = build_library(export, programs, 2.0, jobs=2, per_program=2, size=3)
    assert path == export / LIBRARY_FILE
    assert load_library(export, "llvm-codesize", 124) == library
    assert 2 <= len(library.sequences) <= 3
    assert [s.program for s in library.sequences[:2]] == sorted(
        ("quicksort", "crc32"),
        key=lambda p: -next(s.metric for s in library.sequences if s.program == p),
    )
    assert all(s.validated for s in library.sequences[:2])
    assert library.built["programs"] == ["quicksort", "crc32"]
    for sequence in library.sequences:
        passes = [f"-{ACTION_FLAGS[a]}" for a in sequence.actions]
        assert _replay(sequence.program, passes)[0] == sequence.ir

    # On the program it came from, the library's best sequence is where the search starts:
    # with enough steps for the policy's episode and the library (and growing a tree node from
    # each), nothing worse comes out.
    guide = load_guide(export)
    best = library.sequences[0]
    env = make_search_env(guide, best.program)
    try:
        steps = 2 * (guide.episode_length + sum(len(s.actions) for s in library.sequences))
        result = guided_search(env, guide, Budget(steps=steps))
    finally:
        env.close()
    assert result.sequences_tried == len(library.sequences)
    assert result.ir_instructions <= best.ir and result.validation.valid
    assert result.sequence_ir <= best.ir

    # `policy-only:` runs the same search without the library.
    env = make_search_env(guide, best.program)
    try:
        alone = guided_search(env, guide, Budget(steps=50), sequences=())
    finally:
        env.close()
    assert alone.sequences_tried == 0 and alone.sequence_ir == 0
    methods = parse_methods(f"policy:{export},policy-only:{export},random")
    assert [(m.label, m.library) for m in methods] == [
        ("policy", True),
        ("policy-only", False),
        ("random", True),
    ]


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ("{not json", "malformed sequence library"),
        ('{"format": 1, "task": "cartpole", "n_actions": 124, "sequences": []}', "task cartpole"),
        ('{"format": 1, "task": "llvm-codesize", "n_actions": 2, "sequences": []}', "2 actions"),
        (
            '{"format": 1, "task": "llvm-codesize", "n_actions": 124, "sequences": '
            '[{"actions": [500], "program": "x", "ir": 1, "metric": 1, "validated": true}]}',
            "outside 0..123",
        ),
    ],
)
def test_a_bad_sequence_library_is_a_one_line_error(
    document: str, expected: str, policy_dir: Path, tmp_path: Path
) -> None:
    export = tmp_path / "best"
    shutil.copytree(policy_dir, export)
    (export / "sequences.json").write_text(document)
    with pytest.raises(ValueError, match=expected):
        load_guide(export)
    proc = _cli(
        "optimize", "lcs", "--policy", str(export), "--budget", "1", "-o", str(tmp_path / "o")
    )
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (("--budget", "0"), "--budget must be > 0"),
        (("--programs", "no_such_program"), "no_such_program"),
        (("--jobs", "0"), "--jobs must be >= 1"),
    ],
)
def test_library_command_bad_inputs(args: tuple[str, ...], expected: str, policy_dir: Path) -> None:
    proc = _cli("library", "--policy", str(policy_dir), "--programs", "crc32", *args)
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and expected in lines[0], lines
    assert not (policy_dir / "sequences.json").exists()
