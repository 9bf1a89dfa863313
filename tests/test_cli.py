"""The `supersonic` command as a user runs it: real subprocesses, output and exit status."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SUPERSONIC = [sys.executable, "-m", "supersonic"]


def run(
    *args: str, env: dict[str, str] | None = None, timeout: float = 300
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*SUPERSONIC, *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        cwd=ROOT,
        check=False,
    )


def test_benchmarks_lists_uri_split_and_size() -> None:
    proc = run("benchmarks", "--task", "llvm-codesize", "--split", "validation")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert len(lines) >= 5
    for line in lines:
        uri, split, size = line.split("\t")
        assert uri.startswith("benchmark://supersonic-builtin-v0/")
        assert split == "validation"
        assert int(size) > 0


def test_benchmarks_of_a_generator_dataset() -> None:
    proc = run("benchmarks", "--dataset", "llvm-stress:0-2")
    assert proc.returncode == 0, proc.stderr
    assert [line.split("\t")[0] for line in proc.stdout.splitlines()] == [
        f"generator://llvm-stress-v0/{seed}" for seed in range(3)
    ]


def test_actions_lists_124_passes() -> None:
    proc = run("actions")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert len(lines) == 124 and lines[0] == "0\t-add-discriminators"


def test_baseline_prints_the_table_and_writes_json(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    proc = run(
        "baseline",
        "--program",
        "nqueens",
        "--program",
        "base64",
        "--method",
        "random",
        "--method",
        "greedy",
        "--steps",
        "300",
        "--jobs",
        "2",
        "--json",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr
    assert "geomean of 2" in proc.stdout
    assert proc.stdout.count("nqueens") == 2
    results = json.loads(out.read_text())
    assert {(r["benchmark"].rsplit("/", 1)[-1], r["method"]) for r in results} == {
        ("nqueens", "random"),
        ("nqueens", "greedy"),
        ("base64", "random"),
        ("base64", "greedy"),
    }
    for r in results:
        assert r["env_steps"] <= 300
        assert r["validation"]["valid"] is True
        assert r["metric"] == pytest.approx(
            (r["baselines"]["ir_o0"] - r["ir_instructions"])
            / max(r["baselines"]["ir_o0"] - r["baselines"]["ir_oz"], 1)
        )


@pytest.mark.parametrize(
    ("program", "expected"),
    [
        ("missing.c", "no such file"),
        ("tests/data/broken.c", "broken.c"),
        ("tests/data/not_ir.ll", "not_ir.ll"),
        ("tests/data/not_bitcode.bc", "not LLVM bitcode"),
        ("no_such_builtin", "supersonic benchmarks"),
    ],
)
def test_bad_programs_get_a_one_line_error(program: str, expected: str) -> None:
    proc = run("baseline", "--program", program, "--steps", "10")
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ")
    assert expected in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1
    assert "Traceback" not in proc.stderr


def test_empty_program_gets_a_one_line_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.ll"
    empty.write_text("")
    proc = run("baseline", "--program", str(empty), "--steps", "10")
    assert proc.returncode == 2 and "empty" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_program_over_the_size_limit_gets_a_one_line_error() -> None:
    proc = run("baseline", "--program", "nqueens", "--steps", "10", "--max-instructions", "50")
    assert proc.returncode == 2
    assert "over the limit of 50" in proc.stderr and "nqueens" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_bad_budget_gets_a_one_line_error() -> None:
    proc = run("baseline", "--program", "nqueens", "--steps", "0")
    assert proc.returncode == 2 and "budget" in proc.stderr


def test_baseline_on_another_task_points_to_evaluate() -> None:
    proc = run("baseline", "--task", "tvm-schedule", "--steps", "10")
    assert proc.returncode == 2 and proc.stderr.startswith("error: ")
    assert "supersonic evaluate --task tvm-schedule" in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


def test_doctor_passes_on_this_machine() -> None:
    proc = run("doctor")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "FAIL" not in proc.stdout


def test_doctor_names_what_is_missing_and_how_to_fix_it() -> None:
    # Hide the LLVM 14 tools (keep this Python): the doctor must fail and give the apt command.
    env = dict(os.environ, PATH=str(Path(sys.executable).parent))
    proc = run("doctor", env=env)
    assert proc.returncode == 1
    assert "FAIL  llvm-14 tools" in proc.stdout
    assert "apt-get install -y clang-14 llvm-14" in proc.stdout


def test_tasks_lists_every_task_and_its_search_space() -> None:
    proc = run("tasks")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    for expected in (
        "task llvm-codesize",
        "task cartpole",
        "autophase",
        "ir_opcode_seq",
        "token ids",
        "ir_text_mix",
        "tan_shaped",
        "join names with '+'",
        "encoder",
        "rho_bar",
        "per_alpha",
        "gae_lambda",
    ):
        assert expected in out, expected
    one = run("tasks", "--task", "cartpole")
    assert one.returncode == 0 and "llvm-codesize" not in one.stdout
    bad = run("tasks", "--task", "nope")
    assert bad.returncode == 2
    assert bad.stderr.strip() == (
        "error: unknown task 'nope'; choose one of llvm-codesize, cartpole, tvm-schedule, "
        "halide-schedule, superopt, or give pkg.module:task"
    )
