"""The LLVM code-size task: its state functions, reward functions and datasets.

Every state function reads exactly one raw observation of the env (see `observations.py`) and
returns a fixed-size float32 vector; every reward function is `fn(before, after, baselines)` on
the IR instruction counts before and after a step and the program's `ProgramBaselines`.
"""

from __future__ import annotations

import math
import re
import zlib
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.llvm.actions import NUM_ACTIONS
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


# What an instruction line loses before tokenising: quoted names and strings, comments, value
# and global names (%12, %struct.s, @foo), metadata references (!12), attribute groups (#3).
# Numbers need no rule: a token must start with a letter or "_" at a word boundary, so 42, -1,
# 0x7FF8 and 1.5e+00 yield nothing.
_IR_DROP = re.compile(r'[%@!]?"[^"]*"|;.*$|[%@][-\w$.]+|![0-9]+|#[0-9]+')
_IR_TOKEN = re.compile(r"\b[A-Za-z_][\w.]*|\*|\.\.\.")


def ir_tokens(line: str) -> list[str]:
    """The opcode (as "op:NAME"), types and keywords of one IR instruction line."""
    text = _IR_DROP.sub(" ", line)
    tokens = _IR_TOKEN.findall(text)
    if not tokens:
        return []
    # The opcode is the first word: after "%x =" was dropped, that is the line's first token.
    return [f"op:{tokens[0]}", *tokens[1:]]


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
    )
}


def _ir_oz(before: int, after: int, b: Any) -> float:
    return (before - after) / max(b.ir_o0 - b.ir_oz, 1)


def _ir_o0(before: int, after: int, b: Any) -> float:
    return (before - after) / max(b.ir_o0, 1)


def _log_ratio(before: int, after: int, b: Any) -> float:
    return math.log(max(before, 1) / max(after, 1))


def _sign(before: int, after: int, b: Any) -> float:
    return float((before > after) - (before < after))


def _thresholded(before: int, after: int, b: Any) -> float:
    r = _ir_oz(before, after, b)
    return r if abs(r) >= THRESHOLD else 0.0


def _tan_shaped(before: int, after: int, b: Any) -> float:
    return math.tanh(TAN_SCALE * _ir_oz(before, after, b))


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
    )
}


@cache
def llvm_codesize_task() -> Task:
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
        metric="geomean of (IR_O0 - IR) / (IR_O0 - IR_Oz) over the validation programs",
    )
