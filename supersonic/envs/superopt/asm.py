"""x86-64 instructions as the superopt env handles them: parsed from clang's Intel-syntax
assembly, edited by the moves, printed back for the assemblers.

An instruction is an opcode and its operands kept as text (what the assemblers read), with a
parsed view of each operand (register, memory or immediate, and its width) for the moves, the
features and the z3 translator. Only the body of one function is kept: the instructions
between its label and its `ret` (the printer appends the `ret`); a body with a branch, call
or label is refused, since the env works on loop-free straight-line code.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache

from supersonic.envs.errors import BenchmarkError

# register name -> (the 64-bit register it is part of, width in bits, bit offset)
REGISTERS: dict[str, tuple[str, int, int]] = {}
_GPR = ("rax", "rcx", "rdx", "rbx", "rsp", "rbp", "rsi", "rdi")
for _r64, _r32, _r16, _r8 in zip(
    _GPR,
    ("eax", "ecx", "edx", "ebx", "esp", "ebp", "esi", "edi"),
    ("ax", "cx", "dx", "bx", "sp", "bp", "si", "di"),
    ("al", "cl", "dl", "bl", "spl", "bpl", "sil", "dil"),
    strict=True,
):
    REGISTERS.update({_r64: (_r64, 64, 0), _r32: (_r64, 32, 0), _r16: (_r64, 16, 0)})
    REGISTERS[_r8] = (_r64, 8, 0)
for _r64, _hi in (("rax", "ah"), ("rcx", "ch"), ("rdx", "dh"), ("rbx", "bh")):
    REGISTERS[_hi] = (_r64, 8, 8)
for _n in range(8, 16):
    _r = f"r{_n}"
    REGISTERS.update({_r: (_r, 64, 0), f"{_r}d": (_r, 32, 0), f"{_r}w": (_r, 16, 0)})
    REGISTERS[f"{_r}b"] = (_r, 8, 0)

WIDTH_OF_PTR = {"byte": 8, "word": 16, "dword": 32, "qword": 64}
PTR_OF_WIDTH = {v: k for k, v in WIDTH_OF_PTR.items()}
# control flow ends the straight-line code the env works on
_BRANCHES = re.compile(r"^(j[a-z]+|call|loop[a-z]*|jmp|ret[a-z]*|syscall|int|hlt|ud2)$")


@dataclass(frozen=True)
class Operand:
    """One operand: `kind` is reg, mem or imm; `width` in bits (0: a lea address or an
    immediate); `text` as the assembler reads it."""

    kind: str
    text: str
    width: int
    value: int = 0  # an immediate's value

    @property
    def base(self) -> str:
        """A register's 64-bit register, "" otherwise."""
        return REGISTERS[self.text][0] if self.kind == "reg" else ""


@dataclass(frozen=True)
class Instr:
    """One instruction: opcode and operand texts (Intel order: destination first)."""

    opcode: str
    operands: tuple[str, ...] = ()

    @property
    def text(self) -> str:
        return f"{self.opcode} {', '.join(self.operands)}".strip()

    @property
    def parsed(self) -> tuple[Operand, ...]:
        return tuple(parse_operand(o) for o in self.operands)

    def with_operand(self, index: int, text: str) -> Instr:
        ops = list(self.operands)
        ops[index] = text
        return Instr(self.opcode, tuple(ops))


@cache
def parse_operand(text: str) -> Operand:
    t = text.strip()
    if t in REGISTERS:
        return Operand("reg", t, REGISTERS[t][1])
    if "[" in t:
        prefix = t.split("[", 1)[0].split()
        width = WIDTH_OF_PTR.get(prefix[0], 0) if prefix else 0
        return Operand("mem", t, width)
    try:
        return Operand("imm", t, 0, int(t, 0))
    except ValueError:
        raise BenchmarkError(f"cannot read the operand {text!r}") from None


def _split_operands(rest: str) -> tuple[str, ...]:
    """Split at commas outside brackets."""
    out, depth, cur = [], 0, ""
    for ch in rest:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == "," and depth == 0:
            out.append(cur.strip())
            cur = ""
        else:
            cur += ch
    if cur.strip():
        out.append(cur.strip())
    return tuple(" ".join(o.split()) for o in out)


def parse_line(line: str) -> Instr | None:
    """One instruction of clang's output, or None for a blank line, comment or directive."""
    code = line.split("#", 1)[0].strip()
    if not code or code.startswith("."):
        return None
    opcode, _, rest = code.partition(" ")
    if "\t" in opcode:
        opcode, _, more = opcode.partition("\t")
        rest = more + " " + rest
    opcode = opcode.strip().lower()
    instr = Instr(opcode, _split_operands(rest))
    if opcode in ("shl", "shr", "sar", "sal", "rol", "ror") and len(instr.operands) == 1:
        instr = Instr(opcode, (instr.operands[0], "1"))  # the assembler's short form
    for op in instr.operands:
        parse_operand(op)  # refuse what we cannot read now, not later
    return instr


def function_body(assembly: str, symbol: str) -> tuple[Instr, ...]:
    """The instructions of `symbol` in `assembly` (clang -S -masm=intel), without its `ret`."""
    lines = assembly.splitlines()
    try:
        start = next(i for i, ln in enumerate(lines) if ln.split("#")[0].strip() == f"{symbol}:")
    except StopIteration:
        raise BenchmarkError(f"no function {symbol!r} in the assembly") from None
    body: list[Instr] = []
    for line in lines[start + 1 :]:
        code = line.split("#", 1)[0].strip()
        if code.endswith(":") and not code.startswith("."):
            raise BenchmarkError(f"{symbol}: a label inside the function ({code}): not loop-free")
        instr = parse_line(line)
        if instr is None:
            continue
        if instr.opcode in ("ret", "retq"):
            return tuple(body)
        if _BRANCHES.match(instr.opcode):
            raise BenchmarkError(
                f"{symbol}: {instr.text} is control flow; the superopt env takes "
                "straight-line code only"
            )
        body.append(instr)
    raise BenchmarkError(f"{symbol}: no ret found")


def render(body: Sequence[Instr], symbol: str = "", ret: bool = True) -> str:
    """Intel-syntax assembly text: optional global label, the body, and `ret`."""
    lines = [".intel_syntax noprefix"]
    if symbol:
        lines += [".text", f".globl {symbol}", f".type {symbol},@function", f"{symbol}:"]
    lines += [f"\t{i.text}" for i in body]
    if ret:
        lines.append("\tret")
    return "\n".join(lines) + "\n"


def listing(body: Sequence[Instr]) -> str:
    """The body on one line, instructions separated by `; ` (for tables and details)."""
    return "; ".join(i.text for i in body)


def parse_listing(text: str) -> tuple[Instr, ...]:
    """The inverse of `listing`."""
    out = []
    for part in text.split(";"):
        instr = parse_line(part)
        if instr is not None:
            out.append(instr)
    return tuple(out)
