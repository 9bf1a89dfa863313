"""The superopt env with its real parts: clang-14, keystone, unicorn, llvm-mca, z3 and native
execution. Moves keep programs assemblable (by keystone and by LLVM's assembler), the emulator
computes what the CPU computes, z3 proves and refutes, the env follows the gymnasium API, and
bad input is refused in one line."""

from __future__ import annotations

import subprocess

import gymnasium
import numpy as np
import pytest
from click.testing import CliRunner
from gymnasium.utils.env_checker import check_env

from supersonic.envs import SUPEROPT_ID
from supersonic.envs.errors import InvalidActionError, ProgramNotFoundError
from supersonic.envs.superopt.asm import parse_listing, render
from supersonic.envs.superopt.assemble import assemble
from supersonic.envs.superopt.compile import compiled
from supersonic.envs.superopt.emulate import Emulator, Inputs, make_inputs
from supersonic.envs.superopt.env import SuperoptEnv
from supersonic.envs.superopt.features import OBSERVATIONS
from supersonic.envs.superopt.functions import FUNCTIONS, resolve_functions
from supersonic.envs.superopt.moves import MAX_SLOTS, MOVE_KINDS, Pools, apply_move, body_of
from supersonic.envs.superopt.moves import slots_of as to_slots
from supersonic.envs.superopt.native import run_native
from supersonic.envs.superopt.verify import prove_equivalent
from supersonic.launch.cli import main

ABS_O3_BY_HAND = "mov eax, edi; neg eax; cmovs eax, edi"
ABS_WRONG = "mov eax, edi; neg eax; cmovg eax, edi"  # wrong for x = 0x40000000, say


def test_every_benchmark_is_straight_line_code_that_fits_and_runs() -> None:
    assert len(FUNCTIONS) >= 25
    emulator = Emulator()
    for function in FUNCTIONS:
        body = compiled(function.name, "O0")
        assert 0 < len(body) <= MAX_SLOTS, function.name
        code = assemble(body)
        assert code is not None, function.name
        outcomes = emulator.run(code, make_inputs(4, 0, function.arity))
        assert all(o.value is not None and o.preserved for o in outcomes), function.name


