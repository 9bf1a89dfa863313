"""Neural-network operators as TVM workloads: a TE definition, its numpy reference, its shapes.

A workload is named `OP:DIMS` (`dense:32x768x768`); the built-in benchmarks give some of them
names from the layer they come from (`bert-ffn-dense`). Shapes are the real layers' where one
measurement of the unscheduled program stays well under a second on 2 cores; where a real
layer is too big for that (ResNet-18's 3x3 convolutions are ~115 M multiply-adds), its channels
are cut and the name says `-small`.

Every operator is written once in TE and once in numpy: the numpy version is the reference
every measured schedule is checked against.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.errors import BenchmarkError, ProgramNotFoundError

# op -> the names of its dimensions, in the order a spec gives them
OP_DIMS: dict[str, tuple[str, ...]] = {
    "dense": ("M", "N", "K"),  # Y[m, n] = sum_k X[m, k] * W[n, k]
    "batch_matmul": ("B", "M", "N", "K"),  # Y[b, m, n] = sum_k X[b, m, k] * W[b, k, n]
    "conv2d": ("C", "H", "W", "F", "R", "S", "P"),  # NCHW, batch 1, stride S, padding P
    "depthwise_conv2d": ("C", "H", "W", "R", "S", "P"),  # NCHW, batch 1, multiplier 1
    "conv2d_bias_relu": ("C", "H", "W", "F", "R", "S", "P"),  # relu(conv2d + bias[f])
}
OPS = tuple(OP_DIMS)
CONV_OPS = ("conv2d", "depthwise_conv2d", "conv2d_bias_relu")
MAX_MACS = 2.0e8  # bigger workloads take seconds per unscheduled measurement


@dataclass(frozen=True)
class Workload:
    """One operator at one shape; `name` is its program id."""

    op: str
    dims: tuple[int, ...]
    name: str = ""

    @property
    def spec(self) -> str:
        return f"{self.op}:{'x'.join(map(str, self.dims))}"

    @property
    def program(self) -> str:
        return self.name or self.spec

    @property
    def shape(self) -> dict[str, int]:
        return dict(zip(OP_DIMS[self.op], self.dims, strict=True))

    @property
    def macs(self) -> int:
        """Multiply-adds of the main computation (a size feature and a guard)."""
        d = self.shape
        if self.op == "dense":
            return d["M"] * d["N"] * d["K"]
        if self.op == "batch_matmul":
            return d["B"] * d["M"] * d["N"] * d["K"]
        oh, ow = (
            _out_size(d["H"], d["R"], d["S"], d["P"]),
            _out_size(d["W"], d["R"], d["S"], d["P"]),
        )
        if self.op == "depthwise_conv2d":
            return d["C"] * oh * ow * d["R"] * d["R"]
        return d["F"] * oh * ow * d["C"] * d["R"] * d["R"]

    @property
    def main_block(self) -> str:
        """The TIR block of the main computation (the one a schedule tiles)."""
        return {"dense": "Y", "batch_matmul": "Y", "depthwise_conv2d": "dwconv"}.get(
            self.op, "conv"
        )

    @property
    def producer_block(self) -> str | None:
        """The padding stage feeding the main block, if the operator has one."""
        return "pad" if self.op in CONV_OPS and self.shape["P"] > 0 else None

    @property
    def epilogue_block(self) -> str | None:
        """The elementwise stage after the main block (bias + ReLU), if any."""
        return "bias_relu" if self.op == "conv2d_bias_relu" else None

    @property
    def spatial_extents(self) -> tuple[int, ...]:
        """Extents of the main block's spatial loops, outermost first."""
        d = self.shape
        if self.op == "dense":
            return (d["M"], d["N"])
        if self.op == "batch_matmul":
            return (d["B"], d["M"], d["N"])
        oh, ow = (
            _out_size(d["H"], d["R"], d["S"], d["P"]),
            _out_size(d["W"], d["R"], d["S"], d["P"]),
        )
        return (1, d["C"] if self.op == "depthwise_conv2d" else d["F"], oh, ow)

    @property
    def reduce_extents(self) -> tuple[int, ...]:
        """Extents of the main block's reduction loops, outermost first."""
        d = self.shape
        if self.op in ("dense", "batch_matmul"):
            return (d["K"],)
        if self.op == "depthwise_conv2d":
            return (d["R"], d["R"])
        return (d["C"], d["R"], d["R"])

    def arg_shapes(self) -> list[tuple[int, ...]]:
        """Shapes of the function's arguments, inputs first, the output last."""
        d = self.shape
        if self.op == "dense":
            return [(d["M"], d["K"]), (d["N"], d["K"]), (d["M"], d["N"])]
        if self.op == "batch_matmul":
            b, m, n, k = self.dims
            return [(b, m, k), (b, k, n), (b, m, n)]
        oh, ow = (
            _out_size(d["H"], d["R"], d["S"], d["P"]),
            _out_size(d["W"], d["R"], d["S"], d["P"]),
        )
        if self.op == "depthwise_conv2d":
            c, r = d["C"], d["R"]
            return [(1, c, d["H"], d["W"]), (c, 1, r, r), (1, c, oh, ow)]
        c, f, r = d["C"], d["F"], d["R"]
        shapes: list[tuple[int, ...]] = [(1, c, d["H"], d["W"]), (f, c, r, r)]
        if self.op == "conv2d_bias_relu":
            shapes.append((f,))
        return [*shapes, (1, f, oh, ow)]

    def inputs(self, seed: int = 0) -> list[np.ndarray]:
        """Random float32 inputs in [-1, 1) (fixed by `seed`)."""
        rng = np.random.default_rng(seed)
        return [rng.uniform(-1, 1, s).astype(np.float32) for s in self.arg_shapes()[:-1]]

    def reference(self, inputs: list[np.ndarray]) -> np.ndarray:
        """The output computed by numpy (float64 accumulation, returned as float32)."""
        return REFERENCES[self.op](self, [x.astype(np.float64) for x in inputs]).astype(np.float32)

    def prim_func(self) -> Any:
        """The operator as a TIR PrimFunc (TE -> `te.create_prim_func`), unscheduled."""
        from tvm import te

        tensors = TE_BUILDERS[self.op](self)
        return te.create_prim_func(tensors)


