"""The raw observations of the Halide schedule env, as fixed-size float32 vectors.

- `stage_graph`: per stage slot (producers first, as the pipeline defines them): its shape in
  the graph (dimensions, reduction or not, taps read per value, consumers, distance from the
  output, allowed placements) and what the decisions so far make of it (placement after
  clamping, vector width, parallel, storage hoisted); then the output's tile, loop order,
  vector width, unroll, parallel; the image size; and which knob is decided next.
- `history`: per knob slot, the option chosen (scaled to [0, 1]) and whether it is decided;
  and which knob is next.
- `pipeline`: which pipeline (one-hot), its stage count and image size.

Computed from the decisions alone (no Halide), so a step that decides a knob costs
microseconds; only the end of an episode compiles and measures.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from supersonic.envs.halide.pipelines import MAX_STAGES, NAMES, PLACES, SPECS, Program
from supersonic.envs.halide.schedule import KINDS, Decisions, Knob, knobs_for

STAGE_DIM = 15
NEXT_DIM = len(KINDS) + 1  # one-hot of the next knob's kind (all 0 when done), progress
STAGE_GRAPH_DIM = MAX_STAGES * STAGE_DIM + 6 + 2 + NEXT_DIM
MAX_KNOBS = max(len(knobs_for(Program(s, s.width, s.height))) for s in SPECS)
HISTORY_DIM = 2 * MAX_KNOBS + NEXT_DIM
PIPELINE_DIM = len(NAMES) + 3
OBSERVATIONS = {"stage_graph": STAGE_GRAPH_DIM, "history": HISTORY_DIM, "pipeline": PIPELINE_DIM}
BOUND = 4.0  # every feature is in [0, BOUND)


def _log(value: float, scale: float) -> float:
    return math.log2(max(value, 1.0)) / scale


def _next(knobs: Sequence[Knob], decided: int) -> np.ndarray:
    out = np.zeros(NEXT_DIM, np.float32)
    if decided < len(knobs):
        out[KINDS.index(knobs[decided].kind)] = 1.0
    out[-1] = decided / max(len(knobs), 1)
    return out


def _depths(program: Program) -> dict[str, int]:
    """Each stage's longest path to the output, in stages."""
    depth: dict[str, int] = {"output": 0}
    for stage in reversed(program.spec.stages):
        depth[stage.name] = 1 + max(depth[c] for c in stage.consumers)
    return depth


def stage_graph(decisions: Decisions, knobs: Sequence[Knob], decided: int) -> np.ndarray:
    program = decisions.program
    plans = decisions.plan()
    depth = _depths(program)
    stages = np.zeros((MAX_STAGES, STAGE_DIM), np.float32)
    for i, spec in enumerate(program.spec.stages[:MAX_STAGES]):
        plan = plans[spec.name]
        allowed = [float(p in spec.places) for p in PLACES]
        place = [float(plan.place == p) for p in PLACES]
        stages[i] = [
            spec.dims / 4,
            float(spec.reduction),
            _log(spec.taps, 8),
            len(spec.consumers) / 4,
            float("output" in spec.consumers),
            depth[spec.name] / MAX_STAGES,
            *allowed,
            *place,
            _log(plan.vector, 4),
            float(plan.parallel),
            float(plan.store_outer),
        ]
    output = [
        _log(decisions.out("tile_x"), 12),
        _log(decisions.out("tile_y"), 12),
        float(decisions.out("order")),
        _log(decisions.vector, 4),
        _log(decisions.unroll, 2),
        float(decisions.out("parallel")),
    ]
    size = [_log(program.pixels, 22), program.spec.channels / 16]
    return np.concatenate(
        [stages.ravel(), np.array(output + size, np.float32), _next(knobs, decided)]
    ).astype(np.float32)


def history(chosen: Sequence[int], knobs: Sequence[Knob]) -> np.ndarray:
    out = np.zeros(2 * MAX_KNOBS, np.float32)
    for slot, (knob, value) in enumerate(zip(knobs[:MAX_KNOBS], chosen, strict=False)):
        out[2 * slot] = knob.options.index(value) / max(len(knob.options) - 1, 1)
        out[2 * slot + 1] = 1.0
    return np.concatenate([out, _next(knobs, len(chosen))]).astype(np.float32)


def pipeline(program: Program) -> np.ndarray:
    out = np.zeros(PIPELINE_DIM, np.float32)
    out[NAMES.index(program.name)] = 1.0
    out[-3] = len(program.spec.stages) / MAX_STAGES
    out[-2] = _log(program.width, 12)
    out[-1] = _log(program.height, 12)
    return out
