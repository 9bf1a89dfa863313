"""Benchmarks and datasets of the LLVM code-size task, with train / validation / test splits.

A `BenchmarkSpec` says where a program comes from and costs nothing to create; `prepare()` does
the compiling (cached). Sources:

- the built-in suite `benchmark://supersonic-builtin-v0/NAME` (programs/*.c, split fixed in
  programs/manifest.toml);
- a user's `.c`, `.ll` or `.bc` file (`file:///abs/path.c` or just the path), or a directory of
  them (splits from `train/`, `validation/`, `test/` sub-directories when present, otherwise a
  stable hash of each file's relative path);
- generated programs, reproducible from their seed: `generator://llvm-stress-v0/SEED[?size=N]`
  and `generator://csmith-v0/SEED`; as datasets `llvm-stress:FIRST-LAST`, `csmith:FIRST-LAST`.
"""

from __future__ import annotations

import hashlib
import shutil
import subprocess
import tomllib
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from supersonic.envs.errors import BenchmarkError, ProgramNotFoundError
from supersonic.envs.llvm.bitcode import (
    DEFAULT_MAX_INSTRUCTIONS,
    SOURCE_SUFFIXES,
    PreparedProgram,
    prepare_bytes,
    prepare_file,
)
from supersonic.envs.llvm.toolpack import llvm_tool

SPLITS = ("train", "validation", "test")
BUILTIN = "supersonic-builtin-v0"
BUILTIN_PREFIX = f"benchmark://{BUILTIN}/"
LLVM_STRESS = "llvm-stress-v0"
CSMITH = "csmith-v0"
LLVM_STRESS_DEFAULT_SIZE = 200
CSMITH_INCLUDE = Path("/usr/include/csmith")
# Small programs: csmith's defaults make modules of tens of thousands of instructions.
CSMITH_OPTIONS = (
    "--max-funcs",
    "4",
    "--max-block-depth",
    "3",
    "--max-expr-complexity",
    "6",
    "--max-array-dim",
    "2",
    "--no-packed-struct",
)
GENERATOR_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class BenchmarkSpec:
    """One program of a dataset: its URI, split, and how to build it."""

    uri: str
    split: str
    kind: str  # "c", "ll", "bc" (a file) or "llvm-stress", "csmith" (generated)
    path: Path | None = None
    seed: int | None = None
    size: int | None = None

    @property
    def name(self) -> str:
        """A short human name: the last part of the URI."""
        return unquote(self.uri.rsplit("/", 1)[-1])

    def prepare(self, max_instructions: int | None = DEFAULT_MAX_INSTRUCTIONS) -> PreparedProgram:
        """Compile (or fetch from the cache) this program's LLVM-10-readable bitcode."""
        if self.kind == "llvm-stress":
            assert self.seed is not None and self.size is not None
            ir = _generate(
                [
                    str(llvm_tool("llvm-stress")),
                    f"--seed={self.seed}",
                    f"--size={self.size}",
                    "-o",
                    "-",
                ],
                self.uri,
            )
            return prepare_bytes(ir, "ll", self.uri, max_instructions=max_instructions)
        if self.kind == "csmith":
            assert self.seed is not None
            csmith = shutil.which("csmith")
            if csmith is None:
                raise BenchmarkError(
                    f"{self.uri}: csmith is not installed; "
                    "run: apt-get install -y csmith libcsmith-dev"
                )
            source = _generate([csmith, "--seed", str(self.seed), *CSMITH_OPTIONS], self.uri)
            return prepare_bytes(
                source,
                "c",
                self.uri,
                cflags=("-I", str(CSMITH_INCLUDE), "-w"),
                max_instructions=max_instructions,
            )
        assert self.path is not None
        prepared = prepare_file(self.path, max_instructions=max_instructions)
        # Report the URI, not the (possibly temporary) path, in later messages.
        return PreparedProgram(
            name=self.uri,
            bitcode=prepared.bitcode,
            ir_instructions=prepared.ir_instructions,
            has_main=prepared.has_main,
            sha256=prepared.sha256,
        )