def _out_size(size: int, kernel: int, stride: int, pad: int) -> int:
    return (size + 2 * pad - kernel) // stride + 1


# ------------------------------------------------------------------------------ TE definitions
def _te_dense(w: Workload) -> list[Any]:
    from tvm import te

    m, n, k = w.dims
    x = te.placeholder((m, k), name="X")
    wt = te.placeholder((n, k), name="W")
    rk = te.reduce_axis((0, k), name="k")
    y = te.compute((m, n), lambda i, j: te.sum(x[i, rk] * wt[j, rk], axis=rk), name="Y")
    return [x, wt, y]


def _te_batch_matmul(w: Workload) -> list[Any]:
    from tvm import te

    b, m, n, k = w.dims
    x = te.placeholder((b, m, k), name="X")
    wt = te.placeholder((b, k, n), name="W")
    rk = te.reduce_axis((0, k), name="k")
    y = te.compute(
        (b, m, n), lambda bb, i, j: te.sum(x[bb, i, rk] * wt[bb, rk, j], axis=rk), name="Y"
    )
    return [x, wt, y]


def _te_pad(data: Any, pad: int) -> Any:
    from tvm import te, tirx

    _, c, h, wd = data.shape
    if pad == 0:
        return data
    return te.compute(
        (1, c, h + 2 * pad, wd + 2 * pad),
        lambda n, cc, y, x: tirx.if_then_else(
            tirx.all(y >= pad, y < h + pad, x >= pad, x < wd + pad),
            data[n, cc, y - pad, x - pad],
            tirx.const(0.0, "float32"),
        ),
        name="pad",
    )


def _te_conv(w: Workload, data: Any, kernel: Any) -> Any:
    from tvm import te

    d = w.shape
    oh, ow = _out_size(d["H"], d["R"], d["S"], d["P"]), _out_size(d["W"], d["R"], d["S"], d["P"])
    s = d["S"]
    padded = _te_pad(data, d["P"])
    rc = te.reduce_axis((0, d["C"]), name="rc")
    ry = te.reduce_axis((0, d["R"]), name="ry")
    rx = te.reduce_axis((0, d["R"]), name="rx")
    return te.compute(
        (1, d["F"], oh, ow),
        lambda n, f, y, x: te.sum(
            padded[n, rc, y * s + ry, x * s + rx] * kernel[f, rc, ry, rx], axis=[rc, ry, rx]
        ),
        name="conv",
    )


