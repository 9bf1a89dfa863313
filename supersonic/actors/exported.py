"""Policy files and exported policies, loaded with numpy only (no torch, no cluster).

A **policy file** is one `.npz` (numpy's zip of `.npy` arrays) holding a policy as a learner
publishes it (see `supersonic.actors.policy`): every tensor under its own name
("pi.0.weight", ...), plus the `arch` description as a JSON string under the key "__arch__".
Nothing in it is pickled, and it is read with `allow_pickle=False`.

An **export** is a directory (`RUN_DIR/best/`, written by `supersonic.launch.export`):

    policy.npz    the policy file
    spec.json     {"format": 1, "task": ..., "candidate": {name, algorithm, state_fn,
                   reward_fn, hyperparameters, seed}, "episode_length": ...,
                   "validation_programs": [...], "policy_version": ..., "versions": {...}}
    scores.json   the candidate's recorded scores ({"final": {"score": ..., ...}, ...}); a
                  search's export adds "exported": the evaluation whose policy this is (its
                  best-scoring one, not always its last)
    best_results.json  (optional) the search's best result per validation program that
                  passed validation, whichever candidate or training episode found it:
                  {"format": 1, "results": {PROGRAM: {"metric": ..., "details": {...},
                  "candidate": ..., "policy_version": ..., "validation": "valid: ..."}}};
                  a schedule task's guided search starts from it (`knob_search`)

`load_policy(path)` turns one into an `ExportedPolicy`, which acts and evaluates exactly as an
actor does during the search's evaluations, so it reproduces the recorded score of its
evaluation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from supersonic.actors.policy import NumpyPolicy, action_choices
from supersonic.envs import get_task
from supersonic.envs.task import RewardFunction, StateFunction, Task, env_observation
from supersonic.protocol.policy_file import (
    load_policy_file,
)

POLICY_FILE = "policy.npz"
SPEC_FILE = "spec.json"
SCORES_FILE = "scores.json"
BEST_RESULTS_FILE = "best_results.json"
BEST_RESULTS_FORMAT = 1
EXPORT_FORMAT = 1


def _one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


@dataclass
class ExportedPolicy:
    """A search's winner, ready to act: see the module docstring and `load_policy`."""

    path: Path  # the export directory
    spec: dict[str, Any]  # spec.json as stored
    task: Task
    state_fn: StateFunction
    reward_fn: RewardFunction
    policy: NumpyPolicy
    scores: dict[str, Any] = field(default_factory=dict)
    # The search's validated best result per program (best_results.json), by program.
    best_results: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Acting is deterministic (argmax): the generator is never drawn from, as in evaluations.
    _rng: np.random.Generator = field(default_factory=lambda: np.random.default_rng(0))

    @property
    def episode_length(self) -> int:
        """The episode length the search evaluated with."""
        return int(self.spec["episode_length"])

    @property
    def validation_programs(self) -> list[str]:
        """The programs the recorded validation scores were measured on."""
        return [str(p) for p in self.spec.get("validation_programs", [])]

    @property
    def policy_version(self) -> int:
        return int(self.spec.get("policy_version", -1))

    def act(self, raw_observation: Any, choices: int = 0) -> int:
        """The deterministic action for one raw env observation (the state function is applied
        here); `choices`: the env's `action_choices()`, see `folded_argmax`."""
        action, _, _ = self.policy.act(
            self.state_fn(raw_observation), self._rng, True, choices=choices
        )
        return action

    def make_env(self, program: str, episode_length: int | None = None) -> Any:
        """The task's env as an actor builds it for this candidate."""
        return self.task.make_env(
            program,
            observation=env_observation(self.state_fn),
            max_episode_steps=self.episode_length if episode_length is None else episode_length,
            **self.reward_fn.env_options,
        )

    def rollout(
        self, program: str, episode_length: int | None = None
    ) -> tuple[float, dict[str, float | int]]:
        """Run one deterministic episode on `program`: (the task's score, its details)."""
        length = self.episode_length if episode_length is None else episode_length
        env = self.make_env(program, length)
        try:
            return self._rollout(env, self.task.scorer(self.reward_fn), program, length)
        finally:
            env.close()

    def evaluate(
        self, programs: Sequence[str] | None = None, episode_length: int | None = None
    ) -> tuple[float, list[float]]:
        """(the task's aggregate score, per-program scores) over `programs` (default: the
        validation programs of the search), measured as the search's evaluations measure."""
        programs = self.validation_programs if programs is None else list(programs)
        if not programs:
            raise ValueError("evaluate needs at least one program")
        length = self.episode_length if episode_length is None else episode_length
        env = self.make_env(programs[0], length)  # one env for every program, as on an actor
        scorer = self.task.scorer(self.reward_fn)
        metrics: list[float] = []
        try:
            for program in programs:
                metrics.append(self._rollout(env, scorer, program, length)[0])
        finally:
            env.close()
        return self.task.aggregate(metrics), metrics

    def _rollout(
        self, env: Any, scorer: Any, program: str, episode_length: int
    ) -> tuple[float, dict[str, float | int]]:
        # The same loop as `supersonic.actors.actor.Actor._evaluate`: keep them in step.
        raw, info = env.reset(options={"benchmark": program})
        scorer.start(info)
        for _ in range(episode_length):
            action, _, _ = self.policy.act(
                self.state_fn(raw), self._rng, deterministic=True, choices=action_choices(env)
            )
            raw, env_reward, terminated, truncated, info = env.step(action)
            if "failure" in info:
                break
            scorer.step(float(env_reward), info)
            if terminated or truncated:
                break
        return scorer.score(), dict(scorer.details())


