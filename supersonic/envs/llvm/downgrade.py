"""Rewrite LLVM 14 textual IR so that CompilerGym's LLVM 10 can read the bitcode made from it.

CompilerGym 0.2.5 embeds LLVM 10; Debian's clang is 14. LLVM reads older bitcode but not newer,
and what breaks is a small, known set of constructs introduced in LLVM 11-14. Instead of regexes
over the whole file (which also hit string constants, metadata, comments and names), this module
lexes the IR into code, string, comment and sigil-prefixed-name tokens and rewrites only bare
keywords in code:

- attributes that are optimisation hints LLVM 10 lacks (`noundef`, `mustprogress`, ...) are
  dropped, with their parenthesised argument when they take one; dropping a hint only makes the
  optimiser more conservative, so the program means the same;
- the `poison` constant (LLVM 12) becomes `undef`, which poison may always be refined to;
- constructs whose meaning LLVM 10 cannot express (`byref`, `preallocated`, opaque `ptr`, ...)
  raise `DowngradeError` naming the construct, rather than silently changing the program.

The caller assembles the result with `llvm-as-14`, and CompilerGym's load is the final check.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from supersonic.envs.errors import ConversionError

# Enum attributes added after LLVM 10 that are safe to drop (hints; the IR stays equivalent).
DROPPED_ATTRIBUTES = frozenset(
    {
        "noundef",  # LLVM 11
        "mustprogress",  # LLVM 12
        "hot",  # LLVM 12
        "nomerge",  # LLVM 12
        "noprofile",  # LLVM 13
        "nocallback",  # LLVM 15
        "nosanitize_coverage",  # LLVM 14
        "disable_sanitizer_instrumentation",  # LLVM 14
        "vscale_range",  # LLVM 13, takes (min[,max])
        "elementtype",  # LLVM 14, takes (type); only meaningful with opaque pointers
    }
)

# Keywords whose meaning LLVM 10 cannot represent: converting would change the program.
UNSUPPORTED_KEYWORDS = {
    "byref": "the byref parameter attribute (LLVM 12)",
    "preallocated": "the preallocated attribute (LLVM 11)",
    "swiftasync": "the swiftasync attribute (LLVM 13)",
    "null_pointer_is_valid": "the null_pointer_is_valid attribute (LLVM 11)",
    "ptr": "opaque pointers (LLVM 15 IR)",
    "dso_local_equivalent": "dso_local_equivalent constants (LLVM 12)",
    "no_cfi": "no_cfi constants (LLVM 14)",
}

CONSTANT_REPLACEMENTS = {"poison": "undef"}

_TOKEN = re.compile(
    r"""
    (?P<comment>;[^\n]*)
  | (?P<string>"[^"]*")                          # LLVM escapes with \XX, never \"
  | (?P<name>[%@!\#$^](?:"[^"]*"|[-\w.$]*))      # %x @f !md #0 $comdat ^0: names, not keywords
  | (?P<word>[A-Za-z_][-\w.$]*)
  | (?P<paren>[()])
  | (?P<other>[^;"%@!\#$^A-Za-z_()]+)
    """,
    re.VERBOSE,
)


class DowngradeError(ConversionError):
    """The IR uses a construct that LLVM 10 cannot represent without changing the program."""


@dataclass(frozen=True)
class Token:
    """A lexical piece of IR text: `kind` is comment, string, name, word, paren or other."""

    kind: str
    text: str
    pos: int


def tokenize(ir: str) -> list[Token]:
    """Split IR text into tokens; concatenating every token's text gives back `ir` exactly."""
    tokens: list[Token] = []
    pos = 0
    for match in _TOKEN.finditer(ir):
        if match.start() != pos:
            break
        kind = match.lastgroup
        assert kind is not None
        tokens.append(Token(kind, match.group(), pos))
        pos = match.end()
    if pos != len(ir):
        raise DowngradeError(f"line {_line_of(ir, pos)}: unterminated string or quoted name")
    return tokens


def _line_of(ir: str, pos: int) -> int:
    return ir.count("\n", 0, pos) + 1


def _skip_parenthesised(tokens: list[Token], i: int) -> int:
    """Index just past a balanced `( ... )` group at `i` (after optional blanks), else `i`."""
    j = i
    if j < len(tokens) and tokens[j].kind == "other" and not tokens[j].text.strip(" \t"):
        j += 1
    if j >= len(tokens) or tokens[j].text != "(":
        return i
    depth = 0
    for k in range(j, len(tokens)):
        if tokens[k].text == "(":
            depth += 1
        elif tokens[k].text == ")":
            depth -= 1
            if depth == 0:
                return k + 1
    raise DowngradeError("unbalanced parentheses after an attribute")


def _is_label_definition(tokens: list[Token], i: int) -> bool:
    """`word:` defines a basic-block label named like a keyword; it is not the keyword."""
    return i + 1 < len(tokens) and tokens[i + 1].text.startswith(":")


def downgrade_ir(ir: str) -> str:
    """Return `ir` rewritten for LLVM 10; raises `DowngradeError` when that would change it."""
    tokens = tokenize(ir)
    out: list[str] = []
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.kind == "word" and not _is_label_definition(tokens, i):
            if tok.text in UNSUPPORTED_KEYWORDS:
                raise DowngradeError(
                    f"line {_line_of(ir, tok.pos)}: uses {UNSUPPORTED_KEYWORDS[tok.text]}, "
                    "which CompilerGym's LLVM 10 cannot represent"
                )
            if tok.text in DROPPED_ATTRIBUTES:
                i = _skip_parenthesised(tokens, i + 1)
                # Drop one separating space so "i32 noundef %x" becomes "i32 %x".
                followed_by_separator = i < len(tokens) and tokens[i].text[:1] in " ,)\n"
                if out and out[-1].endswith(" ") and followed_by_separator:
                    out[-1] = out[-1][:-1]
                continue
            replacement = CONSTANT_REPLACEMENTS.get(tok.text)
            if replacement is not None:
                out.append(replacement)
                i += 1
                continue
        out.append(tok.text)
        i += 1
    return "".join(out)


def count_instructions(ir: str) -> int:
    """Number of instructions in printed IR, matching CompilerGym's IrInstructionCount.

    LLVM's printer puts one instruction per line inside `define ... {` / `}`, except that a
    `switch` lists its cases on the following lines up to `]` and a `landingpad` its clauses;
    labels, blank lines and comments are not instructions.
    """
    count = 0
    in_body = False
    open_brackets = 0
    for raw in ir.splitlines():
        if not in_body:
            in_body = raw.startswith("define ") and raw.rstrip().endswith("{")
            continue
        if raw.startswith("}"):
            in_body = False
            continue
        code = raw.split(";", 1)[0].strip()
        if not code:
            continue
        brackets = code.count("[") - code.count("]")
        if open_brackets > 0:  # a continuation line of a multi-line switch
            open_brackets += brackets
            continue
        if code.endswith(":") and " " not in code:
            continue  # a basic-block label
        if code.split(" ", 1)[0] in ("cleanup", "catch", "filter"):
            continue  # a landingpad clause
        count += 1
        open_brackets = max(brackets, 0)
    return count
