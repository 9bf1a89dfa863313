"""Prove a rewrite equivalent to the function's -O0 code with z3, over bit-vectors.

Both bodies are executed symbolically from one shared initial state: every 64-bit register,
the flags and every byte of memory are unknowns. The rewrite is equivalent when, for every
such state, it returns the same 32-bit value in eax as the original and behaves as a function
must: the stack pointer comes back, rbx, rbp and r12-r15 keep their values, and every store
lands below the caller's stack pointer (its frame and red zone; a store over the return
address or the caller's memory refutes it). Memory is a map from a constant offset of the
initial stack pointer to a byte term, so a value kept in a stack slot and read back is
followed exactly and the solver sees no array theory (with z3 arrays one proof took 15 s);
an address that is not at a fixed offset from the stack pointer is outside the subset.

The translator covers the instructions the moves produce and clang emits for the benchmarks
(mov and its extensions, lea, the ALU and shift families, not/neg/inc/dec, imul, setcc,
cmovcc, push/pop, bswap, cdq/cdqe/cqo, xchg, nop) with their effects on ZF, SF, CF and OF;
where x86 leaves a flag undefined (after a shift, rotate or multiply) it becomes a fresh
unknown, so code that reads it cannot be proved. A body with any other instruction is
`unsupported`: such a rewrite is reported as test-equivalent only, never as proved.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from supersonic.envs.superopt.asm import REGISTERS, WIDTH_OF_PTR, Instr, parse_operand

DEFAULT_TIMEOUT_MS = 20_000
CALLEE_SAVED = ("rbx", "rbp", "r12", "r13", "r14", "r15")
ALL_REGISTERS = sorted({base for base, _w, _s in REGISTERS.values()})
_fresh = itertools.count()


class Unsupported(Exception):
    """An instruction or operand outside the translator's subset."""


@dataclass(frozen=True)
class Verdict:
    """`proved`, `refuted` (with a counterexample), `unsupported` or `unknown` (z3 gave up)."""

    status: str
    detail: str = ""

    @property
    def label(self) -> str:
        return {
            "proved": "proved equivalent (z3)",
            "refuted": "NOT equivalent (z3)",
            "unsupported": "test-equivalent only (outside the z3 subset)",
            "unknown": "test-equivalent only (z3 gave up)",
        }[self.status]


