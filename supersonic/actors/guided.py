"""Policy-guided search: optimize one program with an exported LLVM code-size policy.

A trained policy proposes passes; a search spends a time budget turning its proposals into the
smallest module it can find. Numpy only (the policy runs through `NumpyPolicy`), on one
`LlvmCodeSizeEnv` and the forks it makes:

(a) **the policy's episode**: argmax of its logits at every step, for the export's
    `episode_length` steps, exactly as the search evaluated it; the smallest module along it is
    a candidate and the first node of the tree below. Then **the library's sequences**, when the
    export has one (`sequences.json`, see `supersonic.actors.sequence_library`): each is
    replayed from the unoptimised module; the smallest module along each is a candidate and a
    node, so the tree below starts from the best of what transferred.
(b) **best-first tree search with policy rollouts**, for the rest of the budget. The tree's
    nodes are modules, each held by its own env (a fork). An expansion picks a node (the
    unoptimised root with probability `root_share`, else one of the `tree_size` smallest
    modules found so far, weighted 1/rank, smallest first), forks it and rolls out from there,
    sampling each pass from the policy's action probabilities, `softmax(policy.logits(state) /
    temperature)`, among the passes not already known to leave that module unchanged. For DQN
    exports the logits are Q-values; their softmax is the same ranking, but nearly uniform when
    the Q-values differ little, and the search then leans on instruction counts. A rollout ends
    at `max_depth` passes or after `patience` passes without a smaller module. The smallest
    module along it is a candidate and, when it is smaller than the rollout's start, a new
    node (a fork of the start plus the rollout's passes up to it), unless the tree already
    holds that module: modules are identified by their instruction count and raw observation
    (the action history aside). When a new node pushes the tree past `tree_size`, the largest
    module leaves it.

(c) **validation during the search**: a tenth of the budget apart (at least a second, with
    validating taking at most a quarter of the time so far, and only while time for a few
    builds and runs is left), the best sequence so far is validated (`validation.validate`:
    same output and exit status as the unoptimised program). If it changes the output,
    bisection over its prefixes finds the pass that breaks the program, and that pass is banned
    for the rest of the search: masked from the policy's choices, its tree nodes dropped, its
    candidates set aside.

A pass that crashes or hangs the compiler service takes every fork with it: the search masks
that pass on that module, starts a new service (a new root, an empty tree) and goes on; the
third such failure ends it.

Why rollouts rather than a beam of one-pass children: a pass costs about 1 ms in the service,
a fork about 8 ms, so a beam that forks for every child it scores evaluates several times fewer
modules than a rollout does in the same time; measured on the test programs, a beam guided by
the same policy lost to random search at 5 s, the rollout tree beats it (docs/deploy.md).

The search stops at the budget (a `time.monotonic()` deadline checked before every fork and
step, and optionally a number of env steps) and then, like the baseline searches in
`supersonic.envs.llvm.search`, replays its best distinct sequences and returns the best one
whose program still behaves like the original. When the best one is invalid, bisection finds
the pass that broke it; that pass is dropped from every candidate (and those set aside), which
are re-measured by replay, and the best of them is tried next (at most `MAX_VALIDATIONS` more
builds and runs). The env is left at the returned module, so the caller can take its bitcode
and object size.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from supersonic.actors.exported import SPEC_FILE, ExportedPolicy, load_policy
from supersonic.actors.policy import log_softmax
from supersonic.actors.sequence_library import load_library
from supersonic.envs.llvm import service
from supersonic.envs.llvm.actions import ACTION_FLAGS
from supersonic.envs.llvm.bitcode import DEFAULT_MAX_INSTRUCTIONS
from supersonic.envs.llvm.env import LlvmCodeSizeEnv, ProgramBaselines
from supersonic.envs.llvm.metrics import leaderboard_metric, oz_ratio
from supersonic.envs.llvm.search import Budget, Candidates, replay
from supersonic.envs.llvm.validation import Validation, validate
from supersonic.envs.task import env_observation

TASK = "llvm-codesize"
DEFAULT_MAX_DEPTH = 200  # passes in a sequence at most (see docs/deploy.md for why so long)
DEFAULT_TEMPERATURE = 1.0
DEFAULT_PATIENCE = 40  # a rollout ends after this many passes without a smaller module
DEFAULT_ROOT_SHARE = 0.3  # expansions that start from the unoptimised module
DEFAULT_TREE_SIZE = 8  # nodes kept besides the root (the smallest modules found)
MAX_CANDIDATES = 8  # distinct sequences kept for the final validation
MAX_VALIDATIONS = 12  # builds and runs of optimized programs after the search
MAX_SERVICE_FAILURES = 3  # the search stops at the third crash or hang of the service
CHECK_SHARE = 0.1  # the search validates its best sequence at most every tenth of the budget
MIN_CHECK_INTERVAL_S = 1.0
VALIDATION_SHARE = 0.25  # of the search's time so far, at most, goes to validating
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
    load_library(guide.path, TASK, len(ACTION_FLAGS))  # malformed: an error now, not mid-search
    return guide


def library_sequences(guide: ExportedPolicy) -> list[tuple[int, ...]]:
    """The action sequences of the library exported with `guide` (none without one)."""
    library = load_library(guide.path, TASK, len(ACTION_FLAGS))
    return library.actions if library is not None else []


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
    env_steps: int  # every env step of the search
    seconds: float  # the search's own time (env start-up, replay and validation excluded)
    validation: Validation
    rejected: int  # better sequences dropped because they changed the program's behaviour
    policy_ir: int  # the smallest module along the policy's own (argmax) episode
    forks: int
    rollouts: int  # sampled rollouts of the tree search
    tree_nodes: int  # nodes the tree search made (the root aside)
    validations: int  # builds and runs of optimized programs, during the search and after
    banned: tuple[str, ...]  # passes found to change the program's behaviour
    service_failures: int  # passes that crashed or hung the service (each cost a restart)
    stopped: str  # "time", "steps" or "failure: ..." (the service failed 3 times)
    sequences_tried: int = 0  # library sequences replayed before the tree search
    sequence_ir: int = 0  # the smallest module they reached (0: no library)
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
    """A module of the tree, reached by `actions`, held by its own env (only ever forked)."""

    env: LlvmCodeSizeEnv
    actions: tuple[int, ...]
    ir: int
    key: bytes
    state: np.ndarray

    def close(self) -> None:
        self.env.close()


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
        temperature: float = DEFAULT_TEMPERATURE,
        patience: int = DEFAULT_PATIENCE,
        root_share: float = DEFAULT_ROOT_SHARE,
        tree_size: int = DEFAULT_TREE_SIZE,
        seed: int = 0,
        check: bool = True,
        sequences: Sequence[Sequence[int]] | None = None,
    ) -> None:
        if max_depth < 1:
            raise ValueError(f"max_depth must be >= 1, got {max_depth}")
        if not temperature > 0:
            raise ValueError(f"temperature must be > 0, got {temperature}")
        if patience < 1:
            raise ValueError(f"patience must be >= 1, got {patience}")
        if not 0.0 <= root_share <= 1.0:
            raise ValueError(f"root_share must be in [0, 1], got {root_share}")
        if tree_size < 0:
            raise ValueError(f"tree_size must be >= 0, got {tree_size}")
        self.env = env
        self.guide = guide
        self.budget = budget
        self.max_depth = max_depth
        self.temperature = temperature
        self.patience = patience
        self.root_share = root_share
        self.tree_size = tree_size
        self.check = check
        n_actions = len(ACTION_FLAGS)
        if sequences is None:
            sequences = library_sequences(guide)
        for sequence in sequences:
            if any(not 0 <= int(a) < n_actions for a in sequence):
                raise ValueError(f"a library sequence has an action outside 0..{n_actions - 1}")
        self.sequences = [tuple(int(a) for a in seq) for seq in sequences if len(seq)]
        self.sequences_tried = 0
        self.sequence_ir = 0  # the smallest module the library's sequences reached (0: none)
        self.rng = np.random.default_rng(seed)
        self.candidates = Candidates(MAX_CANDIDATES)
        # module key -> passes that change nothing on it (or crashed the service)
        self.no_effect: dict[bytes, set[int]] = {}
        self.tree: list[_Node] = []  # the smallest modules found, smallest first
        self.keys: set[bytes] = set()  # every module the tree has held
        self.banned: set[int] = set()  # passes found to break the program
        self.set_aside: dict[tuple[int, ...], int] = {}  # candidates using a banned pass
        self.verdicts: dict[tuple[int, ...], Validation] = {}
        self.validations = 0  # builds and runs of optimized programs
        self.validation_seconds = 1.0  # what one takes, as last measured
        self.validation_time = 0.0  # seconds spent validating, in all
        self.started = 0.0
        self.last_check = (0.0, 0)  # (time, steps) of the last validation during the search
        self.steps = 0
        self.forks = 0
        self.failures = 0  # service failures the search recovered from (or stopped at)
        self.rollouts = 0
        self.nodes_made = 0
        self.policy_ir = 0
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

    def _step(self, env: LlvmCodeSizeEnv, action: int) -> tuple[Any, bool]:
        """Apply one pass: (the raw observation, whether the module changed)."""
        self._check_budget()
        raw, _, _, _, info = env.step(action)
        self.steps += 1
        if "failure" in info:
            raise _ServiceFailed(str(info["failure"]))
        return raw, bool(info.get("action_had_effect", True))

    # ------------------------------------------------------------------------------ search
    def run(self) -> GuidedResult:
        raw, _ = self.env.reset()  # starts the service and measures the baselines: not search
        started = self.started = time.monotonic()
        if self.budget.seconds is not None:
            self.deadline = started + self.budget.seconds
        self.candidates.offer((), self.env.ir_instruction_count)
        self.policy_ir = self.env.ir_instruction_count
        stopped = "time"
        try:
            while True:
                try:
                    self._search(raw)
                except _ServiceFailed as exc:
                    # A pass crashed or hung the service, taking every fork with it: mask that
                    # pass on that module, start a new service and search on.
                    self.failures += 1
                    if self.failures >= MAX_SERVICE_FAILURES:
                        stopped = f"failure: {exc}"
                        break
                    raw = None
        except _BudgetSpent:
            stopped = self._spent() or "time"
        return self._finish(time.monotonic() - started, stopped)

    def _search(self, raw: Any) -> None:
        """The policy's episode (first time only), then rollouts until an exception ends it.
        `raw`: the main env's observation after its reset, or None to reset it first."""
        if raw is None:
            self._check_budget()
            try:
                raw, _ = self.env.reset()
            except RuntimeError as exc:  # the service failed to start twice
                raise _ServiceFailed(str(exc)) from None
        ir = self.env.ir_instruction_count
        key = module_key(raw, ir, ())
        root = _Node(self._fork(self.env), (), ir, key, self.guide.state_fn(raw))
        self.keys = {root.key}
        try:
            if self.steps == 0:
                self.policy_ir = self._rollout(root, sample=False)
                for sequence in self.sequences:
                    ir = self._rollout(root, sample=False, script=sequence)
                    self.sequences_tried += 1
                    self.sequence_ir = min(ir, self.sequence_ir or ir)
                self.last_check = (time.monotonic(), self.steps)
            while True:
                self._check_best()
                self._rollout(self._pick(root), sample=True)
                self.rollouts += 1
        finally:
            for node in self.tree:
                node.close()
            self.tree = []
            root.close()

    def _pick(self, root: _Node) -> _Node:
        """Where the next rollout starts: the root, or a tree node weighted 1/rank."""
        if not self.tree or self.rng.random() < self.root_share:
            return root
        weights = 1.0 / np.arange(1, len(self.tree) + 1)
        return self.tree[int(self.rng.choice(len(self.tree), p=weights / weights.sum()))]

    def _choose(self, state: np.ndarray, key: bytes, sample: bool) -> int:
        logits = np.asarray(self.guide.policy.logits(state), dtype=np.float64)
        if not sample:  # the policy's own choice, as in its evaluations
            return int(np.argmax(logits))
        masked = self.banned | self.no_effect.get(key, set())
        if masked and len(masked) < len(logits):
            logits = logits.copy()
            logits[list(masked)] = -np.inf
        probabilities = np.exp(log_softmax(logits / self.temperature))
        cdf = np.cumsum(probabilities)
        index = int(np.searchsorted(cdf, self.rng.random() * cdf[-1], side="right"))
        return min(index, len(cdf) - 1)

    def _rollout(self, start: _Node, sample: bool, script: tuple[int, ...] = ()) -> int:
        """One rollout from `start`: the passes of `script` (a library sequence) when given,
        else the policy's, argmax for the export's episode length or sampled until `max_depth`
        / `patience`. Returns the smallest instruction count along it."""
        env = self._fork(start.env)
        state, key, actions = start.state, start.key, start.actions
        best_ir, best_length, best_key, stale = start.ir, len(actions), key, 0
        if script:
            length = len(script)
        else:
            length = self.guide.episode_length if not sample else self.max_depth
        try:
            for index in range(length):
                if sample and (len(actions) >= self.max_depth or stale >= self.patience):
                    break
                if script:
                    action = script[index]
                    if action in self.banned:
                        continue
                else:
                    action = self._choose(state, key, sample)
                try:
                    raw, changed = self._step(env, action)
                except _ServiceFailed:
                    self.no_effect.setdefault(key, set()).add(action)  # never again here
                    raise
                state = self.guide.state_fn(raw)
                if not changed:
                    self.no_effect.setdefault(key, set()).add(action)
                    stale += 1
                    continue
                actions = (*actions, action)
                ir = env.ir_instruction_count
                key = module_key(raw, ir, actions)
                if ir < best_ir:
                    best_ir, best_length, best_key, stale = ir, len(actions), key, 0
                    self.candidates.offer(actions, ir)
                else:
                    stale += 1
        finally:
            env.close()
        if best_length > len(start.actions):
            self._grow(start, actions[:best_length], best_ir, best_key)
        return best_ir

    def _grow(self, start: _Node, actions: tuple[int, ...], ir: int, key: bytes) -> None:
        """Add the module `actions` reach (from `start`) to the tree, unless the tree holds (or
        held) it or holds `tree_size` smaller ones."""
        full = len(self.tree) >= self.tree_size
        if self.tree_size == 0 or key in self.keys or (full and ir >= self.tree[-1].ir):
            return
        env = self._fork(start.env)
        try:
            raw: Any = None
            for action in actions[len(start.actions) :]:
                raw, _ = self._step(env, action)
        except BaseException:
            env.close()
            raise
        ir = env.ir_instruction_count
        key = module_key(raw, ir, actions)  # the same module, unless a pass is not deterministic
        self.keys.add(key)
        self.nodes_made += 1
        self.tree.append(_Node(env, actions, ir, key, self.guide.state_fn(raw)))
        self.tree.sort(key=lambda node: (node.ir, len(node.actions)))
        while len(self.tree) > self.tree_size:
            self.tree.pop().close()

    def _check_best(self) -> None:
        """Now and then, validate the best sequence; if it breaks the program, find the pass
        that does (bisection) and ban it for the rest of the search. A tenth of the budget
        (at least a second) apart, only with time for a few builds and runs left, and only
        while validating has taken at most a quarter of the time so far."""
        if not self.check or not self.env.program.has_main:
            return
        ranked = self.candidates.best_first()
        best = ranked[0][0] if ranked else ()
        if not best or best in self.verdicts:
            return
        now, steps = time.monotonic(), self.steps
        if self.budget.seconds is not None:
            interval = max(MIN_CHECK_INTERVAL_S, CHECK_SHARE * self.budget.seconds)
            if now - self.last_check[0] < interval:
                return
            if self.deadline - now < 3 * self.validation_seconds:
                return
            if self.validation_time > VALIDATION_SHARE * (now - self.started):
                return
        elif self.budget.steps is not None and steps - self.last_check[1] < max(
            1, int(CHECK_SHARE * self.budget.steps)
        ):
            return
        try:
            if replay(self.env, best) is None:
                return
            if self._verdict(best).valid is not False:
                return
            culprit, _ = self._culprit(best, MAX_VALIDATIONS, self.deadline)
            if culprit is not None:
                self._ban(culprit)
        finally:
            self.last_check = (time.monotonic(), self.steps)

    def _ban(self, action: int) -> None:
        """Stop using `action`: mask it, set aside the candidates and drop the tree nodes that
        use it (the final validation may still try the candidates without it)."""
        self.banned.add(action)
        for actions, count in list(self.candidates.items.items()):
            if action in actions:
                del self.candidates.items[actions]
                self.set_aside[actions] = count
        for node in [n for n in self.tree if action in n.actions]:
            self.tree.remove(node)
            node.close()

    # ------------------------------------------------------------------------------ finish
    def _finish(self, seconds: float, stopped: str) -> GuidedResult:
        """Return the best candidate whose program still behaves like the original.

        Candidates are replayed and validated best first. When one is invalid, bisection over
        its prefixes finds the pass that broke it; that pass is then dropped from every
        candidate (which are re-measured by replay) and the best of them is tried next. At most
        `MAX_VALIDATIONS` builds and runs in all; if nothing valid turns up, the unoptimised
        program is the answer.
        """
        rejected, limit = 0, self.validations + MAX_VALIDATIONS
        banned = set(self.banned)
        tried: set[tuple[int, ...]] = set()
        counts = dict(self.set_aside) | dict(self.candidates.items)
        while self.validations < limit:
            options = self._options(banned, counts, tried)
            if not options:
                break
            actions, count = options[0]
            tried.add(actions)
            if replay(self.env, actions) != count:
                continue  # the service failed, or the module is not what it was
            verdict = self._verdict(actions)
            if verdict.valid is not False:
                return self._result(actions, count, verdict, rejected, seconds, stopped, banned)
            rejected += 1
            culprit, _ = self._culprit(actions, limit - self.validations)
            if culprit is not None:
                banned.add(culprit)
        self.env.reset()  # nothing valid: the unoptimised program is the answer
        verdict = Validation(True, "the unoptimised program (no valid improvement found)")
        count = self.env.ir_instruction_count
        return self._result((), count, verdict, rejected, seconds, stopped, banned)

    def _options(
        self,
        banned: set[int],
        counts: dict[tuple[int, ...], int],
        tried: set[tuple[int, ...]],
    ) -> list[tuple[tuple[int, ...], int]]:
        """The candidates without the banned passes, measured (by replay when new), best first."""
        options: dict[tuple[int, ...], int] = {}
        for actions in [*self.candidates.items, *self.set_aside]:
            kept = tuple(a for a in actions if a not in banned)
            if kept in tried or kept in options:
                continue
            if kept not in counts:
                count = replay(self.env, kept)
                if count is None:
                    continue
                counts[kept] = count
            options[kept] = counts[kept]
        return sorted(options.items(), key=lambda kv: (kv[1], len(kv[0])))

    def _verdict(self, actions: tuple[int, ...]) -> Validation:
        """The verdict on `actions`, whose module `self.env` holds (remembered)."""
        if not actions:
            return Validation(True, "the unoptimised program")
        if not self.check:
            return Validation(None, "validation not requested")
        if actions not in self.verdicts:
            started = time.monotonic()
            self.verdicts[actions] = validate(self.env.program, self.env.bitcode())
            self.validations += 1
            self.validation_seconds = time.monotonic() - started
            self.validation_time += self.validation_seconds
        return self.verdicts[actions]

    def _culprit(
        self, actions: tuple[int, ...], limit: int, deadline: float = math.inf
    ) -> tuple[int | None, int]:
        """(the pass after which `actions`, invalid as a whole, first breaks the program, or
        None when `limit` validations or the deadline come first; the validations used), by
        bisection over its prefixes."""
        low, high, used = 0, len(actions), 0  # prefix `low` is valid, prefix `high` is not
        while high - low > 1 and used < limit:
            if time.monotonic() + self.validation_seconds > deadline:
                return None, used
            middle = (low + high) // 2
            if replay(self.env, actions[:middle]) is None:
                return None, used
            used += 1
            if self._verdict(actions[:middle]).valid is False:
                high = middle
            else:
                low = middle
        return (actions[high - 1] if high - low == 1 else None), used

    def _result(
        self,
        actions: tuple[int, ...],
        count: int,
        verdict: Validation,
        rejected: int,
        seconds: float,
        stopped: str,
        banned: set[int],
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
            policy_ir=self.policy_ir,
            forks=self.forks,
            rollouts=self.rollouts,
            tree_nodes=self.nodes_made,
            validations=self.validations,
            banned=tuple(f"-{ACTION_FLAGS[a]}" for a in sorted(banned)),
            service_failures=self.failures,
            stopped=stopped,
            sequences_tried=self.sequences_tried,
            sequence_ir=self.sequence_ir,
        )


def guided_search(
    env: LlvmCodeSizeEnv,
    guide: ExportedPolicy,
    budget: Budget,
    *,
    max_depth: int = DEFAULT_MAX_DEPTH,
    temperature: float = DEFAULT_TEMPERATURE,
    patience: int = DEFAULT_PATIENCE,
    root_share: float = DEFAULT_ROOT_SHARE,
    tree_size: int = DEFAULT_TREE_SIZE,
    seed: int = 0,
    check: bool = True,
    sequences: Sequence[Sequence[int]] | None = None,
) -> GuidedResult:
    """Search `env`'s program with `guide` within `budget` (see the module docstring).

    `env` should come from `make_search_env(guide, program)`; it is left at the result's module.
    `sequences`: replayed before the tree search (None: the guide's library, if it has one).
    """
    return GuidedSearch(
        env,
        guide,
        budget,
        max_depth=max_depth,
        temperature=temperature,
        patience=patience,
        root_share=root_share,
        tree_size=tree_size,
        seed=seed,
        check=check,
        sequences=sequences,
    ).run()
