"""C and LLVM 14 IR become bitcode that CompilerGym's LLVM 10 loads, with the same size we count.

This is the real check of the downgrade: every built-in program, csmith output and llvm-stress
output is loaded by CompilerGym's service, and its IrInstructionCount must equal ours.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from supersonic.envs.llvm.benchmarks import (
    builtin_dataset,
    csmith_benchmark,
    file_benchmark,
    llvm_stress_benchmark,
)
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.toolpack import llvm_tool


@pytest.fixture(scope="module")
def env() -> object:
    env = LlvmCodeSizeEnv()
    yield env
    env.close()


def _loads_with_our_count(env: LlvmCodeSizeEnv, bench: object) -> None:
    _, info = env.reset(options={"benchmark": bench})
    assert info["ir_instruction_count"] == env.program.ir_instructions
    baselines = info["baselines"]
    assert baselines.ir_oz < baselines.ir_o0
    assert baselines.text_oz > 0


def test_every_builtin_program_loads_in_compiler_gym(env: LlvmCodeSizeEnv) -> None:
    for bench in builtin_dataset().benchmarks:
        _loads_with_our_count(env, bench)


@pytest.mark.parametrize("seed", range(5))
def test_csmith_programs_load_in_compiler_gym(env: LlvmCodeSizeEnv, seed: int) -> None:
    _loads_with_our_count(env, csmith_benchmark(seed))


@pytest.mark.parametrize("seed", range(3))
def test_llvm_stress_programs_load_in_compiler_gym(env: LlvmCodeSizeEnv, seed: int) -> None:
    _, info = env.reset(options={"benchmark": llvm_stress_benchmark(seed)})
    assert info["ir_instruction_count"] == env.program.ir_instructions


def test_ir_with_llvm14_features_loads(env: LlvmCodeSizeEnv, data_dir: Path) -> None:
    _loads_with_our_count(env, file_benchmark(data_dir / "llvm14_features.ll"))


def test_clang14_bitcode_file_loads(env: LlvmCodeSizeEnv, tmp_path: Path) -> None:
    import subprocess

    source = builtin_dataset().benchmarks[0].path
    bitcode = tmp_path / "prog.bc"
    # How CompilerGym's docs make bitcode: -O0 without optnone (here with debug info, too).
    argv = ["clang-14", "-O0", "-Xclang", "-disable-O0-optnone", "-g", "-c", "-emit-llvm"]
    subprocess.run([*argv, str(source), "-o", str(bitcode)], check=True)
    _loads_with_our_count(env, file_benchmark(bitcode))


def test_c_is_compiled_for_size_so_inline_keeps_multi_caller_functions(
    env: LlvmCodeSizeEnv, data_dir: Path
) -> None:
    """C functions carry clang -Oz's `minsize optsize`, so the `-inline` action decides as -Oz
    does: the once-called function goes, the twice-called loop stays (the default threshold,
    which the old -O1 bitcode got, inlined it too)."""
    import subprocess

    env.reset(options={"benchmark": file_benchmark(data_dir / "inline_for_size.c")})
    for name in ("sroa", "instcombine", "simplifycfg", "inline"):
        env.step(name)
    ir = subprocess.run(
        [str(llvm_tool("llvm-dis")), "-", "-o", "-"],
        input=env.bitcode(),
        capture_output=True,
        check=True,
    ).stdout.decode()
    defined = {
        line.split("@")[1].split("(")[0] for line in ir.splitlines() if line.startswith("define")
    }
    assert defined == {"main", "clamp_sum"}
    assert "minsize" in ir and "optsize" in ir
