"""Steps/s of SuperSonic's LLVM env against raw CompilerGym on the same module and actions.

Both envs run the same seeded action sequence on the same bitcode and compute the same
observations (Autophase, plus the IR instruction count for the reward); episodes alternate
between the two so that machine noise hits both alike. Target: our overhead under 10%.

    .venv/bin/python bench/llvm_env.py [--quick] [--program NAME]
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from supersonic.envs.llvm.actions import NUM_ACTIONS
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.service import make_benchmark, make_session


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer episodes (< 60 s)")
    parser.add_argument("--program", default="expr_parser", help="built-in program or path")
    parser.add_argument("--episode-length", type=int, default=50)
    args = parser.parse_args()
    rounds = 6 if args.quick else 40

    ours = LlvmCodeSizeEnv(args.program, max_episode_steps=args.episode_length)
    raw = make_session(
        make_benchmark(f"benchmark://user-v0/{ours.program.sha256[:32]}", ours.program.bitcode),
        rpc_timeout_s=60.0,
    )
    rng = np.random.default_rng(0)
    episodes = [rng.integers(NUM_ACTIONS, size=args.episode_length).tolist() for _ in range(rounds)]

    def run_raw(actions: list[int]) -> tuple[float, int]:
        started = time.perf_counter()
        raw.reset()
        count = 0
        for a in actions:
            (_, count), _, _, _ = raw.step(
                a, observation_spaces=["Autophase", "IrInstructionCount"]
            )
        return time.perf_counter() - started, int(count)

    def run_ours(actions: list[int]) -> tuple[float, int]:
        started = time.perf_counter()
        ours.reset()
        for a in actions:
            ours.step(a)
        return time.perf_counter() - started, ours.ir_instruction_count

    run_raw(episodes[0])  # warm both services and caches
    run_ours(episodes[0])
    raw_s = ours_s = 0.0
    mismatches = 0
    for i, actions in enumerate(episodes):
        order = (run_raw, run_ours) if i % 2 == 0 else (run_ours, run_raw)
        results = {fn.__name__: fn(actions) for fn in order}
        raw_s += results["run_raw"][0]
        ours_s += results["run_ours"][0]
        mismatches += results["run_raw"][1] != results["run_ours"][1]
    ours.close()
    raw.close()

    steps = rounds * args.episode_length
    overhead = ours_s / raw_s - 1.0
    print(
        f"program {args.program}: {steps} steps each ({rounds} episodes of {args.episode_length})"
    )
    print(f"  raw CompilerGym : {steps / raw_s:8.1f} steps/s")
    print(f"  supersonic env  : {steps / ours_s:8.1f} steps/s")
    print(f"  overhead        : {overhead * 100:+.1f}%   (final counts differing: {mismatches})")
    print(
        json.dumps(
            {
                "bench": "llvm_env",
                "program": args.program,
                "steps": steps,
                "raw_steps_per_s": round(steps / raw_s, 1),
                "ours_steps_per_s": round(steps / ours_s, 1),
                "overhead": round(overhead, 4),
                "count_mismatches": mismatches,
                "target": "wrapper overhead under 10% of raw CompilerGym steps/s, same results",
                "met": overhead < 0.10 and mismatches == 0,
            }
        )
    )


if __name__ == "__main__":
    main()
