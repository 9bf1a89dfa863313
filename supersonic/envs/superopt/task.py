"""The superopt task (`superopt`): state functions, reward functions, datasets, scoring.

Programs are benchmark functions (`functions.py`). A candidate's episode rewrites one
function's -O0 code with STOKE's moves; its score is the estimated speedup (llvm-mca cycles)
of the best test-equivalent program of the episode over the -O0 code, and the task's metric
is the geomean of that over the validation functions. Reward functions see
`fn(before, after, baselines)`: `StepCost` before and after the step and the function's
`SuperoptBaselines`.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.superopt import features
from supersonic.envs.superopt.moves import N_ACTIONS
from supersonic.envs.superopt.search import geomean
from supersonic.envs.task import RewardFunction, StateFunction, Task


@dataclass(frozen=True)
class StepCost:
    """What a reward function sees of the program before or after a step."""

    cost: float  # the STOKE cost (correctness distance and cycles)
    cycles: float  # llvm-mca's estimate of the current program
    best_cycles: float  # of the best test-equivalent program so far in the episode
    correct: bool


def _identity(raw: Any) -> np.ndarray:
    return np.asarray(raw, dtype=np.float32)


STATE_FNS = {
    f.name: f
    for f in (
        StateFunction(
            "opcodes",
            "opcodes",
            features.OBSERVATIONS["opcodes"],
            _identity,
            "the opcode of every slot as a token id (0: empty): a sequence for an encoder",
            seq_len=features.OBSERVATIONS["opcodes"],
            vocab=features.VOCAB_SIZE,
        ),
        StateFunction(
            "cursor",
            "cursor",
            features.OBSERVATIONS["cursor"],
            _identity,
            "the instruction under the cursor: slot features, opcode class, forwardable, "
            "dead store, position",
        ),
        StateFunction(
            "slots",
            "slots",
            features.OBSERVATIONS["slots"],
            _identity,
            "per slot: occupied, opcode class, memory operands, store, width, immediate",
        ),
        StateFunction(
            "summary",
            "summary",
            features.OBSERVATIONS["summary"],
            _identity,
            "length, memory operands, correctness distance, cycles against -O0, best so far, "
            "test-equivalent now, episode progress",
        ),
    )
}


def _cost(before: StepCost, after: StepCost, b: Any) -> float:
    return (before.cost - after.cost) / b.o0_cost


def _best_improvement(before: StepCost, after: StepCost, b: Any) -> float:
    return math.log(before.best_cycles / after.best_cycles)


def _correct_speedup(before: StepCost, after: StepCost, b: Any) -> float:
    if not after.correct:
        return -0.1
    return math.log(before.cycles / after.cycles) if before.correct else 0.1


REWARD_FNS = {
    f.name: f
    for f in (
        RewardFunction("cost", _cost, "the drop in STOKE cost over the -O0 cost (the env's)"),
        RewardFunction(
            "best_improvement",
            _best_improvement,
            "log(best test-equivalent cycles before / after): rewards only new bests",
        ),
        RewardFunction(
            "correct_speedup",
            _correct_speedup,
            "log(cycles before / after) between test-equivalent programs, -0.1 for an "
            "incorrect one, +0.1 for getting back to a correct one",
        ),
    )
}


class SuperoptScorer:
    """One episode on a function: the reward function's reward per step, the speedup of the
    episode's best test-equivalent program (llvm-mca cycles, over -O0) as its score."""

    def __init__(self, reward_fn: RewardFunction) -> None:
        self.reward_fn = reward_fn
        self.baselines: Any = None
        self.program = ""
        self.last: StepCost | None = None
        self.best = ""

    def start(self, info: Mapping[str, Any]) -> None:
        self.baselines = info["baselines"]
        self.program = str(info["benchmark"])
        self.last = _step_cost(info)
        self.best = str(info["best"])

    def step(self, env_reward: float, info: Mapping[str, Any]) -> float:
        after = _step_cost(info)
        assert self.last is not None
        reward = self.reward_fn(self.last, after, self.baselines)
        self.last = after
        self.best = str(info["best"])
        return reward

    def score(self) -> float:
        assert self.last is not None
        return float(self.baselines.o0_cycles / self.last.best_cycles)

    def details(self) -> dict[str, float | int | str]:
        assert self.last is not None
        return {
            "speedup": self.score(),
            "cycles": self.last.best_cycles,
            "o0_cycles": self.baselines.o0_cycles,
            "o3_cycles": self.baselines.o3_cycles,
            "rewrite": self.best,
        }


