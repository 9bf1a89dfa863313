"""Schedule decisions ("knobs") for a pipeline, and how they become a Halide schedule.

An episode decides the output's knobs first, then each intermediate stage's, consumers before
producers (so a stage's placement can be checked against its consumers' when it is decided):

    out.tile_x, out.tile_y   the output's tile (the whole image: no tiling)
    out.order                tile loops y-major (0) or x-major (1)
    out.vector               vectorize the tile's x loop by 1, 4, 8 or 16
    out.unroll               unroll the tile's y loop by 1, 2 or 4
    out.parallel             run the outer tile loop in parallel (1) or not (0)
    STAGE.place              inline / root / tile (computed inside the output's inner tile loop)
    STAGE.vector             vectorize the stage's x loop (root or tile placement)
    STAGE.parallel           run the stage's y loop in parallel (root placement)
    STAGE.store              tile placement: store at the outer tile loop (1: a sliding window
                             over the inner one) or where computed (0)

A knob is offered only where it can apply (a stage that must be at the root has no `place`).
Every combination is valid: a placement is clamped to what the stage's consumers allow (a
producer cannot be computed inside a loop its consumer runs outside of: a stage whose consumer
is at the root goes to the root too), a reduction chosen `inline` goes to the root, widths and
unroll factors are capped by the tile. With every knob at its default the schedule is the
pipeline's default schedule (`pipelines.py`: all inlined into a serial output, reductions at
the root where the pipeline says so).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from supersonic.envs.halide.pipelines import PLACES, Program, StageSpec

MAX_OPTIONS = 8  # the action space: the i-th option of the knob being decided (mod its count)
TILE_X = (8, 16, 32, 64, 128, 256)
TILE_Y = (1, 2, 4, 8, 16, 32, 64)
VECTORS = (1, 4, 8, 16)
UNROLLS = (1, 2, 4)
OUTPUT_KINDS = ("tile_x", "tile_y", "order", "vector", "unroll", "parallel")
STAGE_KINDS = ("place", "vector", "parallel", "store")
KINDS = tuple(f"out.{k}" for k in OUTPUT_KINDS) + STAGE_KINDS
LEVEL = {"root": 0, "tile": 1, "inline": 2}  # deeper is larger
# A stage stored at the outer tile loop (a sliding window over the inner one) is not
# vectorized: with Halide 21 that combination computed wrong output on `interpolate` here
# (vectorize 16 with store_at, max error 0.15); each alone was right.
SLIDING_WINDOW_VECTORS = False


@dataclass(frozen=True)
class Knob:
    """One decision: its name (`out.tile_x`, `blur_x.place`), kind, options, default; `stage`
    is the stage it concerns ("" for the output)."""

    name: str
    kind: str  # one of KINDS without the stage name: "out.tile_x" or "place"
    options: tuple[int, ...]
    default: int
    stage: str = ""

    def value(self, action: int) -> int:
        return self.options[int(action) % len(self.options)]

    def label(self, value: int) -> str:
        return PLACES[value] if self.kind == "place" else str(value)


def _sizes(choices: Sequence[int], extent: int) -> tuple[int, ...]:
    """The choices below the extent, then the extent itself (no tiling)."""
    return (*(c for c in choices if c < extent), extent)


def knobs_for(program: Program) -> tuple[Knob, ...]:
    """The program's knobs in the order an episode decides them."""
    knobs = [
        Knob("out.tile_x", "out.tile_x", _sizes(TILE_X, program.width), program.width),
        Knob("out.tile_y", "out.tile_y", _sizes(TILE_Y, program.height), program.height),
        Knob("out.order", "out.order", (0, 1), 0),
        Knob("out.vector", "out.vector", VECTORS, 1),
        Knob("out.unroll", "out.unroll", UNROLLS, 1),
        Knob("out.parallel", "out.parallel", (0, 1), 0),
    ]
    for stage in reversed(program.spec.stages):
        places = tuple(PLACES.index(p) for p in stage.places)
        if len(places) > 1:
            default = PLACES.index(stage.default)
            knobs.append(Knob(f"{stage.name}.place", "place", places, default, stage.name))
        if stage.places != ("inline",):
            knobs.append(Knob(f"{stage.name}.vector", "vector", VECTORS, 1, stage.name))
        if "root" in stage.places and stage.dims >= 2:
            knobs.append(Knob(f"{stage.name}.parallel", "parallel", (0, 1), 0, stage.name))
        if "tile" in stage.places:
            knobs.append(Knob(f"{stage.name}.store", "store", (0, 1), 0, stage.name))
    return tuple(knobs)


@dataclass(frozen=True)
class StagePlan:
    """What the schedule does with one stage, after clamping."""

    place: str
    vector: int
    parallel: bool
    store_outer: bool