@dataclass(frozen=True)
class Dataset:
    """A named, ordered collection of benchmarks."""

    name: str
    benchmarks: tuple[BenchmarkSpec, ...]

    def split(self, split: str) -> list[BenchmarkSpec]:
        if split not in SPLITS:
            raise BenchmarkError(f"unknown split {split!r}: choose one of {', '.join(SPLITS)}")
        return [b for b in self.benchmarks if b.split == split]


def _generate(argv: list[str], uri: str) -> bytes:
    try:
        proc = subprocess.run(argv, capture_output=True, timeout=GENERATOR_TIMEOUT_S, check=False)
    except subprocess.TimeoutExpired as exc:
        raise BenchmarkError(f"{uri}: generator took over {GENERATOR_TIMEOUT_S:.0f} s") from exc
    if proc.returncode != 0:
        raise BenchmarkError(
            f"{uri}: generator failed: {proc.stderr.decode(errors='replace').strip()[:200]}"
        )
    return proc.stdout


def _hash_split(key: str) -> str:
    """A stable 80/10/10 train/validation/test split from a string."""
    bucket = int(hashlib.sha256(key.encode()).hexdigest(), 16) % 10
    return "train" if bucket < 8 else ("validation" if bucket == 8 else "test")


def _seed_split(seed: int) -> str:
    bucket = seed % 10
    return "train" if bucket < 8 else ("validation" if bucket == 8 else "test")


# ------------------------------------------------------------------------------------ built-in
def builtin_programs_dir() -> Path:
    return Path(str(resources.files("supersonic.envs.llvm") / "programs"))


@cache
def builtin_dataset() -> Dataset:
    folder = builtin_programs_dir()
    manifest = tomllib.loads((folder / "manifest.toml").read_text())
    benchmarks = []
    for split in SPLITS:
        for name in manifest["splits"][split]:
            benchmarks.append(
                BenchmarkSpec(
                    uri=BUILTIN_PREFIX + name, split=split, kind="c", path=folder / f"{name}.c"
                )
            )
    return Dataset(BUILTIN, tuple(benchmarks))


def default_benchmark() -> BenchmarkSpec:
    """The program an environment starts on when none is given: the first training program."""
    return builtin_dataset().split("train")[0]


# ------------------------------------------------------------------------------ user files
def file_benchmark(path: Path, split: str | None = None) -> BenchmarkSpec:
    path = path.expanduser().resolve()
    suffix = path.suffix.lower()
    if suffix not in SOURCE_SUFFIXES:
        raise BenchmarkError(
            f"{path}: unsupported file type {suffix or '(none)'}; expected .c, .ll or .bc"
        )
    if not path.is_file():
        raise ProgramNotFoundError(f"{path}: no such file")
    return BenchmarkSpec(
        uri=path.as_uri(), split=split or _hash_split(path.name), kind=suffix[1:], path=path
    )


def directory_dataset(folder: Path) -> Dataset:
    folder = folder.expanduser().resolve()
    if not folder.is_dir():
        raise ProgramNotFoundError(f"{folder}: no such directory")
    files = sorted(
        p for p in folder.rglob("*") if p.is_file() and p.suffix.lower() in SOURCE_SUFFIXES
    )
    if not files:
        raise ProgramNotFoundError(f"{folder}: holds no .c, .ll or .bc files")
    benchmarks = []
    for path in files:
        rel = path.relative_to(folder)
        split = rel.parts[0] if len(rel.parts) > 1 and rel.parts[0] in SPLITS else None
        benchmarks.append(file_benchmark(path, split or _hash_split(rel.as_posix())))
    return Dataset(f"dir:{folder}", tuple(benchmarks))


# ------------------------------------------------------------------------------- generators
def llvm_stress_benchmark(seed: int, size: int = LLVM_STRESS_DEFAULT_SIZE) -> BenchmarkSpec:
    if seed < 0 or size <= 0:
        raise BenchmarkError(f"llvm-stress needs a seed >= 0 and a size > 0, got {seed}, {size}")
    uri = f"generator://{LLVM_STRESS}/{seed}"
    if size != LLVM_STRESS_DEFAULT_SIZE:
        uri += f"?size={size}"
    return BenchmarkSpec(uri=uri, split=_seed_split(seed), kind="llvm-stress", seed=seed, size=size)