def _step_cost(info: Mapping[str, Any]) -> StepCost:
    cost, cycles = float(info["cost"]), float(info["cycles"])
    return StepCost(cost, cycles, float(info["best_cycles"]), bool(info["correct"]))


def resolve_programs(spec: str) -> list[str]:
    from supersonic.envs.superopt.functions import resolve_functions

    return [f.name for f in resolve_functions(spec)]


def check_program(program: str) -> None:
    from supersonic.envs.superopt.functions import get_function

    get_function(program)


def validate_result(program: str, details: Mapping[str, Any]) -> str:
    """Run the result's rewrite on the tests and prove it equivalent with z3."""
    from supersonic.envs.superopt.asm import parse_listing
    from supersonic.envs.superopt.compile import compiled
    from supersonic.envs.superopt.cost import Evaluator
    from supersonic.envs.superopt.verify import prove_equivalent

    rewrite = parse_listing(str(details.get("rewrite", "")))
    if not rewrite:
        return "unchecked: no rewrite recorded"
    if not Evaluator(program).evaluate(rewrite).correct:
        return "INVALID: differs from -O0 on the tests"
    verdict = prove_equivalent(compiled(program, "O0"), rewrite)
    if verdict.status == "refuted":
        return f"INVALID: {verdict.label}: {verdict.detail}"
    return f"valid: {verdict.label}"


def random_baseline(
    programs: list[str], steps: int, seed: int, episode_length: int
) -> dict[str, Any]:
    """Random moves with the same env steps, in episodes of `episode_length`."""
    from supersonic.envs.superopt.env import SuperoptEnv

    rng = np.random.default_rng(seed)
    env = SuperoptEnv(programs[0], max_episode_steps=episode_length)
    metrics, used = [], 0
    try:
        per_program = max(1, steps // len(programs))
        for i, program in enumerate(programs):
            best = math.inf
            o0 = 0.0
            done_steps = 0
            while done_steps < per_program:
                _, info = env.reset(seed=seed + i, options={"benchmark": program})
                o0 = info["baselines"].o0_cycles
                truncated = False
                while not truncated and done_steps < per_program:
                    _, _, _, truncated, info = env.step(int(rng.integers(N_ACTIONS)))
                    done_steps += 1
                best = min(best, float(info["best_cycles"]))
            metrics.append(o0 / best)
            used += done_steps
    finally:
        env.close()
    return {"env_steps": used, "score": geomean(metrics), "metrics": metrics, "programs": programs}


def _geomean(values: Sequence[float]) -> float:
    return geomean(list(values))


@cache
def superopt_task() -> Task:
    from supersonic.envs.superopt.env import DEFAULT_EPISODE_STEPS, SuperoptEnv

    return Task(
        name="superopt",
        make_env=SuperoptEnv,
        n_actions=N_ACTIONS,
        state_fns=STATE_FNS,
        reward_fns=REWARD_FNS,
        algorithms=("ppo", "a2c", "dqn", "impala"),
        train="builtin:train",
        validation="builtin:validation",
        test="builtin:test",
        scorer=SuperoptScorer,
        resolve_programs=resolve_programs,
        aggregate=_geomean,
        random_baseline=random_baseline,
        episode_length=DEFAULT_EPISODE_STEPS,
        check_program=check_program,
        validate_result=validate_result,
        metric="geomean over the validation functions of -O0 cycles / best test-equivalent "
        "rewrite's cycles (llvm-mca)",
        doc="superoptimization of loop-free x86-64 functions with STOKE's moves (tests in "
        "unicorn, cycles by llvm-mca, proofs by z3)",
    )
