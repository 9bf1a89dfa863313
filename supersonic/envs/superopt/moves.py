"""STOKE's moves on a program of fixed length: what the env's actions and MCMC's proposals do.

A program is `MAX_SLOTS` slots, each an instruction or empty (a no-op: not emitted). The -O0
code fills the first slots. A move is a kind applied at a slot; every kind but `replace`
addresses the program's instructions, slot `s` meaning the `s mod n`-th of its `n`
instructions (so no action is wasted on an empty slot), while `replace` addresses the slot
itself (and so can fill an empty one):

    nop       empty the slot (delete the instruction); on a `push`, its matching `pop` goes
              too: deleting either alone unbalances the stack, which always faults, so the
              pair (the frame of -O0 code) could never be removed by moves the env keeps
    opcode    another opcode of the instruction's equivalence class (add/sub/and/or/xor/imul,
              the shifts and rotates, not/neg/inc/dec, movzx/movsx, cmp/test, the setcc and
              the cmovcc families)
    operand   one operand replaced by another of the same width: a register of the pool, a
              memory operand the program uses (so a stack slot can become a register and back),
              or an immediate of the program's or a few small constants
    forward   a memory operand the instruction reads replaced by the register that the nearest
              earlier `mov` stored to the same place: "register for stack slot", the rewrite
              that -O0 code (every value spilled) offers most; a deterministic special case
              of `operand` that a short search finds far more often
    swap      exchange the slot with another non-empty slot
    replace   a random instruction (any class, operands from the pools) in the slot: fills an
              empty slot too

The choices inside a move (which opcode, which operand) are drawn from the caller's random
generator. A move whose result does not assemble is drawn again (a few times) and otherwise
leaves the program as it was (`MoveResult.changed` False): every program a move makes
assembles.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from supersonic.envs.superopt.asm import PTR_OF_WIDTH, REGISTERS, Instr, Operand, parse_operand
from supersonic.envs.superopt.assemble import assembles

MAX_SLOTS = 40
MOVE_KINDS = ("nop", "opcode", "operand", "forward", "swap", "replace")
N_ACTIONS = len(MOVE_KINDS)  # the env applies a move kind at its cursor
ATTEMPTS = 12
CONDITIONS = ("e", "ne", "l", "le", "g", "ge", "b", "be", "a", "ae", "s", "ns")
OPCODE_CLASSES: tuple[tuple[str, ...], ...] = (
    ("add", "sub", "and", "or", "xor", "imul"),
    ("shl", "shr", "sar", "rol", "ror"),
    ("not", "neg", "inc", "dec"),
    ("mov",),
    ("movzx", "movsx"),
    ("cmp", "test"),
    tuple(f"set{c}" for c in CONDITIONS),
    tuple(f"cmov{c}" for c in CONDITIONS),
    ("lea",),
    ("push", "pop"),
)
CLASS_OF = {op: cls for cls in OPCODE_CLASSES for op in cls}
POOL_REGISTERS = ("rax", "rcx", "rdx", "rsi", "rdi", "r8", "r9")
SMALL_CONSTANTS = (0, 1, -1, 2, 3, 31)
_NAMES_BY_WIDTH: dict[tuple[str, int], str] = {
    (base, width): name for name, (base, width, shift) in REGISTERS.items() if shift == 0
}


@dataclass(frozen=True)
class Pools:
    """The operands moves draw from: registers by width, the program's memory operands by
    width, immediates."""

    registers: dict[int, tuple[str, ...]]
    memory: dict[int, tuple[str, ...]]
    immediates: tuple[int, ...]

    @classmethod
    def of(cls, body: Sequence[Instr]) -> Pools:
        bases = list(POOL_REGISTERS)
        mems: dict[int, list[str]] = {8: [], 16: [], 32: [], 64: []}
        imms = list(SMALL_CONSTANTS)
        for instr in body:
            for op in instr.parsed:
                if op.kind == "reg" and op.base not in bases and op.base not in ("rsp", "rbp"):
                    bases.append(op.base)
                elif op.kind == "mem" and op.width and op.text not in mems[op.width]:
                    mems[op.width].append(op.text)
                elif op.kind == "imm" and op.value not in imms:
                    imms.append(op.value)
        # every memory operand at every width: a 32-bit slot read as a byte is a legal move
        for width in (8, 16, 32, 64):
            for text in [t for w in mems for t in mems[w]]:
                address = text[text.index("[") :]
                retyped = f"{PTR_OF_WIDTH[width]} ptr {address}"
                if retyped not in mems[width]:
                    mems[width].append(retyped)
        registers = {w: tuple(_NAMES_BY_WIDTH[(b, w)] for b in bases) for w in (8, 16, 32, 64)}
        return cls(registers, {w: tuple(v) for w, v in mems.items()}, tuple(imms))


@dataclass(frozen=True)
class MoveResult:
    changed: bool
    description: str


def dead_store(slots: Sequence[Instr | None], slot: int) -> bool:
    """Whether the instruction at `slot` stores a register to memory that no later
    instruction mentions (so deleting it cannot change a later read)."""
    instr = slots[slot]
    if instr is None or instr.opcode != "mov" or len(instr.operands) != 2:
        return False
    dst = instr.parsed[0]
    if dst.kind != "mem":
        return False
    address = dst.text[dst.text.index("[") :]
    return not any(
        later is not None and any(address in op for op in later.operands)
        for later in slots[slot + 1 :]
    )


def body_of(slots: Sequence[Instr | None]) -> tuple[Instr, ...]:
    return tuple(i for i in slots if i is not None)


def slots_of(body: Sequence[Instr]) -> list[Instr | None]:
    if len(body) > MAX_SLOTS:
        raise ValueError(f"{len(body)} instructions do not fit {MAX_SLOTS} slots")
    return list(body) + [None] * (MAX_SLOTS - len(body))


def apply_move(
    slots: list[Instr | None], kind: str, slot: int, pools: Pools, rng: np.random.Generator
) -> MoveResult:
    """Apply one move in place; see the module docstring."""
    if kind != "replace":
        occupied = [i for i, s in enumerate(slots) if s is not None]
        if occupied:
            slot = occupied[slot % len(occupied)]
    current = slots[slot]
    if kind == "forward":
        forwarded = None if current is None else _forwarded(slots, slot)
        if forwarded is None or not assembles(forwarded):
            return MoveResult(False, f"forward {slot}: nothing to forward")
        slots[slot] = forwarded
        return MoveResult(True, f"forward {slot}: {forwarded.text}")
    if kind == "nop":
        if current is None:
            return MoveResult(False, f"nop {slot}: already empty")
        slots[slot] = None
        partner = _matching_pop(slots, slot) if current.opcode == "push" else None
        if partner is not None:
            slots[partner] = None
            return MoveResult(True, f"nop {slot}: {current.text} (and pop at {partner})")
        return MoveResult(True, f"nop {slot}: {current.text}")
    if kind == "swap":
        others = [i for i, s in enumerate(slots) if s is not None and i != slot]
        if not others or current is None:
            return MoveResult(False, f"swap {slot}: nothing to swap")
        other = int(rng.choice(others))
        slots[slot], slots[other] = slots[other], slots[slot]
        return MoveResult(True, f"swap {slot} {other}")
    for _ in range(ATTEMPTS):
        if kind == "replace":
            proposal: Instr | None = random_instruction(pools, rng)
        elif current is None:
            return MoveResult(False, f"{kind} {slot}: empty slot")
        elif kind == "opcode":
            proposal = _other_opcode(current, rng)
        elif kind == "operand":
            proposal = _other_operand(current, pools, rng)
        else:
            raise ValueError(f"unknown move {kind!r}; choose one of {', '.join(MOVE_KINDS)}")
        if proposal is not None and proposal != current and assembles(proposal):
            slots[slot] = proposal
            return MoveResult(True, f"{kind} {slot}: {proposal.text}")
    return MoveResult(False, f"{kind} {slot}: no assemblable proposal")


def _matching_pop(slots: Sequence[Instr | None], slot: int) -> int | None:
    """The slot of the `pop` that takes back what the push at `slot` stored, if any."""
    depth = 1
    for i in range(slot + 1, len(slots)):
        instr = slots[i]
        if instr is None:
            continue
        if instr.opcode == "push":
            depth += 1
        elif instr.opcode == "pop":
            depth -= 1
            if depth == 0:
                return i
    return None


def forwardable(slots: Sequence[Instr | None], slot: int) -> bool:
    return slots[slot] is not None and _forwarded(slots, slot) is not None


def _forwarded(slots: Sequence[Instr | None], slot: int) -> Instr | None:
    """The instruction at `slot` with its first memory read replaced by the register the
    nearest earlier `mov [same place], reg` stored (of the same width), None if none."""
    instr = slots[slot]
    assert instr is not None
    pure_write = instr.opcode in ("mov", "lea") or instr.opcode.startswith("set")
    for index, op in enumerate(instr.parsed):
        if op.kind != "mem" or not op.width or (index == 0 and pure_write):
            continue
        for earlier in reversed(slots[:slot]):
            if earlier is None or earlier.opcode != "mov" or len(earlier.operands) != 2:
                continue
            dst, src = earlier.parsed
            if dst.kind == "mem" and dst.text == op.text:
                if src.kind == "reg" and src.width == op.width:
                    return instr.with_operand(index, src.text)
                break
    return None


def _other_opcode(instr: Instr, rng: np.random.Generator) -> Instr | None:
    cls = CLASS_OF.get(instr.opcode, ())
    choices = [op for op in cls if op != instr.opcode]
    if not choices:
        return None
    return Instr(str(rng.choice(choices)), instr.operands)


def _pick(options: Sequence[str], rng: np.random.Generator) -> str | None:
    return str(options[int(rng.integers(len(options)))]) if options else None


def _same_width(op: Operand, pools: Pools, rng: np.random.Generator) -> str | None:
    if op.kind == "imm":
        return str(int(rng.choice(pools.immediates)))
    width = op.width or 64
    same = pools.registers.get(width, ()) + pools.memory.get(width, ())
    options = [t for t in same if t != op.text]
    return _pick(options, rng)


def _other_operand(instr: Instr, pools: Pools, rng: np.random.Generator) -> Instr | None:
    if not instr.operands:
        return None
    index = int(rng.integers(len(instr.operands)))
    op = parse_operand(instr.operands[index])
    if op.kind == "mem" and not op.width:  # a lea address: change a register in it
        return None
    new = _same_width(op, pools, rng)
    return None if new is None else instr.with_operand(index, new)


def _reg_or_mem(width: int, pools: Pools, rng: np.random.Generator, mem_ok: bool = True) -> str:
    regs = pools.registers[width]
    mems = pools.memory.get(width, ()) if mem_ok else ()
    choice = _pick(regs + mems, rng)
    assert choice is not None
    return choice


def random_instruction(pools: Pools, rng: np.random.Generator) -> Instr:
    """Any instruction of the classes the moves know, on operands from the pools (it may not
    assemble: the caller checks)."""
    cls = OPCODE_CLASSES[int(rng.integers(len(OPCODE_CLASSES)))]
    opcode = str(rng.choice(cls))
    width = int(rng.choice((32, 32, 32, 8, 64)))
    dst = _reg_or_mem(width, pools, rng)
    src_is_imm = rng.random() < 0.4
    imm = str(int(rng.choice(pools.immediates)))
    if opcode in ("add", "sub", "and", "or", "xor", "imul", "mov", "cmp", "test"):
        src = imm if src_is_imm else _reg_or_mem(width, pools, rng)
        return Instr(opcode, (dst, src))
    if opcode in ("shl", "shr", "sar", "rol", "ror"):
        return Instr(opcode, (dst, "cl" if rng.random() < 0.2 else str(int(rng.integers(1, 32)))))
    if opcode in ("not", "neg", "inc", "dec"):
        return Instr(opcode, (dst,))
    if opcode in ("movzx", "movsx"):
        small = int(rng.choice((8, 16)))
        dst32 = _pick(pools.registers[32], rng) or "eax"
        return Instr(opcode, (dst32, _reg_or_mem(small, pools, rng)))
    if opcode.startswith("set"):
        return Instr(opcode, (_reg_or_mem(8, pools, rng),))
    if opcode.startswith("cmov"):
        reg = _pick(pools.registers[32], rng) or "eax"
        return Instr(opcode, (reg, _reg_or_mem(32, pools, rng)))
    if opcode == "lea":
        a = _pick(pools.registers[64], rng) or "rax"
        b = _pick(pools.registers[64], rng) or "rax"
        scale = int(rng.choice((1, 2, 4, 8)))
        disp = int(rng.choice(pools.immediates))
        address = f"[{a} + {scale}*{b}" + (f" + {disp}" if disp >= 0 else f" - {-disp}") + "]"
        return Instr("lea", (_pick(pools.registers[32], rng) or "eax", address))
    return Instr(opcode, (_pick(pools.registers[64], rng) or "rax",))  # push, pop
