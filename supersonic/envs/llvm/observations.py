"""Raw observations of the LLVM env: names, gymnasium spaces, and conversion from CompilerGym.

Each observation is computed by CompilerGym's service (`service_name`) except `ActionHistory`,
which the env keeps itself. Conversions turn CompilerGym's Python objects into values that live
in the declared gymnasium space (e.g. ProGraML's networkx graph into a `GraphInstance`), so that
state functions downstream get arrays, not library objects.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from gymnasium import spaces

from supersonic.envs.errors import UnknownObservationError
from supersonic.envs.llvm.actions import NUM_ACTIONS

INT64_MAX = np.iinfo(np.int64).max
AUTOPHASE_DIM = 56
INSTCOUNT_DIM = 70
INST2VEC_DIM = 200
PROGRAML_TEXT_BUCKETS = 1 << 20
IR_MAX_CHARS = 1 << 28
ASCII = "".join(chr(i) for i in range(128))


@dataclass(frozen=True)
class ObservationSpec:
    """How one named observation is computed and which space it lives in."""

    name: str
    service_name: str | None  # None: computed by the env itself
    space: Callable[[int], spaces.Space[Any]]  # built from max_episode_steps
    convert: Callable[[Any], Any]
    doc: str


def _int_vector(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.int64)


def _float_matrix(value: Any) -> np.ndarray:
    return np.asarray(value, dtype=np.float32).reshape(-1, INST2VEC_DIM)


def _scalar(value: Any) -> np.ndarray:
    return np.asarray([value], dtype=np.int64)


def _node_sort_key(item: tuple[int, dict[str, Any]]) -> tuple[Any, ...]:
    _, data = item
    full_text = data.get("features", {}).get("full_text", [])
    return (
        int(data.get("function", -1)),
        int(data.get("block", -1)),
        int(data.get("type", 0)),
        str(data.get("text", "")),
        tuple(str(t) for t in full_text),
    )


def programl_to_graph(graph: Any) -> spaces.GraphInstance:
    """ProGraML's networkx MultiDiGraph as arrays a GNN can take, in a canonical order.

    ProGraML numbers variable and constant nodes in hash-map order, which differs between two
    computations of the same module; nodes are therefore sorted by (function, block, type, text,
    full text) and edges by their renumbered endpoints, so equal modules give equal arrays.
    Node features: [type (0 instruction, 1 variable, 2 constant, 3 type), a stable hash of the
    node text into 2**20 buckets]; edge features: [flow (0 control, 1 data, 2 call), operand
    position]; edge links: [source, target].
    """
    ordered = sorted(graph.nodes(data=True), key=_node_sort_key)
    renumber = {node: i for i, (node, _) in enumerate(ordered)}
    nodes = np.array(
        [
            (
                int(data.get("type", 0)),
                zlib.crc32(str(data.get("text", "")).encode()) % PROGRAML_TEXT_BUCKETS,
            )
            for _, data in ordered
        ],
        dtype=np.int64,
    ).reshape(-1, 2)
    edge_rows = sorted(
        (renumber[src], renumber[dst], int(data.get("flow", 0)), int(data.get("position", 0)))
        for src, dst, data in graph.edges(data=True)
    )
    edges_arr = np.array(edge_rows, dtype=np.int64).reshape(-1, 4)
    return spaces.GraphInstance(nodes=nodes, edges=edges_arr[:, 2:], edge_links=edges_arr[:, :2])


def _box(dim: int) -> Callable[[int], spaces.Space[Any]]:
    return lambda _steps: spaces.Box(0, INT64_MAX, (dim,), np.int64)


OBSERVATIONS: dict[str, ObservationSpec] = {
    spec.name: spec
    for spec in (
        ObservationSpec(
            "Autophase",
            "Autophase",
            _box(AUTOPHASE_DIM),
            _int_vector,
            "56 integer features of the module (Haj-Ali et al., 2020)",
        ),
        ObservationSpec(
            "InstCount",
            "InstCount",
            _box(INSTCOUNT_DIM),
            _int_vector,
            "70 counts: total instructions, blocks, functions, then one per opcode",
        ),
        ObservationSpec(
            "Inst2vec",
            "Inst2vec",
            lambda _steps: spaces.Sequence(
                spaces.Box(-np.inf, np.inf, (INST2VEC_DIM,), np.float32), stack=True
            ),
            _float_matrix,
            "one 200-d inst2vec embedding per instruction (N x 200 float32)",
        ),
        ObservationSpec(
            "Programl",
            "Programl",
            lambda _steps: spaces.Graph(
                node_space=spaces.Box(0, INT64_MAX, (2,), np.int64),
                edge_space=spaces.Box(0, INT64_MAX, (2,), np.int64),
            ),
            programl_to_graph,
            "the ProGraML graph: nodes [type, text hash], edges [flow, position], links",
        ),
        ObservationSpec(
            "Ir",
            "Ir",
            lambda _steps: spaces.Text(max_length=IR_MAX_CHARS, min_length=0, charset=ASCII),
            str,
            "the module's LLVM IR as text",
        ),
        ObservationSpec(
            "IrInstructionCount",
            "IrInstructionCount",
            _box(1),
            _scalar,
            "the number of IR instructions, as a 1-element vector",
        ),
        ObservationSpec(
            "ActionHistory",
            None,
            lambda steps: spaces.Box(0, max(steps, 1), (NUM_ACTIONS,), np.int64),
            _int_vector,
            "how many times each of the 124 passes was applied in this episode",
        ),
    )
}


def observation_spec(name: str) -> ObservationSpec:
    try:
        return OBSERVATIONS[name]
    except KeyError:
        raise UnknownObservationError(
            f"unknown observation {name!r}: choose one of {', '.join(OBSERVATIONS)}"
        ) from None