class _State:
    """Registers, flags and memory of one symbolic execution."""

    def __init__(self, z3: Any, regs: dict[str, Any], flags: dict[str, Any]) -> None:
        self.z3 = z3
        self.regs = dict(regs)
        self.rsp0 = regs["rsp"]
        self.flags = dict(flags)
        self.memory: dict[int, Any] = {}  # offset from the initial rsp -> byte
        self.stores: list[tuple[int, int]] = []  # (offset, bytes)

    # ----------------------------------------------------------------------- operands
    def address(self, text: str) -> Any:
        z3 = self.z3
        inner = text[text.index("[") + 1 : text.rindex("]")]
        inner = re.sub(r"\s*-\s*", " + -", inner.strip())
        total = z3.BitVecVal(0, 64)
        for term in (t.strip() for t in inner.split("+")):
            if not term:
                continue
            factor = 1
            if "*" in term:
                a, b = (p.strip() for p in term.split("*"))
                term, factor = (b, int(a, 0)) if a.lstrip("-").isdigit() else (a, int(b, 0))
            if term in REGISTERS:
                base, width, _ = REGISTERS[term]
                if width != 64:
                    raise Unsupported(f"address register {term}")
                total = total + self.regs[base] * factor
            else:
                try:
                    total = total + z3.BitVecVal(int(term, 0) * factor, 64)
                except ValueError:
                    raise Unsupported(f"address term {term}") from None
        return total

    def offset(self, addr: Any) -> int:
        """The address as a constant offset from the initial stack pointer: the only memory
        the benchmarks' code touches (its frame and red zone, the return address)."""
        z3 = self.z3
        delta = z3.simplify(addr - self.rsp0)
        if not z3.is_bv_value(delta):
            raise Unsupported(f"an address not at a fixed offset from the stack: {addr}")
        return int(delta.as_signed_long())

    def load(self, addr: Any, width: int) -> Any:
        z3 = self.z3
        base = self.offset(addr)
        parts = []
        for i in range(width // 8):
            byte = self.memory.get(base + i)
            if byte is None:  # never stored: the initial memory's byte, the same in both runs
                byte = z3.BitVec(f"init_mem_{base + i}", 8)
            parts.append(byte)
        return parts[0] if len(parts) == 1 else z3.Concat(*reversed(parts))

    def store(self, addr: Any, value: Any, width: int) -> None:
        z3 = self.z3
        base = self.offset(addr)
        for i in range(width // 8):
            self.memory[base + i] = z3.Extract(8 * i + 7, 8 * i, value)
        self.stores.append((base, width // 8))

    def read(self, text: str, width: int = 0) -> Any:
        z3 = self.z3
        op = parse_operand(text)
        if op.kind == "reg":
            base, w, shift = REGISTERS[op.text]
            return z3.Extract(shift + w - 1, shift, self.regs[base])
        if op.kind == "imm":
            return z3.BitVecVal(op.value % (1 << (width or 64)), width or 64)
        return self.load(self.address(op.text), op.width or width)

    def write(self, text: str, value: Any) -> None:
        z3 = self.z3
        op = parse_operand(text)
        if op.kind == "mem":
            self.store(self.address(op.text), value, op.width)
            return
        if op.kind != "reg":
            raise Unsupported(f"write to {text}")
        base, w, shift = REGISTERS[op.text]
        old = self.regs[base]
        if w == 64:
            new = value
        elif w == 32:
            new = z3.ZeroExt(32, value)
        else:
            pieces = []
            if shift + w < 64:
                pieces.append(z3.Extract(63, shift + w, old))
            pieces.append(value)
            if shift:
                pieces.append(z3.Extract(shift - 1, 0, old))
            new = z3.Concat(*pieces)
        self.regs[base] = new

    def width(self, text: str) -> int:
        op = parse_operand(text)
        if op.kind == "mem" and not op.width:
            raise Unsupported(f"memory operand without a size: {text}")
        return op.width

    # -------------------------------------------------------------------------- flags
    def set_logic_flags(self, r: Any) -> None:
        z3 = self.z3
        w = r.size()
        sign = z3.Extract(w - 1, w - 1, r) == 1
        self.flags.update(ZF=r == 0, SF=sign, CF=z3.BoolVal(False), OF=z3.BoolVal(False))

    def fresh_flags(self) -> None:
        z3 = self.z3
        n = next(_fresh)
        self.flags = {f: z3.Bool(f"undefined_{f}_{n}") for f in ("ZF", "SF", "CF", "OF")}

    def condition(self, cc: str) -> Any:
        z3 = self.z3
        f = self.flags
        lt = f["SF"] != f["OF"]
        table = {
            "e": f["ZF"],
            "z": f["ZF"],
            "ne": z3.Not(f["ZF"]),
            "nz": z3.Not(f["ZF"]),
            "l": lt,
            "le": z3.Or(f["ZF"], lt),
            "g": z3.And(z3.Not(f["ZF"]), z3.Not(lt)),
            "ge": z3.Not(lt),
            "b": f["CF"],
            "be": z3.Or(f["CF"], f["ZF"]),
            "a": z3.And(z3.Not(f["CF"]), z3.Not(f["ZF"])),
            "ae": z3.Not(f["CF"]),
            "s": f["SF"],
            "ns": z3.Not(f["SF"]),
        }
        if cc not in table:
            raise Unsupported(f"condition {cc}")
        return table[cc]

    # -------------------------------------------------------------------- instructions
    def execute(self, instr: Instr) -> None:
        z3 = self.z3
        op, ops = instr.opcode, instr.operands
        if op == "nop":
            return
        if op == "mov":
            w = self.width(ops[0]) or self.width(ops[1])
            self.write(ops[0], self.read(ops[1], w))
        elif op in ("movzx", "movsx", "movsxd"):
            wd, src = self.width(ops[0]), self.read(ops[1])
            ext = z3.ZeroExt if op == "movzx" else z3.SignExt
            self.write(ops[0], ext(wd - src.size(), src))
        elif op == "lea":
            addr = self.address(ops[1])
            self.write(ops[0], z3.Extract(self.width(ops[0]) - 1, 0, addr))
        elif op in ("add", "sub", "cmp", "and", "or", "xor", "test"):
            w = self.width(ops[0])
            a, b = self.read(ops[0], w), self.read(ops[1], w)
            if op in ("and", "test"):
                r = a & b
            elif op == "or":
                r = a | b
            elif op == "xor":
                r = a ^ b
            elif op == "add":
                r = a + b
            else:
                r = a - b
            if op in ("and", "or", "xor", "test"):
                self.set_logic_flags(r)
            else:
                sign = lambda v: z3.Extract(w - 1, w - 1, v) == 1  # noqa: E731
                if op == "add":
                    cf = z3.ULT(r, a)
                    of = z3.And(sign(a) == sign(b), sign(r) != sign(a))
                else:
                    cf = z3.ULT(a, b)
                    of = z3.And(sign(a) != sign(b), sign(r) != sign(a))
                self.flags.update(ZF=r == 0, SF=sign(r), CF=cf, OF=of)
            if op not in ("cmp", "test"):
                self.write(ops[0], r)
        elif op == "imul":
            w = self.width(ops[0])
            if len(ops) == 2:
                r = self.read(ops[0], w) * self.read(ops[1], w)
            elif len(ops) == 3:
                r = self.read(ops[1], w) * self.read(ops[2], w)
            else:
                raise Unsupported("one-operand imul")
            self.write(ops[0], r)
            self.fresh_flags()
        elif op in ("not", "neg", "inc", "dec"):
            w = self.width(ops[0])
            a = self.read(ops[0], w)
            minimum = z3.BitVecVal(1 << (w - 1), w)
            if op == "not":
                self.write(ops[0], ~a)
                return
            if op == "neg":
                r = -a
                self.flags.update(CF=a != 0, OF=a == minimum)
            elif op == "inc":
                r = a + 1
                self.flags["OF"] = r == minimum
            else:
                r = a - 1
                self.flags["OF"] = a == minimum
            self.flags.update(ZF=r == 0, SF=z3.Extract(w - 1, w - 1, r) == 1)
            self.write(ops[0], r)
        elif op in ("shl", "sal", "shr", "sar", "rol", "ror"):
            w = self.width(ops[0])
            a = self.read(ops[0], w)
            count_op = parse_operand(ops[1])
            mask = 63 if w == 64 else 31
            if count_op.kind == "imm":
                count = count_op.value & mask
                if count == 0:
                    return  # nothing changes, not even the flags
                n = z3.BitVecVal(count, w)
            elif ops[1] == "cl":
                n = z3.ZeroExt(w - 8, self.read("cl")) & mask
            else:
                raise Unsupported(f"shift count {ops[1]}")
            if op in ("shl", "sal"):
                r = a << n
            elif op == "shr":
                r = z3.LShR(a, n)
            elif op == "sar":
                r = a >> n
            elif op == "rol":
                r = z3.RotateLeft(a, n)
            else:
                r = z3.RotateRight(a, n)
            self.write(ops[0], r)
            self.fresh_flags()
        elif op.startswith("set") and len(ops) == 1:
            one, zero = z3.BitVecVal(1, 8), z3.BitVecVal(0, 8)
            self.write(ops[0], z3.If(self.condition(op[3:]), one, zero))
        elif op.startswith("cmov"):
            w = self.width(ops[0])
            moved, kept = self.read(ops[1], w), self.read(ops[0], w)
            self.write(ops[0], z3.If(self.condition(op[4:]), moved, kept))
        elif op == "push":
            value = self.read(ops[0], 64)
            if value.size() != 64:
                raise Unsupported(f"push of {ops[0]}")
            self.regs["rsp"] = self.regs["rsp"] - 8
            self.store(self.regs["rsp"], value, 64)
        elif op == "pop":
            if self.width(ops[0]) != 64:
                raise Unsupported(f"pop into {ops[0]}")
            value = self.load(self.regs["rsp"], 64)
            self.regs["rsp"] = self.regs["rsp"] + 8
            self.write(ops[0], value)
        elif op == "bswap":
            w = self.width(ops[0])
            a = self.read(ops[0], w)
            self.write(ops[0], z3.Concat(*[z3.Extract(8 * i + 7, 8 * i, a) for i in range(w // 8)]))
        elif op in ("cdq", "cltd"):
            self.write("edx", z3.Extract(63, 32, z3.SignExt(32, self.read("eax"))))
        elif op in ("cdqe", "cltq"):
            self.write("rax", z3.SignExt(32, self.read("eax")))
        elif op in ("cqo", "cqto"):
            self.write("rdx", z3.Extract(127, 64, z3.SignExt(64, self.read("rax"))))
        elif op == "xchg":
            w = self.width(ops[0])
            a, b = self.read(ops[0], w), self.read(ops[1], w)
            self.write(ops[0], b)
            self.write(ops[1], a)
        else:
            raise Unsupported(f"instruction {op}")


def _check_widths(body: Sequence[Instr]) -> None:
    for instr in body:
        for text in instr.operands:
            op = parse_operand(text)
            if op.kind == "mem" and op.width and op.width not in WIDTH_OF_PTR.values():
                raise Unsupported(text)


def prove_equivalent(
    original: Sequence[Instr], rewrite: Sequence[Instr], timeout_ms: int = DEFAULT_TIMEOUT_MS
) -> Verdict:
    """Whether `rewrite` computes what `original` does, as a function; see the module doc."""
    import z3

    regs = {r: z3.BitVec(f"init_{r}", 64) for r in ALL_REGISTERS}
    flags = {f: z3.Bool(f"init_{f}") for f in ("ZF", "SF", "CF", "OF")}
    rsp0 = regs["rsp"]
    try:
        _check_widths(list(original) + list(rewrite))
        results = []
        for body in (original, rewrite):
            state = _State(z3, regs, flags)
            for instr in body:
                state.execute(instr)
            results.append(state)
    except Unsupported as exc:
        return Verdict("unsupported", str(exc))
    target, mine = results
    above = [(o, n) for o, n in mine.stores if o + n > 0]
    if above:
        offset, size = above[0]
        return Verdict("refuted", f"stores {size} bytes at rsp{offset:+d}, in the caller's frame")
    claims = [
        z3.Extract(31, 0, target.regs["rax"]) == z3.Extract(31, 0, mine.regs["rax"]),
        mine.regs["rsp"] == rsp0,
        *[mine.regs[r] == regs[r] for r in CALLEE_SAVED],
    ]
    # straight to SAT: simplify, bit-blast, SAT solver. z3's default strategy (and its qfbv
    # tactic) gave up after 20 s on abs, O0 against O3, where this takes 30 ms
    solver = z3.Then("simplify", "bit-blast", "sat").solver()
    solver.set("timeout", timeout_ms)
    solver.add(z3.Not(z3.And(*claims)))
    answer = solver.check()
    if answer == z3.unsat:
        return Verdict("proved")
    if answer == z3.sat:
        model = solver.model()
        x = model.eval(z3.Extract(31, 0, regs["rdi"]), model_completion=True)
        y = model.eval(z3.Extract(31, 0, regs["rsi"]), model_completion=True)
        return Verdict("refuted", f"differs at x={x}, y={y}")
    return Verdict("unknown", str(solver.reason_unknown()))
