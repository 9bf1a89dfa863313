"""Benchmarks: the built-in suite, user files and directories, generators, and bad input."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from supersonic.envs.errors import (
    CompileError,
    EmptyProgramError,
    NotIrError,
    ProgramNotFoundError,
    ProgramTooLargeError,
)
from supersonic.envs.llvm.benchmarks import (
    BUILTIN_PREFIX,
    SPLITS,
    builtin_dataset,
    csmith_benchmark,
    directory_dataset,
    llvm_stress_benchmark,
    resolve_benchmark,
    resolve_dataset,
)
from supersonic.envs.llvm.bitcode import prepare_file


def test_builtin_suite_has_at_least_30_programs_in_three_splits() -> None:
    data = builtin_dataset()
    assert len(data.benchmarks) >= 30
    assert len({b.uri for b in data.benchmarks}) == len(data.benchmarks)
    for split in SPLITS:
        assert len(data.split(split)) >= 5
    for bench in data.benchmarks:
        assert bench.uri.startswith(BUILTIN_PREFIX)
        assert bench.path is not None and bench.path.is_file()


def test_every_builtin_program_has_main_and_a_realistic_size() -> None:
    for bench in builtin_dataset().benchmarks:
        program = bench.prepare()
        assert program.has_main, bench.uri
        assert 300 <= program.ir_instructions <= 5000, (bench.uri, program.ir_instructions)


@pytest.mark.parametrize("spec", ["quicksort", f"{BUILTIN_PREFIX}quicksort"])
def test_resolve_builtin_by_name_or_uri(spec: str) -> None:
    assert resolve_benchmark(spec).uri == f"{BUILTIN_PREFIX}quicksort"


def test_resolve_file_path_and_file_uri(data_dir: Path) -> None:
    path = data_dir / "no_main.ll"
    by_path = resolve_benchmark(str(path))
    by_uri = resolve_benchmark(path.resolve().as_uri())
    assert by_path == by_uri
    assert by_path.kind == "ll"


def test_directory_dataset_uses_split_subdirectories(tmp_path: Path) -> None:
    source = builtin_dataset().benchmarks[0].path
    assert source is not None
    for split in ("train", "validation", "test"):
        (tmp_path / split).mkdir()
        shutil.copy(source, tmp_path / split / f"prog_{split}.c")
    shutil.copy(source, tmp_path / "loose.c")
    (tmp_path / "notes.txt").write_text("ignored")
    data = directory_dataset(tmp_path)
    assert len(data.benchmarks) == 4
    for split in ("train", "validation", "test"):
        assert f"prog_{split}.c" in [b.name for b in data.split(split)]
    assert data == resolve_dataset(str(tmp_path))  # the same from its spec string


def test_generators_are_reproducible_from_their_seed() -> None:
    for make in (llvm_stress_benchmark, csmith_benchmark):
        first = make(3).prepare()
        again = make(3).prepare()
        other = make(4).prepare()
        assert first.sha256 == again.sha256
        assert first.sha256 != other.sha256
    assert resolve_benchmark("generator://llvm-stress-v0/3") == llvm_stress_benchmark(3)
    assert resolve_benchmark("generator://csmith-v0/3") == csmith_benchmark(3)
    sized = resolve_benchmark("generator://llvm-stress-v0/3?size=50")
    assert sized.size == 50 and sized.uri.endswith("?size=50")


def test_generator_datasets_from_seed_ranges() -> None:
    data = resolve_dataset("llvm-stress:0-19")
    assert len(data.benchmarks) == 20
    assert {b.split for b in data.benchmarks} == set(SPLITS)


# ------------------------------------------------------------------------------ bad input
def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ProgramNotFoundError, match="no such file"):
        resolve_benchmark(str(tmp_path / "nope.c"))


def test_empty_file_is_a_clear_error(tmp_path: Path) -> None:
    empty = tmp_path / "empty.c"
    empty.write_text("")
    with pytest.raises(EmptyProgramError, match="empty"):
        prepare_file(empty)


def test_c_that_does_not_compile_names_the_file_and_error(data_dir: Path) -> None:
    with pytest.raises(CompileError) as info:
        prepare_file(data_dir / "broken.c")
    message = str(info.value)
    assert "broken.c" in message and "error" in message and "\n" not in message


@pytest.mark.parametrize("name", ["not_ir.ll", "not_bitcode.bc"])
def test_files_that_are_not_ir_are_refused(data_dir: Path, name: str) -> None:
    with pytest.raises(NotIrError) as info:
        prepare_file(data_dir / name)
    assert name in str(info.value) and "\n" not in str(info.value)


def test_program_over_the_size_limit_is_refused() -> None:
    with pytest.raises(ProgramTooLargeError, match="over the limit of 100"):
        resolve_benchmark("quicksort").prepare(max_instructions=100)


def test_unknown_names_uris_and_datasets() -> None:
    with pytest.raises(ProgramNotFoundError, match="supersonic benchmarks"):
        resolve_benchmark("no_such_program")
    with pytest.raises(ProgramNotFoundError, match="unknown generator"):
        resolve_benchmark("generator://nothing-v0/1")
    with pytest.raises(ProgramNotFoundError, match="unknown benchmark URI"):
        resolve_benchmark("http://example.invalid/x.c")
    with pytest.raises(ProgramNotFoundError, match="unknown dataset"):
        resolve_dataset("no-such-dataset")
    with pytest.raises(ValueError, match="seed range"):
        resolve_dataset("csmith:9-1")
