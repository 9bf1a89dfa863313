"""Schedule decisions ("knobs") for a workload, and how they become a `tvm.s_tir.Schedule`.

A schedule is a fixed list of knobs per workload, decided one at a time by an episode:

    tile_s<i>   inner tile of spatial loop i (a divisor of its extent)
    tile_r<j>   inner tile of reduction loop j (a divisor)
    order       loop order of the tiled nest (ORDERS)
    parallel    how many outer spatial tile loops are fused and run in parallel (0: none);
                loops of extent 1 (a batch of 1) are not counted, so every option > 0 runs
                something in parallel
    vectorize   vectorize the innermost loop when it is a spatial one (1) or not (0)
    unroll      auto-unroll limit on the nest (0: none)
    cache_write accumulate the output in a block-local buffer written back per tile (1)
    producer    the padding stage: inlined, computed at the tile, or left at the root
    epilogue    bias + ReLU: left at the root, or computed at the tile

Every knob's options are valid in every combination (a knob that does not apply, such as
vectorizing a reduction loop, is a no-op), so every action sequence gives a schedule that
builds; the env still measures under a timeout in case one does not. An undecided knob takes
its `default`: with all defaults the schedule is the unscheduled program's loop nest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from supersonic.envs.tvm.workloads import Workload

MAX_OPTIONS = 8  # the action space: the i-th option of the knob being decided (mod its count)
ORDERS = ("so,ro,ri,si", "so,ro,si-1,ri,si_last", "so,ro,si,ri", "so,si,ro,ri")
VECTORIZABLE_ORDERS = (0, 1)  # the innermost loop is the last spatial inner loop
UNROLL_STEPS = (0, 16, 64, 256)
PRODUCER_PLACES = ("inline", "tile", "root")
EPILOGUE_PLACES = ("root", "tile")
KINDS = (
    "tile_s",
    "tile_r",
    "order",
    "parallel",
    "vectorize",
    "unroll",
    "cache_write",
    "producer",
    "epilogue",
)


@dataclass(frozen=True)
class Knob:
    """One decision: its kind, the loop it concerns (tiles), its option values, its default."""

    kind: str
    name: str
    options: tuple[int, ...]
    default: int
    index: int = 0  # the loop of a tile knob

    def value(self, action: int) -> int:
        return self.options[int(action) % len(self.options)]


def tile_options(extent: int) -> tuple[int, ...]:
    """Up to MAX_OPTIONS divisors of `extent`, spread on a log scale, 1 and `extent` included."""
    divisors = [d for d in range(1, extent + 1) if extent % d == 0]
    if len(divisors) <= MAX_OPTIONS:
        return tuple(divisors)
    picks = np.linspace(0, len(divisors) - 1, MAX_OPTIONS).round().astype(int)
    return tuple(divisors[i] for i in dict.fromkeys(picks.tolist()))


def knobs_for(workload: Workload) -> tuple[Knob, ...]:
    """The workload's knobs in the order an episode decides them (loops of extent 1 have none)."""
    knobs: list[Knob] = []
    for i, extent in enumerate(workload.spatial_extents):
        if extent > 1:
            knobs.append(Knob("tile_s", f"tile_s{i}", tile_options(extent), 1, i))
    for j, extent in enumerate(workload.reduce_extents):
        if extent > 1:
            knobs.append(Knob("tile_r", f"tile_r{j}", tile_options(extent), 1, j))
    n_parallel = sum(1 for extent in workload.spatial_extents if extent > 1)
    knobs += [
        Knob("order", "order", tuple(range(len(ORDERS))), len(ORDERS) - 1),
        Knob("parallel", "parallel", tuple(range(min(n_parallel, 3) + 1)), 0),
        Knob("vectorize", "vectorize", (0, 1), 0),
        Knob("unroll", "unroll", UNROLL_STEPS, 0),
        Knob("cache_write", "cache_write", (0, 1), 0),
    ]
    if workload.producer_block:
        knobs.append(Knob("producer", "producer", (0, 1, 2), 2))
    if workload.epilogue_block:
        knobs.append(Knob("epilogue", "epilogue", (0, 1), 0))
    return tuple(knobs)


def fused_loops(workload: Workload, depth: int) -> int:
    """How many leading spatial tile loops the `parallel` knob's `depth` fuses: up to and
    including the depth-th loop of extent > 1 (a leading batch of 1 is fused in, a no-op)."""
    if depth <= 0:
        return 0
    seen = 0
    for i, extent in enumerate(workload.spatial_extents):
        seen += extent > 1
        if seen == depth:
            return i + 1
    return len(workload.spatial_extents)


