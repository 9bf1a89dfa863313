"""Deployment: the trained policy's guided search against random search at equal time budgets.

On the built-in test split (`builtin:test`, 6 programs no candidate ever trained or was scored
on), each program is optimized by the policy-guided search (`supersonic.actors.guided`: the
policy's own episode, its sequence library, then a tree of rollouts sampled from its action
probabilities), by the same search without the library (`policy-only`: what the policy's own
guidance is worth), and by random search (episodes of 50 uniformly random passes), each with
the same wall-clock budget per program: 5 s, then 30 s. The (program, method) searches run in 2
parallel worker processes, so all methods meet the same machine load. Every reported result is
validated (the optimized program prints what -O0's build prints). Printed: the leaderboard
metric per program side by side, the geomeans, and one JSON line.

Target: the policy is at least as good as random search at both budgets, and better than -Oz
(geomean metric > 1.0) at 30 s.

    .venv/bin/python bench/deploy.py [--policy RUN_DIR/best] [--quick] [--keep DIR]

Without --policy it first trains one with a real `supersonic launch` (supervisor, learner,
2 actors): one PPO candidate (autophase state, ir_oz reward, 20,000 env steps, episodes of 25
passes) on the built-in training programs, then builds its sequence library
(`supersonic.launch.library`: 5 s of guided search on each of the 24 training programs). With
--policy, the library in that directory is used if there is one (`policy` and `policy-only`
are then the same search). `--quick`: 2,000 training steps, a library from 2 training programs
at 1 s each, budgets of 1 s and 3 s, 2 programs (the JSON keys name the budgets used).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from supersonic.envs.llvm.task import resolve_programs
from supersonic.launch.deploy import (
    Evaluation,
    Method,
    evaluate_methods,
    parse_methods,
    resolve_programs_arg,
)
from supersonic.launch.library import build_library

ROOT = Path(__file__).resolve().parents[1]

TEST_SPLIT = "builtin:test"
TRAIN_SPLIT = "builtin:train"
WORKERS = 2
METHODS = ("policy", "policy-only", "random")


def config_text(steps: int) -> str:
    return f"""\
[run]
name = "deploy-bench"
task = "llvm-codesize"
actors = 2
seed = 0
steps_per_candidate = {steps}
episode_length = 25
eval_initial = false
baseline_random = false
# A PPO update on a loaded 2-core machine can keep the learner quiet for seconds.
heartbeat_timeout_s = 30

[[candidates]]
name = "ppo-autophase-ir_oz"
algorithm = "ppo"
state_fn = "autophase"
reward_fn = "ir_oz"
hyperparameters = {{ rollout_steps = 1024, minibatch_size = 128, ent_coef = 0.01, lr = 0.001 }}
"""


def train(work: Path, steps: int) -> tuple[Path, float]:
    """A real `supersonic launch` of the small config; RUN_DIR/best and the seconds it took."""
    config = work / "train.toml"
    config.write_text(config_text(steps))
    run_dir = work / "run"
    print(f"training a policy: supersonic launch ({steps} env steps) into {run_dir}", flush=True)
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=3600,
        check=False,
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0 or not (run_dir / "best").is_dir():
        raise SystemExit(f"training failed (exit {proc.returncode}): {proc.stderr[-2000:]}")
    print(proc.stdout.rstrip(), flush=True)
    return run_dir / "best", seconds


def library(policy: Path, quick: bool) -> tuple[int, float]:
    """Build the policy's sequence library on the training programs: (sequences, seconds)."""
    programs = resolve_programs_arg(TRAIN_SPLIT)[: 2 if quick else None]
    seconds = 1.0 if quick else 5.0
    print(f"building the sequence library: {len(programs)} training programs, {seconds:g} s each")
    started = time.monotonic()
    built, path = build_library(policy, programs, seconds, jobs=WORKERS)
    print(f"  {len(built.sequences)} sequences in {path}", flush=True)
    return len(built.sequences), time.monotonic() - started


def compare(policy: Path, programs: list[str], budget: float, out: Path) -> Evaluation:
    methods: list[Method] = parse_methods(f"policy:{policy},policy-only:{policy},random")
    specs = [spec for p in programs for spec in resolve_programs_arg(p)]

    def progress(row: Any) -> None:
        print(
            f"  {budget:g} s  {row.program:<14} {row.method:<7} metric {row.metric:.3f} "
            f"({row.validation}, {row.env_steps} steps)",
            flush=True,
        )

    return evaluate_methods(specs, methods, budget, jobs=WORKERS, out_dir=out, on_result=progress)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policy", type=Path, default=None, help="RUN_DIR/best (else: train)")
    parser.add_argument(
        "--quick", action="store_true", help="small training, 1 s / 3 s, 2 programs"
    )
    parser.add_argument("--keep", type=Path, default=None, help="keep the run and tables here")
    args = parser.parse_args()
    budgets = (1.0, 3.0) if args.quick else (5.0, 30.0)
    programs = resolve_programs(TEST_SPLIT)[: 2 if args.quick else None]
    with tempfile.TemporaryDirectory(prefix="bench-deploy-") as tmp:
        work = args.keep or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        train_seconds = library_seconds = 0.0
        library_size = 0
        policy = args.policy
        if policy is None:
            policy, train_seconds = train(work, 2000 if args.quick else 20_000)
            library_size, library_seconds = library(policy, args.quick)
        results = {
            budget: compare(policy, programs, budget, work / f"evaluate-{budget:g}s")
            for budget in budgets
        }
    names = [p.rsplit("/", 1)[-1] for p in programs]
    header = f"{'program':<14}" + "".join(
        f"  {m + ' ' + format(b, 'g') + ' s':>17}" for b in budgets for m in METHODS
    )
    print(header)
    print("-" * len(header))
    for name in names:
        cells = ""
        for budget in budgets:
            by_method = {r.method: r for r in results[budget].rows if r.program == name}
            cells += "".join(f"  {by_method[m].metric:>17.3f}" for m in METHODS)
        print(f"{name:<14}{cells}")
    geomeans = {(m, b): results[b].method(m).metric for b in budgets for m in METHODS}
    print(
        f"{'geomean':<14}"
        + "".join(f"  {geomeans[(m, b)]:>17.3f}" for b in budgets for m in METHODS)
    )
    short, long = budgets
    met = (
        geomeans[("policy", short)] >= geomeans[("random", short)]
        and geomeans[("policy", long)] >= geomeans[("random", long)]
        and geomeans[("policy", long)] > 1.0
    )
    line: dict[str, Any] = {"bench": "deploy", "quick": args.quick}
    for budget in budgets:
        for method in METHODS:
            key = method.replace("-", "_")
            line[f"{key}_geomean_{budget:g}s"] = round(geomeans[(method, budget)], 4)
    line.update(
        {
            "programs": names,
            "train_seconds": round(train_seconds, 1),
            "library_sequences": library_size,
            "library_seconds": round(library_seconds, 1),
            "wall_seconds": {f"{b:g}s": round(results[b].wall_seconds, 1) for b in budgets},
            "policy_env_steps": {f"{b:g}s": results[b].method("policy").env_steps for b in budgets},
            "policy_only_env_steps": {
                f"{b:g}s": results[b].method("policy-only").env_steps for b in budgets
            },
            "random_env_steps": {f"{b:g}s": results[b].method("random").env_steps for b in budgets},
            "target": f"policy >= random at {short:g} s and {long:g} s per program, and policy > "
            f"1.0 (better than -Oz) at {long:g} s",
            "met": met,
        }
    )
    print(json.dumps(line))


if __name__ == "__main__":
    main()
