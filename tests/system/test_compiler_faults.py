"""Compiler faults: a pass sequence whose optimized build changes the program's behaviour must
never end up as a best result.

`data/overflow_ub.c` relies on signed overflow (undefined behaviour): at -O0 `INT_MAX + 1 >
INT_MAX` wraps and prints 0; after `mem2reg instcombine` the comparison is folded to true and it
prints 1. The real LLVM validation (replay the passes, build, run, compare with -O0) catches it
after the run; the ledger then puts the best offer that has not failed in its place and keeps
the verdict. A hung compile step (SIGSTOPped service) and a crashed one (SIGKILLed service) cost
their step a penalty and end the episode: tests/test_env.py checks that on the env the actors
run, and an actor logs `env_failure` for each (see docs/reliability.md).
"""

from __future__ import annotations

from pathlib import Path

from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.launch.config import RunPaths, load_config
from supersonic.launch.launcher import validate_best_results
from supersonic.launch.ledger import Ledger

PROGRAM = str(Path(__file__).with_name("data") / "overflow_ub.c")


def replay(passes: list[str]) -> dict[str, object]:
    """What an evaluation records for `passes` on PROGRAM (its details)."""
    env = LlvmCodeSizeEnv(PROGRAM, max_episode_steps=max(1, len(passes)))
    try:
        _, info = env.reset()
        for name in passes:
            _, _, _, _, info = env.step(name)
        return {"passes": " ".join(passes), "ir": info["ir_instruction_count"]}
    finally:
        env.close()


def test_a_miscompiled_best_result_gives_way_to_the_best_valid_one(tmp_path: Path) -> None:
    config_file = tmp_path / "run.toml"
    config_file.write_text(
        '[run]\ntask = "llvm-codesize"\n[[candidates]]\nalgorithm = "ppo"\n'
        'state_fn = "autophase"\nreward_fn = "ir_oz"\n'
    )
    config = load_config(config_file)
    paths = RunPaths(tmp_path / "run")
    miscompiled = replay(["mem2reg", "instcombine"])
    valid = replay(["mem2reg"])
    assert miscompiled["ir"] < valid["ir"]  # the miscompile is the smaller module
    with Ledger(paths.ledger) as ledger:
        ledger.offer_best(PROGRAM, "plain", 1, 0.4, valid)
        assert ledger.offer_best(PROGRAM, "clever", 3, 0.9, miscompiled)
        assert ledger.best_results()[0]["candidate"] == "clever"
    said: list[str] = []
    best = validate_best_results(config, paths, said.append)
    assert [(b["candidate"], b["metric"]) for b in best] == [("plain", 0.4)]
    assert best[0]["validation"].startswith("valid"), best
    assert said == [
        f"best result for {PROGRAM}: INVALID: prints different output from the -O0 build"
    ]
    with Ledger(paths.ledger) as ledger:
        (rejected,) = ledger.rejected_results()
        assert rejected["candidate"] == "clever" and rejected["validation"].startswith("INVALID")
        # Offered again later (e.g. by an evaluation after a resume): refused.
        assert not ledger.offer_best(PROGRAM, "clever", 3, 0.9, miscompiled)
        assert [b["candidate"] for b in ledger.best_results()] == ["plain"]
