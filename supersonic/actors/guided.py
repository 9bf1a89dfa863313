"""Policy-guided search: optimize one program with an exported LLVM code-size policy.

A trained policy proposes passes; a search spends a time budget turning its proposals into the
smallest module it can find. Numpy only (the policy runs through `NumpyPolicy`), on one
`LlvmCodeSizeEnv` and the forks it makes:

(a) **rollout**: the policy's deterministic episode (argmax of its logits at every step, for the
    export's `episode_length` steps), exactly as the search evaluated it; the smallest module
    along it is a candidate.
(b) **beam search** over the rest of the budget. Each iteration starts at the unoptimised
    module; at every depth each of the `width` modules in the beam tries its `k` most probable
    actions under the policy (`softmax(policy.logits(state))`; for DQN exports the logits are
    Q-values, and their softmax ranks actions the same way as the Q-values), skipping actions
    already known to leave that module unchanged. A child is a fork of its parent
    (`env.fork()`) with one more pass; a pass that changes nothing leaves the fork clean for the
    parent's next action, so most tries cost one step and no fork. Children equal to a module
    already reached in this iteration (same instruction count and same raw observation, the
    action history aside) are dropped. The `width` children with the fewest instructions (then
    the most probable) form the next beam. An iteration ends at `max_depth`, when the beam is
    empty, or after `patience` depths without a smaller module. Iterations follow a widening
    schedule ((2, 4), (4, 8), (8, 16), (8, 32)); once it is done the schedule repeats with the
    policy's ranking perturbed by Gumbel noise (sampling actions without replacement in
    proportion to their probabilities), so each further iteration explores a different tree.

The search stops at the budget (a `time.monotonic()` deadline checked before every fork and
step, and optionally a number of env steps) and then, like the baseline searches in
`supersonic.envs.llvm.search`, replays its best few distinct sequences and returns the best one
whose program still behaves like the original (`validation.validate`); when every one of them
is invalid, the longest valid prefix of the best one (found by bisection) is tried. The env is
left at the returned module, so the caller can take its bitcode and object size.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from supersonic.actors.exported import SPEC_FILE, ExportedPolicy, load_policy
from supersonic.actors.policy import log_softmax
from supersonic.envs.llvm import service
from supersonic.envs.llvm.actions import ACTION_FLAGS
from supersonic.envs.llvm.bitcode import DEFAULT_MAX_INSTRUCTIONS
from supersonic.envs.llvm.env import LlvmCodeSizeEnv, ProgramBaselines
from supersonic.envs.llvm.metrics import leaderboard_metric, oz_ratio
from supersonic.envs.llvm.search import Budget, replay
from supersonic.envs.llvm.validation import Validation, validate
from supersonic.envs.task import env_observation

TASK = "llvm-codesize"
DEFAULT_MAX_DEPTH = 50
DEFAULT_SCHEDULE: tuple[tuple[int, int], ...] = ((2, 4), (4, 8), (8, 16), (8, 32))
DEFAULT_PATIENCE = 10
MAX_CANDIDATES = 8  # distinct sequences kept for the final validation
MAX_PREFIX_VALIDATIONS = 6  # bisection steps for the longest valid prefix
# Probes take passes that change nothing without counting towards any sequence; the env's own
# episode limit must never truncate a search, whose depth is bounded by `max_depth` instead.
_ENV_EPISODE_LIMIT = 1_000_000
_HISTORY = "ActionHistory"


def load_guide(path: str | os.PathLike[str]) -> ExportedPolicy:
    """The exported policy at `path` (RUN_DIR/best), checked to be an LLVM code-size policy.

    FileNotFoundError for a missing export, ValueError (one line) for one from another task or a
    malformed one.
    """
    given = Path(path)
    directory = given.parent if given.is_file() else given
    try:
        task = json.loads((directory / SPEC_FILE).read_text()).get("task")
    except (OSError, ValueError, AttributeError):
        task = None  # load_policy says what is wrong with it
    if isinstance(task, str) and task != TASK:
        raise ValueError(f"policy {given} was trained for task {task}, not {TASK}")
    guide = load_policy(given)
    if guide.task.name != TASK:
        raise ValueError(f"policy {given} was trained for task {guide.task.name}, not {TASK}")
    return guide


def make_search_env(
    guide: ExportedPolicy,
    program: Any,
    *,
    max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS,
) -> LlvmCodeSizeEnv:
    """An env on `program` that produces what the guide's state function reads.

    Raises the env's one-line errors for a program that cannot be used (does not compile, ...).
    """
    return LlvmCodeSizeEnv(
        program,
        observation=env_observation(guide.state_fn),
        max_episode_steps=_ENV_EPISODE_LIMIT,
        max_instructions=max_instructions,
    )


@dataclass(frozen=True)
class GuidedResult:
    """The best validated pass sequence the guided search found for one program."""

    benchmark: str
    actions: tuple[int, ...]
    ir_instructions: int
    baselines: ProgramBaselines
    env_steps: int  # every env step of the search (rollout, beam tries)
    seconds: float  # the search's own time (replay and validation not included)
    validation: Validation
    rejected: int  # better sequences dropped because they changed the program's behaviour
    rollout_ir: int  # the smallest module along the policy's deterministic episode
    forks: int
    iterations: int  # beam iterations started
    stopped: str  # "time", "steps", "done" (nothing left to search) or "failure: ..."
    method: str = "policy"

    @property
    def metric(self) -> float:
        b = self.baselines
        return leaderboard_metric(b.ir_o0, b.ir_oz, self.ir_instructions)

    @property
    def oz_ratio(self) -> float:
        return oz_ratio(self.baselines.ir_oz, self.ir_instructions)

    @property
    def passes(self) -> list[str]:
        return [f"-{ACTION_FLAGS[a]}" for a in self.actions]


class _BudgetSpent(Exception):
    """Raised inside the search when the deadline or the step budget is reached."""


class _ServiceFailed(Exception):
    """A pass crashed or hung the compiler service: the search stops with what it has."""


@dataclass
class _Node:
    """A module reached by `actions`, held by its own env (only ever forked, never stepped)."""

    env: LlvmCodeSizeEnv
    actions: tuple[int, ...]
    ir: int
    logp: float  # the sequence's log-probability under the policy
    key: bytes
    state: np.ndarray
    _action_logp: np.ndarray | None = field(default=None, repr=False)

    def close(self) -> None:
        self.env.close()


class _Candidates:
    """The best few distinct sequences: fewest instructions, then shortest."""

    def __init__(self, limit: int = MAX_CANDIDATES) -> None:
        self.limit = limit
        self.items: dict[tuple[int, ...], int] = {}

    def offer(self, actions: tuple[int, ...], count: int) -> None:
        if actions in self.items:
            return
        if len(self.items) >= self.limit:
            worst = max(self.items.items(), key=lambda kv: (kv[1], len(kv[0])))
            if (count, len(actions)) >= (worst[1], len(worst[0])):
                return
            del self.items[worst[0]]
        self.items[actions] = count

    def best(self) -> int:
        return min(self.items.values())

    def best_first(self) -> list[tuple[tuple[int, ...], int]]:
        return sorted(self.items.items(), key=lambda kv: (kv[1], len(kv[0])))


def _value_bytes(value: Any) -> bytes | None:
    """Bytes that identify one raw observation, or None when there is no cheap way."""
    if isinstance(value, str):
        return value.encode()
    if hasattr(value, "nodes") and hasattr(value, "edges"):  # ProGraML
        return np.asarray(value.nodes).tobytes() + b"|" + np.asarray(value.edges).tobytes()
    try:
        array = np.asarray(value)
    except (TypeError, ValueError):
        return None
    return None if array.dtype == object else array.tobytes()


def module_key(raw: Any, ir: int, actions: tuple[int, ...]) -> bytes:
    """A fingerprint of the module behind observation `raw`: its instruction count and its raw
    observation (the action history aside). Without an observation of the module itself the key
    includes the actions, so nothing is merged."""
    digest = hashlib.blake2b(ir.to_bytes(8, "little", signed=True), digest_size=16)
    parts = sorted(raw.items()) if isinstance(raw, dict) else [("", raw)]
    described = False
    for name, value in parts:
        if name == _HISTORY:
            continue
        data = _value_bytes(value)
        if data is None:
            continue
        digest.update(name.encode() + b"\0" + len(data).to_bytes(8, "little") + data)
        described = True
    if not described:
        digest.update(b"actions:" + np.asarray(actions, dtype=np.int64).tobytes())
    return digest.digest()


class GuidedSearch:
    """One search on one env (see the module docstring); `run()` returns the result."""

    def __init__(
        self,
        env: LlvmCodeSizeEnv,
        guide: ExportedPolicy,
        budget: Budget,
        *,
        max_depth: int = DEFAULT_MAX_DEPTH,
        schedule: tuple[tuple[int, int], ...] = DEFAULT_SCHEDULE,
        patience: int = DEFAULT_PATIENCE,
        seed: int = 0,
        check: bool = True,
    ) -> None:
        if max_depth < 1:
            raise ValueError(f"max_depth must be >= 1, got {max_depth}")
        if not schedule or any(w < 1 or k < 1 for w, k in schedule):
            raise ValueError(f"the beam schedule needs (width, k) pairs >= 1, got {schedule}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        self.env = env
        self.guide = guide
        self.budget = budget
        self.max_depth = max_depth
        self.schedule = schedule
        self.patience = patience
        self.check = check
        self.rng = np.random.default_rng(seed)
        # A probe that took a pass without effect is reused for the parent's next try, unless
        # the policy sees the action history (the unchanged module would then look different).
        self.reuse_probes = _HISTORY not in guide.state_fn.observations
        self.candidates = _Candidates()
        self.no_effect: set[tuple[bytes, int]] = set()
        self.steps = 0
        self.forks = 0
        self.iterations = 0
        self.rollout_ir = 0
        self.started = 0.0
        self.deadline = math.inf

    # ----------------------------------------------------------------------------- budget
    def _spent(self) -> str | None:
        if self.budget.steps is not None and self.steps >= self.budget.steps:
            return "steps"
        if time.monotonic() >= self.deadline:
            return "time"
        return None

    def _check_budget(self) -> None:
        if self._spent() is not None:
            raise _BudgetSpent

    def _fork(self, env: LlvmCodeSizeEnv) -> LlvmCodeSizeEnv:
        self._check_budget()
        try:
            clone = env.fork()
        except service.compiler_gym_errors() as exc:
            raise _ServiceFailed(f"fork failed: {exc}") from None
        self.forks += 1
        return clone

    def _step(self, env: LlvmCodeSizeEnv, action: int) -> tuple[Any, dict[str, Any]]:
        self._check_budget()
        raw, _, _, _, info = env.step(action)
        self.steps += 1
        if "failure" in info:
            raise _ServiceFailed(str(info["failure"]))
        return raw, info

    # ------------------------------------------------------------------------------ policy
    def _action_logp(self, node: _Node) -> np.ndarray:
        if node._action_logp is None:
            node._action_logp = log_softmax(self.guide.policy.logits(node.state))
        return node._action_logp

    def _node(self, env: LlvmCodeSizeEnv, raw: Any, actions: tuple[int, ...], logp: float) -> _Node:
        ir = env.ir_instruction_count
        return _Node(env, actions, ir, logp, module_key(raw, ir, actions), self.guide.state_fn(raw))

    # ------------------------------------------------------------------------------ search
    def run(self) -> GuidedResult:
        self.started = time.monotonic()
        if self.budget.seconds is not None:
            self.deadline = self.started + self.budget.seconds
        raw, _ = self.env.reset()
        self.candidates.offer((), self.env.ir_instruction_count)
        self.rollout_ir = self.env.ir_instruction_count
        stopped = "done"
        root: _Node | None = None
        try:
            root = self._node(self._fork(self.env), raw, (), 0.0)
            self._rollout(root)
            for iteration in self._iterations():
                self._beam(root, *iteration)
        except _BudgetSpent:
            stopped = self._spent() or "time"
        except _ServiceFailed as exc:
            stopped = f"failure: {exc}"
        finally:
            if root is not None:
                root.close()
        seconds = time.monotonic() - self.started
        return self._finish(seconds, stopped)

    def _iterations(self) -> Iterator[tuple[int, int, bool]]:
        """(width, k, perturbed): the schedule once as is, then forever with Gumbel noise."""
        for width, k in self.schedule:
            yield width, k, False
        while True:
            for width, k in self.schedule:
                yield width, k, True

    def _rollout(self, root: _Node) -> None:
        """(a) The policy's deterministic episode; the smallest module along it is a candidate."""
        env = self._fork(root.env)
        try:
            state = root.state
            actions: tuple[int, ...] = ()
            for _ in range(self.guide.episode_length):
                action = int(np.argmax(self.guide.policy.logits(state)))
                raw, _ = self._step(env, action)
                actions += (action,)
                state = self.guide.state_fn(raw)
                if env.ir_instruction_count < self.rollout_ir:
                    self.rollout_ir = env.ir_instruction_count
                    self.candidates.offer(actions, self.rollout_ir)
        finally:
            env.close()

    def _beam(self, root: _Node, width: int, k: int, perturbed: bool) -> None:
        """(b) One beam-search iteration from the unoptimised module."""
        self.iterations += 1
        seen = {root.key}
        beam = [root]
        best, stale = root.ir, 0
        try:
            for _ in range(self.max_depth):
                children: list[_Node] = []
                try:
                    for node in beam:
                        children += self._expand(node, k, perturbed, seen)
                finally:
                    for node in beam:
                        if node is not root:
                            node.close()
                    beam = []
                if not children:
                    return
                children.sort(key=lambda c: (c.ir, -c.logp))
                beam = children[:width]
                for child in children[width:]:
                    child.close()
                if beam[0].ir < best:
                    best, stale = beam[0].ir, 0
                else:
                    stale += 1
                    if stale >= self.patience:
                        return
        finally:
            for node in beam:
                if node is not root:
                    node.close()

    def _expand(self, node: _Node, k: int, perturbed: bool, seen: set[bytes]) -> list[_Node]:
        """Up to `k` children of `node`, most probable actions first (new modules only)."""
        logp = self._action_logp(node)
        ranking = logp + self.rng.gumbel(size=logp.shape) if perturbed else logp
        order = np.argsort(-ranking, kind="stable")
        children: list[_Node] = []
        probe: LlvmCodeSizeEnv | None = None
        tried = 0
        try:
            for action in (int(a) for a in order):
                if tried >= k:
                    break
                if (node.key, action) in self.no_effect:
                    continue
                if probe is None:
                    probe = self._fork(node.env)
                raw, info = self._step(probe, action)
                tried += 1
                if not info.get("action_had_effect", True):
                    self.no_effect.add((node.key, action))
                    if not self.reuse_probes:
                        probe.close()
                        probe = None
                    continue
                actions = (*node.actions, action)
                child = self._node(probe, raw, actions, node.logp + float(logp[action]))
                probe = None
                if child.key in seen:
                    child.close()
                    continue
                seen.add(child.key)
                self.candidates.offer(actions, child.ir)
                children.append(child)
        except BaseException:
            for child in children:
                child.close()
            raise
        finally:
            if probe is not None:
                probe.close()
        return children

    # ------------------------------------------------------------------------------ finish
    def _finish(self, seconds: float, stopped: str) -> GuidedResult:
        """Replay the best candidates; return the best whose behaviour is unchanged."""
        rejected = 0
        best_invalid: tuple[int, ...] | None = None
        for actions, _ in self.candidates.best_first():
            count = replay(self.env, actions)
            if count is None:
                continue
            verdict = self._verdict(actions)
            if verdict.valid is False:
                rejected += 1
                best_invalid = best_invalid or actions
                continue
            return self._result(actions, count, verdict, rejected, seconds, stopped)
        if best_invalid is not None:
            found = self._valid_prefix(best_invalid)
            if found is not None:
                actions, count, verdict = found
                return self._result(actions, count, verdict, rejected, seconds, stopped)
        self.env.reset()  # nothing valid: the unoptimised program is the answer
        verdict = Validation(True, "the unoptimised program (no valid improvement found)")
        return self._result((), self.env.ir_instruction_count, verdict, rejected, seconds, stopped)

    def _verdict(self, actions: tuple[int, ...]) -> Validation:
        if not actions:
            return Validation(True, "the unoptimised program")
        if not self.check:
            return Validation(None, "validation not requested")
        return validate(self.env.program, self.env.bitcode())

    def _valid_prefix(
        self, actions: tuple[int, ...]
    ) -> tuple[tuple[int, ...], int, Validation] | None:
        """The longest prefix of `actions` found valid by bisection (the whole is invalid)."""
        low, high = 0, len(actions)  # prefix `low` is valid (empty), prefix `high` is not
        found: tuple[tuple[int, ...], int, Validation] | None = None
        for _ in range(MAX_PREFIX_VALIDATIONS):
            if high - low <= 1:
                break
            middle = (low + high) // 2
            count = replay(self.env, actions[:middle])
            if count is None:
                break
            verdict = self._verdict(actions[:middle])
            if verdict.valid is False:
                high = middle
            else:
                low, found = middle, (actions[:middle], count, verdict)
        if found is not None:
            replay(self.env, found[0])
        return found

    def _result(
        self,
        actions: tuple[int, ...],
        count: int,
        verdict: Validation,
        rejected: int,
        seconds: float,
        stopped: str,
    ) -> GuidedResult:
        assert self.env.baselines is not None
        return GuidedResult(
            benchmark=self.env.benchmark.uri,
            actions=actions,
            ir_instructions=count,
            baselines=self.env.baselines,
            env_steps=self.steps,
            seconds=seconds,
            validation=verdict,
            rejected=rejected,
            rollout_ir=self.rollout_ir,
            forks=self.forks,
            iterations=self.iterations,
            stopped=stopped,
        )


def guided_search(
    env: LlvmCodeSizeEnv,
    guide: ExportedPolicy,
    budget: Budget,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    schedule: tuple[tuple[int, int], ...] = DEFAULT_SCHEDULE,
    patience: int = DEFAULT_PATIENCE,
    seed: int = 0,
    check: bool = True,
) -> GuidedResult:
    """Search `env`'s program with `guide` within `budget` (see the module docstring).

    `env` should come from `make_search_env(guide, program)`; it is left at the result's module.
    """
    return GuidedSearch(
        env,
        guide,
        budget,
        max_depth=max_depth,
        schedule=schedule,
        patience=patience,
        seed=seed,
        check=check,
    ).run()