def _te_conv2d(w: Workload) -> list[Any]:
    from tvm import te

    d = w.shape
    data = te.placeholder((1, d["C"], d["H"], d["W"]), name="data")
    kernel = te.placeholder((d["F"], d["C"], d["R"], d["R"]), name="kernel")
    return [data, kernel, _te_conv(w, data, kernel)]


def _te_conv2d_bias_relu(w: Workload) -> list[Any]:
    from tvm import te, tirx

    d = w.shape
    data = te.placeholder((1, d["C"], d["H"], d["W"]), name="data")
    kernel = te.placeholder((d["F"], d["C"], d["R"], d["R"]), name="kernel")
    bias = te.placeholder((d["F"],), name="bias")
    conv = _te_conv(w, data, kernel)
    out = te.compute(
        conv.shape,
        lambda n, f, y, x: tirx.max(conv[n, f, y, x] + bias[f], tirx.const(0.0, "float32")),
        name="bias_relu",
    )
    return [data, kernel, bias, out]


def _te_depthwise(w: Workload) -> list[Any]:
    from tvm import te

    d = w.shape
    c, r, s = d["C"], d["R"], d["S"]
    oh, ow = _out_size(d["H"], r, s, d["P"]), _out_size(d["W"], r, s, d["P"])
    data = te.placeholder((1, c, d["H"], d["W"]), name="data")
    kernel = te.placeholder((c, 1, r, r), name="kernel")
    padded = _te_pad(data, d["P"])
    ry = te.reduce_axis((0, r), name="ry")
    rx = te.reduce_axis((0, r), name="rx")
    out = te.compute(
        (1, c, oh, ow),
        lambda n, cc, y, x: te.sum(
            padded[n, cc, y * s + ry, x * s + rx] * kernel[cc, 0, ry, rx], axis=[ry, rx]
        ),
        name="dwconv",
    )
    return [data, kernel, out]


TE_BUILDERS: dict[str, Callable[[Workload], list[Any]]] = {
    "dense": _te_dense,
    "batch_matmul": _te_batch_matmul,
    "conv2d": _te_conv2d,
    "depthwise_conv2d": _te_depthwise,
    "conv2d_bias_relu": _te_conv2d_bias_relu,
}


# --------------------------------------------------------------------------- numpy references
def _np_conv(w: Workload, data: np.ndarray, kernel: np.ndarray, depthwise: bool) -> np.ndarray:
    d = w.shape
    r, s, p = d["R"], d["S"], d["P"]
    padded = np.pad(data, ((0, 0), (0, 0), (p, p), (p, p)))
    oh, ow = _out_size(d["H"], r, s, p), _out_size(d["W"], r, s, p)
    # windows[c, y, x, ry, rx]: the input patch under each output position
    windows = np.lib.stride_tricks.sliding_window_view(padded[0], (1, r, r))[..., 0, :, :]
    windows = windows[:, : (oh - 1) * s + 1 : s, : (ow - 1) * s + 1 : s]
    if depthwise:
        return np.einsum("cyxij,cij->cyx", windows, kernel[:, 0])[None]
    return np.einsum("cyxij,fcij->fyx", windows, kernel)[None]


REFERENCES: dict[str, Callable[[Workload, list[np.ndarray]], np.ndarray]] = {
    "dense": lambda w, a: a[0] @ a[1].T,
    "batch_matmul": lambda w, a: np.matmul(a[0], a[1]),
    "conv2d": lambda w, a: _np_conv(w, a[0], a[1], False),
    "depthwise_conv2d": lambda w, a: _np_conv(w, a[0], a[1], True),
    "conv2d_bias_relu": lambda w, a: np.maximum(
        _np_conv(w, a[0], a[1], False) + a[2][None, :, None, None], 0.0
    ),
}


# ------------------------------------------------------------------------------- benchmarks
def _w(name: str, op: str, *dims: int) -> Workload:
    return Workload(op, tuple(dims), name)


