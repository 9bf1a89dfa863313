"""Run machine code on test inputs in unicorn (a CPU emulator): what a rewrite computes.

Each test calls the code as a function would be called: arguments in edi and esi, a return
address on a mapped stack, the callee-saved registers (rbx, r12-r15) holding per-test values
and rbp pointing at unmapped memory, every other register and the stack below the return
address filled with per-test garbage. So a rewrite cannot lean on a value the caller did not
give it: reading garbage gives wrong outputs, using the caller's rbp as a pointer faults. A
run ends when `ret` reaches the return address; a fault, a runaway (more than `MAX_STEPS`
instructions) or a clobbered callee-saved register counts against the rewrite.

Inputs are the edge values of 32-bit integers (0, 1, -1, the extremes, powers of two and
their neighbours) and seeded random values; the reference output of a test is what the
function's -O0 code computes on it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

CODE_ADDR = 0x400000
CODE_SIZE = 0x10000
STACK_ADDR = 0x7F0000000000
STACK_SIZE = 0x10000
RETURN_ADDR = 0x500000  # mapped (one page) so that `until` is reached cleanly
FRAME_POINTER = 0x0BAD00000000  # unmapped: using the caller's rbp as a pointer faults
MAX_STEPS = 1000
GARBAGE_BYTES = 512
MASK32 = 0xFFFFFFFF

EDGE_VALUES = (
    0,
    1,
    2,
    3,
    7,
    8,
    0x7F,
    0x80,
    0xFF,
    0x100,
    0x7FFF,
    0x8000,
    0xFFFF,
    0x55555555,
    0xAAAAAAAA,
    0x7FFFFFFE,
    0x7FFFFFFF,
    0x80000000,
    0x80000001,
    0xFFFFFFFE,
    0xFFFFFFFF,
)


@dataclass(frozen=True)
class Inputs:
    """The argument values of the tests: `x[i]`, `y[i]` for test i (y unused by unary code)."""

    x: tuple[int, ...]
    y: tuple[int, ...]

    def __len__(self) -> int:
        return len(self.x)


def make_inputs(n_random: int = 24, seed: int = 0, arity: int = 2) -> Inputs:
    """Edge values (paired with each other for two arguments) then `n_random` random pairs."""
    rng = np.random.default_rng(seed)
    edges = list(EDGE_VALUES)
    if arity == 1:
        xs, ys = edges[:], [0] * len(edges)
    else:
        xs = edges + edges[::-1]
        ys = edges[::-1] + edges[3::] + edges[:3]
        xs += [0x80000000, 0x7FFFFFFF, 5]
        ys += [0x7FFFFFFF, 0x80000000, 5]
    for _ in range(n_random):
        # random values of random magnitude: small numbers are where bugs hide
        bits = int(rng.integers(1, 33))
        xs.append(int(rng.integers(0, 2**bits)) ^ (MASK32 if rng.random() < 0.3 else 0))
        bits = int(rng.integers(1, 33))
        ys.append(int(rng.integers(0, 2**bits)) ^ (MASK32 if rng.random() < 0.3 else 0))
    return Inputs(tuple(x & MASK32 for x in xs), tuple(y & MASK32 for y in ys))


@dataclass(frozen=True)
class Outcome:
    """One test: the 32-bit return value (None after a fault) and whether the callee-saved
    registers and the stack pointer came back as they were."""

    value: int | None
    preserved: bool
    fault: str = ""


class Emulator:
    """One unicorn instance, reused for every run (creating one costs far more than a run)."""

    def __init__(self) -> None:
        from unicorn import UC_ARCH_X86, UC_MODE_64, Uc

        self.uc: Any = Uc(UC_ARCH_X86, UC_MODE_64)  # (its stubs lack the ctl_* methods)
        self.uc.mem_map(CODE_ADDR, CODE_SIZE)
        self.uc.mem_map(RETURN_ADDR, 0x1000)
        self.uc.mem_map(STACK_ADDR, STACK_SIZE)
        self.sp = STACK_ADDR + STACK_SIZE // 2 - 8  # the return address lies here
        self.garbage = np.random.default_rng(1234).integers(
            0, 256, size=(64, GARBAGE_BYTES + 16 * 8), dtype=np.uint8
        )

    def run(self, code: bytes, inputs: Inputs) -> list[Outcome]:
        """Every test of `inputs` on `code` (which must end with `ret`)."""
        from unicorn import UcError
        from unicorn import x86_const as x

        if len(code) > CODE_SIZE:
            return [Outcome(None, False, "code too large")] * len(inputs)
        uc = self.uc
        uc.mem_write(CODE_ADDR, code)
        uc.ctl_flush_tb()  # unicorn keeps translated blocks of the previous code otherwise
        scratch = (
            x.UC_X86_REG_RAX,
            x.UC_X86_REG_RCX,
            x.UC_X86_REG_RDX,
            x.UC_X86_REG_R8,
            x.UC_X86_REG_R9,
            x.UC_X86_REG_R10,
            x.UC_X86_REG_R11,
        )
        saved = (
            x.UC_X86_REG_RBX,
            x.UC_X86_REG_R12,
            x.UC_X86_REG_R13,
            x.UC_X86_REG_R14,
            x.UC_X86_REG_R15,
        )
        out: list[Outcome] = []
        for i in range(len(inputs)):
            junk = self.garbage[i % len(self.garbage)]
            words = junk[GARBAGE_BYTES:].view(np.uint64)
            uc.mem_write(self.sp - GARBAGE_BYTES, junk[:GARBAGE_BYTES].tobytes())
            uc.mem_write(self.sp, RETURN_ADDR.to_bytes(8, "little"))
            for k, reg in enumerate(scratch):
                uc.reg_write(reg, int(words[k]))
            expected_saved = [int(words[8 + k]) for k in range(len(saved))]
            for reg, value in zip(saved, expected_saved, strict=True):
                uc.reg_write(reg, value)
            # the upper halves of the argument registers are garbage too (the ABI allows it)
            uc.reg_write(x.UC_X86_REG_RDI, (int(words[7]) & ~MASK32) | inputs.x[i])
            uc.reg_write(x.UC_X86_REG_RSI, (int(words[13]) & ~MASK32) | inputs.y[i])
            uc.reg_write(x.UC_X86_REG_RBP, FRAME_POINTER)
            uc.reg_write(x.UC_X86_REG_RSP, self.sp)
            uc.reg_write(x.UC_X86_REG_EFLAGS, 0x202)
            try:
                uc.emu_start(CODE_ADDR, RETURN_ADDR, count=MAX_STEPS)
            except UcError as exc:
                out.append(Outcome(None, False, str(exc)))
                continue
            if uc.reg_read(x.UC_X86_REG_RIP) != RETURN_ADDR:
                out.append(Outcome(None, False, "did not return"))
                continue
            preserved = (
                uc.reg_read(x.UC_X86_REG_RSP) == self.sp + 8
                and uc.reg_read(x.UC_X86_REG_RBP) == FRAME_POINTER
                and all(
                    uc.reg_read(reg) == value
                    for reg, value in zip(saved, expected_saved, strict=True)
                )
            )
            out.append(Outcome(int(uc.reg_read(x.UC_X86_REG_RAX)) & MASK32, bool(preserved)))
        return out


def outputs(outcomes: Sequence[Outcome]) -> list[int | None]:
    return [o.value for o in outcomes]
