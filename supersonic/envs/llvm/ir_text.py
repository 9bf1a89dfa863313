"""Reading LLVM's textual IR for state functions: tokens of an instruction line, opcode sequences.

The "Ir" observation is the module's textual IR. Its instructions are the indented lines of
function bodies; labels, globals, declarations and metadata start at column 0. A few indented
lines continue the instruction before them rather than being instructions: a `switch`'s case
list (`i32 1, label %3`), its closing `]`, and a `landingpad`'s clauses (`cleanup`, `catch ...`).

`ir_opcode_seq` turns a module into a sequence of opcode ids (`IR_OPCODES`, LLVM 10's
instruction set) that a learned sequence encoder can read, following the `StateFunction`
convention for token sequences: ids stored as float32, 0 meaning padding.
"""

from __future__ import annotations

import math
import re
from typing import Any

import numpy as np

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


IR_SEQ_LEN = 128
"""Opcodes in the `ir_opcode_seq` state: a longer module is sampled evenly to this many."""

# fmt: off
IR_OPCODES = (
    # terminators
    "ret", "br", "switch", "indirectbr", "invoke", "resume", "unreachable",
    "cleanupret", "catchret", "catchswitch", "callbr",
    # unary and binary operators
    "fneg", "add", "fadd", "sub", "fsub", "mul", "fmul", "udiv", "sdiv", "fdiv",
    "urem", "srem", "frem", "shl", "lshr", "ashr", "and", "or", "xor",
    # memory
    "alloca", "load", "store", "getelementptr", "fence", "cmpxchg", "atomicrmw",
    # casts
    "trunc", "zext", "sext", "fptoui", "fptosi", "uitofp", "sitofp", "fptrunc", "fpext",
    "ptrtoint", "inttoptr", "bitcast", "addrspacecast",
    # exception-handling pads
    "cleanuppad", "catchpad",
    # other
    "icmp", "fcmp", "phi", "call", "select", "va_arg", "extractelement", "insertelement",
    "shufflevector", "extractvalue", "insertvalue", "landingpad", "freeze",
)
# fmt: on
"""LLVM 10's instruction opcodes as textual IR spells them, in llvm/IR/Instruction.def's order."""

IR_PAD, IR_UNKNOWN = 0, 1
IR_OPCODE_IDS = {opcode: index + 2 for index, opcode in enumerate(IR_OPCODES)}
"""Opcode -> token id; 0 is padding and 1 an opcode not in `IR_OPCODES`."""
IR_VOCAB = len(IR_OPCODES) + 2

# Words that may stand before an opcode ("%r = tail call ...") and words that start a line
# continuing the instruction before it: a landingpad's clauses (switch cases start with a type).
_CALL_MARKERS = frozenset({"tail", "musttail", "notail"})
_CLAUSES = frozenset({"cleanup", "catch", "filter"})
_INT_TYPE = re.compile(r"i[0-9]+")


def ir_opcode_ids(ir: str) -> np.ndarray:
    """The opcode id of every instruction of the module, in textual order, int64 [n]."""
    ids = []
    for line in ir.splitlines():
        if not line[:1].isspace():
            continue
        words = _IR_TOKEN.findall(_IR_DROP.sub(" ", line))
        if words and words[0] in _CALL_MARKERS:
            words = words[1:]
        if not words or words[0] in _CLAUSES or _INT_TYPE.fullmatch(words[0]):
            continue  # "]", a landingpad clause or a switch case
        ids.append(IR_OPCODE_IDS.get(words[0], IR_UNKNOWN))
    return np.asarray(ids, dtype=np.int64)


def ir_opcode_seq(raw: Any) -> np.ndarray:
    """Opcode ids of the module's instructions, padded with 0 to IR_SEQ_LEN, then log1p(count).

    A module with more than IR_SEQ_LEN instructions is represented by IR_SEQ_LEN of them evenly
    spaced from the first to the last (always the same ones for the same module), so that every
    part of it is seen; the last entry keeps how many there were. float32 [IR_SEQ_LEN + 1].
    """
    ids = ir_opcode_ids(str(raw))
    count = len(ids)
    if count > IR_SEQ_LEN:
        ids = ids[np.linspace(0, count - 1, IR_SEQ_LEN).round().astype(np.int64)]
    out = np.zeros(IR_SEQ_LEN + 1, dtype=np.float32)
    out[: len(ids)] = ids
    out[-1] = math.log1p(count)
    return out
