"""Every algorithm trained through the real runtime: CartPole-v1, then the LLVM task.

1. CartPole-v1 (task `cartpole`): for each algorithm, a `supersonic launch` with one candidate,
   one learner process and 2 actor processes talking over ZeroMQ. The learner logs the mean
   return of the last 20 training episodes at each update; this prints it at 50k, 100k, 200k
   and 300k env steps. Target: at least 400 by 300k steps for PPO, A2C, DQN and IMPALA
   (published single-process implementations pass 450 on this environment).
2. The LLVM code-size task: one launch with a candidate per algorithm (Autophase, ir_oz) and a
   fixed step budget each; their final leaderboard metric (geomean over the validation
   programs) next to random search with the same env steps.

The CartPole hyperparameters below are this bench's settings for a small, fast problem; the
algorithms' declared defaults are tuned for the LLVM task.

    .venv/bin/python bench/algorithms.py [--quick] [--algorithms ppo,dqn] [--skip-llvm]

`--quick` runs 20k CartPole steps per algorithm and the LLVM part with only the first two
algorithms and a tiny budget: the same code path, reporting the marks it reaches; the 400
target is only judged at 300k, so `met` is false then.
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
ALGORITHMS = ("ppo", "a2c", "dqn", "impala")
MARKS = (50_000, 100_000, 200_000, 300_000)
QUICK_MARKS = (5_000, 10_000, 20_000)
TARGET_RETURN = 400.0

CARTPOLE_HPARAMS: dict[str, dict[str, Any]] = {
    "ppo": {"rollout_steps": 512, "minibatch_size": 128, "epochs": 10, "lr": 1e-3, "ent_coef": 0.0},
    "a2c": {"lr": 1e-3, "ent_coef": 0.0, "gae_lambda": 0.95, "gamma": 0.98, "hidden": "128,128"},
    "dqn": {
        "lr": 2.5e-4,
        "hidden": "128,128",
        "learning_starts": 1000,
        "train_every": 64,
        "gradient_steps": 16,
        "target_update": 1,
        "tau": 0.005,
        "eps_decay_steps": 20_000,
        "eps_end": 0.02,
    },
    "impala": {"lr": 1e-3, "ent_coef": 0.0},
}


def toml_value(value: Any) -> str:
    return json.dumps(value) if isinstance(value, str) else repr(value)


def candidate_block(algorithm: str, state_fn: str, reward_fn: str, hparams: dict[str, Any]) -> str:
    inline = ", ".join(f"{k} = {toml_value(v)}" for k, v in hparams.items())
    return (
        f'[[candidates]]\nalgorithm = "{algorithm}"\nstate_fn = "{state_fn}"\n'
        f'reward_fn = "{reward_fn}"\nhyperparameters = {{ {inline} }}\n'
    )


def launch(config_text: str, run_dir: Path, timeout_s: float) -> dict[str, Any]:
    config = run_dir.with_suffix(".toml")
    config.write_text(config_text)
    proc = subprocess.run(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout_s,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"launch failed ({proc.returncode}): {proc.stderr[-2000:]}")
    results: dict[str, Any] = json.loads((run_dir / "results.json").read_text())
    return results


def returns_at_marks(
    events_file: Path, learner: str, marks: tuple[int, ...]
) -> dict[int, float | None]:
    """The learner's mean return of the last 20 training episodes as of each mark: from its
    last update with at most that many transitions received (the learner stops taking
    transitions at the budget, so the last update falls just short of the last mark).
    `events_file`: the run's events.jsonl; `learner`: the learner's id."""
    found: dict[int, float | None] = dict.fromkeys(marks)
    for line in events_file.read_text().splitlines():
        try:
            event = json.loads(line)
        except ValueError:  # a line cut short by a process killed mid-write
            continue
        if event.get("id") != learner or event.get("event") != "learner_update":
            continue
        if event.get("return_last20") is None:
            continue
        for mark in marks:
            if event["received"] <= mark:
                found[mark] = float(event["return_last20"])
    return found


def cartpole(algorithm: str, steps: int, marks: tuple[int, ...], work: Path) -> dict[str, Any]:
    name = f"cartpole-{algorithm}"
    config = (
        f'[run]\nname = "{name}"\ntask = "cartpole"\nactors = 2\nseed = 1\n'
        f"steps_per_candidate = {steps}\nbatch_size = 64\nbaseline_random = false\n\n"
        + candidate_block(algorithm, "raw", "env", CARTPOLE_HPARAMS[algorithm])
    )
    started = time.monotonic()
    results = launch(config, work / name, timeout_s=1800)
    candidate = results["candidates"][0]
    at = returns_at_marks(
        work / name / "events.jsonl", f"learner-{candidate['spec']['name']}", marks
    )
    row = {
        "algorithm": algorithm,
        "returns": {str(mark): at[mark] for mark in marks},
        "final_eval": candidate["scores"].get("final", {}).get("score"),
        "env_steps": candidate["env_steps"],
        "seconds": round(time.monotonic() - started, 1),
    }
    shown = "  ".join(
        f"{mark // 1000}k: {'-' if v is None else f'{v:6.1f}'}" for mark, v in at.items()
    )
    print(f"cartpole {algorithm:<7} {shown}  eval {row['final_eval']}  ({row['seconds']} s)")
    return row


def llvm(
    algorithms: tuple[str, ...], steps: int, episode_length: int, work: Path
) -> dict[str, Any]:
    config = (
        f'[run]\nname = "llvm-algorithms"\ntask = "llvm-codesize"\nactors = 2\nseed = 0\n'
        f"steps_per_candidate = {steps}\nepisode_length = {episode_length}\nbatch_size = 64\n\n"
        + "\n".join(candidate_block(a, "autophase", "ir_oz", {}) for a in algorithms)
    )
    results = launch(config, work / "llvm", timeout_s=3600)
    scores = {
        c["spec"]["algorithm"]: c["scores"].get("final", {}).get("score")
        for c in results["candidates"]
    }
    random = results.get("random_search", {})
    for algorithm, score in scores.items():
        print(f"llvm {algorithm:<7} final metric {score}")
    print(f"llvm random search, same env steps ({random.get('env_steps')}): {random.get('score')}")
    return {
        "llvm_steps_per_candidate": steps,
        "llvm_episode_length": episode_length,
        "llvm_final": scores,
        "llvm_random_search": random.get("score"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="small sizes (< 60 s)")
    parser.add_argument("--algorithms", default=",".join(ALGORITHMS))
    parser.add_argument("--skip-llvm", action="store_true")
    parser.add_argument(
        "--cartpole-hparams",
        default="{}",
        help="JSON: replace the CartPole settings of some algorithms, e.g. "
        '\'{"a2c": {"lr": 5e-4}}\'',
    )
    args = parser.parse_args()
    CARTPOLE_HPARAMS.update(json.loads(args.cartpole_hparams))
    algorithms = tuple(a for a in args.algorithms.split(",") if a)
    unknown = set(algorithms) - set(ALGORITHMS)
    if unknown:
        parser.error(f"unknown algorithm(s) {', '.join(sorted(unknown))}")
    marks = QUICK_MARKS if args.quick else MARKS
    steps = marks[-1]
    out: dict[str, Any] = {"bench": "algorithms", "quick": args.quick}
    with tempfile.TemporaryDirectory(prefix="bench-algorithms-") as tmp:
        work = Path(tmp)
        rows = [cartpole(a, steps, marks, work) for a in algorithms]
        for row in rows:
            for mark, value in row["returns"].items():
                out[f"cartpole_{row['algorithm']}_return_at_{int(mark) // 1000}k"] = value
            out[f"cartpole_{row['algorithm']}_final_eval"] = row["final_eval"]
        if not args.skip_llvm:
            # --quick: two candidates, tiny budget (the four would take ~40 s on their own).
            steps, length = (200, 10) if args.quick else (20_000, 25)
            out.update(llvm(algorithms[:2] if args.quick else algorithms, steps, length, work))
    last = [row["returns"][str(MARKS[-1])] for row in rows] if not args.quick else []
    out["target"] = (
        f"mean return of the last 20 CartPole episodes >= {TARGET_RETURN:g} by 300k env steps "
        "for PPO, A2C, DQN and IMPALA, trained through the runtime (learner + 2 actors)"
    )
    out["met"] = (
        not args.quick
        and set(algorithms) == set(ALGORITHMS)
        and all(v is not None and v >= TARGET_RETURN for v in last)
    )
    print(json.dumps(out))


if __name__ == "__main__":
    main()
