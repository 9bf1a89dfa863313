"""A gymnasium control problem as a SuperSonic task: `cartpole` (CartPole-v1).

It exists to check the algorithms and the runtime on a problem with known answers (published
single-process implementations reach returns above 450): if a learner cannot learn CartPole
through the actors and the wire, it will not learn pass ordering either.

Programs are seeds: `seed:N` resets the env with seed N (validation and test use fixed seeds,
so evaluations are comparable), `any` continues the env's own random stream (training; the
actor seeds the first reset). The state function `raw` is the observation as it is; the reward
function `env` is the env's reward. An episode's score is its return.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cache
from typing import Any

import gymnasium as gym
import numpy as np

from supersonic.envs.task import RewardFunction, StateFunction, Task

CARTPOLE_ID = "CartPole-v1"
CARTPOLE_EPISODE_STEPS = 500
VALIDATION_SEEDS = range(1000, 1010)
TEST_SEEDS = range(2000, 2010)


class GymTaskEnv(gym.Env[Any, Any]):
    """A gymnasium env whose "programs" are reset seeds; see the module docstring."""

    def __init__(
        self,
        benchmark: str = "any",
        *,
        env_id: str = CARTPOLE_ID,
        observation: str = "state",
        max_episode_steps: int = CARTPOLE_EPISODE_STEPS,
    ) -> None:
        if observation != "state":
            raise ValueError(f"{env_id} has one observation, 'state', not {observation!r}")
        parse_program(benchmark)
        self.inner = gym.make(env_id, max_episode_steps=max_episode_steps)
        self.action_space = self.inner.action_space
        self.observation_space = self.inner.observation_space
        self.program = benchmark

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        if options and options.get("benchmark") is not None:
            self.program = str(options["benchmark"])
        program_seed = parse_program(self.program)
        return self.inner.reset(seed=program_seed if program_seed is not None else seed)

    def step(self, action: Any) -> tuple[Any, float, bool, bool, dict[str, Any]]:
        obs, reward, terminated, truncated, info = self.inner.step(action)
        return obs, float(reward), bool(terminated), bool(truncated), info

    def close(self) -> None:
        self.inner.close()


def parse_program(program: str) -> int | None:
    """`seed:N` -> N, `any` -> None; anything else is refused with what is valid."""
    if program == "any":
        return None
    prefix, _, number = program.partition(":")
    if prefix == "seed" and number.isdigit():
        return int(number)
    raise ValueError(f"unknown program {program!r} for a gymnasium task: use 'any' or 'seed:N'")


def resolve_programs(spec: str) -> list[str]:
    """`seeds:train` -> ["any"]; `seeds:validation` / `seeds:test` -> fixed seeds."""
    splits = {
        "seeds:train": ["any"],
        "seeds:validation": [f"seed:{s}" for s in VALIDATION_SEEDS],
        "seeds:test": [f"seed:{s}" for s in TEST_SEEDS],
    }
    try:
        return splits[spec]
    except KeyError:
        raise ValueError(f"unknown dataset {spec!r}; choose one of {', '.join(splits)}") from None


class ReturnScorer:
    """Scores an episode by its return; the reward is the env's (through the reward function,
    which sees the return before and after the step)."""

    def __init__(self, reward_fn: RewardFunction) -> None:
        self.reward_fn = reward_fn
        self.total = 0.0
        self.length = 0

    def start(self, info: Mapping[str, Any]) -> None:
        self.total, self.length = 0.0, 0

    def step(self, env_reward: float, info: Mapping[str, Any]) -> float:
        before, self.total = self.total, self.total + env_reward
        self.length += 1
        return self.reward_fn(before, self.total, None)

    def score(self) -> float:
        return self.total

    def details(self) -> dict[str, float | int | str]:
        return {"return": self.total, "length": self.length}


def _raw(raw: Any) -> np.ndarray:
    return np.asarray(raw, dtype=np.float32)


@cache
def cartpole_task() -> Task:
    state = StateFunction(
        "raw",
        "state",
        4,
        _raw,
        "cart position and velocity, pole angle and angular velocity, as the env gives them",
    )
    reward = RewardFunction(
        "env",
        lambda before, after, _b: after - before,
        "the env's reward (+1 per step the pole stays up)",
    )
    return Task(
        name="cartpole",
        make_env=GymTaskEnv,
        n_actions=2,
        state_fns={state.name: state},
        reward_fns={reward.name: reward},
        algorithms=("ppo", "a2c", "dqn", "impala"),
        train="seeds:train",
        validation="seeds:validation",
        test="seeds:test",
        scorer=ReturnScorer,
        resolve_programs=resolve_programs,
        episode_length=CARTPOLE_EPISODE_STEPS,
        metric="mean return over 10 fixed-seed episodes (at most 500)",
        doc="gymnasium's CartPole-v1: a check of the algorithms and the runtime",
    )