def test_every_move_keeps_the_program_assemblable() -> None:
    """Random moves of every kind (no undo: incorrect programs too) on four functions; every
    program assembles with keystone, and the last ones also with LLVM's assembler."""
    rng = np.random.default_rng(0)
    finals = []
    for name in ("abs", "min", "popcount", "cmp3"):
        start = compiled(name, "O0")
        slots, pools = to_slots(start), Pools.of(start)
        changed = 0
        for _ in range(120):
            kind = MOVE_KINDS[int(rng.integers(len(MOVE_KINDS)))]
            changed += apply_move(slots, kind, int(rng.integers(MAX_SLOTS)), pools, rng).changed
            assert assemble(body_of(slots)) is not None, body_of(slots)
        assert changed > 60, name  # the moves do move
        finals.append(body_of(slots))
    text = "".join(render(body, f"f{i}") for i, body in enumerate(finals))
    proc = subprocess.run(
        ["llvm-mc", "-triple=x86_64-unknown-linux-gnu", "-filetype=obj", "-o", "/dev/null"],
        input=text,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr


def test_nop_on_a_push_removes_its_pop_too() -> None:
    start = compiled("mul10", "O0")  # push rbp; mov rbp, rsp; ...; pop rbp
    slots, pools = to_slots(start), Pools.of(start)
    result = apply_move(slots, "nop", 0, pools, np.random.default_rng(0))
    assert result.changed and "pop" in result.description
    assert [i.opcode for i in body_of(slots)] == [i.opcode for i in start[1:-1]]


def test_emulation_matches_native_execution_on_random_inputs() -> None:
    """-O0, -O3 and a rewrite the env made, in unicorn and on this CPU, on fresh inputs."""
    env = SuperoptEnv("min", max_episode_steps=40)
    env.reset(seed=3)
    for _ in range(40):
        env.step(MOVE_KINDS.index("forward") if env.rng.random() < 0.5 else 0)
    rewrite = env.body()
    assert env.current is not None and env.current.correct
    inputs = make_inputs(40, seed=99, arity=2)
    emulator = Emulator()
    for body in (compiled("min", "O0"), compiled("popcount", "O3"), rewrite):
        code = assemble(body)
        assert code is not None
        emulated = [o.value for o in emulator.run(code, inputs)]
        native = run_native(body, inputs.x, inputs.y)
        assert native.values == emulated, (body, native.error)


def test_z3_proves_a_known_equivalent_rewrite_and_refutes_a_wrong_one() -> None:
    original = compiled("abs", "O0")
    assert prove_equivalent(original, parse_listing(ABS_O3_BY_HAND)).status == "proved"
    wrong = prove_equivalent(original, parse_listing(ABS_WRONG))
    assert wrong.status == "refuted" and "differs at" in wrong.detail
    # the counterexample is real: the emulator sees the two differ there
    x = int(wrong.detail.split("x=")[1].split(",")[0])
    emulator = Emulator()
    inputs = Inputs((x,), (0,))
    ref, bad = (
        emulator.run(assemble(b) or b"", inputs)[0].value
        for b in (original, parse_listing(ABS_WRONG))
    )
    assert ref != bad
    clobber = prove_equivalent(
        original, parse_listing("mov qword ptr [rsp + 8], rdi; " + ABS_O3_BY_HAND)
    )
    assert clobber.status == "refuted" and "caller" in clobber.detail
    outside = prove_equivalent(original, parse_listing("mov eax, edi; cdq; idiv ecx"))
    assert outside.status == "unsupported" and "test-equivalent only" in outside.label


def test_an_episode_follows_the_gym_api_and_keeps_its_best_correct_program() -> None:
    env = gymnasium.make(SUPEROPT_ID, benchmark="mul10", observation=tuple(OBSERVATIONS))
    obs, info = env.reset(seed=0)
    assert set(obs) == set(OBSERVATIONS)
    o0, start_cost = info["baselines"].o0_cycles, info["cost"]
    assert info["cycles"] == o0 and info["correct"]
    total = 0.0
    for i in range(12):
        obs, reward, terminated, _, info = env.step(MOVE_KINDS.index("forward") if i % 2 else 0)
        assert env.observation_space.contains(obs)
        assert not terminated
        total += reward
    assert info["correct"]  # incorrect moves are undone by default
    assert info["best_cycles"] < o0  # forwarding the spilled argument pays
    # the env's rewards telescope: their sum is the drop in cost over the -O0 cost
    assert total == pytest.approx((start_cost - info["cost"]) / info["baselines"].o0_cost)
    with pytest.raises(InvalidActionError):
        env.step(len(MOVE_KINDS))
    env.close()
    check_env(SuperoptEnv("gray", observation=tuple(OBSERVATIONS)), skip_render_check=True)


def test_bad_input_is_refused_in_one_line() -> None:
    with pytest.raises(ProgramNotFoundError, match="supersonic benchmarks --task superopt"):
        SuperoptEnv("no-such-function")
    with pytest.raises(ValueError, match="train, validation or test"):
        resolve_functions("builtin:nope")
    runner = CliRunner()
    result = runner.invoke(
        main, ["evaluate", "--task", "superopt", "--programs", "abs", "--methods", "magic"]
    )
    assert result.exit_code == 2
    assert result.output.strip().startswith("error: unknown method 'magic'")
    assert len(result.output.strip().splitlines()) == 1


def test_evaluate_prints_the_table_with_baselines_and_mcmc(tmp_path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        [
            "evaluate",
            "--task",
            "superopt",
            "--programs",
            "mul10",
            "--methods",
            "O0,O3,mcmc",
            "--trials",
            "40",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    rows = [line for line in result.output.splitlines() if line.startswith("| mul10 |")]
    assert [r.split("|")[2].strip() for r in rows] == ["O0", "O3", "mcmc"]
    assert all("proved equivalent (z3)" in r for r in rows)
    o3_speedup = float(rows[1].split("|")[4])
    assert o3_speedup > 2.0  # -O3 is far fewer estimated cycles than -O0
    assert (tmp_path / "evaluation.json").exists()