@dataclass(frozen=True)
class Decisions:
    """Every knob's value (decided or default), by knob name; what `apply` schedules."""

    workload: Workload
    values: dict[str, int]

    @classmethod
    def of(cls, workload: Workload, chosen: Sequence[int]) -> Decisions:
        """`chosen` holds the values of the first len(chosen) knobs; the rest take defaults."""
        knobs = knobs_for(workload)
        if len(chosen) > len(knobs):
            raise ValueError(f"{len(chosen)} decisions for {len(knobs)} knobs")
        values = {k.name: k.default for k in knobs}
        for knob, value in zip(knobs, chosen, strict=False):
            if value not in knob.options:
                raise ValueError(f"{value} is not an option of {knob.name}: {knob.options}")
            values[knob.name] = int(value)
        return cls(workload, values)

    def tile_s(self, i: int) -> int:
        return self.values.get(f"tile_s{i}", 1)

    def tile_r(self, j: int) -> int:
        return self.values.get(f"tile_r{j}", 1)

    def get(self, name: str) -> int:
        return self.values.get(name, 0)

    def describe(self) -> str:
        return " ".join(f"{k}={v}" for k, v in self.values.items())


def apply(decisions: Decisions) -> Any:
    """The scheduled IRModule (`tvm.s_tir.Schedule` primitives on the workload's PrimFunc)."""
    import tvm

    w = decisions.workload
    sch = tvm.s_tir.Schedule(tvm.IRModule({"main": w.prim_func()}))
    block = sch.get_sblock(w.main_block)
    loops = sch.get_loops(block)
    n_s, n_r = len(w.spatial_extents), len(w.reduce_extents)
    so, si, ro, ri = [], [], [], []
    for i, loop in enumerate(loops[:n_s]):
        outer, inner = sch.split(loop, [None, decisions.tile_s(i)])
        so.append(outer)
        si.append(inner)
    for j, loop in enumerate(loops[n_s : n_s + n_r]):
        outer, inner = sch.split(loop, [None, decisions.tile_r(j)])
        ro.append(outer)
        ri.append(inner)
    order = decisions.get("order")
    nest = {
        0: [*so, *ro, *ri, *si],
        1: [*so, *ro, *si[:-1], *ri, si[-1]],
        2: [*so, *ro, *si, *ri],
        3: [*so, *si, *ro, *ri],
    }[order]
    sch.reorder(*nest)
    tile_loop = so[-1]
    if decisions.get("cache_write"):
        local = sch.cache_write(block, 0, "global")
        sch.reverse_compute_at(local, tile_loop)
    if w.epilogue_block and EPILOGUE_PLACES[decisions.get("epilogue")] == "tile":
        sch.reverse_compute_at(sch.get_sblock(w.epilogue_block), tile_loop)
    if w.producer_block:
        place = PRODUCER_PLACES[decisions.get("producer")]
        if place == "inline":
            sch.compute_inline(sch.get_sblock(w.producer_block))
        elif place == "tile":
            sch.compute_at(sch.get_sblock(w.producer_block), tile_loop)
    if (
        order in VECTORIZABLE_ORDERS
        and decisions.get("vectorize")
        and decisions.tile_s(n_s - 1) > 1
    ):
        sch.vectorize(si[-1])
    outer = so[0]
    fused = fused_loops(w, decisions.get("parallel"))
    if fused:
        outer = sch.fuse(*so[:fused]) if fused > 1 else so[0]
        sch.parallel(outer)
    step = decisions.get("unroll")
    if step:
        sch.annotate(outer, "pragma_auto_unroll_max_step", step)
        sch.annotate(outer, "pragma_unroll_explicit", 1)
    if n_r:
        # The reduction's init as its own loop nest (else an `if k == 0` sits in the inner loop).
        sch.decompose_reduction(block, sch.get_loops(block)[_first_reduce_depth(order, n_s, fused)])
    return sch.mod


def _first_reduce_depth(order: int, n_s: int, fused: int) -> int:
    """Where the first reduction loop of `block` is in its loop list after the fuse."""
    before = n_s if order != 3 else 2 * n_s  # loops before the first reduction-outer loop
    return before - (fused - 1 if fused > 1 else 0)