@dataclass(frozen=True)
class Decisions:
    """Every knob's value (decided or default), by knob name; `plan` is what `apply` does."""

    program: Program
    values: dict[str, int]

    @classmethod
    def of(cls, program: Program, chosen: Sequence[int]) -> Decisions:
        """`chosen` holds the values of the first len(chosen) knobs; the rest take defaults."""
        knobs = knobs_for(program)
        if len(chosen) > len(knobs):
            raise ValueError(f"{len(chosen)} decisions for {len(knobs)} knobs")
        values = {k.name: k.default for k in knobs}
        for knob, value in zip(knobs, chosen, strict=False):
            if value not in knob.options:
                raise ValueError(f"{value} is not an option of {knob.name}: {knob.options}")
            values[knob.name] = int(value)
        return cls(program, values)

    def out(self, kind: str) -> int:
        return self.values[f"out.{kind}"]

    @property
    def vector(self) -> int:
        """The output's vector width, capped by its tile's width."""
        return min(self.out("vector"), self.out("tile_x"))

    @property
    def unroll(self) -> int:
        return min(self.out("unroll"), self.out("tile_y"))

    def plan(self) -> dict[str, StagePlan]:
        """Per stage, the placement after clamping (see the module docstring) and its loops."""
        stages = {s.name: s for s in self.program.spec.stages}
        plans: dict[str, StagePlan] = {}
        allowed: dict[str, int] = {}  # the deepest level each stage may be computed at
        for stage in reversed(self.program.spec.stages):
            limit = min(_through(c, plans, allowed, stages) for c in stage.consumers)
            allowed[stage.name] = limit
            place = self._chosen_place(stage)
            if place == "inline" and stage.reduction:
                place = "root"
            if place != "inline" and LEVEL[place] > limit:
                place = "root"
            vector = self.values.get(f"{stage.name}.vector", 1) if place != "inline" else 1
            parallel = place == "root" and bool(self.values.get(f"{stage.name}.parallel", 0))
            store = place == "tile" and bool(self.values.get(f"{stage.name}.store", 0))
            if store:
                vector = 1  # see SLIDING_WINDOW_VECTORS
            plans[stage.name] = StagePlan(place, vector, parallel, store)
        return plans

    def _chosen_place(self, stage: StageSpec) -> str:
        key = f"{stage.name}.place"
        return PLACES[self.values[key]] if key in self.values else stage.default

    def describe(self) -> str:
        knobs = {k.name: k for k in knobs_for(self.program)}
        return " ".join(f"{n}={knobs[n].label(v)}" for n, v in self.values.items())


def _through(
    consumer: str,
    plans: dict[str, StagePlan],
    allowed: dict[str, int],
    stages: dict[str, StageSpec],
) -> int:
    """How deep a producer of `consumer` may be computed: at the consumer's own level, or, for
    an inlined consumer, as deep as the consumer itself was allowed."""
    if consumer == "output":
        return LEVEL["tile"]
    plan = plans[consumer]
    return allowed[consumer] if plan.place == "inline" else LEVEL[plan.place]


def apply(decisions: Decisions, funcs: dict[str, Any]) -> None:
    """Schedule the built pipeline `funcs` (from `Program.build`) as `decisions` say."""
    import halide as hl

    out = funcs["output"]
    args = out.args()
    x, y = args[0], args[1]
    xo, yo, xi, yi = hl.Var("xo"), hl.Var("yo"), hl.Var("xi"), hl.Var("yi")
    out.tile(x, y, xo, yo, xi, yi, decisions.out("tile_x"), decisions.out("tile_y"))
    y_major = decisions.out("order") == 0
    if not y_major:
        out.reorder(xi, yi, yo, xo, *args[2:])
    inner, outer = (xo, yo) if y_major else (yo, xo)
    if decisions.vector > 1:
        out.vectorize(xi, decisions.vector)
    if decisions.unroll > 1:
        out.unroll(yi, decisions.unroll)
    if decisions.out("parallel"):
        out.parallel(outer)
    for name, plan in decisions.plan().items():
        func = funcs[name]
        if plan.place == "inline":
            continue
        if plan.place == "root":
            func.compute_root()
        else:
            func.compute_at(out, inner)
            if plan.store_outer:
                func.store_at(out, outer)
        fargs = func.args()
        if plan.vector > 1:
            func.vectorize(fargs[0], plan.vector)
        if plan.parallel and len(fargs) >= 2:
            func.parallel(fargs[1])
        spec = next(s for s in decisions.program.spec.stages if s.name == name)
        for i in range(func.num_update_definitions()):
            if spec.vector_updates and plan.vector > 1:
                func.update(i).vectorize(fargs[0], plan.vector)
            else:
                func.update(i).unscheduled()  # serial, as meant (Halide warns otherwise)