def load_policy(path: str | os.PathLike[str]) -> ExportedPolicy:
    """The exported policy in directory `path` (e.g. RUN_DIR/best), or of its policy.npz.

    Needs numpy and the task's env stack, never torch nor a running search. A missing or
    malformed export raises FileNotFoundError or ValueError with a one-line message.
    """
    given = Path(path)
    directory = given.parent if given.is_file() else given
    if not directory.is_dir():
        raise FileNotFoundError(f"{given}: no such export (expected a directory like RUN_DIR/best)")
    policy_path = given if given.is_file() else directory / POLICY_FILE
    spec = _read_json(directory / SPEC_FILE, "spec")
    scores_path = directory / SCORES_FILE
    scores = _read_json(scores_path, "scores") if scores_path.exists() else {}
    candidate = spec.get("candidate")
    if (
        not isinstance(spec.get("task"), str)
        or not isinstance(candidate, dict)
        or not isinstance(candidate.get("state_fn"), str)
        or not isinstance(candidate.get("reward_fn"), str)
        or not isinstance(spec.get("episode_length"), int)
    ):
        raise ValueError(
            f"{directory / SPEC_FILE} needs 'task', 'episode_length' and 'candidate' "
            "with 'state_fn' and 'reward_fn'"
        )
    try:
        task = get_task(spec["task"])
        state_fn = task.state_fn(candidate["state_fn"])
        reward_fn = task.reward_fn(candidate["reward_fn"])
    except ValueError as exc:
        raise ValueError(f"{directory / SPEC_FILE}: {_one_line(exc)}") from None
    arch, tensors = load_policy_file(policy_path)
    try:
        policy = NumpyPolicy(arch, tensors)
    except ValueError as exc:
        raise ValueError(f"{policy_path}: {_one_line(exc)}") from None
    if policy.obs_dim != state_fn.dim or policy.n_actions != task.n_actions:
        raise ValueError(
            f"{policy_path}: the policy maps {policy.obs_dim} inputs to {policy.n_actions} "
            f"actions; state function {state_fn.name} gives {state_fn.dim} and task "
            f"{task.name} has {task.n_actions} actions"
        )
    best_path = directory / BEST_RESULTS_FILE
    best = _read_best_results(best_path) if best_path.exists() else {}
    return ExportedPolicy(directory, spec, task, state_fn, reward_fn, policy, scores, best)


def _read_best_results(path: Path) -> dict[str, dict[str, Any]]:
    document = _read_json(path, "best results")
    results = document.get("results")
    if document.get("format") != BEST_RESULTS_FORMAT or not isinstance(results, dict):
        raise ValueError(
            f'{path}: expected {{"format": {BEST_RESULTS_FORMAT}, "results": {{...}}}}'
        )
    for program, row in results.items():
        if not isinstance(row, dict) or not isinstance(row.get("details"), dict):
            raise ValueError(f"{path}: the result of {program!r} needs a 'details' object")
    return results


def _read_json(path: Path, what: str) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: missing, so {path.parent} is not a policy export")
    try:
        value = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ValueError(f"{path}: the {what} is not readable JSON: {_one_line(exc)}") from None
    if not isinstance(value, dict):
        raise ValueError(f"{path}: the {what} must be a JSON object")
    return value
