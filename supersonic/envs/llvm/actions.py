"""The 124 LLVM pass actions of CompilerGym's `llvm-v0` action space, by index and by name.

The names are the `opt` flags without the leading dash, in CompilerGym's order (the index of an
action is its position here). The environment checks at start-up that its service offers exactly
this list, so an index always means the same pass.
"""

from __future__ import annotations

from functools import cache

from supersonic.envs.errors import InvalidActionError, UnknownActionError

ACTION_FLAGS: tuple[str, ...] = (
    "add-discriminators",
    "adce",
    "aggressive-instcombine",
    "alignment-from-assumptions",
    "always-inline",
    "argpromotion",
    "attributor",
    "barrier",
    "bdce",
    "break-crit-edges",
    "simplifycfg",
    "callsite-splitting",
    "called-value-propagation",
    "canonicalize-aliases",
    "consthoist",
    "constmerge",
    "constprop",
    "coro-cleanup",
    "coro-early",
    "coro-elide",
    "coro-split",
    "correlated-propagation",
    "cross-dso-cfi",
    "deadargelim",
    "dce",
    "die",
    "dse",
    "reg2mem",
    "div-rem-pairs",
    "early-cse-memssa",
    "early-cse",
    "elim-avail-extern",
    "ee-instrument",
    "flattencfg",
    "float2int",
    "forceattrs",
    "inline",
    "insert-gcov-profiling",
    "gvn-hoist",
    "gvn",
    "globaldce",
    "globalopt",
    "globalsplit",
    "guard-widening",
    "hotcoldsplit",
    "ipconstprop",
    "ipsccp",
    "indvars",
    "irce",
    "infer-address-spaces",
    "inferattrs",
    "inject-tli-mappings",
    "instsimplify",
    "instcombine",
    "instnamer",
    "jump-threading",
    "lcssa",
    "licm",
    "libcalls-shrinkwrap",
    "load-store-vectorizer",
    "loop-data-prefetch",
    "loop-deletion",
    "loop-distribute",
    "loop-fusion",
    "loop-guard-widening",
    "loop-idiom",
    "loop-instsimplify",
    "loop-interchange",
    "loop-load-elim",
    "loop-predication",
    "loop-reroll",
    "loop-rotate",
    "loop-simplifycfg",
    "loop-simplify",
    "loop-sink",
    "loop-reduce",
    "loop-unroll-and-jam",
    "loop-unroll",
    "loop-unswitch",
    "loop-vectorize",
    "loop-versioning-licm",
    "loop-versioning",
    "loweratomic",
    "lower-constant-intrinsics",
    "lower-expect",
    "lower-guard-intrinsic",
    "lowerinvoke",
    "lower-matrix-intrinsics",
    "lowerswitch",
    "lower-widenable-condition",
    "memcpyopt",
    "mergefunc",
    "mergeicmps",
    "mldst-motion",
    "sancov",
    "name-anon-globals",
    "nary-reassociate",
    "newgvn",
    "pgo-memop-opt",
    "partial-inliner",
    "partially-inline-libcalls",
    "post-inline-ee-instrument",
    "functionattrs",
    "mem2reg",
    "prune-eh",
    "reassociate",
    "redundant-dbg-inst-elim",
    "rpo-functionattrs",
    "rewrite-statepoints-for-gc",
    "sccp",
    "slp-vectorizer",
    "sroa",
    "scalarizer",
    "separate-const-offset-from-gep",
    "simple-loop-unswitch",
    "sink",
    "speculative-execution",
    "slsr",
    "strip-dead-prototypes",
    "strip-debug-declare",
    "strip-nondebug",
    "strip",
    "tailcallelim",
    "mergereturn",
)
NUM_ACTIONS = len(ACTION_FLAGS)


@cache
def _index_by_name() -> dict[str, int]:
    return {name: i for i, name in enumerate(ACTION_FLAGS)}


def action_name(index: int) -> str:
    """The pass name of action `index`."""
    return ACTION_FLAGS[action_index(index)]


def action_index(action: int | str) -> int:
    """The index of an action given as an index or a pass name (with or without a leading `-`).

    Raises `InvalidActionError` for an index out of range or a value of another type, and
    `UnknownActionError` for a name that is not a pass.
    """
    if isinstance(action, str):
        name = action.strip().lstrip("-")
        try:
            return _index_by_name()[name]
        except KeyError:
            raise UnknownActionError(
                f"unknown pass {action!r}: `supersonic actions` lists the {NUM_ACTIONS} passes"
            ) from None
    if isinstance(action, bool):
        raise InvalidActionError(f"action {action!r} is a bool, not a pass index or name")
    try:
        index = int(action)  # accepts numpy integers and 0-d arrays
    except (TypeError, ValueError):
        raise InvalidActionError(f"action {action!r} is not a pass index or name") from None
    if index != action:
        raise InvalidActionError(f"action {action!r} is not a whole number")
    if not 0 <= index < NUM_ACTIONS:
        raise InvalidActionError(f"action {action!r} is out of range 0..{NUM_ACTIONS - 1}")
    return index
