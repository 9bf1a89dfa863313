"""What `supersonic benchmarks --task superopt` and `supersonic actions --task superopt` print
(kept here so the CLI only dispatches)."""

from __future__ import annotations

from collections.abc import Callable

from supersonic.envs.superopt.functions import DATASETS, SPLITS, resolve_functions
from supersonic.envs.superopt.moves import MAX_SLOTS, MOVE_KINDS


def list_functions(dataset: str, split: str | None, echo: Callable[[str], None]) -> None:
    """One line per function: name, split, arity, -O0 instructions, what it computes."""
    from supersonic.envs.superopt.compile import compiled

    if dataset not in DATASETS:
        raise ValueError(
            f"unknown dataset {dataset!r} for superopt; choose one of {', '.join(DATASETS)}"
        )
    split_of = {name: s for s, names in SPLITS.items() for name in names}
    for function in resolve_functions(f"{dataset}:{split}" if split else dataset):
        size = len(compiled(function.name, "O0"))
        echo(
            f"{function.name}\t{split_of[function.name]}\t{function.arity}\t{size}\t{function.doc}"
        )


def list_moves(echo: Callable[[str], None]) -> None:
    echo(
        f"{len(MOVE_KINDS)} actions: the move applied at the env's cursor (which walks the "
        f"program; MCMC picks one of {MAX_SLOTS} slots at random)"
    )
    for i, kind in enumerate(MOVE_KINDS):
        echo(f"{i}\t{kind}")
