"""The raw observations of the schedule env, as fixed-size float32 vectors.

- `loop_features`: the loop nest the decisions so far define (undecided knobs at their
  defaults): per loop, log2 of its inner tile and outer extent; the loop order; the parallel
  extent, vector width and unroll limit; cache-write and stage placements; the inner tile's
  working set; and which knob is decided next.
- `history`: per knob slot, the option chosen (scaled to [0, 1]) and whether it is decided;
  and which knob is next.
- `shape`: the workload: operator, log2 of the loop extents, log2 of its multiply-adds.

Computed from the decisions alone (no TVM), so an env step that decides a knob costs
microseconds; only the end of an episode builds and measures.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from supersonic.envs.tvm.schedule import (
    EPILOGUE_PLACES,
    KINDS,
    ORDERS,
    PRODUCER_PLACES,
    UNROLL_STEPS,
    VECTORIZABLE_ORDERS,
    Decisions,
    Knob,
    fused_loops,
)
from supersonic.envs.tvm.workloads import OPS, Workload, log2

MAX_SPATIAL = 4
MAX_REDUCE = 3
MAX_KNOBS = MAX_SPATIAL + MAX_REDUCE + 7
SCALE = 1 / 10.0  # log2 extents of up to ~1000 -> about 1
# Every feature is >= 0 and below this: the largest, log2 of an inner working set, is at most
# log2(MAX_MACS) * SCALE < 2.8.
BOUND = 4.0
NEXT_DIM = len(KINDS) + 1  # one-hot of the next knob's kind (all 0 when done), progress
LOOP_FEATURES_DIM = (
    2 * MAX_SPATIAL
    + 2 * MAX_REDUCE
    + len(ORDERS)
    + 3
    + 1
    + len(PRODUCER_PLACES)
    + len(EPILOGUE_PLACES)
    + 1
    + NEXT_DIM
)
HISTORY_DIM = 2 * MAX_KNOBS + NEXT_DIM
SHAPE_DIM = len(OPS) + MAX_SPATIAL + MAX_REDUCE + 1
OBSERVATIONS = {"loop_features": LOOP_FEATURES_DIM, "history": HISTORY_DIM, "shape": SHAPE_DIM}


def _next(knobs: Sequence[Knob], decided: int) -> np.ndarray:
    out = np.zeros(NEXT_DIM, np.float32)
    if decided < len(knobs):
        out[KINDS.index(knobs[decided].kind)] = 1.0
    out[-1] = decided / max(len(knobs), 1)
    return out


def loop_features(decisions: Decisions, knobs: Sequence[Knob], decided: int) -> np.ndarray:
    w = decisions.workload
    spatial = np.zeros(2 * MAX_SPATIAL, np.float32)
    for i, extent in enumerate(w.spatial_extents[:MAX_SPATIAL]):
        tile = decisions.tile_s(i)
        spatial[2 * i : 2 * i + 2] = (log2(tile) * SCALE, log2(extent // tile) * SCALE)
    reduce = np.zeros(2 * MAX_REDUCE, np.float32)
    for j, extent in enumerate(w.reduce_extents[:MAX_REDUCE]):
        tile = decisions.tile_r(j)
        reduce[2 * j : 2 * j + 2] = (log2(tile) * SCALE, log2(extent // tile) * SCALE)
    order = np.zeros(len(ORDERS), np.float32)
    order[decisions.get("order")] = 1.0
    fused = fused_loops(w, decisions.get("parallel"))
    outer = [e // decisions.tile_s(i) for i, e in enumerate(w.spatial_extents)]
    parallel = float(np.prod(outer[:fused])) if fused else 1.0
    vector = (
        decisions.tile_s(len(w.spatial_extents) - 1)
        if decisions.get("vectorize") and decisions.get("order") in VECTORIZABLE_ORDERS
        else 1
    )
    unroll = decisions.get("unroll")
    producer = np.zeros(len(PRODUCER_PLACES), np.float32)
    if w.producer_block:
        producer[decisions.get("producer")] = 1.0
    epilogue = np.zeros(len(EPILOGUE_PLACES), np.float32)
    if w.epilogue_block:
        epilogue[decisions.get("epilogue")] = 1.0
    inner = np.prod([decisions.tile_s(i) for i in range(len(w.spatial_extents))], dtype=float)
    inner *= np.prod([decisions.tile_r(j) for j in range(len(w.reduce_extents))], dtype=float)
    scalars = np.array(
        [
            log2(parallel) * SCALE,
            log2(vector) * SCALE,
            log2(unroll + 1) / log2(UNROLL_STEPS[-1] + 1),
            float(decisions.get("cache_write")),
        ],
        np.float32,
    )
    return np.concatenate(
        [
            spatial,
            reduce,
            order,
            scalars,
            producer,
            epilogue,
            [log2(inner) * SCALE],
            _next(knobs, decided),
        ]
    ).astype(np.float32)


def history(chosen: Sequence[int], knobs: Sequence[Knob]) -> np.ndarray:
    out = np.zeros(2 * MAX_KNOBS, np.float32)
    for slot, (knob, value) in enumerate(zip(knobs[:MAX_KNOBS], chosen, strict=False)):
        position = knob.options.index(value)
        out[2 * slot] = position / max(len(knob.options) - 1, 1)
        out[2 * slot + 1] = 1.0
    return np.concatenate([out, _next(knobs, len(chosen))]).astype(np.float32)


def shape(workload: Workload) -> np.ndarray:
    out = np.zeros(SHAPE_DIM, np.float32)
    out[OPS.index(workload.op)] = 1.0
    base = len(OPS)
    for i, extent in enumerate(workload.spatial_extents[:MAX_SPATIAL]):
        out[base + i] = log2(extent) * SCALE
    base += MAX_SPATIAL
    for j, extent in enumerate(workload.reduce_extents[:MAX_REDUCE]):
        out[base + j] = log2(extent) * SCALE
    out[-1] = log2(workload.macs) * SCALE / 3
    return out
