"""Machine code for an instruction sequence, by keystone (in process: tens of microseconds,
where an assembler process would cost milliseconds per env step).

Keystone accepts some immediates that do not fit their operand (`add al, 300`) which LLVM's
assembler refuses; `assemble` refuses them too, so that what the env accepts also builds with
clang for native timing.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

from supersonic.envs.superopt.asm import Instr

_KS = None


def _keystone() -> object:
    global _KS
    if _KS is None:
        import keystone

        _KS = keystone.Ks(keystone.KS_ARCH_X86, keystone.KS_MODE_64)
    return _KS


def immediates_fit(instr: Instr) -> bool:
    """Every immediate fits the width of the instruction's first operand (shift counts 0..63)."""
    parsed = instr.parsed
    width = parsed[0].width if parsed and parsed[0].width else 64
    for op in parsed[1:]:
        if op.kind != "imm":
            continue
        if instr.opcode in ("shl", "shr", "sar", "sal", "rol", "ror"):
            if not 0 <= op.value < 64:
                return False
        elif width >= 64:
            if not -(2**31) <= op.value < 2**31:  # x86-64 immediates are at most 32 bits
                return False
        elif not -(2 ** (width - 1)) <= op.value < 2**width:
            return False
    return True


@lru_cache(maxsize=65536)
def _assemble_text(text: str) -> bytes | None:
    import keystone

    ks = _keystone()
    try:
        encoding, _count = ks.asm(text)  # type: ignore[attr-defined]
    except keystone.KsError:
        return None
    return bytes(encoding or b"")


def assemble(body: Sequence[Instr], ret: bool = True) -> bytes | None:
    """The machine code of `body` (and a final `ret`), None if it does not assemble."""
    if not all(immediates_fit(i) for i in body):
        return None
    text = "; ".join([i.text for i in body] + (["ret"] if ret else []))
    return _assemble_text(text)


def assembles(instr: Instr) -> bool:
    """Whether one instruction assembles on its own."""
    return immediates_fit(instr) and _assemble_text(instr.text) is not None