# The built-in benchmarks, from ResNet-18, MobileNet-v1 and BERT-base layers (batch 1).
BUILTIN: tuple[Workload, ...] = (
    _w("bert-ffn-dense", "dense", 32, 768, 768),  # BERT-base projection, 32 tokens
    _w("bert-attn-bmm", "batch_matmul", 12, 64, 64, 64),  # QK^T per head, 64 tokens
    _w("resnet18-downsample-conv", "conv2d", 128, 28, 28, 256, 1, 2, 0),  # 1x1 stride 2
    _w("mobilenet-dwconv", "depthwise_conv2d", 256, 28, 28, 3, 1, 1),
    _w("resnet18-conv-bias-relu-small", "conv2d_bias_relu", 64, 14, 14, 64, 3, 1, 1),
    _w("resnet18-conv-small", "conv2d", 64, 28, 28, 32, 3, 1, 1),
)
# Small shapes of every operator, for tests: a measurement takes milliseconds.
TINY: tuple[Workload, ...] = (
    _w("tiny-dense", "dense", 16, 32, 24),
    _w("tiny-bmm", "batch_matmul", 2, 8, 16, 12),
    _w("tiny-conv", "conv2d", 4, 8, 8, 8, 3, 1, 1),
    _w("tiny-dwconv", "depthwise_conv2d", 8, 10, 10, 3, 2, 1),
    _w("tiny-conv-bias-relu", "conv2d_bias_relu", 4, 6, 6, 6, 3, 1, 1),
)
DATASETS: dict[str, tuple[Workload, ...]] = {"builtin": BUILTIN, "tiny": TINY}
_BY_NAME = {w.name: w for ws in DATASETS.values() for w in ws}


@cache
def parse_workload(program: str) -> Workload:
    """A built-in name (`bert-ffn-dense`) or `OP:DIMS` (`dense:64x64x64`) -> its Workload.

    Raises a one-line BenchmarkError naming what is valid."""
    if program in _BY_NAME:
        return _BY_NAME[program]
    op, sep, dims_text = program.partition(":")
    if not sep:
        raise ProgramNotFoundError(
            f"unknown workload {program!r}: use a built-in name ({', '.join(_BY_NAME)}) "
            f"or OP:DIMS with OP one of {', '.join(OPS)}"
        )
    if op not in OP_DIMS:
        raise ProgramNotFoundError(
            f"unknown operator {op!r} in {program!r}; choose one of {', '.join(OPS)}"
        )
    names = OP_DIMS[op]
    parts = dims_text.split("x")
    if len(parts) != len(names) or not all(p.isdigit() for p in parts):
        raise BenchmarkError(
            f"bad shape {dims_text!r} for {op}: give {len(names)} integers "
            f"{'x'.join(names)}, e.g. {op}:{'x'.join('1' if n in 'SP' else '8' for n in names)}"
        )
    dims = tuple(int(p) for p in parts)
    shape = dict(zip(names, dims, strict=True))
    positive = [n for n in names if n != "P"]
    if any(shape[n] < 1 for n in positive):
        raise BenchmarkError(
            f"bad shape {dims_text!r} for {op}: {', '.join(positive)} must be >= 1"
        )
    if "R" in shape and (
        shape["H"] + 2 * shape["P"] < shape["R"] or shape["W"] + 2 * shape["P"] < shape["R"]
    ):
        raise BenchmarkError(
            f"bad shape {dims_text!r} for {op}: the kernel is larger than the padded input"
        )
    if "P" in shape and shape["P"] >= shape["R"]:
        raise BenchmarkError(f"bad shape {dims_text!r} for {op}: padding P must be < kernel R")
    workload = Workload(op, dims)
    if workload.macs > MAX_MACS:
        raise BenchmarkError(
            f"workload {program!r} has {workload.macs:.3g} multiply-adds; at most "
            f"{MAX_MACS:.0e} (an unscheduled measurement would take seconds)"
        )
    return workload


def resolve_workloads(spec: str) -> list[Workload]:
    """`builtin:train` / `tiny:test` (every split holds the whole dataset: schedules are searched
    per workload), or comma-separated workload names and `OP:DIMS` specs."""
    dataset, sep, split = spec.rpartition(":")
    if sep and dataset in DATASETS:
        if split not in ("train", "validation", "test"):
            raise ValueError(f"{spec!r}: the split must be train, validation or test")
        return list(DATASETS[dataset])
    items = [p.strip() for p in spec.split(",") if p.strip()]
    if not items:
        raise ValueError(f"{spec!r} names no workloads")
    return [parse_workload(p) for p in items]


def log2(value: float) -> float:
    return math.log2(max(value, 1.0))
