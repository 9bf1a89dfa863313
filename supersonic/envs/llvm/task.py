"""The LLVM code-size task: its state functions, reward functions and datasets.

Every state function reads exactly one raw observation of the env (see `observations.py`) and
returns a fixed-size float32 vector (concatenations such as "autophase+action_history" are made
by `Task.state_fn`); every reward function is `fn(before, after, baselines)` on the `CodeSize`
before and after a step and the program's `ProgramBaselines`. `CodeSizeScorer` does that
bookkeeping on the actor and scores an episode with the leaderboard metric.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.llvm.actions import NUM_ACTIONS
from supersonic.envs.llvm.ir_text import IR_SEQ_LEN, IR_VOCAB, ir_opcode_seq, ir_tokens
from supersonic.envs.llvm.metrics import geomean, leaderboard_metric
from supersonic.envs.llvm.observations import AUTOPHASE_DIM, INST2VEC_DIM, INSTCOUNT_DIM
from supersonic.envs.task import RewardFunction, StateFunction, Task

HISTORY_CAP = 4.0
IR_TOKEN_BUCKETS = 256
PROGRAML_NODE_TYPES = 4  # instruction, variable, constant, type
PROGRAML_EDGE_FLOWS = 3  # control, data, call
PROGRAML_TEXT_BUCKETS = 128
INST2VEC_SUMMARY_DIM = 2 * INST2VEC_DIM + 1
PROGRAML_STATS_DIM = 2 + PROGRAML_NODE_TYPES + PROGRAML_EDGE_FLOWS + PROGRAML_TEXT_BUCKETS
THRESHOLD = 0.001  # `thresholded`: Oz-normalised drops smaller than this in magnitude give 0
IR_TEXT_WEIGHT = 0.5  # `ir_text_mix`: weight of the IR term; .text gets the rest
TAN_SCALE = 5.0  # `tan_shaped`: tanh(5 * drop / (IR_O0 - IR_Oz))


def _autophase(raw: Any) -> np.ndarray:
    # Counts span 0..thousands; log1p keeps them on one scale without per-program statistics.
    return np.log1p(np.asarray(raw, dtype=np.float32))


def _instcount_norm(raw: Any) -> np.ndarray:
    counts = np.asarray(raw, dtype=np.float32)
    out = counts / max(float(counts[0]), 1.0)  # opcode mix as fractions of all instructions
    out[:3] = np.log1p(counts[:3])  # totals (instructions, blocks, functions) on a log scale
    return out


def _action_history(raw: Any) -> np.ndarray:
    return np.minimum(np.asarray(raw, dtype=np.float32), HISTORY_CAP) / HISTORY_CAP


def _inst2vec_summary(raw: Any) -> np.ndarray:
    """Mean and max of the per-instruction embeddings, then log1p of the instruction count."""
    emb = np.asarray(raw, dtype=np.float32).reshape(-1, INST2VEC_DIM)
    out = np.zeros(INST2VEC_SUMMARY_DIM, dtype=np.float32)
    if len(emb):  # an empty module keeps zeros (and count 0)
        out[:INST2VEC_DIM] = emb.mean(axis=0)
        out[INST2VEC_DIM : 2 * INST2VEC_DIM] = emb.max(axis=0)
    out[-1] = math.log1p(len(emb))
    return out


def _ir_token_bag(raw: Any) -> np.ndarray:
    """log1p counts of IR tokens hashed (crc32) into IR_TOKEN_BUCKETS buckets."""
    counts = np.zeros(IR_TOKEN_BUCKETS, dtype=np.float64)
    for line in str(raw).splitlines():
        # Instructions are the indented lines of function bodies; labels, globals,
        # declarations and metadata start at column 0.
        if not line[:1].isspace():
            continue
        for token in ir_tokens(line):
            counts[zlib.crc32(token.encode()) % IR_TOKEN_BUCKETS] += 1
    return np.log1p(counts).astype(np.float32)


def _bincount(values: np.ndarray, size: int) -> np.ndarray:
    # Values past the known range (a future ProGraML version) go to the last bin.
    return np.bincount(np.clip(values, 0, size - 1), minlength=size).astype(np.float64)


def _programl_stats(raw: Any) -> np.ndarray:
    """log1p of: node and edge totals, node-type counts, edge-flow counts, node-text histogram."""
    nodes = np.asarray(raw.nodes, dtype=np.int64).reshape(-1, 2)
    edges = np.asarray(raw.edges, dtype=np.int64).reshape(-1, 2)
    parts = [
        np.array([len(nodes), len(edges)], dtype=np.float64),
        _bincount(nodes[:, 0], PROGRAML_NODE_TYPES),
        _bincount(edges[:, 0], PROGRAML_EDGE_FLOWS),
        # Node text is already a crc32 into 2**20 buckets; its low bits fold it further.
        _bincount(nodes[:, 1] % PROGRAML_TEXT_BUCKETS, PROGRAML_TEXT_BUCKETS),
    ]
    return np.log1p(np.concatenate(parts)).astype(np.float32)


STATE_FNS = {
    f.name: f
    for f in (
        StateFunction(
            "autophase",
            "Autophase",
            AUTOPHASE_DIM,
            _autophase,
            "log1p of the 56 Autophase features",
        ),
        StateFunction(
            "instcount_norm",
            "InstCount",
            INSTCOUNT_DIM,
            _instcount_norm,
            "log totals, then each opcode's share of all instructions",
        ),
        StateFunction(
            "action_history",
            "ActionHistory",
            NUM_ACTIONS,
            _action_history,
            "how often each pass was applied this episode (capped at 4, scaled)",
        ),
        StateFunction(
            "inst2vec_summary",
            "Inst2vec",
            INST2VEC_SUMMARY_DIM,
            _inst2vec_summary,
            "mean and max of the inst2vec embeddings over instructions, log1p(instructions)",
        ),
        StateFunction(
            "ir_token_bag",
            "Ir",
            IR_TOKEN_BUCKETS,
            _ir_token_bag,
            f"log1p counts of instruction opcodes, types and keywords, crc32-hashed into "
            f"{IR_TOKEN_BUCKETS} buckets (value names and constants ignored)",
        ),
        StateFunction(
            "programl_stats",
            "Programl",
            PROGRAML_STATS_DIM,
            _programl_stats,
            f"log1p of ProGraML node/edge totals, node-type and edge-flow counts, and node "
            f"texts hashed into {PROGRAML_TEXT_BUCKETS} buckets",
        ),
        StateFunction(
            "ir_opcode_seq",
            "Ir",
            IR_SEQ_LEN + 1,
            ir_opcode_seq,
            f"the module's instruction opcodes in order as token ids for a learned sequence "
            f"encoder ({IR_SEQ_LEN} evenly spaced ones when longer, 0-padded), then "
            f"log1p(instructions)",
            seq_len=IR_SEQ_LEN,
            vocab=IR_VOCAB,
        ),
    )
}


@dataclass(frozen=True)
class CodeSize:
    """What a step is measured by: IR instructions, and .text bytes when a reward needs them."""

    ir: int
    text: int | None = None


def _ir_oz(before: CodeSize, after: CodeSize, b: Any) -> float:
    return (before.ir - after.ir) / max(b.ir_o0 - b.ir_oz, 1)


def _ir_o0(before: CodeSize, after: CodeSize, b: Any) -> float:
    return (before.ir - after.ir) / max(b.ir_o0, 1)


def _log_ratio(before: CodeSize, after: CodeSize, b: Any) -> float:
    return math.log(max(before.ir, 1) / max(after.ir, 1))


def _sign(before: CodeSize, after: CodeSize, b: Any) -> float:
    return float((before.ir > after.ir) - (before.ir < after.ir))


def _thresholded(before: CodeSize, after: CodeSize, b: Any) -> float:
    r = _ir_oz(before, after, b)
    return r if abs(r) >= THRESHOLD else 0.0


def _tan_shaped(before: CodeSize, after: CodeSize, b: Any) -> float:
    return math.tanh(TAN_SCALE * _ir_oz(before, after, b))


def _text_oz(before: CodeSize, after: CodeSize, b: Any) -> float:
    """.text bytes removed / what -Oz removes (floored at 1% of -O0's .text: on a program where
    -Oz barely shrinks .text, a one-byte scale would make the reward explode)."""
    if before.text is None or after.text is None:
        raise ValueError("this reward needs the object .text size in the env's info")
    return (before.text - after.text) / max(b.text_o0 - b.text_oz, b.text_o0 // 100, 1)


def mixed_ir_text(weight: float) -> Callable[[CodeSize, CodeSize, Any], float]:
    """weight * ir_oz + (1 - weight) * text_oz: both are 1 over an episode that matches -Oz."""

    def fn(before: CodeSize, after: CodeSize, b: Any) -> float:
        return weight * _ir_oz(before, after, b) + (1 - weight) * _text_oz(before, after, b)

    return fn


REWARD_FNS = {
    f.name: f
    for f in (
        RewardFunction(
            "ir_oz",
            _ir_oz,
            "instruction drop / (IR_O0 - IR_Oz): CompilerGym's "
            "IrInstructionCountOz; an episode reaching -Oz earns 1",
        ),
        RewardFunction("ir_o0", _ir_o0, "instruction drop / IR_O0"),
        RewardFunction("log_ratio", _log_ratio, "log(IR_before / IR_after)"),
        RewardFunction(
            "sign", _sign, "+1 if the step removed instructions, -1 if it added, else 0"
        ),
        RewardFunction(
            "thresholded",
            _thresholded,
            f"ir_oz, but 0 when |ir_oz| < {THRESHOLD} (ignores negligible changes)",
        ),
        RewardFunction(
            "tan_shaped",
            _tan_shaped,
            f"tanh({TAN_SCALE:g} * ir_oz): bounded in (-1, 1); a step doing a fifth of -Oz's "
            "work earns tanh(1) = 0.76",
        ),
        RewardFunction(
            "ir_text_mix",
            mixed_ir_text(IR_TEXT_WEIGHT),
            f"{IR_TEXT_WEIGHT:g} * ir_oz + {1 - IR_TEXT_WEIGHT:g} * (.text bytes removed / "
            "what -Oz removes); compiles an object every step (~50 ms)",
            env_options={"object_size_in_info": True},
        ),
    )
}


class CodeSizeScorer:
    """Measures an LLVM episode: the reward from IR (and .text) counts, and the leaderboard
    metric of the smallest module seen (a deployed policy keeps the best module it found)."""

    def __init__(self, reward_fn: RewardFunction) -> None:
        self.reward_fn = reward_fn
        self.baselines: Any = None
        self.now = CodeSize(0)
        self.best = 0
        self.actions: list[str] = []
        self.best_length = 0  # the actions that reach the best module: actions[:best_length]

    @staticmethod
    def _measure(info: Mapping[str, Any]) -> CodeSize:
        text = info.get("object_text_size")
        return CodeSize(int(info["ir_instruction_count"]), None if text is None else int(text))

    def start(self, info: Mapping[str, Any]) -> None:
        self.baselines = info["baselines"]
        self.now = self._measure(info)
        self.best = self.now.ir
        self.actions, self.best_length = [], 0

    def step(self, env_reward: float, info: Mapping[str, Any]) -> float:
        after = self._measure(info)
        reward = self.reward_fn(self.now, after, self.baselines)
        self.now = after
        self.actions.append(str(info.get("action", "?")))
        if after.ir < self.best:
            self.best, self.best_length = after.ir, len(self.actions)
        return reward

    def score(self) -> float:
        b = self.baselines
        return leaderboard_metric(b.ir_o0, b.ir_oz, self.best)

    def details(self) -> dict[str, float | int | str]:
        b = self.baselines
        return {
            "ir": self.best,
            "ir_o0": b.ir_o0,
            "ir_oz": b.ir_oz,
            "ir_o3": b.ir_o3,  # for the report's comparison with -O3
            "passes": " ".join(self.actions[: self.best_length]),  # reach the best module
        }


def resolve_programs(spec: str) -> list[str]:
    """`builtin:train` -> the URIs of that split; generator specs keep their own colon."""
    from supersonic.envs.llvm.benchmarks import resolve_dataset

    dataset, sep, split = spec.rpartition(":")
    if not sep or split not in ("train", "validation", "test"):
        raise ValueError(f"{spec!r}: expected DATASET:SPLIT, e.g. builtin:train")
    return [b.uri for b in resolve_dataset(dataset).split(split)]


def check_program(program: str) -> None:
    """Raise a one-line ValueError if `program` cannot be built into bitcode LLVM 10 reads."""
    from supersonic.envs.llvm.benchmarks import resolve_benchmark

    resolve_benchmark(program).prepare()


def validate_result(program: str, details: Mapping[str, Any]) -> str:
    """Replay a result's passes on `program`, check the IR count it claims, and compare the
    optimized program's behaviour with the -O0 build's (see `validation.validate`)."""
    from supersonic.envs.llvm.env import LlvmCodeSizeEnv
    from supersonic.envs.llvm.validation import validate

    passes = str(details.get("passes", "")).split()
    env = LlvmCodeSizeEnv(program, max_episode_steps=max(1, len(passes)))
    try:
        _, info = env.reset()
        for name in passes:
            _, _, _, _, info = env.step(name)
            if "failure" in info:
                return f"INVALID: replay failed: {info['failure']}"
        if info["ir_instruction_count"] != details.get("ir"):
            return (
                f"INVALID: replay gives {info['ir_instruction_count']} IR instructions, "
                f"the result claims {details.get('ir')}"
            )
        verdict = validate(env.program, env.bitcode())
        return f"{verdict.label}: {verdict.reason}"
    finally:
        env.close()


def _geomean(values: Sequence[float]) -> float:
    return geomean(values).value


@cache
def llvm_codesize_task() -> Task:
    from supersonic.envs.llvm.baseline_jobs import random_search_baseline
    from supersonic.envs.llvm.env import LlvmCodeSizeEnv

    return Task(
        name="llvm-codesize",
        make_env=LlvmCodeSizeEnv,
        n_actions=NUM_ACTIONS,
        state_fns=STATE_FNS,
        reward_fns=REWARD_FNS,
        algorithms=("ppo", "a2c", "dqn", "impala"),
        train="builtin:train",
        validation="builtin:validation",
        test="builtin:test",
        scorer=CodeSizeScorer,
        resolve_programs=resolve_programs,
        aggregate=_geomean,
        random_baseline=random_search_baseline,
        check_program=check_program,
        validate_result=validate_result,
        metric="geomean of (IR_O0 - IR) / (IR_O0 - IR_Oz) over the validation programs",
        doc="LLVM pass ordering for code size on CompilerGym",
        run_env_options=("step_timeout_s",),
    )
