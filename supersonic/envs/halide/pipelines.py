"""Image-processing pipelines written for this project in Halide, with their inputs and references.

A pipeline is a DAG of stages (Halide `Func`s) ending in one output. Its `PipelineSpec` says,
without importing Halide, what a schedule can decide: the stages (consumers-first order is what
an episode decides), which placements each allows (`inline`, `root`, `tile`: computed inside
the output's tile loop), which one the default schedule uses, and which stages are reductions
(update definitions: Halide cannot inline those). The Halide definition is built fresh for
every schedule (`build`): a `Func` carries its schedule, so one object per schedule keeps them
apart.

A program is `NAME` (the built-in size) or `NAME:WxH` (width and height, multiples of 16).
Inputs are random but fixed (seeded by the pipeline's name). Every pipeline has a reference
output: seven are recomputed in numpy from the same definitions (a coordinate-grid evaluation
that mirrors the Halide code, clamped edges included); the other four (`bilateral_grid`,
`camera_pipe`, `interpolate`, `nl_means`) are checked against their default schedule's output
(the unscheduled, all-inline meaning of the algorithm).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

import numpy as np

from supersonic.envs.errors import BenchmarkError, ProgramNotFoundError

PLACES = ("inline", "root", "tile")
MIN_SIDE, MAX_SIDE, MAX_PIXELS, SIDE_MULTIPLE = 16, 4096, 1 << 21, 16


@dataclass(frozen=True)
class StageSpec:
    """One intermediate stage: its name, dimensions, consumers ("output" for the output) and
    the placements it allows; `default` is the default schedule's."""

    name: str
    dims: int
    consumers: tuple[str, ...]
    places: tuple[str, ...] = PLACES
    default: str = "inline"
    reduction: bool = False  # has update definitions (never inlined)
    vector_updates: bool = False  # its updates' first pure variable may be vectorized too
    taps: int = 1  # how many values of its producers one of its values reads (a cost feature)


@dataclass(frozen=True)
class PipelineSpec:
    """A pipeline: its stages in definition order (producers first), its output, its size."""

    name: str
    doc: str
    stages: tuple[StageSpec, ...]
    width: int
    height: int
    channels: int  # of the output (1: a 2-D output)
    out_type: str  # "float32" or "uint8"
    atol: float  # the largest |ours - reference| accepted
    numpy_reference: bool  # False: the default schedule's output is the reference
    default_note: str = ""  # what the default schedule does beyond inlining everything
    tiny_width: int = 64
    tiny_height: int = 48


@dataclass(frozen=True)
class Program:
    """One pipeline at one size; `program` is its id."""

    spec: PipelineSpec
    width: int
    height: int

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def program(self) -> str:
        if (self.width, self.height) == (self.spec.width, self.spec.height):
            return self.spec.name
        return f"{self.spec.name}:{self.width}x{self.height}"

    @property
    def pixels(self) -> int:
        return self.width * self.height

    def out_shape(self) -> tuple[int, ...]:
        """The output as numpy sees it (rows, columns[, channels last in Halide = first here])."""
        if self.spec.channels > 1:
            return (self.spec.channels, self.height, self.width)
        return (self.height, self.width)

    def inputs(self) -> list[np.ndarray]:
        """The pipeline's inputs (numpy layout), fixed by its name and size."""
        seed = zlib.crc32(f"{self.name}:{self.width}x{self.height}".encode())
        return INPUTS[self.name](self, np.random.default_rng(seed))

    def build(self, inputs: list[Any]) -> dict[str, Any]:
        """The Halide definition: stage name -> Func, plus "output" (no schedule applied)."""
        funcs = BUILDERS[self.name](self, inputs)
        expected = {s.name for s in self.spec.stages} | {"output"}
        if set(funcs) != expected:
            raise RuntimeError(f"{self.name}: built {sorted(funcs)}, declared {sorted(expected)}")
        return funcs

    def reference(self, inputs: list[np.ndarray]) -> np.ndarray | None:
        """The numpy reference output, or None where the default schedule's output is it."""
        if not self.spec.numpy_reference:
            return None
        return NUMPY[self.name](self, inputs)


# ------------------------------------------------------------------------------ numpy helpers
class Grid:
    """Coordinate grids of the output, for numpy references that mirror the Halide code: a
    stage is a function of integer coordinate arrays, evaluated where it is read."""

    def __init__(self, width: int, height: int) -> None:
        self.y, self.x = np.mgrid[0:height, 0:width]


