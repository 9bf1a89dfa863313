"""The benchmarks of the superopt task: small loop-free integer functions in C.

Written for this project in the style of the Hacker's Delight problems (bit tricks, absolute
value, min/max, sign, powers of two, averaging without overflow, population count steps).
Every function takes one or two 32-bit integers (in edi, esi) and returns a 32-bit integer
(in eax), and is written without `?:`, `&&` and `||` so that clang -O0 emits straight-line
code: the env's moves work on one basic block. The reference semantics of a function is the
output of its -O0 code on the test inputs (`emulate.py`); `tests/test_superopt_env.py` checks
that the emulation agrees with native execution.
"""

from __future__ import annotations

from dataclasses import dataclass

from supersonic.envs.errors import ProgramNotFoundError


@dataclass(frozen=True)
class Function:
    """One benchmark: its name (the program id), arity and C body (the function is `NAME`)."""

    name: str
    arity: int  # 1 or 2 arguments: x (edi), y (esi)
    signature: str  # e.g. "int x, int y"
    ret: str  # the C return type
    body: str  # the C statements of the body
    doc: str

    @property
    def c_source(self) -> str:
        return f"{self.ret} {self.name}({self.signature}) {{ {self.body} }}\n"


def _f(name: str, sig: str, ret: str, body: str, doc: str) -> Function:
    return Function(name, sig.count(",") + 1, sig, ret, body, doc)


FUNCTIONS: tuple[Function, ...] = (
    _f("abs", "int x", "int", "int m = x >> 31; return (x ^ m) - m;", "absolute value"),
    _f("nabs", "int x", "int", "int m = x >> 31; return m - (x ^ m);", "negative abs"),
    _f(
        "sign",
        "int x",
        "int",
        "return (x >> 31) | (int)((unsigned)-x >> 31);",
        "-1, 0 or 1",
    ),
    _f("min", "int x, int y", "int", "return y ^ ((x ^ y) & -(x < y));", "signed minimum"),
    _f("max", "int x, int y", "int", "return x ^ ((x ^ y) & -(x < y));", "signed maximum"),
    _f(
        "avg_floor",
        "unsigned x, unsigned y",
        "unsigned",
        "return (x & y) + ((x ^ y) >> 1);",
        "floor((x + y) / 2) without overflow",
    ),
    _f(
        "avg_ceil",
        "unsigned x, unsigned y",
        "unsigned",
        "return (x | y) - ((x ^ y) >> 1);",
        "ceil((x + y) / 2) without overflow",
    ),
    _f(
        "clear_lowest",
        "unsigned x",
        "unsigned",
        "unsigned t = x - 1; return x & t;",
        "turn off the rightmost 1-bit",
    ),
    _f(
        "isolate_lowest",
        "unsigned x",
        "unsigned",
        "unsigned n = -x; return x & n;",
        "isolate the rightmost 1-bit",
    ),
    _f(
        "trailing_mask",
        "unsigned x",
        "unsigned",
        "unsigned t = x - 1; return ~x & t;",
        "a mask of the trailing 0-bits",
    ),
    _f(
        "set_lowest_zero",
        "unsigned x",
        "unsigned",
        "unsigned t = x + 1; return x | t;",
        "turn on the rightmost 0-bit",
    ),
    _f(
        "smear_lowest",
        "unsigned x",
        "unsigned",
        "unsigned t = x - 1; return x ^ t;",
        "the rightmost 1-bit and the trailing 0-bits",
    ),
    _f(
        "clear_trailing_ones",
        "unsigned x",
        "unsigned",
        "unsigned t = x + 1; return x & t;",
        "turn off the trailing 1-bits",
    ),
    _f(
        "round_up_pow2",
        "unsigned x",
        "unsigned",
        "x = x - 1; x |= x >> 1; x |= x >> 2; x |= x >> 4; x |= x >> 8; x |= x >> 16;"
        " return x + 1;",
        "the least power of 2 >= x",
    ),
    _f(
        "round_down_pow2",
        "unsigned x",
        "unsigned",
        "x |= x >> 1; x |= x >> 2; x |= x >> 4; x |= x >> 8; x |= x >> 16; return x - (x >> 1);",
        "the greatest power of 2 <= x",
    ),
    _f(
        "popcount_pairs",
        "unsigned x",
        "unsigned",
        "unsigned h = x >> 1; h = h & 0x55555555; return x - h;",
        "first population-count step: bit counts of 2-bit fields",
    ),
    _f(
        "popcount_nibbles",
        "unsigned x",
        "unsigned",
        "unsigned a = x & 0x33333333; unsigned b = x >> 2; b = b & 0x33333333; return a + b;",
        "second population-count step: 2-bit counts summed into nibbles",
    ),
    _f(
        "popcount",
        "unsigned x",
        "unsigned",
        "x = x - ((x >> 1) & 0x55555555); x = (x & 0x33333333) + ((x >> 2) & 0x33333333);"
        " x = (x + (x >> 4)) & 0x0f0f0f0f; x = x + (x >> 8); x = x + (x >> 16);"
        " return x & 0x3f;",
        "population count (Hacker's Delight 5-1)",
    ),
    _f(
        "is_pow2",
        "unsigned x",
        "int",
        "int a = (x & (x - 1)) == 0; int b = x != 0; return a & b;",
        "1 if x is a power of 2",
    ),
    _f(
        "doz",
        "int x, int y",
        "int",
        "int d = x - y; int m = -(x >= y); return d & m;",
        "difference or zero: max(x - y, 0)",
    ),
    _f(
        "rotl7",
        "unsigned x",
        "unsigned",
        "unsigned a = x << 7; unsigned b = x >> 25; return a | b;",
        "rotate left by 7",
    ),
    _f(
        "bswap",
        "unsigned x",
        "unsigned",
        "return ((x >> 24) & 0xff) | ((x >> 8) & 0xff00) | ((x << 8) & 0xff0000) | (x << 24);",
        "byte swap",
    ),
    _f(
        "parity",
        "unsigned x",
        "unsigned",
        "x = x ^ (x >> 16); x = x ^ (x >> 8); x = x ^ (x >> 4); x = x ^ (x >> 2);"
        " x = x ^ (x >> 1); return x & 1;",
        "parity of the bits",
    ),
    _f(
        "sext8",
        "int x",
        "int",
        "int b = x & 0xff; b = b ^ 0x80; return b - 0x80;",
        "sign-extend the low byte",
    ),
    _f(
        "round_up8",
        "unsigned x",
        "unsigned",
        "unsigned t = x + 7; return t & -8u;",
        "round up to a multiple of 8",
    ),
    _f("mul10", "int x", "int", "int t = x * 10; return t;", "multiply by 10"),
    _f(
        "same_sign",
        "int x, int y",
        "unsigned",
        "unsigned t = ~(x ^ y); return t >> 31;",
        "1 if x and y have the same sign",
    ),
    _f(
        "absdiff",
        "int x, int y",
        "int",
        "int d = x - y; int m = d >> 31; int a = d ^ m; return a - m;",
        "|x - y| (modulo 2^32)",
    ),
    _f(
        "cmp3",
        "int x, int y",
        "int",
        "int g = x > y; int l = x < y; return g - l;",
        "three-valued comparison: -1, 0, 1",
    ),
    _f(
        "div8",
        "int x",
        "int",
        "int b = (x >> 31) & 7; int t = x + b; return t >> 3;",
        "x / 8 rounded toward zero (signed)",
    ),
    _f(
        "gray",
        "unsigned x",
        "unsigned",
        "unsigned h = x >> 1; return x ^ h;",
        "binary to Gray code",
    ),
    _f(
        "avg_signed",
        "int x, int y",
        "int",
        "int a = x & y; int b = (x ^ y) >> 1; return a + b;",
        "floor((x + y) / 2) of signed values without overflow",
    ),
)
BY_NAME = {f.name: f for f in FUNCTIONS}

