"""Raw observations of the superopt env: numbers a state function can use as they are.

opcodes   the opcode of every slot as a token id (0: empty slot, 1: an opcode outside the
          vocabulary): a sequence a learned encoder can read
slots     per slot: occupied, opcode class, memory operands, stores to memory, destination
          width, immediate operand
summary   the program and its cost: length, memory operands, correctness distance,
          estimated cycles against -O0's, the best test-equivalent cycles so far, whether
          the current program is test-equivalent, the episode's progress
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from supersonic.envs.superopt.asm import Instr
from supersonic.envs.superopt.moves import MAX_SLOTS, OPCODE_CLASSES

EXTRA_OPCODES = ("bswap", "cdq", "cdqe", "cqo", "xchg", "movsxd", "sal", "nop")
VOCABULARY = tuple(op for cls in OPCODE_CLASSES for op in cls) + EXTRA_OPCODES
TOKEN = {op: i + 2 for i, op in enumerate(VOCABULARY)}
VOCAB_SIZE = len(VOCABULARY) + 2
CLASS_INDEX = {op: i + 1 for i, cls in enumerate(OPCODE_CLASSES) for op in cls}
SLOT_FEATURES = 6
SUMMARY_DIM = 8
N_CLASSES = len(OPCODE_CLASSES) + 1  # the last: an opcode outside the move classes
CURSOR_DIM = SLOT_FEATURES + N_CLASSES + 3
BOUND = float(VOCAB_SIZE)

OBSERVATIONS = {
    "cursor": CURSOR_DIM,
    "opcodes": MAX_SLOTS,
    "slots": MAX_SLOTS * SLOT_FEATURES,
    "summary": SUMMARY_DIM,
}


def opcodes(slots: Sequence[Instr | None]) -> np.ndarray:
    return np.array([0 if s is None else TOKEN.get(s.opcode, 1) for s in slots], np.float32)


def slot_features(slots: Sequence[Instr | None]) -> np.ndarray:
    out = np.zeros((MAX_SLOTS, SLOT_FEATURES), np.float32)
    n_classes = len(OPCODE_CLASSES) + 1
    for i, instr in enumerate(slots):
        if instr is None:
            continue
        parsed = instr.parsed
        out[i] = (
            1.0,
            CLASS_INDEX.get(instr.opcode, n_classes) / n_classes,
            sum(op.kind == "mem" and op.width > 0 for op in parsed) / 2.0,
            float(bool(parsed) and parsed[0].kind == "mem"),
            (parsed[0].width / 64.0) if parsed else 0.0,
            float(any(op.kind == "imm" for op in parsed)),
        )
    return out.reshape(-1)


def cursor(
    slots: Sequence[Instr | None], slot: int, forwardable: bool, dead_store: bool, position: float
) -> np.ndarray:
    out = np.zeros(CURSOR_DIM, np.float32)
    instr = slots[slot]
    if instr is None:
        return out
    out[:SLOT_FEATURES] = slot_features([instr])[:SLOT_FEATURES]
    out[SLOT_FEATURES + CLASS_INDEX.get(instr.opcode, N_CLASSES) - 1] = 1.0
    out[-3:] = (float(forwardable), float(dead_store), min(max(position, 0.0), 1.0))
    return out


def summary(
    slots: Sequence[Instr | None],
    error: float,
    max_error: float,
    cycles: float,
    o0_cycles: float,
    best_cycles: float,
    correct: bool,
    progress: float,
) -> np.ndarray:
    body = [s for s in slots if s is not None]
    mem = sum(op.kind == "mem" and op.width > 0 for s in body for op in s.parsed)
    return np.array(
        [
            len(body) / MAX_SLOTS,
            min(mem / MAX_SLOTS, 2.0),
            min(error / max(max_error, 1.0), 1.0),
            min(math.log2(1.0 + cycles) / 8.0, 2.0),
            min(cycles / max(o0_cycles, 1e-9), 4.0),
            min(best_cycles / max(o0_cycles, 1e-9), 4.0),
            float(correct),
            min(max(progress, 0.0), 1.0),
        ],
        np.float32,
    )