def clamped(image: np.ndarray) -> Callable[..., np.ndarray]:
    """`repeat_edge` of a 2-D numpy image as a function of (x, y) coordinate arrays."""
    h, w = image.shape

    def at(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return image[np.clip(y, 0, h - 1), np.clip(x, 0, w - 1)]

    return at


# ------------------------------------------------------------------------------- pipelines
def _hl() -> Any:
    import halide as hl

    return hl


def _vars(*names: str) -> list[Any]:
    hl = _hl()
    return [hl.Var(n) for n in names]


# blur: separable 3x3 box blur -------------------------------------------------------------
def _blur_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y = _vars("x", "y")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    blur_x, out = hl.Func("blur_x"), hl.Func("output")
    blur_x[x, y] = (inp[x - 1, y] + inp[x, y] + inp[x + 1, y]) / 3.0
    out[x, y] = (blur_x[x, y - 1] + blur_x[x, y] + blur_x[x, y + 1]) / 3.0
    return {"blur_x": blur_x, "output": out}


def _blur_numpy(p: Program, inputs: list[np.ndarray]) -> np.ndarray:
    g, inp = Grid(p.width, p.height), clamped(inputs[0])

    def blur_x(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return (inp(x - 1, y) + inp(x, y) + inp(x + 1, y)) / np.float32(3.0)

    return (blur_x(g.x, g.y - 1) + blur_x(g.x, g.y) + blur_x(g.x, g.y + 1)) / np.float32(3.0)


# unsharp: 5-tap Gaussian blur (x then y), then sharpen --------------------------------------
_GAUSS5 = (1.0, 4.0, 6.0, 4.0, 1.0)


def _unsharp_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y = _vars("x", "y")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    gx, gy, sharp, out = (hl.Func(n) for n in ("blur_x", "blur_y", "sharpen", "output"))
    gx[x, y] = sum(k * inp[x + i - 2, y] for i, k in enumerate(_GAUSS5)) / 16.0
    gy[x, y] = sum(k * gx[x, y + i - 2] for i, k in enumerate(_GAUSS5)) / 16.0
    sharp[x, y] = 2.0 * inp[x, y] - gy[x, y]
    out[x, y] = hl.clamp(sharp[x, y], 0.0, 1.0)
    return {"blur_x": gx, "blur_y": gy, "sharpen": sharp, "output": out}


def _unsharp_numpy(p: Program, inputs: list[np.ndarray]) -> np.ndarray:
    g, inp = Grid(p.width, p.height), clamped(inputs[0])
    f16 = np.float32(16.0)

    def gx(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _weighted(lambda i: inp(x + i - 2, y)) / f16

    gy = _weighted(lambda i: gx(g.x, g.y + i - 2)) / f16
    return np.clip(np.float32(2.0) * inp(g.x, g.y) - gy, 0.0, 1.0)


def _weighted(tap: Callable[[int], np.ndarray]) -> np.ndarray:
    total = np.float32(_GAUSS5[0]) * tap(0)
    for i, k in enumerate(_GAUSS5[1:], start=1):
        total = total + np.float32(k) * tap(i)
    return total


# harris: Harris corner response --------------------------------------------------------------
def _harris_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y = _vars("x", "y")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    f = {n: hl.Func(n) for n in ("ix", "iy", "ixx", "iyy", "ixy", "sxx", "syy", "sxy", "output")}
    f["ix"][x, y] = _sobel(lambda i, j: inp[x + i, y + j], horizontal=True)
    f["iy"][x, y] = _sobel(lambda i, j: inp[x + i, y + j], horizontal=False)
    f["ixx"][x, y] = f["ix"][x, y] * f["ix"][x, y]
    f["iyy"][x, y] = f["iy"][x, y] * f["iy"][x, y]
    f["ixy"][x, y] = f["ix"][x, y] * f["iy"][x, y]
    for s, src in (("sxx", "ixx"), ("syy", "iyy"), ("sxy", "ixy")):
        f[s][x, y] = _box3(_reader(f[src], x, y))
    sxx, syy, sxy = f["sxx"][x, y], f["syy"][x, y], f["sxy"][x, y]
    trace = sxx + syy
    f["output"][x, y] = sxx * syy - sxy * sxy - hl.f32(0.04) * trace * trace
    return f


def _reader(func: Any, x: Any, y: Any) -> Callable[[int, int], Any]:
    """func at (x + i, y + j), as a function of the offsets."""
    return lambda i, j: func[x + i, y + j]


def _sobel(at: Callable[[int, int], Any], horizontal: bool) -> Any:
    """(right - left) or (down - up) weighted 1, 2, 1 across, over 8."""
    if horizontal:
        d = [at(1, j) - at(-1, j) for j in (-1, 0, 1)]
    else:
        d = [at(i, 1) - at(i, -1) for i in (-1, 0, 1)]
    return (d[0] + 2.0 * d[1] + d[2]) / 8.0


def _box3(at: Callable[[int, int], Any]) -> Any:
    total = at(-1, -1)
    for j in (-1, 0, 1):
        for i in (-1, 0, 1):
            if (i, j) != (-1, -1):
                total = total + at(i, j)
    return total


def _harris_numpy(p: Program, inputs: list[np.ndarray]) -> np.ndarray:
    g, inp = Grid(p.width, p.height), clamped(inputs[0])

    def ix(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _sobel_np(lambda i, j: inp(x + i, y + j), True)

    def iy(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return _sobel_np(lambda i, j: inp(x + i, y + j), False)

    # ix and iy on the 1-pixel border around the output, once (the box sums read them there)
    bx, by = np.mgrid[-1 : p.height + 1, -1 : p.width + 1][::-1]
    gx, gy = ix(bx, by), iy(bx, by)
    prods = {"xx": gx * gx, "yy": gy * gy, "xy": gx * gy}

    def box(a: np.ndarray) -> np.ndarray:
        return _box3(lambda i, j: a[1 + j : 1 + j + p.height, 1 + i : 1 + i + p.width])

    sxx, syy, sxy = box(prods["xx"]), box(prods["yy"]), box(prods["xy"])
    trace = sxx + syy
    del g
    return sxx * syy - sxy * sxy - np.float32(0.04) * trace * trace


def _sobel_np(at: Callable[[int, int], np.ndarray], horizontal: bool) -> np.ndarray:
    if horizontal:
        d = [at(1, j) - at(-1, j) for j in (-1, 0, 1)]
    else:
        d = [at(i, 1) - at(i, -1) for i in (-1, 0, 1)]
    return (d[0] + np.float32(2.0) * d[1] + d[2]) / np.float32(8.0)


# max_filter: morphological gradient (7x7 max minus 7x7 min, separable) -------------------------
RADIUS = 3


def _max_filter_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y = _vars("x", "y")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    vmax, vmin, out = hl.Func("vmax"), hl.Func("vmin"), hl.Func("output")
    r = hl.RDom([hl.Range(-RADIUS, 2 * RADIUS + 1)])
    vmax[x, y] = hl.maximum(inp[x, y + r.x])
    vmin[x, y] = hl.minimum(inp[x, y + r.x])
    out[x, y] = hl.maximum(vmax[x + r.x, y]) - hl.minimum(vmin[x + r.x, y])
    return {"vmax": vmax, "vmin": vmin, "output": out}


def _max_filter_numpy(p: Program, inputs: list[np.ndarray]) -> np.ndarray:
    g, inp = Grid(p.width, p.height), clamped(inputs[0])
    offsets = range(-RADIUS, RADIUS + 1)

    def vmax(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.max([inp(x, y + i) for i in offsets], axis=0)

    def vmin(x: np.ndarray, y: np.ndarray) -> np.ndarray:
        return np.min([inp(x, y + i) for i in offsets], axis=0)

    hi = np.max([vmax(g.x + i, g.y) for i in offsets], axis=0)
    lo = np.min([vmin(g.x + i, g.y) for i in offsets], axis=0)
    return hi - lo


# hist_eq: histogram equalization of an 8-bit image (after a 3x3 smoothing) --------------------
def _hist_eq_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y, i = _vars("x", "y", "i")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    smooth, hist, cdf, lut, out = (hl.Func(n) for n in ("smooth", "hist", "cdf", "lut", "output"))
    smooth[x, y] = hl.u8(_box3(lambda a, b: hl.u16(inp[x + a, y + b])) / 9)
    r = hl.RDom([hl.Range(0, p.width), hl.Range(0, p.height)])
    hist[i] = 0
    hist[hl.i32(smooth[r.x, r.y])] += 1
    cdf[i] = hist[i]
    s = hl.RDom([hl.Range(1, 255)])
    cdf[s.x] = cdf[s.x - 1] + hist[s.x]
    lut[i] = hl.u8(cdf[i] * 255 / p.pixels)
    out[x, y] = lut[hl.i32(smooth[x, y])]
    return {"smooth": smooth, "hist": hist, "cdf": cdf, "lut": lut, "output": out}


def _hist_eq_numpy(p: Program, inputs: list[np.ndarray]) -> np.ndarray:
    g, inp = Grid(p.width, p.height), clamped(inputs[0].astype(np.int64))
    smooth = _box3(lambda a, b: inp(g.x + a, g.y + b)) // 9
    cdf = np.cumsum(np.bincount(smooth.ravel(), minlength=256))
    lut = (cdf * 255 // p.pixels).astype(np.uint8)
    return lut[smooth]


# conv_layer: 3x3 convolution layer, 16 -> 16 channels, bias and ReLU --------------------------
CONV_IN, CONV_OUT = 16, 16


def _conv_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y, c = _vars("x", "y", "c")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    weights, bias = inputs[1], inputs[2]
    conv, out = hl.Func("conv"), hl.Func("output")
    r = hl.RDom([hl.Range(0, 3), hl.Range(0, 3), hl.Range(0, CONV_IN)])
    conv[x, y, c] = bias[c]
    conv[x, y, c] += weights[r.x, r.y, r.z, c] * inp[x + r.x - 1, y + r.y - 1, r.z]
    out[x, y, c] = hl.max(conv[x, y, c], 0.0)
    return {"conv": conv, "output": out}


def _conv_numpy(p: Program, inputs: list[np.ndarray]) -> np.ndarray:
    image, weights, bias = inputs  # (ci, h, w), (co, ci, 3, 3), (co,)
    padded = np.pad(image.astype(np.float64), ((0, 0), (1, 1), (1, 1)), mode="edge")
    view = np.lib.stride_tricks.sliding_window_view
    windows: np.ndarray = view(padded, (3, 3), axis=(1, 2))  # type: ignore[call-overload]
    conv = np.einsum("chwij,dcij->dhw", windows, weights.astype(np.float64))
    return np.maximum(conv + bias[:, None, None], 0.0).astype(np.float32)


# iir_blur: first-order recursive filter down the columns, then back up ------------------------
IIR_ALPHA = 0.75


def _iir_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y = _vars("x", "y")
    image = inputs[0]
    a = IIR_ALPHA
    down, up, out = hl.Func("down"), hl.Func("up"), hl.Func("output")
    down[x, y] = image[hl.clamp(x, 0, p.width - 1), hl.clamp(y, 0, p.height - 1)]
    r = hl.RDom([hl.Range(1, p.height - 1)])
    down[x, r.x] = (1 - a) * down[x, r.x] + a * down[x, r.x - 1]
    up[x, y] = down[x, y]
    ry = p.height - 2 - hl.RDom([hl.Range(0, p.height - 1)]).x
    up[x, ry] = (1 - a) * up[x, ry] + a * up[x, ry + 1]
    out[x, y] = up[x, y]
    return {"down": down, "up": up, "output": out}


def _iir_numpy(p: Program, inputs: list[np.ndarray]) -> np.ndarray:
    a, b = np.float32(IIR_ALPHA), np.float32(1 - IIR_ALPHA)
    down = inputs[0].copy()
    for row in range(1, p.height):
        down[row] = b * down[row] + a * down[row - 1]
    up = down
    for row in range(p.height - 2, -1, -1):
        up[row] = b * up[row] + a * up[row + 1]
    return up


# bilateral_grid: edge-preserving smoothing through a 3-D grid (Chen et al.) ------------------
GRID_S, GRID_R = 8, 0.1


def _bilateral_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y, z, c = _vars("x", "y", "z", "c")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    s, inv_r = GRID_S, 1.0 / GRID_R
    names = ("histogram", "blur_z", "blur_x", "blur_y", "interpolated", "output")
    hist, bz, bx, by, interp, out = (hl.Func(n) for n in names)
    r = hl.RDom([hl.Range(0, s), hl.Range(0, s)])
    val = hl.clamp(inp[x * s + r.x - s // 2, y * s + r.y - s // 2], 0.0, 1.0)
    zi = hl.i32(val * inv_r + 0.5)
    hist[x, y, z, c] = 0.0
    hist[x, y, zi, c] += hl.select(c == 0, val, 1.0)
    bz[x, y, z, c] = _taps3(lambda i: hist[x, y, z + i, c])
    bx[x, y, z, c] = _taps3(lambda i: bz[x + i, y, z, c])
    by[x, y, z, c] = _taps3(lambda i: bx[x, y + i, z, c])
    v = hl.clamp(inp[x, y], 0.0, 1.0)
    zv = v * inv_r
    zq = hl.i32(zv)
    zf = zv - zq
    xf = hl.f32(x % s) / s
    yf = hl.f32(y % s) / s
    xi, yi = x / s, y / s

    def corner(dx: int, dy: int, dz: int) -> Any:
        return by[xi + dx, yi + dy, zq + dz, c]

    def lerp(lo: Any, hi: Any, t: Any) -> Any:
        return lo + (hi - lo) * t

    def plane(dz: int) -> Any:
        return lerp(
            lerp(corner(0, 0, dz), corner(1, 0, dz), xf),
            lerp(corner(0, 1, dz), corner(1, 1, dz), xf),
            yf,
        )

    interp[x, y, c] = lerp(plane(0), plane(1), zf)
    out[x, y] = interp[x, y, 0] / interp[x, y, 1]
    return {
        "histogram": hist,
        "blur_z": bz,
        "blur_x": bx,
        "blur_y": by,
        "interpolated": interp,
        "output": out,
    }


def _taps3(at: Callable[[int], Any]) -> Any:
    return at(-1) + 2.0 * at(0) + at(1)


# camera_pipe: demosaic (bilinear, GRBG Bayer), colour correction, tone curve ---------------
CCM = ((1.6, -0.4, -0.2), (-0.3, 1.5, -0.2), (-0.1, -0.5, 1.6))
CURVE_SIZE = 1024


def _camera_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y, c, v = _vars("x", "y", "c", "v")
    raw = hl.BoundaryConditions.repeat_edge(inputs[0])
    names = ("g_full", "r_full", "b_full", "corrected", "curve", "output")
    g_full, r_full, b_full, corrected, curve, out = (hl.Func(n) for n in names)
    even_x, even_y = x % 2 == 0, y % 2 == 0
    cross = (raw[x - 1, y] + raw[x + 1, y] + raw[x, y - 1] + raw[x, y + 1]) / 4.0
    diag = (raw[x - 1, y - 1] + raw[x + 1, y - 1] + raw[x - 1, y + 1] + raw[x + 1, y + 1]) / 4.0
    horiz = (raw[x - 1, y] + raw[x + 1, y]) / 2.0
    vert = (raw[x, y - 1] + raw[x, y + 1]) / 2.0
    green_site = even_x == even_y  # G at (even, even) and (odd, odd)
    g_full[x, y] = hl.select(green_site, raw[x, y], cross)
    # R at (odd x, even y), B at (even x, odd y)
    r_full[x, y] = hl.select(
        even_y, hl.select(even_x, horiz, raw[x, y]), hl.select(even_x, diag, vert)
    )
    b_full[x, y] = hl.select(
        even_y, hl.select(even_x, vert, diag), hl.select(even_x, raw[x, y], horiz)
    )
    rgb = (r_full[x, y], g_full[x, y], b_full[x, y])
    rows = [sum(hl.f32(k) * ch for k, ch in zip(row, rgb, strict=True)) for row in CCM]
    corrected[x, y, c] = hl.select(c == 0, rows[0], c == 1, rows[1], rows[2])
    level = hl.f32(v) / (CURVE_SIZE - 1)
    curve[v] = hl.u8(hl.clamp(hl.pow(level, hl.f32(1.0 / 2.2)) * 255.0 + 0.5, 0.0, 255.0))
    index = hl.clamp(hl.i32(corrected[x, y, c] * (CURVE_SIZE - 1)), 0, CURVE_SIZE - 1)
    out[x, y, c] = curve[index]
    return {
        "g_full": g_full,
        "r_full": r_full,
        "b_full": b_full,
        "corrected": corrected,
        "curve": curve,
        "output": out,
    }


# interpolate: fill transparent pixels from a 2-level pyramid (premultiplied alpha) ------------
def _interpolate_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y, c = _vars("x", "y", "c")
    rgba = hl.BoundaryConditions.repeat_edge(inputs[0])
    names = ("premul", "down1_x", "down1", "down2_x", "down2", "up1", "up0", "output")
    d0, dx1, d1, dx2, d2, u1, u0, out = (hl.Func(n) for n in names)
    alpha = rgba[x, y, 3]
    d0[x, y, c] = hl.select(c == 3, alpha, rgba[x, y, c] * alpha)
    for fine, half, coarse in ((d0, dx1, d1), (d1, dx2, d2)):
        half[x, y, c] = (
            fine[2 * x - 1, y, c] + 2.0 * fine[2 * x, y, c] + fine[2 * x + 1, y, c]
        ) / 4
        coarse[x, y, c] = (
            half[x, 2 * y - 1, c] + 2.0 * half[x, 2 * y, c] + half[x, 2 * y + 1, c]
        ) / 4

    def up(f: Any) -> Any:
        xa, xb, ya, yb = (x - 1) / 2, (x + 1) / 2, (y - 1) / 2, (y + 1) / 2
        return (f[xa, ya, c] + f[xb, ya, c] + f[xa, yb, c] + f[xb, yb, c]) / 4

    u1[x, y, c] = d1[x, y, c] + (1.0 - d1[x, y, 3]) * up(d2)
    u0[x, y, c] = d0[x, y, c] + (1.0 - d0[x, y, 3]) * up(u1)
    out[x, y, c] = u0[x, y, c] / u0[x, y, 3]
    return {
        "premul": d0,
        "down1_x": dx1,
        "down1": d1,
        "down2_x": dx2,
        "down2": d2,
        "up1": u1,
        "up0": u0,
        "output": out,
    }


# nl_means: non-local means denoising, 3x3 patches over a 5x5 search window --------------------
NLM_SEARCH, NLM_SIGMA = 2, 0.12


def _nl_means_build(p: Program, inputs: list[Any]) -> dict[str, Any]:
    hl = _hl()
    x, y, dx, dy = _vars("x", "y", "dx", "dy")
    inp = hl.BoundaryConditions.repeat_edge(inputs[0])
    dist, blur_dx, blur_d, weight, out = (
        hl.Func(n) for n in ("dist", "blur_dx", "blur_d", "weight", "output")
    )
    diff = inp[x, y] - inp[x + dx, y + dy]
    dist[x, y, dx, dy] = diff * diff
    blur_dx[x, y, dx, dy] = dist[x - 1, y, dx, dy] + dist[x, y, dx, dy] + dist[x + 1, y, dx, dy]
    blur_d[x, y, dx, dy] = (
        blur_dx[x, y - 1, dx, dy] + blur_dx[x, y, dx, dy] + blur_dx[x, y + 1, dx, dy]
    )
    weight[x, y, dx, dy] = hl.exp(
        -blur_d[x, y, dx, dy] * hl.f32(1.0 / (9.0 * NLM_SIGMA * NLM_SIGMA))
    )
    n = 2 * NLM_SEARCH + 1
    s = hl.RDom([hl.Range(-NLM_SEARCH, n), hl.Range(-NLM_SEARCH, n)])
    w = weight[x, y, s.x, s.y]
    out[x, y] = hl.sum(w * inp[x + s.x, y + s.y]) / hl.sum(w)
    return {"dist": dist, "blur_dx": blur_dx, "blur_d": blur_d, "weight": weight, "output": out}


# --------------------------------------------------------------------------------- inputs
def _gray(p: Program, rng: np.random.Generator) -> list[np.ndarray]:
    """A smooth random image plus noise in [0, 1) (structure for corners, edges, histograms)."""
    coarse = rng.random((p.height // 8 + 2, p.width // 8 + 2))
    smooth = np.kron(coarse, np.ones((8, 8)))[: p.height, : p.width]
    noise = rng.random((p.height, p.width))
    return [(0.8 * smooth + 0.2 * noise).astype(np.float32)]


def _gray8(p: Program, rng: np.random.Generator) -> list[np.ndarray]:
    (image,) = _gray(p, rng)
    return [(image * 160 + 40).astype(np.uint8)]  # a low-contrast image to equalize


def _conv_inputs(p: Program, rng: np.random.Generator) -> list[np.ndarray]:
    image = rng.uniform(-1, 1, (CONV_IN, p.height, p.width)).astype(np.float32)
    weights = rng.uniform(-0.2, 0.2, (CONV_OUT, CONV_IN, 3, 3)).astype(np.float32)
    bias = rng.uniform(-0.1, 0.1, CONV_OUT).astype(np.float32)
    return [image, weights, bias]


def _rgba(p: Program, rng: np.random.Generator) -> list[np.ndarray]:
    rgb = rng.random((3, p.height, p.width))
    alpha = np.where(rng.random((1, p.height, p.width)) < 0.3, 0.05, 1.0)
    return [np.concatenate([rgb, alpha]).astype(np.float32)]


INPUTS: dict[str, Callable[[Program, np.random.Generator], list[np.ndarray]]] = {
    "blur": _gray,
    "unsharp": _gray,
    "harris": _gray,
    "max_filter": _gray,
    "hist_eq": _gray8,
    "conv_layer": _conv_inputs,
    "iir_blur": _gray,
    "bilateral_grid": _gray,
    "camera_pipe": _gray,
    "interpolate": _rgba,
    "nl_means": _gray,
}
BUILDERS: dict[str, Callable[[Program, list[Any]], dict[str, Any]]] = {
    "blur": _blur_build,
    "unsharp": _unsharp_build,
    "harris": _harris_build,
    "max_filter": _max_filter_build,
    "hist_eq": _hist_eq_build,
    "conv_layer": _conv_build,
    "iir_blur": _iir_build,
    "bilateral_grid": _bilateral_build,
    "camera_pipe": _camera_build,
    "interpolate": _interpolate_build,
    "nl_means": _nl_means_build,
}
NUMPY: dict[str, Callable[[Program, list[np.ndarray]], np.ndarray]] = {
    "blur": _blur_numpy,
    "unsharp": _unsharp_numpy,
    "harris": _harris_numpy,
    "max_filter": _max_filter_numpy,
    "hist_eq": _hist_eq_numpy,
    "conv_layer": _conv_numpy,
    "iir_blur": _iir_numpy,
}

_OUT = ("output",)
_ROOT_ONLY = ("root",)
_NO_INLINE = ("root", "tile")
SPECS: tuple[PipelineSpec, ...] = (
    PipelineSpec(
        "blur",
        "separable 3x3 box blur",
        (StageSpec("blur_x", 2, _OUT, taps=3),),
        1024,
        1024,
        1,
        "float32",
        1e-5,
        True,
    ),
    PipelineSpec(
        "unsharp",
        "unsharp mask: 5-tap Gaussian (x, y), sharpen, clamp",
        (
            StageSpec("blur_x", 2, ("blur_y",), taps=5),
            StageSpec("blur_y", 2, ("sharpen",), taps=5),
            StageSpec("sharpen", 2, _OUT, taps=2),
        ),
        1024,
        768,
        1,
        "float32",
        1e-5,
        True,
    ),
    PipelineSpec(
        "harris",
        "Harris corners: Sobel gradients, products, 3x3 sums, response",
        (
            StageSpec("ix", 2, ("ixx", "ixy"), taps=6),
            StageSpec("iy", 2, ("iyy", "ixy"), taps=6),
            StageSpec("ixx", 2, ("sxx",), taps=1),
            StageSpec("iyy", 2, ("syy",), taps=1),
            StageSpec("ixy", 2, ("sxy",), taps=2),
            StageSpec("sxx", 2, _OUT, taps=9),
            StageSpec("syy", 2, _OUT, taps=9),
            StageSpec("sxy", 2, _OUT, taps=9),
        ),
        512,
        512,
        1,
        "float32",
        1e-4,
        True,
    ),
    PipelineSpec(
        "max_filter",
        "morphological gradient: 7x7 max minus 7x7 min, each separable",
        (StageSpec("vmax", 2, _OUT, taps=7), StageSpec("vmin", 2, _OUT, taps=7)),
        512,
        512,
        1,
        "float32",
        0.0,
        True,
    ),
    PipelineSpec(
        "hist_eq",
        "histogram equalization of an 8-bit image after 3x3 smoothing",
        (
            StageSpec("smooth", 2, ("hist", "output"), places=("inline", "root"), taps=9),
            StageSpec(
                "hist", 1, ("cdf",), places=_ROOT_ONLY, default="root", reduction=True, taps=1
            ),
            StageSpec(
                "cdf", 1, ("lut",), places=_ROOT_ONLY, default="root", reduction=True, taps=2
            ),
            StageSpec("lut", 1, _OUT, places=("inline", "root"), taps=1),
        ),
        1024,
        1024,
        1,
        "uint8",
        0.0,
        True,
        "hist and cdf (reductions over the whole image) at the root",
    ),
    PipelineSpec(
        "conv_layer",
        "3x3 convolution, 16 -> 16 channels, bias, ReLU",
        (
            StageSpec(
                "conv",
                3,
                _OUT,
                places=_NO_INLINE,
                default="root",
                reduction=True,
                vector_updates=True,
                taps=9 * CONV_IN,
            ),
        ),
        64,
        64,
        CONV_OUT,
        "float32",
        1e-4,
        True,
        "conv (a reduction over 3x3x16) at the root",
        tiny_width=16,
        tiny_height=16,
    ),
    PipelineSpec(
        "iir_blur",
        "first-order recursive blur down the columns, then back up",
        (
            StageSpec(
                "down",
                2,
                ("up",),
                places=_NO_INLINE,
                default="root",
                reduction=True,
                vector_updates=True,
                taps=2,
            ),
            StageSpec(
                "up",
                2,
                _OUT,
                places=_NO_INLINE,
                default="root",
                reduction=True,
                vector_updates=True,
                taps=2,
            ),
        ),
        1024,
        512,
        1,
        "float32",
        1e-5,
        True,
        "down and up (scans along y) at the root",
    ),
    PipelineSpec(
        "bilateral_grid",
        "bilateral grid: scatter into a 3-D grid, 3-tap blurs in z, x, y, trilinear slice",
        (
            StageSpec(
                "histogram",
                4,
                ("blur_z",),
                places=_NO_INLINE,
                default="root",
                reduction=True,
                taps=GRID_S * GRID_S,
            ),
            StageSpec("blur_z", 4, ("blur_x",), taps=3),
            StageSpec("blur_x", 4, ("blur_y",), taps=3),
            StageSpec("blur_y", 4, ("interpolated",), taps=3),
            StageSpec("interpolated", 3, _OUT, taps=8),
        ),
        512,
        512,
        1,
        "float32",
        1e-4,
        False,
        "histogram (the scatter into the grid) at the root",
    ),
    PipelineSpec(
        "camera_pipe",
        "camera pipeline: bilinear demosaic (GRBG), colour matrix, tone-curve lookup table",
        (
            StageSpec("g_full", 2, ("corrected",), taps=4),
            StageSpec("r_full", 2, ("corrected",), taps=4),
            StageSpec("b_full", 2, ("corrected",), taps=4),
            StageSpec("corrected", 3, _OUT, taps=3),
            StageSpec("curve", 1, _OUT, places=("inline", "root"), taps=1),
        ),
        512,
        384,
        3,
        "uint8",
        1.0,
        False,
    ),
    PipelineSpec(
        "interpolate",
        "pyramid interpolation of transparent pixels (2 levels, premultiplied alpha)",
        (
            StageSpec("premul", 3, ("down1_x", "up0"), taps=2),
            StageSpec("down1_x", 3, ("down1",), taps=3),
            StageSpec("down1", 3, ("down2_x", "up1"), default="root", taps=3),
            StageSpec("down2_x", 3, ("down2",), taps=3),
            StageSpec("down2", 3, ("up1",), default="root", taps=3),
            StageSpec("up1", 3, ("up0",), taps=6),
            StageSpec("up0", 3, _OUT, taps=6),
        ),
        512,
        512,
        4,
        "float32",
        1e-4,
        False,
        "the pyramid levels down1 and down2 at the root (inlined, every level multiplies the "
        "work of the levels below it)",
    ),
    PipelineSpec(
        "nl_means",
        "non-local means: 3x3 patch distances over a 5x5 search window, weighted average",
        (
            StageSpec("dist", 4, ("blur_dx",), taps=2),
            StageSpec("blur_dx", 4, ("blur_d",), taps=3),
            StageSpec("blur_d", 4, ("weight",), taps=3),
            StageSpec("weight", 4, _OUT, taps=1),
        ),
        256,
        256,
        1,
        "float32",
        1e-4,
        False,
    ),
)
BY_NAME = {s.name: s for s in SPECS}
NAMES = tuple(BY_NAME)
MAX_STAGES = max(len(s.stages) for s in SPECS)


def builtin() -> list[Program]:
    return [Program(s, s.width, s.height) for s in SPECS]


def tiny() -> list[Program]:
    return [Program(s, s.tiny_width, s.tiny_height) for s in SPECS]


DATASETS: dict[str, Callable[[], list[Program]]] = {"builtin": builtin, "tiny": tiny}


@cache
def parse_program(program: str) -> Program:
    """`NAME` or `NAME:WxH` -> its Program; a one-line BenchmarkError names what is valid."""
    name, sep, size = program.partition(":")
    if name not in BY_NAME:
        raise ProgramNotFoundError(
            f"unknown pipeline {name!r}; choose one of {', '.join(NAMES)} (optionally NAME:WxH)"
        )
    spec = BY_NAME[name]
    if not sep:
        return Program(spec, spec.width, spec.height)
    parts = size.split("x")
    if len(parts) != 2 or not all(p.isdigit() for p in parts):
        raise BenchmarkError(f"bad size {size!r} for {name}: give WIDTHxHEIGHT, e.g. {name}:64x64")
    width, height = int(parts[0]), int(parts[1])
    for side in (width, height):
        if not MIN_SIDE <= side <= MAX_SIDE or side % SIDE_MULTIPLE:
            raise BenchmarkError(
                f"bad size {size!r} for {name}: each side must be a multiple of {SIDE_MULTIPLE} "
                f"in {MIN_SIDE}..{MAX_SIDE}"
            )
    if width * height > MAX_PIXELS:
        raise BenchmarkError(
            f"size {size!r} for {name} has {width * height} pixels; at most {MAX_PIXELS} "
            "(a default-schedule measurement would take seconds)"
        )
    return Program(spec, width, height)


def resolve_programs(spec: str) -> list[Program]:
    """`builtin:SPLIT` / `tiny:SPLIT` (every split holds every pipeline: schedules are searched
    per pipeline), or comma-separated `NAME` / `NAME:WxH`."""
    dataset, sep, split = spec.rpartition(":")
    if sep and dataset in DATASETS:
        if split not in ("train", "validation", "test"):
            raise ValueError(f"{spec!r}: the split must be train, validation or test")
        return DATASETS[dataset]()
    items = [p.strip() for p in spec.split(",") if p.strip()]
    if not items:
        raise ValueError(f"{spec!r} names no pipelines")
    return [parse_program(p) for p in items]
