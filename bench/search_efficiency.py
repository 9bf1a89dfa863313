"""Search strategies side by side: ASHA and the UCB bandit against exhaustive search.

One run per strategy, each a real `supersonic launch` (supervisor, learners, 2 actors) with the
same candidates (a [space] product), the same programs and the same maximum budget per
candidate. Exhaustive trains every candidate to the maximum budget. Printed for each: env steps
spent (all candidates together), wall time, the winner and its validation score.

Target: ASHA spends at most a quarter of exhaustive's env steps, and its winner scores within 2%
of exhaustive's best candidate.

    .venv/bin/python bench/search_efficiency.py [--quick] [--task llvm-codesize|cartpole]

The default task is CartPole with 16 candidates sampled from the algorithms' declared
hyperparameter spaces: its scores are stable enough at small budgets for a 2% comparison to
mean something (on the LLVM task a candidate's score after a few thousand steps swings by
tens of percent between runs; `--task llvm-codesize` runs it anyway). `--quick`: 4 candidates,
small budgets (same code path).
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

ROOT = Path(__file__).resolve().parents[1]
STRATEGIES = ("exhaustive", "asha", "bandit")

SPACES: dict[str, dict[str, Any]] = {
    # 16 candidates drawn from the declared hyperparameter spaces of three algorithms: a
    # random-search space in which some candidates learn and many do not, ASHA's use case.
    "cartpole": {
        "space": {
            "algorithms": ["ppo", "a2c", "impala"],
            "state_fns": ["raw"],
            "reward_fns": ["env"],
            "sample": 16,
        },
        "quick_sample": 4,
        "max_budget": 40_000,
        "quick_max_budget": 8_000,
        "reduction_factor": 4,
        "quick_reduction_factor": 2,
        "episode_length": 500,
    },
    # 12 candidates: three algorithms x four state functions, one reward.
    "llvm-codesize": {
        "space": {
            "algorithms": ["ppo", "a2c", "impala"],
            "state_fns": ["autophase", "instcount_norm", "ir_token_bag", "action_history"],
            "reward_fns": ["ir_oz"],
            "hyperparameters": {"ppo": {"rollout_steps": 512, "minibatch_size": 128}},
        },
        "quick_sample": 0,
        "max_budget": 8100,
        "quick_max_budget": 900,
        "reduction_factor": 3,
        "quick_reduction_factor": 3,
        "episode_length": 25,
    },
}


def config_text(task: str, strategy: str, quick: bool) -> str:
    setup = SPACES[task]
    pick = (lambda key: setup[f"quick_{key}"]) if quick else (lambda key: setup[key])
    lines = [
        "[run]",
        f'name = "search-{strategy}"',
        f'task = "{task}"',
        "actors = 2",
        "seed = 0",
        f"steps_per_candidate = {pick('max_budget')}",
        f"episode_length = {setup['episode_length']}",
        "batch_size = 64",
        "eval_initial = false",
        "baseline_random = false",
        "",
        "[search]",
        f'strategy = "{strategy}"',
        f"reduction_factor = {pick('reduction_factor')}",
        "",
        "[space]",
    ]
    space = dict(setup["space"])
    if quick and setup["quick_sample"]:
        space["sample"] = setup["quick_sample"]
    fixed = space.pop("hyperparameters", {})
    for key, value in space.items():
        lines.append(f"{key} = {json.dumps(value)}")
    for algorithm, hparams in fixed.items():
        lines.append(f"[space.hyperparameters.{algorithm}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in hparams.items()]
    return "\n".join(lines) + "\n"


def run(task: str, strategy: str, quick: bool, work: Path) -> dict[str, Any]:
    run_dir = work / strategy
    config = work / f"{strategy}.toml"
    config.write_text(config_text(task, strategy, quick))
    started = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=7200,
        check=False,
    )
    seconds = time.monotonic() - started
    if proc.returncode != 0:
        raise RuntimeError(f"{strategy}: launch failed: {proc.stderr[-2000:]}")
    results: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    winner = results["winner"]
    by_name = {c["spec"]["name"]: c for c in results["candidates"]}
    best_final = max(
        (c["scores"]["final"]["score"] for c in results["candidates"] if "final" in c["scores"]),
        default=None,
    )
    row = {
        "strategy": strategy,
        "env_steps": results["env_steps_total"],
        "seconds": round(seconds, 1),
        "winner": winner,
        "winner_score": by_name[winner]["scores"]["final"]["score"] if winner else None,
        "best_score": best_final,
        "candidates": len(results["candidates"]),
        "plan": results["plan"],
    }
    print(
        f"{strategy:<10} env steps {row['env_steps']:>8}  wall {row['seconds']:>7.1f} s  "
        f"winner {winner} ({row['winner_score']})"
    )
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="cartpole, few candidates")
    parser.add_argument("--task", choices=sorted(SPACES), default=None)
    args = parser.parse_args()
    task = args.task or "cartpole"
    with tempfile.TemporaryDirectory(prefix="bench-search-") as tmp:
        rows = {s: run(task, s, args.quick, Path(tmp)) for s in STRATEGIES}
    exhaustive, asha, bandit = rows["exhaustive"], rows["asha"], rows["bandit"]
    steps_ratio = asha["env_steps"] / exhaustive["env_steps"]
    best = exhaustive["best_score"]
    gap = (best - asha["winner_score"]) / abs(best) if best else 0.0
    bandit_gap = (best - bandit["winner_score"]) / abs(best) if best else 0.0
    print(
        json.dumps(
            {
                "bench": "search_efficiency",
                "task": task,
                "quick": args.quick,
                "candidates": exhaustive["candidates"],
                "exhaustive_env_steps": exhaustive["env_steps"],
                "asha_env_steps": asha["env_steps"],
                "bandit_env_steps": bandit["env_steps"],
                "exhaustive_seconds": exhaustive["seconds"],
                "asha_seconds": asha["seconds"],
                "bandit_seconds": bandit["seconds"],
                "exhaustive_best_score": best,
                "asha_winner": asha["winner"],
                "asha_winner_score": asha["winner_score"],
                "bandit_winner": bandit["winner"],
                "bandit_winner_score": bandit["winner_score"],
                "asha_steps_ratio": round(steps_ratio, 4),
                "asha_score_gap": round(gap, 4),
                "bandit_steps_ratio": round(bandit["env_steps"] / exhaustive["env_steps"], 4),
                "bandit_score_gap": round(bandit_gap, 4),
                "target": "ASHA env steps <= 1/4 of exhaustive's, and ASHA's winner within 2% of "
                "exhaustive's best score",
                "met": steps_ratio <= 0.25 and gap <= 0.02,
            }
        )
    )


if __name__ == "__main__":
    main()