# Every 4th function (from the second) validates, every 4th (from the fourth) tests, the rest
# train; superoptimization is per function, so the splits matter for a policy that generalizes.
SPLITS = {
    "train": tuple(f.name for i, f in enumerate(FUNCTIONS) if i % 4 in (0, 2)),
    "validation": tuple(f.name for i, f in enumerate(FUNCTIONS) if i % 4 == 1),
    "test": tuple(f.name for i, f in enumerate(FUNCTIONS) if i % 4 == 3),
}
DATASETS = ("builtin",)


def get_function(name: str) -> Function:
    try:
        return BY_NAME[name]
    except KeyError:
        raise ProgramNotFoundError(
            f"unknown superopt function {name!r}: run `supersonic benchmarks --task superopt` "
            "for the list"
        ) from None


def resolve_functions(spec: str) -> list[Function]:
    """`builtin:train` (or `:validation`, `:test`), `builtin` (all), or comma-separated names."""
    dataset, sep, split = spec.partition(":")
    if dataset in DATASETS:
        if not sep:
            return list(FUNCTIONS)
        if split not in SPLITS:
            raise ValueError(f"{spec!r}: the split must be train, validation or test")
        return [BY_NAME[n] for n in SPLITS[split]]
    names = [p.strip() for p in spec.split(",") if p.strip()]
    if not names:
        raise ValueError(f"{spec!r} names no superopt functions")
    return [get_function(n) for n in names]
