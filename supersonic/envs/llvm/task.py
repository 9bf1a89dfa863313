"""The LLVM code-size task: its state functions, reward functions and datasets."""

from __future__ import annotations

import math
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.llvm.actions import NUM_ACTIONS
from supersonic.envs.llvm.observations import AUTOPHASE_DIM, INSTCOUNT_DIM
from supersonic.envs.task import RewardFunction, StateFunction, Task

HISTORY_CAP = 4.0


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
    )
}


def _ir_oz(before: int, after: int, b: Any) -> float:
    return (before - after) / max(b.ir_o0 - b.ir_oz, 1)


def _ir_o0(before: int, after: int, b: Any) -> float:
    return (before - after) / max(b.ir_o0, 1)


def _log_ratio(before: int, after: int, b: Any) -> float:
    return math.log(max(before, 1) / max(after, 1))


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
        algorithms=("ppo",),
        train="builtin:train",
        validation="builtin:validation",
        test="builtin:test",
        metric="geomean of (IR_O0 - IR) / (IR_O0 - IR_Oz) over the validation programs",
    )
