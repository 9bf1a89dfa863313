"""How an exported policy of a schedule task (TVM operators, Halide pipelines) spends a budget
of measured trials on one program.

Sampling whole schedules from the policy, one after another, wastes trials: a trained policy
is sure of most knobs, so its samples repeat the same few schedules (a bench run measured
the same schedule several times in 16 trials) and never look next to the best one. So the
search here, like the evolutionary searches of schedule tuners, alternates exploration with
local moves, and uses the policy for both:

1. trial 1 is the search's best schedule for this program, when the export carries one
   (`best_results.json`: the best result per validation program found by the search, in its
   evaluations or its training episodes, that passed validation), then the policy's own
   (argmax) schedule, as in the search's evaluations. A search on a program measures
   hundreds of schedules while it trains; the best of them is what an autotuner's record
   would hand over, and the trials here continue from it rather than start over;
2. then each trial is, with probability `mutate_share` (once a schedule has been measured),
   a *mutation* of the best schedule so far: one or two of its knobs, picked uniformly, are
   re-decided by sampling the policy at that point of the episode (its observation then holds
   the best schedule's earlier decisions), excluding the value the best one has; the other
   knobs keep the best one's values. Otherwise a whole schedule *sampled* from the policy.
   A sampled knob takes `EXPLORE` of its probability uniformly over its options: a trained
   policy can be confidently wrong on a program (a bench run: 10x where uniform random
   schedules reached 17x), and a prior that never proposes an option cannot recover.
3. A schedule is never measured twice: at the last knob the options that would repeat a
   measured schedule are masked; when all of them would, the episode is drawn again (up to
   `ATTEMPTS` times), then a uniformly random unmeasured schedule is taken.

The policy chooses among a knob's options, not among raw actions: the env maps action `a` to
option `a mod n`, so an option's probability is the sum over the actions that map to it.
Every schedule goes through the policy's own env (its measuring process, its failures), so
the trials are counted exactly as a random search's or MetaSchedule's are.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from supersonic.actors.exported import ExportedPolicy, load_policy
from supersonic.actors.policy import log_softmax
from supersonic.envs.knob_env import recorded_schedule
from supersonic.envs.tvm.measure import Measurement
from supersonic.envs.tvm.search import SearchResult

MUTATE_SHARE = 0.5
TEMPERATURE = 1.0
EXPLORE = 0.25  # the share of a sampled knob's probability spread uniformly over its options
ATTEMPTS = 8


def search_with_policy(
    path: str,
    program: str,
    trials: int,
    default_seconds: float,
    seed: int = 0,
    mutate_share: float = MUTATE_SHARE,
) -> SearchResult:
    """The best of `trials` measured schedules the exported policy at `path` proposes for
    `program` (see the module docstring)."""
    if trials < 1:
        raise ValueError(f"trials must be >= 1, got {trials}")
    exported = load_policy(path)
    rng = np.random.default_rng(seed)
    result = SearchResult(program, "policy", default_seconds)
    env = exported.make_env(program, 0)  # 0: every knob is decided
    seen: set[tuple[int, ...]] = set()
    try:
        known = known_schedule(exported, program, env)
        argmax_trial = 0 if known is None else 1  # the known best goes first
        for trial in range(trials):
            if known is not None and trial == 0:
                chosen, info = _step_through(env, program, known)
            else:
                if trial == argmax_trial:
                    mode = "argmax"
                elif result.seconds is not None and rng.random() < mutate_share:
                    mode = "mutate"
                else:
                    mode = "sample"
                chosen, info = _episode(env, exported, program, rng, mode, result.chosen, seen)
            seen.add(chosen)
            result.offer(chosen, _as_measurement(info))
    finally:
        env.close()
    return result


def known_schedule(exported: ExportedPolicy, program: str, env: Any) -> tuple[int, ...] | None:
    """The export's validated best schedule for `program` (its knob values), when it has
    one that fits the program's knobs; else None (an export without best results, another
    program, or a result without `chosen`)."""
    row = exported.best_results.get(program)
    values = () if row is None else recorded_schedule(row["details"])
    if not values:
        return None
    env.reset(options={"benchmark": program})
    knobs = env.knobs
    if len(values) != len(knobs) or any(
        v not in k.options for k, v in zip(knobs, values, strict=True)
    ):
        return None
    return values


def _episode(
    env: Any,
    exported: ExportedPolicy,
    program: str,
    rng: np.random.Generator,
    mode: str,
    best: Sequence[int],
    seen: set[tuple[int, ...]],
) -> tuple[tuple[int, ...], dict[str, Any]]:
    """One measured schedule not in `seen`: (its knob values, the measuring step's info)."""
    for _ in range(ATTEMPTS):
        raw, _ = env.reset(options={"benchmark": program})
        knobs = env.knobs
        redo: set[int] = set()
        if mode == "mutate":
            count = min(len(knobs), int(rng.integers(1, 3)))
            redo = {int(k) for k in rng.choice(len(knobs), size=count, replace=False)}
        for k, knob in enumerate(knobs):
            options = list(knob.options)
            if mode == "mutate" and k not in redo:
                allowed = [best[k]]
            elif mode == "mutate" and len(options) > 1:
                allowed = [v for v in options if v != best[k]]
            else:
                allowed = options
            if k == len(knobs) - 1:
                allowed = [v for v in allowed if (*env.chosen, v) not in seen]
                if not allowed:
                    break  # every way to finish repeats a measured schedule: draw again
            value = _pick(exported, raw, options, allowed, rng, argmax=mode == "argmax")
            raw, _, terminated, truncated, info = env.step(options.index(value))
            if terminated or truncated:
                return tuple(env.chosen), info
    return _random_unseen(env, program, rng, seen)


def _pick(
    exported: ExportedPolicy,
    raw: Any,
    options: list[int],
    allowed: list[int],
    rng: np.random.Generator,
    argmax: bool,
) -> int:
    """One of `allowed` (values among `options`) by the policy's probabilities of them."""
    if len(allowed) == 1:
        return allowed[0]
    logits = np.asarray(exported.policy.logits(exported.state_fn(raw)), dtype=np.float64)
    probabilities = np.exp(log_softmax(logits / TEMPERATURE))
    per_option = np.zeros(len(options))
    for action, p in enumerate(probabilities):
        per_option[action % len(options)] += p
    weights = np.array([per_option[options.index(v)] for v in allowed])
    if argmax:
        return allowed[int(np.argmax(weights))]
    prior = (
        weights / weights.sum() if weights.sum() > 0 else np.full(len(allowed), 1 / len(allowed))
    )
    mixed = (1 - EXPLORE) * prior + EXPLORE / len(allowed)
    return allowed[int(rng.choice(len(allowed), p=mixed / mixed.sum()))]


def _random_unseen(
    env: Any, program: str, rng: np.random.Generator, seen: set[tuple[int, ...]]
) -> tuple[tuple[int, ...], dict[str, Any]]:
    """A uniformly random schedule, unmeasured if one is found in a few draws."""
    env.reset(options={"benchmark": program})
    knobs = env.knobs
    for _ in range(64):
        draw = tuple(k.options[int(rng.integers(len(k.options)))] for k in knobs)
        if draw not in seen:
            break
    return _step_through(env, program, draw)


def _step_through(
    env: Any, program: str, values: Sequence[int]
) -> tuple[tuple[int, ...], dict[str, Any]]:
    """Measure the schedule with these knob values: (its knob values, the last step's info)."""
    env.reset(options={"benchmark": program})
    info: dict[str, Any] = {}
    for knob, value in zip(env.knobs, values, strict=True):
        _, _, terminated, truncated, info = env.step(knob.options.index(value))
        if terminated or truncated:
            break
    return tuple(env.chosen), info


def _as_measurement(info: dict[str, Any]) -> Measurement:
    if "failure" in info:
        return Measurement(None, str(info["failure"]))
    return Measurement(float(info["seconds"]))