def csmith_benchmark(seed: int) -> BenchmarkSpec:
    if seed < 0:
        raise BenchmarkError(f"csmith needs a seed >= 0, got {seed}")
    return BenchmarkSpec(
        uri=f"generator://{CSMITH}/{seed}", split=_seed_split(seed), kind="csmith", seed=seed
    )


def _parse_seed_range(text: str, spec: str) -> range:
    first, sep, last = text.partition("-")
    try:
        lo = int(first)
        hi = int(last) if sep else lo
    except ValueError as exc:
        raise BenchmarkError(f"{spec!r}: expected a seed range such as 0-99") from exc
    if lo < 0 or hi < lo:
        raise BenchmarkError(f"{spec!r}: expected a seed range FIRST-LAST with 0 <= FIRST <= LAST")
    return range(lo, hi + 1)


# -------------------------------------------------------------------------------- resolving
def resolve_dataset(spec: str) -> Dataset:
    """`builtin`, `llvm-stress:0-99`, `csmith:0-9`, or a directory of programs."""
    if spec in ("builtin", BUILTIN):
        return builtin_dataset()
    kind, sep, seeds = spec.partition(":")
    if sep and kind in ("llvm-stress", "csmith"):
        make = llvm_stress_benchmark if kind == "llvm-stress" else csmith_benchmark
        return Dataset(spec, tuple(make(s) for s in _parse_seed_range(seeds, spec)))
    path = Path(spec.removeprefix("dir:"))
    if path.is_dir():
        return directory_dataset(path)
    raise ProgramNotFoundError(
        f"unknown dataset {spec!r}: use builtin, llvm-stress:FIRST-LAST, csmith:FIRST-LAST "
        "or a directory of .c/.ll/.bc files"
    )


def resolve_benchmark(spec: str | Path | BenchmarkSpec | None) -> BenchmarkSpec:
    """A benchmark from a URI, a built-in program name, or a file path (None: the default)."""
    if spec is None:
        return default_benchmark()
    if isinstance(spec, BenchmarkSpec):
        return spec
    if isinstance(spec, Path):
        return file_benchmark(spec)
    text = spec.strip()
    if text.startswith(BUILTIN_PREFIX):
        return _builtin_by_name(text.removeprefix(BUILTIN_PREFIX))
    if text.startswith("generator://"):
        return _generator_benchmark(text)
    if text.startswith("file://"):
        return file_benchmark(Path(unquote(urlparse(text).path)))
    if "://" in text:
        raise ProgramNotFoundError(
            f"{text}: unknown benchmark URI; use {BUILTIN_PREFIX}NAME, generator://..., "
            "file://... or a path"
        )
    path = Path(text)
    if path.suffix.lower() in SOURCE_SUFFIXES or path.exists():
        return file_benchmark(path)
    return _builtin_by_name(text)


def _builtin_by_name(name: str) -> BenchmarkSpec:
    for bench in builtin_dataset().benchmarks:
        if bench.name == name:
            return bench
    raise ProgramNotFoundError(
        f"no built-in program or file {name!r}; `supersonic benchmarks` lists the programs"
    )


def _generator_benchmark(uri: str) -> BenchmarkSpec:
    url = urlparse(uri)
    try:
        seed = int(url.path.strip("/"))
        size = int(parse_qs(url.query).get("size", [str(LLVM_STRESS_DEFAULT_SIZE)])[0])
    except ValueError as exc:
        raise BenchmarkError(f"{uri}: expected generator://GENERATOR/SEED") from exc
    if url.netloc == LLVM_STRESS:
        return llvm_stress_benchmark(seed, size)
    if url.netloc == CSMITH:
        return csmith_benchmark(seed)
    raise ProgramNotFoundError(f"{uri}: unknown generator; use {LLVM_STRESS} or {CSMITH}")
