"""Turn a program (C source, IR text or bitcode) into bitcode that CompilerGym's LLVM 10 reads.

The pipeline is: clang-14 (C only, "-Oz without running passes", see `CLANG_FLAGS`) or opt-14
(IR and bitcode: parses, verifies and strips debug info) -> `downgrade_ir` -> llvm-as-14. Results
are cached on disk by content so resets, workers and test runs do not pay for clang twice.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path

from supersonic.envs.errors import (
    CompileError,
    ConversionError,
    EmptyProgramError,
    NotIrError,
    ProgramNotFoundError,
    ProgramTooLargeError,
)
from supersonic.envs.llvm.downgrade import count_instructions, downgrade_ir
from supersonic.envs.llvm.toolpack import llvm_tool, run_tool
from supersonic.paths import cache_dir

# Bump when anything below changes what a given input turns into (invalidates the cache).
PIPELINE_VERSION = 2
# Unoptimised IR as clang -Oz leaves it before its passes: no `optnone`/`noinline`, and every
# function marked `minsize optsize`. The task is code size, and LLVM's passes read those
# attributes to decide for size: with them the action space's `-inline` uses -Oz's threshold (25,
# not the default 225, which inlines every small multi-caller function and bloats the module),
# and loop rotation, unswitching, unrolling and vectorization stop duplicating code. Without
# them no pass sequence could inline only what -Oz inlines (docs/deploy.md). CompilerGym's own
# flags say -O1 (same instructions, no size attributes); with -Oz's attributes the env's -Oz
# baseline is what clang -Oz itself makes: equal or smaller (7 of the 36 built-in programs).
CLANG_FLAGS = (
    "-Oz",
    "-Xclang",
    "-disable-llvm-passes",
    "-Xclang",
    "-disable-llvm-optzns",
    "-emit-llvm",
    "-S",
)
DEFAULT_MAX_INSTRUCTIONS = 100_000
SOURCE_SUFFIXES = (".c", ".ll", ".bc")
BITCODE_MAGIC = b"BC\xc0\xde"
BITCODE_WRAPPER_MAGIC = b"\xde\xc0\x17\x0b"


@dataclass(frozen=True)
class PreparedProgram:
    """LLVM-10-readable bitcode of one program and what we learnt while making it."""

    name: str
    bitcode: bytes
    ir_instructions: int
    has_main: bool
    sha256: str


def _cache_key(kind: str, content: bytes, extra: tuple[str, ...]) -> str:
    h = hashlib.sha256()
    h.update(f"v{PIPELINE_VERSION}\0{kind}\0{' '.join(extra)}\0".encode())
    h.update(content)
    return h.hexdigest()


def _cache_paths(key: str) -> tuple[Path, Path]:
    folder = cache_dir() / "bitcode" / key[:2]
    return folder / f"{key}.bc", folder / f"{key}.json"


def _load_cached(key: str, name: str) -> PreparedProgram | None:
    bc_path, meta_path = _cache_paths(key)
    try:
        meta = json.loads(meta_path.read_text())
        bitcode = bc_path.read_bytes()
    except (OSError, ValueError):
        return None
    if hashlib.sha256(bitcode).hexdigest() != meta.get("sha256"):
        return None
    return PreparedProgram(
        name=name,
        bitcode=bitcode,
        ir_instructions=int(meta["ir_instructions"]),
        has_main=bool(meta["has_main"]),
        sha256=meta["sha256"],
    )


def _store(key: str, program: PreparedProgram) -> None:
    bc_path, meta_path = _cache_paths(key)
    bc_path.parent.mkdir(parents=True, exist_ok=True)
    # Write to temporary names then rename, so a concurrent reader never sees half a file.
    for path, payload in (
        (bc_path, program.bitcode),
        (
            meta_path,
            json.dumps(
                {
                    "ir_instructions": program.ir_instructions,
                    "has_main": program.has_main,
                    "sha256": program.sha256,
                }
            ).encode(),
        ),
    ):
        tmp = path.with_suffix(path.suffix + f".{id(program)}.tmp")
        tmp.write_bytes(payload)
        tmp.replace(path)


def _has_main(ir: str) -> bool:
    return any(line.startswith("define ") and "@main(" in line for line in ir.splitlines())


def _from_llvm14_ir(ir: str, name: str) -> PreparedProgram:
    """Downgrade printed LLVM 14 IR and assemble it (the size limit is checked by the caller)."""
    try:
        downgraded = downgrade_ir(ir)
    except ConversionError as exc:
        raise ConversionError(f"{name}: {exc}") from exc
    count = count_instructions(downgraded)
    if count == 0:
        raise EmptyProgramError(f"{name}: has no function bodies to optimize")
    bitcode = run_tool(
        [str(llvm_tool("llvm-as")), "-", "-o", "-"], downgraded.encode(), name, ConversionError
    )
    return PreparedProgram(
        name=name,
        bitcode=bitcode,
        ir_instructions=count,
        has_main=_has_main(downgraded),
        sha256=hashlib.sha256(bitcode).hexdigest(),
    )


def compile_c(source: bytes, name: str, cflags: tuple[str, ...] = ()) -> str:
    """clang-14 a C translation unit (given as bytes, read from stdin) to unoptimised IR text."""
    argv = [str(llvm_tool("clang")), *CLANG_FLAGS, *cflags, "-x", "c", "-", "-o", "-"]
    return run_tool(argv, source, name, CompileError).decode()


def parse_ir(content: bytes, name: str) -> str:
    """Parse and verify IR text or bitcode with opt-14; canonical text without debug info."""
    argv = [str(llvm_tool("opt")), "-S", "--strip-debug", "-", "-o", "-"]
    return run_tool(argv, content, name, NotIrError).decode()


def is_bitcode(content: bytes) -> bool:
    return content.startswith(BITCODE_MAGIC) or content.startswith(BITCODE_WRAPPER_MAGIC)


def prepare_bytes(
    content: bytes,
    kind: str,
    name: str,
    *,
    cflags: tuple[str, ...] = (),
    max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS,
) -> PreparedProgram:
    """Prepare a program given as bytes; `kind` is "c", "ll" or "bc"."""
    if not content.strip():
        raise EmptyProgramError(f"{name}: the file is empty")
    key = _cache_key(kind, content, cflags)
    cached = _load_cached(key, name)
    if cached is None:
        if kind == "c":
            ir = compile_c(content, name, cflags)
        elif kind in ("ll", "bc"):
            if kind == "bc" and not is_bitcode(content):
                raise NotIrError(f"{name}: not LLVM bitcode (no bitcode magic number)")
            ir = parse_ir(content, name)
        else:
            raise ValueError(f"unknown program kind {kind!r}: expected one of c, ll, bc")
        cached = _from_llvm14_ir(ir, name)
        _store(key, cached)
    if max_instructions is not None and cached.ir_instructions > max_instructions:
        raise ProgramTooLargeError(
            f"{name}: {cached.ir_instructions} IR instructions is over the limit of "
            f"{max_instructions} (raise max_instructions to accept it)"
        )
    return cached


def prepare_file(
    path: Path,
    *,
    cflags: tuple[str, ...] = (),
    max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS,
) -> PreparedProgram:
    """Prepare a `.c`, `.ll` or `.bc` file."""
    suffix = path.suffix.lower()
    if suffix not in SOURCE_SUFFIXES:
        raise NotIrError(
            f"{path}: unsupported file type {suffix or '(none)'}; expected .c, .ll or .bc"
        )
    try:
        content = path.read_bytes()
    except FileNotFoundError as exc:
        raise ProgramNotFoundError(f"{path}: no such file") from exc
    except IsADirectoryError as exc:
        raise ProgramNotFoundError(f"{path}: is a directory, not a program") from exc
    return prepare_bytes(
        content, suffix[1:], str(path), cflags=cflags, max_instructions=max_instructions
    )
