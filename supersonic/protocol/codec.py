"""The msgpack codec of the wire protocol: messages to frames and back, with hard limits.

A message travels as one or more ZeroMQ frames. Frame 0 is a msgpack map
`{"v": PROTOCOL_VERSION, "t": TYPE, "src": sender, "seq": n, <every field by name>}`; arrays
larger than `INLINE_ARRAY_BYTES` travel as raw bytes in extra frames, so that big observation
batches and weights are neither copied into nor parsed out of the msgpack body. See
docs/protocol.md for the full specification.

Decoding trusts nothing that came off the wire. Sizes are checked before anything is unpacked,
msgpack itself is told the largest string/list/map it may build, the nesting depth is bounded,
and every field is checked against its annotation in `messages.py` before a dataclass is built.
Every problem becomes a `ProtocolError` with a short, one-line `reason` that can be logged and
counted; no other exception escapes `decode`, and nothing is ever unpickled.
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, TypeAlias, Union

import msgpack
import numpy as np

from supersonic.protocol.messages import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    CandidateSpec,
    Header,
    Message,
    Scalar,
)

__all__ = [
    "ALLOWED_DTYPES",
    "DEFAULT_LIMITS",
    "HEADER_FIELDS",
    "INLINE_ARRAY_BYTES",
    "MAX_ARRAY_NDIM",
    "DecodeStats",
    "Decoder",
    "Limits",
    "ProtocolError",
    "VersionMismatch",
    "decode",
    "encode",
]

# Arrays up to this many bytes are inlined in frame 0 (an extra frame costs more than a copy).
INLINE_ARRAY_BYTES = 4096
# The dtypes an array may have on the wire, by numpy name; always little-endian.
ALLOWED_DTYPES = frozenset(
    ["bool", "int8", "uint8", "int16", "int32", "int64", "float32", "float64"]
)
MAX_ARRAY_NDIM = 4
HEADER_FIELDS = ("v", "t", "src", "seq")

_MiB = 1024 * 1024
# The keys of an array map: inline data, or a reference to an extra frame.
_ARRAY_KEYS = (
    frozenset(["__nd__", "dtype", "shape", "data"]),
    frozenset(["__nd__", "dtype", "shape", "frame"]),
)


@dataclass(frozen=True)
class Limits:
    """Hard limits on what `decode` accepts; anything beyond them is rejected unread.

    The defaults leave room for the largest real messages (a TRANSITIONS batch of a few thousand
    observations, an MLP's weights) while keeping one bad peer from exhausting memory.
    """

    max_message_bytes: int = 64 * _MiB  # all frames together
    max_frames: int = 64
    max_array_bytes: int = 32 * _MiB  # one array
    max_depth: int = 8  # nesting of maps/lists in frame 0; the message map itself is depth 1
    max_str_len: int = 1 * _MiB
    max_bin_len: int = 32 * _MiB
    max_list_len: int = 1_000_000
    max_map_len: int = 10_000


DEFAULT_LIMITS = Limits()


class ProtocolError(ValueError):
    """A message that cannot be accepted; `reason` is a short one-line description."""

    def __init__(self, reason: str, detail: str = "") -> None:
        super().__init__(f"{reason}: {detail}" if detail else reason)
        self.reason = reason


class VersionMismatch(ProtocolError):
    """A well-formed header with another protocol version.

    It carries the parsed `header` so that a supervisor can answer a HELLO of another version
    with REJECT (and tell the peer which version it speaks) instead of dropping it silently.
    """

    def __init__(self, header: Header) -> None:
        super().__init__(
            "wrong version", f"peer speaks protocol {header.v}, this is {PROTOCOL_VERSION}"
        )
        self.header = header


class FrameLike(Protocol):
    """A zmq.Frame (received with copy=False): its bytes are in `.buffer`."""

    @property
    def buffer(self) -> memoryview: ...


# What `decode` accepts as one frame.
Frame: TypeAlias = bytes | bytearray | memoryview | FrameLike


# --------------------------------------------------------------------------------------------
# Encoding


def encode(
    msg: Message, src: str, seq: int, version: int = PROTOCOL_VERSION
) -> list[bytes | memoryview]:
    """Frames for `msg` as sent by `src` with sequence number `seq`.

    `version` is only ever changed by tests that play a peer of another protocol version.

    Large arrays are returned as memoryviews of the (contiguous, little-endian) array data, not
    copies: do not modify them until the frames have been sent. Raises `ProtocolError` for a
    value the wire cannot carry (an array of another dtype or more than 4 dimensions).
    """
    if not (dataclasses.is_dataclass(msg) and isinstance(msg, Message)):
        raise TypeError(f"not a protocol message: {type(msg).__name__}")
    frames: list[bytes | memoryview] = [b""]
    body: dict[str, Any] = {"v": version, "t": msg.TYPE, "src": src, "seq": seq}
    for f in dataclasses.fields(msg):
        body[f.name] = _to_wire(getattr(msg, f.name), frames)
    frames[0] = msgpack.packb(body, use_bin_type=True, default=_pack_default)
    return frames


def _to_wire(value: Any, frames: list[bytes | memoryview]) -> Any:
    """A field value as msgpack-able data; large arrays are appended to `frames`."""
    if isinstance(value, np.ndarray):
        return _array_to_wire(value, frames)
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: _to_wire(getattr(value, f.name), frames) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {k: _to_wire(v, frames) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_to_wire(v, frames) for v in value]
    return value


def _array_to_wire(arr: np.ndarray, frames: list[bytes | memoryview]) -> dict[str, Any]:
    name = arr.dtype.name
    if name not in ALLOWED_DTYPES:
        raise ProtocolError("bad dtype", f"{arr.dtype} cannot travel on the wire")
    if arr.ndim > MAX_ARRAY_NDIM:
        raise ProtocolError("bad shape", f"{arr.ndim} dimensions, at most {MAX_ARRAY_NDIM}")
    wire_dtype = np.dtype(name).newbyteorder("<")
    if arr.dtype != wire_dtype or not arr.flags.c_contiguous:
        arr = arr.astype(wire_dtype, order="C")  # astype keeps 0-d arrays 0-d
    out: dict[str, Any] = {"__nd__": True, "dtype": name, "shape": list(arr.shape)}
    if arr.nbytes <= INLINE_ARRAY_BYTES:
        out["data"] = arr.tobytes()
    else:
        out["frame"] = len(frames)
        frames.append(arr.reshape(-1).view(np.uint8).data)  # a flat byte view, no copy
    return out


def _pack_default(obj: Any) -> Any:
    """Let numpy scalars (e.g. a float32 metric) pass as the Python scalar they hold."""
    if isinstance(obj, np.generic):
        return obj.item()
    raise TypeError(f"cannot send a {type(obj).__name__} on the wire")


# --------------------------------------------------------------------------------------------
# Decoding


def decode(frames: Sequence[Frame], limits: Limits = DEFAULT_LIMITS) -> tuple[Header, Message]:
    """The header and message in `frames`; raises `ProtocolError` (and only that) if invalid.

    The order of the checks matters: sizes before unpacking, the header before the fields, and
    the version right after the header (`VersionMismatch`), before anything that a newer
    version might have changed.
    """
    try:
        return _decode(frames, limits)
    except ProtocolError:
        raise
    except Exception as exc:  # a bug here must not become a crash of the receiving process
        raise ProtocolError("malformed message", type(exc).__name__) from exc


def _decode(frames: Sequence[Frame], limits: Limits) -> tuple[Header, Message]:
    if not isinstance(frames, Sequence) or isinstance(frames, bytes | bytearray | memoryview):
        raise ProtocolError("not a frame list")
    if len(frames) == 0:
        raise ProtocolError("no frames")
    if len(frames) > limits.max_frames:
        raise ProtocolError("too many frames")
    views = [_frame_view(f) for f in frames]
    if sum(v.nbytes for v in views) > limits.max_message_bytes:
        raise ProtocolError("message too large")

    body = _unpack(views[0], limits)
    if not isinstance(body, dict):
        raise ProtocolError("not a map")
    _check_tree(body, limits.max_depth)

    header = _read_header(body)
    if header.v != PROTOCOL_VERSION:
        raise VersionMismatch(header)
    cls = MESSAGE_TYPES.get(header.t)
    if cls is None:
        raise ProtocolError("unknown type", _shorten(header.t))

    fields = {k: v for k, v in body.items() if k not in HEADER_FIELDS}
    reader = _Reader(views, limits)
    msg = reader.dataclass(cls, fields, "")
    reader.check_all_frames_used()
    assert isinstance(msg, Message)
    return header, msg


def _frame_view(frame: Any) -> memoryview:
    """A flat byte view of one frame (bytes, memoryview, or a zmq.Frame's `.buffer`)."""
    buf = getattr(frame, "buffer", frame)
    try:
        view = memoryview(buf)
        if view.format != "B" or view.ndim != 1:
            view = view.cast("B")
    except (TypeError, ValueError) as exc:
        raise ProtocolError("bad frame", type(frame).__name__) from exc
    return view


class _ExtRejected(Exception):
    pass


def _reject_ext(code: int, data: bytes) -> Any:
    raise _ExtRejected


# Fragments of msgpack's own limit errors, and the reason each one becomes.
_MSGPACK_LIMIT_REASONS = (
    ("max_str_len", "string too long"),
    ("max_bin_len", "binary too long"),
    ("max_array_len", "list too long"),
    ("max_map_len", "map too long"),
    ("max_ext_len", "ext type not allowed"),
)


def _unpack(view: memoryview, limits: Limits) -> Any:
    # A list or map needs at least one byte per element, so its declared length can also be
    # capped by the frame size: a 5-byte header never makes msgpack allocate a huge list.
    n = view.nbytes
    try:
        return msgpack.unpackb(
            view,
            raw=False,
            strict_map_key=True,
            use_list=True,
            max_str_len=limits.max_str_len,
            max_bin_len=limits.max_bin_len,
            max_array_len=min(limits.max_list_len, n),
            max_map_len=min(limits.max_map_len, n // 2),
            max_ext_len=0,
            ext_hook=_reject_ext,
        )
    except _ExtRejected as exc:
        raise ProtocolError("ext type not allowed") from exc
    except msgpack.StackError as exc:
        raise ProtocolError("too deep") from exc
    except Exception as exc:
        text = str(exc)
        for fragment, reason in _MSGPACK_LIMIT_REASONS:
            if fragment in text:
                if reason in ("list too long", "map too long") and _declared_within(text, limits):
                    break  # within the limits, only longer than the frame: truncated
                raise ProtocolError(reason) from exc
        raise ProtocolError("malformed msgpack") from exc


def _declared_within(text: str, limits: Limits) -> bool:
    """Whether the length in msgpack's "N exceeds max_..." error is within the real limit."""
    try:
        declared = int(text.split(" ", 1)[0])
    except ValueError:
        return False
    limit = limits.max_list_len if "max_array_len" in text else limits.max_map_len
    return declared <= limit


def _check_tree(body: dict[str, Any], max_depth: int) -> None:
    """Bound the nesting depth and allow only plain msgpack values (no ext types, str keys)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        obj, depth = stack.pop()
        if isinstance(obj, dict | list):
            if depth > max_depth:
                raise ProtocolError("too deep")
            if isinstance(obj, dict):
                for key, value in obj.items():
                    if not isinstance(key, str):
                        raise ProtocolError("map key not a string")
                    stack.append((value, depth + 1))
            else:
                stack.extend((item, depth + 1) for item in obj)
        elif not (obj is None or isinstance(obj, str | bytes | int | float)):
            raise ProtocolError("ext type not allowed")  # defensive: _unpack refuses ext already


def _read_header(body: dict[str, Any]) -> Header:
    for name in HEADER_FIELDS:
        if name not in body:
            raise ProtocolError(f"missing field '{name}'")
    v, t, src, seq = (body[name] for name in HEADER_FIELDS)
    if not _is_int(v):
        raise ProtocolError("wrong type for field 'v'")
    if not isinstance(t, str):
        raise ProtocolError("wrong type for field 't'")
    if not isinstance(src, str):
        raise ProtocolError("wrong type for field 'src'")
    if not _is_int(seq) or seq < 0:
        raise ProtocolError("wrong type for field 'seq'")
    return Header(v=v, t=t, src=src, seq=seq)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _shorten(text: str, limit: int = 40) -> str:
    """A wire-controlled name made safe for a one-line reason (printable, bounded)."""
    text = "".join(c if c.isprintable() else "?" for c in text[: limit + 1])
    return text if len(text) <= limit else text[: limit - 3] + "..."


# A converter checks one wire value against one annotation and returns the Python value.
_Converter = Callable[["_Reader", Any, str], Any]


class _Reader:
    """Converts the fields of one message, with the frames its arrays may refer to."""

    def __init__(self, views: list[memoryview], limits: Limits) -> None:
        self.views = views
        self.limits = limits
        self.used_frames: set[int] = set()

    def dataclass(self, cls: type, fields: Any, path: str) -> Any:
        """An instance of `cls` from a map; `path` names it in reasons ("" for the message)."""
        if not isinstance(fields, dict):
            raise ProtocolError(f"wrong type for field '{path}'")
        prefix = f"{path}." if path else ""
        schema = _schema(cls)
        for key in fields:
            if key not in schema:
                raise ProtocolError(f"unknown field '{_shorten(prefix + key)}'")
        values: dict[str, Any] = {}
        for name, (convert, required) in schema.items():
            if name in fields:
                values[name] = convert(self, fields[name], prefix + name)
            elif required:
                raise ProtocolError(f"missing field '{prefix + name}'")
        return cls(**values)

    def array(self, value: Any, path: str) -> np.ndarray:
        if not isinstance(value, dict) or value.get("__nd__") is not True:
            raise ProtocolError(f"wrong type for field '{path}'")
        if set(value) not in _ARRAY_KEYS:
            raise ProtocolError("bad array keys")
        dtype_name = value["dtype"]
        if not isinstance(dtype_name, str) or dtype_name not in ALLOWED_DTYPES:
            raise ProtocolError("bad dtype")
        dtype = np.dtype(dtype_name).newbyteorder("<")
        shape = value["shape"]
        if (
            not isinstance(shape, list)
            or len(shape) > MAX_ARRAY_NDIM
            or not all(_is_int(n) and n >= 0 for n in shape)
        ):
            raise ProtocolError("bad shape")
        nbytes = math.prod(shape) * dtype.itemsize  # Python ints: a huge shape cannot overflow
        if nbytes > self.limits.max_array_bytes:
            raise ProtocolError("array too large")
        if "data" in value:
            data = value["data"]
            if not isinstance(data, bytes):
                raise ProtocolError("bad array data")
            buf: bytes | memoryview = data
        else:
            k = value["frame"]
            if not _is_int(k) or not 1 <= k < len(self.views) or k in self.used_frames:
                raise ProtocolError("bad frame reference")
            self.used_frames.add(k)
            buf = self.views[k]
        if len(buf) != nbytes:
            raise ProtocolError("shape does not match data")
        return np.frombuffer(buf, dtype=dtype).reshape(shape)

    def check_all_frames_used(self) -> None:
        if len(self.used_frames) != len(self.views) - 1:
            raise ProtocolError("unused frame")


def _scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float)  # bool is an int


def _convert_str(r: _Reader, v: Any, path: str) -> str:
    if not isinstance(v, str):
        raise ProtocolError(f"wrong type for field '{path}'")
    return v


def _convert_int(r: _Reader, v: Any, path: str) -> int:
    if not _is_int(v):
        raise ProtocolError(f"wrong type for field '{path}'")
    return int(v)


def _convert_float(r: _Reader, v: Any, path: str) -> float:
    if isinstance(v, float):
        return v
    if _is_int(v):
        return float(v)
    raise ProtocolError(f"wrong type for field '{path}'")


def _convert_bool(r: _Reader, v: Any, path: str) -> bool:
    if not isinstance(v, bool):
        raise ProtocolError(f"wrong type for field '{path}'")
    return v


def _convert_scalar_dict(r: _Reader, v: Any, path: str) -> dict[str, Scalar]:
    if not isinstance(v, dict) or not all(_scalar(x) for x in v.values()):
        raise ProtocolError(f"wrong type for field '{path}'")
    return dict(v)  # keys are str: checked for the whole message by _check_tree


def _convert_array(r: _Reader, v: Any, path: str) -> np.ndarray:
    return r.array(v, path)


def _convert_array_dict(r: _Reader, v: Any, path: str) -> dict[str, np.ndarray]:
    if not isinstance(v, dict):
        raise ProtocolError(f"wrong type for field '{path}'")
    return {k: r.array(x, path) for k, x in v.items()}


def _convert_candidate(r: _Reader, v: Any, path: str) -> CandidateSpec:
    spec = r.dataclass(CandidateSpec, v, path)
    assert isinstance(spec, CandidateSpec)
    return spec


_SCALAR_CONVERTERS: dict[Any, _Converter] = {
    str: _convert_str,
    int: _convert_int,
    float: _convert_float,
    bool: _convert_bool,
    np.ndarray: _convert_array,
    CandidateSpec: _convert_candidate,
}


def _converter(annotation: Any) -> _Converter:
    """The converter for one field annotation; a TypeError names an unsupported one."""
    if annotation in _SCALAR_CONVERTERS:
        return _SCALAR_CONVERTERS[annotation]
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list and len(args) == 1 and args[0] in (str, int, float, dict[str, Scalar]):
        item = _SCALAR_CONVERTERS.get(args[0]) or _converter(args[0])

        def convert_list(r: _Reader, v: Any, path: str) -> list[Any]:
            if not isinstance(v, list):
                raise ProtocolError(f"wrong type for field '{path}'")
            return [item(r, x, path) for x in v]

        return convert_list
    if origin is dict and args == (str, Scalar):
        return _convert_scalar_dict
    if origin is dict and args == (str, np.ndarray):
        return _convert_array_dict
    if origin in (Union, types.UnionType) and len(args) == 2 and type(None) in args:
        inner = _converter(next(a for a in args if a is not type(None)))

        def convert_optional(r: _Reader, v: Any, path: str) -> Any:
            return None if v is None else inner(r, v, path)

        return convert_optional
    raise TypeError(f"the codec cannot check fields of type {annotation!r}")


def _build_schema(cls: type) -> dict[str, tuple[_Converter, bool]]:
    hints = typing.get_type_hints(cls)
    schema: dict[str, tuple[_Converter, bool]] = {}
    for f in dataclasses.fields(cls):
        if f.name in HEADER_FIELDS:
            raise TypeError(f"{cls.__name__}.{f.name} clashes with a header field")
        required = f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
        schema[f.name] = (_converter(hints[f.name]), required)
    return schema


# Built at import time, so that a message type the codec cannot check fails loudly and early.
_CHECKED_TYPES: tuple[type, ...] = (CandidateSpec, *MESSAGE_TYPES.values())
_SCHEMAS: dict[type, dict[str, tuple[_Converter, bool]]] = {
    cls: _build_schema(cls) for cls in _CHECKED_TYPES
}


def _schema(cls: type) -> dict[str, tuple[_Converter, bool]]:
    return _SCHEMAS[cls]


# --------------------------------------------------------------------------------------------
# A decoder that counts instead of raising


class DecodeStats:
    """How many messages a `Decoder` accepted, and how many it rejected for which reason.

    The number of distinct reasons kept is bounded (`MAX_REASONS`; the rest are counted under
    "other") because some reasons name a field that the sender chose.
    """

    MAX_REASONS = 64

    def __init__(self) -> None:
        self.accepted: int = 0
        self.rejected: dict[str, int] = {}

    @property
    def total_rejected(self) -> int:
        return sum(self.rejected.values())

    def count_rejected(self, reason: str) -> None:
        if reason not in self.rejected and len(self.rejected) >= self.MAX_REASONS:
            reason = "other"
        self.rejected[reason] = self.rejected.get(reason, 0) + 1

    def __repr__(self) -> str:
        return f"DecodeStats(accepted={self.accepted}, rejected={self.rejected})"


class Decoder:
    """`decode` for a receive loop: a bad message is dropped and counted, never raised.

    `VersionMismatch` is the exception: it is counted and re-raised, because the receiver must
    answer it (the supervisor REJECTs a HELLO of another version). `last_error` keeps the most
    recent rejection so that the caller can log its reason.
    """

    def __init__(self, limits: Limits = DEFAULT_LIMITS) -> None:
        self.limits = limits
        self.stats = DecodeStats()
        self.last_error: ProtocolError | None = None

    @property
    def last_reason(self) -> str | None:
        """The reason of the most recent rejection (None before the first)."""
        return None if self.last_error is None else self.last_error.reason

    def decode(self, frames: Sequence[Frame]) -> tuple[Header, Message] | None:
        try:
            result = decode(frames, self.limits)
        except ProtocolError as exc:
            self.last_error = exc
            self.stats.count_rejected(exc.reason)
            if isinstance(exc, VersionMismatch):
                raise
            return None
        self.stats.accepted += 1
        return result
