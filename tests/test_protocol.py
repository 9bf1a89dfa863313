"""The wire codec: every message round-trips, and nothing malformed gets past `decode`.

The fuzz tests share one `Decoder` (`DECODER`): every bad input must be rejected with a
`ProtocolError` (no other exception), counted by the decoder, and leave it able to decode the
next valid message.
"""

from __future__ import annotations

import dataclasses
import itertools
import re
import typing
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from supersonic.protocol.codec import (
    DEFAULT_LIMITS,
    INLINE_ARRAY_BYTES,
    Decoder,
    DecodeStats,
    Limits,
    ProtocolError,
    VersionMismatch,
    decode,
    encode,
)
from supersonic.protocol.messages import (
    MESSAGE_TYPES,
    PROTOCOL_VERSION,
    Assign,
    BestFound,
    Bye,
    CandidateSpec,
    EvalRequest,
    EvalResult,
    Events,
    Header,
    Heartbeat,
    Hello,
    InferReply,
    InferRequest,
    Log,
    Message,
    Reject,
    Release,
    Scalar,
    Score,
    Stop,
    TrainUntil,
    Transitions,
    Weights,
    WeightsRequest,
    Welcome,
)

FUZZ = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])

RNG = np.random.default_rng(0)
SPEC = CandidateSpec(
    name="ppo-autophase-ic_oz-s3",
    algorithm="ppo",
    state_fn="autophase",
    reward_fn="ic_oz",
    hyperparameters={"lr": 3e-4, "gamma": 0.99, "epochs": 4, "norm_adv": True, "note": None},
    seed=3,
)


def _transitions(n: int = 256, d: int = 56) -> Transitions:
    return Transitions(
        candidate=SPEC.name,
        actor="actor-board1-4242",
        batch_seq=17,
        policy_version=5,
        obs=RNG.standard_normal((n, d)).astype(np.float32),
        actions=RNG.integers(0, 124, n).astype(np.int64),
        rewards=RNG.standard_normal(n).astype(np.float32),
        terminated=np.arange(n) % 45 == 44,
        truncated=np.zeros(n, dtype=bool),
        logp=-RNG.random(n).astype(np.float32),
        values=RNG.standard_normal(n).astype(np.float32),
        bootstrap_value=0.25,
        episode_returns=[0.1, -0.03, 0.5],
        episode_scores=[1.02, 0.97, 1.1],
    )


def _weights() -> Weights:
    sizes = {"pi": [56, 64, 64, 124], "v": [56, 64, 64, 1]}
    tensors: dict[str, np.ndarray] = {}
    for head, dims in sizes.items():
        for i, (n_in, n_out) in enumerate(itertools.pairwise(dims)):
            tensors[f"{head}.{i}.weight"] = RNG.standard_normal((n_out, n_in)).astype(np.float32)
            tensors[f"{head}.{i}.bias"] = RNG.standard_normal(n_out).astype(np.float32)
    arch: dict[str, Scalar] = {
        "kind": "mlp",
        "activation": "tanh",
        "pi_layers": "pi.0,pi.1,pi.2",
        "v_layers": "v.0,v.1,v.2",
    }
    return Weights(candidate=SPEC.name, version=12, arch=arch, tensors=tensors)


EXAMPLES: list[Message] = [
    Hello(
        role="actor",
        host="board1",
        pid=4242,
        tasks=["llvm-codesize", "tvm"],
        cores=8,
        label="Cortex-A72",
    ),
    Hello(
        role="learner",
        host="gpu0",
        pid=77,
        candidate=SPEC,
        transitions_endpoint="tcp://10.0.0.2:5601",
        weights_endpoint="tcp://10.0.0.2:5602",
        inference_endpoint="tcp://10.0.0.2:5603",
    ),
    Welcome(run_id="run-2024-01-01T00-00", heartbeat_interval_s=1.0, heartbeat_timeout_s=10.0),
    Reject(reason="protocol version 2, supervisor speaks 1", supervisor_version=1),
    Heartbeat(
        state="training",
        candidate=SPEC.name,
        env_steps=123456,
        steps_per_s=812.5,
        policy_version=5,
        metrics={"queue": 3, "cpu": 0.93, "ok": True, "last_error": None, "host": "board1"},
    ),
    Assign(
        candidate=SPEC,
        transitions_endpoint="tcp://10.0.0.2:5601",
        weights_endpoint="tcp://10.0.0.2:5602",
        programs=["cbench-v1/qsort", "cbench-v1/crc32", "generator://csmith-v0/7"],
        episode_length=45,
        batch_size=256,
        seed=99,
        inference_endpoint="tcp://10.0.0.2:5603",
        inference="central",
    ),
    Release(candidate=SPEC.name, reason="pruned at rung 2"),
    _transitions(),
    _weights(),
    WeightsRequest(candidate=SPEC.name, have_version=-1),
    InferRequest(
        candidate=SPEC.name,
        request_id=41,
        obs=RNG.standard_normal((3, 56)).astype(np.float32),
        deterministic=True,
        have_version=11,
    ),
    InferReply(
        candidate=SPEC.name,
        request_id=41,
        policy_version=12,
        actions=np.array([3, 0, 123], dtype=np.int64),
        logp=np.array([-0.5, -4.8, -0.01], dtype=np.float32),
        values=np.array([0.2, -1.5, 0.0], dtype=np.float32),
    ),
    EvalRequest(
        eval_id="eval-3-7",
        candidate=SPEC.name,
        programs=["cbench-v1/qsort", "cbench-v1/sha"],
        min_version=12,
        episode_length=45,
    ),
    EvalResult(
        eval_id="eval-3-7",
        candidate=SPEC.name,
        policy_version=12,
        programs=["cbench-v1/qsort", "cbench-v1/sha"],
        metrics=[1.0299, 1.0222],
        details=[{"ir": 301, "ir_o0": 420, "ir_oz": 310}, {"ir": 812, "ir_o0": 1003, "ir_oz": 830}],
        env_steps=90,
    ),
    BestFound(
        candidate=SPEC.name,
        program="bert-attn-bmm",
        policy_version=9,
        metric=61.8,
        details={"speedup": 61.8, "seconds": 2.9e-05, "chosen": "2 2 32 8 1 1 1 16 1"},
    ),
    TrainUntil(candidate=SPEC.name, env_steps=18_000),
    Score(candidate=SPEC.name, policy_version=12, score=1.026, stage="b18000"),
    Log(level="warning", event="compile_timeout", fields={"program": "cbench-v1/sha", "s": 30.0}),
    Events(
        lines=['{"event": "eval_start", "ts": "2026-11-24T10:00:00Z", "programs": 5}', "{}"],
        dropped=3,
    ),
    Stop(reason="search finished"),
    Bye(reason="stopped"),
]


def assert_same_value(a: Any, b: Any, where: str) -> None:
    if isinstance(a, np.ndarray):
        assert isinstance(b, np.ndarray), where
        assert b.dtype == a.dtype and b.shape == a.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, dict):
        assert isinstance(b, dict) and a.keys() == b.keys(), where
        for key in a:
            assert_same_value(a[key], b[key], f"{where}.{key}")
    else:
        assert type(a) is type(b) and a == b, where


def assert_same_message(a: Message, b: Message) -> None:
    assert type(a) is type(b)
    for f in dataclasses.fields(a):  # type: ignore[arg-type]
        assert_same_value(getattr(a, f.name), getattr(b, f.name), f.name)


# --------------------------------------------------------------------------------------------
# Round trips


def test_every_message_type_has_an_example() -> None:
    assert {m.TYPE for m in EXAMPLES} == set(MESSAGE_TYPES)


@pytest.mark.parametrize("msg", EXAMPLES, ids=lambda m: m.TYPE)
def test_round_trip(msg: Message) -> None:
    frames = encode(msg, "actor-board1-4242", 7)
    # What a peer receives: plain bytes, exactly as the frames were sent.
    header, out = decode([bytes(f) for f in frames])
    assert header == Header(v=PROTOCOL_VERSION, t=msg.TYPE, src="actor-board1-4242", seq=7)
    assert_same_message(msg, out)


def test_large_arrays_travel_in_their_own_frames() -> None:
    msg = _transitions()
    assert msg.obs.nbytes > INLINE_ARRAY_BYTES >= msg.actions.nbytes
    frames = encode(msg, "a", 0)
    assert len(frames) == 2
    assert len(frames[0]) < 8 * 1024  # the small arrays inline, the observations not
    assert bytes(frames[1]) == msg.obs.tobytes()
    # Sending is zero-copy: the extra frame is a view of the array itself...
    assert isinstance(frames[1], memoryview)
    assert np.shares_memory(np.frombuffer(frames[1], dtype=np.uint8), msg.obs)
    # ...and so is receiving, from bytes or from zmq.Frame objects (recv with copy=False).
    _, out = decode([zmq.Frame(bytes(f)) for f in frames])
    assert isinstance(out, Transitions)
    assert out.obs.dtype == np.float32 and out.obs.shape == (256, 56)
    np.testing.assert_array_equal(out.obs, msg.obs)
    assert out.actions.dtype == np.int64 and out.terminated.dtype == np.bool_


def test_weights_put_each_large_tensor_in_a_frame() -> None:
    msg = _weights()
    frames = encode(msg, "learner-0", 3)
    large = [t for t in msg.tensors.values() if t.nbytes > INLINE_ARRAY_BYTES]
    assert len(frames) == 1 + len(large) == 6  # all but v.2 [1, 64]
    _, out = decode(frames)
    assert_same_message(msg, out)


def test_arrays_of_any_layout_and_every_allowed_dtype_round_trip() -> None:
    base = RNG.standard_normal((64, 40))
    tensors = {
        "strided": base[:, ::2].astype(np.float32),  # not contiguous, and large
        "fortran": np.asfortranarray(base.astype(np.float64)),
        "big_endian": base[:3].astype(">f4"),
        "scalar": np.array(3.5, dtype=np.float64),
        "empty": np.zeros((0, 7), dtype=np.int32),
        "4d": np.arange(16, dtype=np.int16).reshape(2, 2, 2, 2),
    }
    for dtype in ("bool", "int8", "uint8", "int16", "int32", "int64", "float32", "float64"):
        tensors[dtype] = (np.arange(2000) % 7).astype(dtype)  # inline or not, by itemsize
    msg = Weights(candidate="c", version=0, arch={}, tensors=tensors)
    _, out = decode(encode(msg, "x", 0))
    assert isinstance(out, Weights)
    for name, array in tensors.items():
        got = out.tensors[name]
        assert got.shape == array.shape and got.dtype.name == array.dtype.name, name
        np.testing.assert_array_equal(got, array, err_msg=name)


def test_encode_refuses_what_the_wire_cannot_carry() -> None:
    for bad in (np.zeros(3, dtype=np.float16), np.zeros((1, 1, 1, 1, 1), dtype=np.float32)):
        with pytest.raises(ProtocolError):
            encode(Weights(candidate="c", version=0, arch={}, tensors={"x": bad}), "x", 0)


def test_numbers_are_normalized() -> None:
    # An int where a float is declared decodes as a float; numpy scalars encode as numbers.
    timeout: Any = np.float32(2.5)
    msg = Welcome(run_id="r", heartbeat_interval_s=1, heartbeat_timeout_s=timeout)
    _, out = decode(encode(msg, "supervisor", 0))
    assert isinstance(out, Welcome)
    assert type(out.heartbeat_interval_s) is float and out.heartbeat_interval_s == 1.0
    assert type(out.heartbeat_timeout_s) is float and out.heartbeat_timeout_s == 2.5


def test_missing_fields_with_defaults_take_their_default() -> None:
    frame = msgpack.packb(
        {"v": PROTOCOL_VERSION, "t": "HELLO", "src": "a", "seq": 0, "role": "actor"}
        | {"host": "h", "pid": 1}
    )
    _, out = decode([frame])
    assert out == Hello(role="actor", host="h", pid=1)


def test_nan_and_inf_are_allowed() -> None:
    msg = Score(candidate="c", policy_version=1, score=float("nan"))
    _, out = decode(encode(msg, "s", 0))
    assert isinstance(out, Score) and np.isnan(out.score)
    rewards = np.array([np.inf, -np.inf, np.nan], dtype=np.float32)
    _, out = decode(encode(dataclasses.replace(_transitions(3), rewards=rewards), "a", 0))
    assert isinstance(out, Transitions)
    np.testing.assert_array_equal(out.rewards, rewards)


# --------------------------------------------------------------------------------------------
# Rejection: every bad input is a ProtocolError, counted, and harmless to the decoder

DECODER = Decoder()


def body_of(msg: Message, src: str = "fuzz", seq: int = 0) -> tuple[dict[str, Any], list[Any]]:
    """The unpacked frame 0 of `msg` and its frames, to be tampered with."""
    frames = encode(msg, src, seq)
    return msgpack.unpackb(frames[0]), frames


def pack(body: Any) -> bytes:
    return msgpack.packb(body, use_bin_type=True)


def assert_rejected(
    frames: list[Any], reason: str | None = None, limits: Limits = DEFAULT_LIMITS
) -> ProtocolError:
    """`frames` are refused by `decode` (with `reason`, if given) and counted by `DECODER`."""
    with pytest.raises(ProtocolError) as info:
        decode(frames, limits)
    error = info.value
    assert error.reason and "\n" not in error.reason and len(error.reason) < 80
    if reason is not None:
        assert error.reason == reason
    if limits == DEFAULT_LIMITS:
        before = DECODER.stats.total_rejected
        if isinstance(error, VersionMismatch):
            with pytest.raises(VersionMismatch):
                DECODER.decode(frames)
        else:
            assert DECODER.decode(frames) is None
            assert DECODER.last_reason == error.reason
        assert DECODER.stats.total_rejected == before + 1
    return error


def assert_decoder_still_works() -> None:
    accepted = DECODER.stats.accepted
    for msg in (_transitions(), EXAMPLES[0]):
        decoded = DECODER.decode(encode(msg, "a", 1))
        assert decoded is not None
        assert_same_message(msg, decoded[1])
    assert DECODER.stats.accepted == accepted + 2


@FUZZ
@given(st.binary(max_size=300))
def test_random_bytes_are_rejected(data: bytes) -> None:
    assert_rejected([data])


@FUZZ
@given(st.lists(st.binary(max_size=100), min_size=1, max_size=6))
def test_random_frames_are_rejected(frames: list[bytes]) -> None:
    assert_rejected(frames)


@FUZZ
@given(st.lists(st.binary(max_size=300), min_size=1, max_size=3))
def test_valid_header_with_random_extra_frames_is_rejected(extra: list[bytes]) -> None:
    frames = encode(_transitions(), "a", 0)
    assert_rejected([frames[0], *extra])


def test_truncation_at_every_cut_point_is_rejected() -> None:
    for msg in (EXAMPLES[1], _transitions(), _weights()):
        frames = [bytes(f) for f in encode(msg, "a", 0)]
        for cut in range(len(frames[0])):
            assert_rejected([frames[0][:cut], *frames[1:]])
    assert_decoder_still_works()


# Values of every msgpack kind, to put where they do not belong.
ANY_VALUE = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**63), max_value=2**64 - 1),
    st.floats(),
    st.text(max_size=20),
    st.binary(max_size=20),
    st.lists(st.one_of(st.integers(-5, 5), st.text(max_size=3), st.none()), max_size=4),
    st.dictionaries(st.text(max_size=5), st.one_of(st.integers(-5, 5), st.none()), max_size=3),
)


def fits(annotation: Any, value: Any) -> bool:
    """Whether `value` (one of ANY_VALUE) is a valid wire value for a field of `annotation`."""
    if annotation is str:
        return isinstance(value, str)
    if annotation is int:
        return type(value) is int
    if annotation is float:
        return type(value) in (int, float)
    if annotation is bool:
        return type(value) is bool
    origin, args = typing.get_origin(annotation), typing.get_args(annotation)
    if origin is list:
        return isinstance(value, list) and all(fits(args[0], x) for x in value)
    if origin is dict and args[1] == Scalar:
        return isinstance(value, dict)  # ANY_VALUE dicts hold only scalars
    if origin is dict:  # dict[str, ndarray]: ANY_VALUE holds no arrays
        return value == {}
    if type(None) in args:
        return value is None
    return False  # np.ndarray, CandidateSpec: ANY_VALUE holds none


@FUZZ
@given(st.sampled_from(EXAMPLES), st.data(), ANY_VALUE)
def test_fields_of_the_wrong_type_are_rejected(msg: Message, data: Any, value: Any) -> None:
    body, frames = body_of(msg)
    hints = typing.get_type_hints(type(msg))
    name = data.draw(st.sampled_from([f.name for f in dataclasses.fields(msg)]))  # type: ignore[arg-type]
    body[name] = value
    tampered = [pack(body), *frames[1:]]
    if fits(hints[name], value):
        # Valid, unless the value replaced the arrays that the extra frames belonged to.
        if DECODER.decode(tampered) is None:
            assert DECODER.last_reason == "unused frame"
        return
    error = assert_rejected(tampered)
    assert name in error.reason


@FUZZ
@given(st.sampled_from(["v", "t", "src", "seq"]), ANY_VALUE)
def test_bad_headers_are_rejected(name: str, value: Any) -> None:
    body, _ = body_of(EXAMPLES[0])
    body[name] = value
    valid = {
        "v": value == PROTOCOL_VERSION and type(value) is int,
        "t": value == "HELLO",
        "src": isinstance(value, str),
        "seq": type(value) is int and value >= 0,
    }[name]
    if not valid:
        assert_rejected([pack(body)])
    del body[name]
    assert_rejected([pack(body)], f"missing field '{name}'")


def test_missing_and_unknown_fields_are_rejected() -> None:
    body, _ = body_of(EXAMPLES[1])
    assert_rejected([pack({k: v for k, v in body.items() if k != "pid"})], "missing field 'pid'")
    assert_rejected([pack(body | {"pidd": 1})], "unknown field 'pidd'")
    no_name = {k: v for k, v in body["candidate"].items() if k != "name"}
    assert_rejected([pack(body | {"candidate": no_name})], "missing field 'candidate.name'")
    assert_rejected([pack(body | {"candidate": 5})], "wrong type for field 'candidate'")
    extra = body["candidate"] | {"x": 1}
    assert_rejected([pack(body | {"candidate": extra})], "unknown field 'candidate.x'")
    long_name = "\n" + "y" * 100_000
    assert_rejected([pack(body | {long_name: 1})])  # the reason stays one short line
    assert_rejected([pack([1, 2, 3])], "not a map")
    assert_rejected([pack(body) + b"\x00"], "malformed msgpack")  # trailing bytes
    assert_decoder_still_works()


@FUZZ
@given(st.text(max_size=30).filter(lambda t: t not in MESSAGE_TYPES))
def test_unknown_types_are_rejected(t: str) -> None:
    body, _ = body_of(Stop())
    assert_rejected([pack(body | {"t": t})], "unknown type")


@FUZZ
@given(st.integers(min_value=-(2**63), max_value=2**64 - 1).filter(lambda v: v != PROTOCOL_VERSION))
def test_other_versions_raise_version_mismatch_with_the_header(v: int) -> None:
    body, _ = body_of(EXAMPLES[0], src="actor-old", seq=0)
    body["v"] = v
    body["new_field_of_a_later_version"] = [1, 2]  # a later version may add fields
    error = assert_rejected([pack(body)], "wrong version")
    assert isinstance(error, VersionMismatch)
    assert error.header == Header(v=v, t="HELLO", src="actor-old", seq=0)


def test_a_version_3_peer_gets_the_same_clean_refusal() -> None:
    """v4 added central inference; a v3 HELLO is refused like any other version (the supervisor
    answers it with REJECT), and a v3 peer refuses what a v4 one sends."""
    hello = encode(EXAMPLES[0], "actor-v3", 0, version=3)
    with pytest.raises(VersionMismatch) as info:
        decode(hello)
    assert info.value.header == Header(v=3, t="HELLO", src="actor-v3", seq=0)
    assert PROTOCOL_VERSION == 6  # 5: ASSIGN env_options; 6: BEST_FOUND, INFER_REQUEST choices


def test_version_mismatch_is_counted_by_the_decoder() -> None:
    decoder = Decoder()
    body, _ = body_of(Stop())
    with pytest.raises(VersionMismatch) as info:
        decoder.decode([pack(body | {"v": PROTOCOL_VERSION + 1})])
    assert info.value.header.v == PROTOCOL_VERSION + 1
    assert decoder.stats.rejected == {"wrong version": 1} and decoder.stats.accepted == 0


def _huge_shape_arrays() -> st.SearchStrategy[dict[str, Any]]:
    dims = st.integers(min_value=0, max_value=2**63 - 1)
    return st.fixed_dictionaries(
        {
            "__nd__": st.just(True),
            "dtype": st.sampled_from(["float32", "int64", "bool"]),
            "shape": st.lists(dims, min_size=1, max_size=4),
            "data": st.binary(max_size=64),
        }
    )


@FUZZ
@given(_huge_shape_arrays())
def test_arrays_whose_shape_does_not_match_are_rejected(array: dict[str, Any]) -> None:
    body, _ = body_of(_transitions(4, 2))
    body["obs"] = array
    itemsize = np.dtype(array["dtype"]).itemsize
    if int(np.prod(array["shape"], dtype=object)) * itemsize == len(array["data"]):
        return  # a consistent array: not what this test is about
    assert_rejected([pack(body)])


def test_bad_arrays_are_rejected_with_their_reason() -> None:
    body, frames = body_of(_transitions())
    obs_ref = body["obs"]
    good = body["rewards"]  # inline float32 [256]

    def with_obs(obs: Any) -> list[Any]:
        return [pack(body | {"obs": obs}), *frames[1:]]

    def with_rewards(rewards: Any) -> list[Any]:
        return [pack(body | {"rewards": rewards}), *frames[1:]]

    assert_rejected(with_obs(obs_ref | {"shape": [10**6, 10**6]}), "array too large")
    assert_rejected(with_obs(obs_ref | {"shape": [10**12]}), "array too large")
    assert_rejected(with_obs(obs_ref | {"shape": [2**63, 2**63, 2**63, 2**63]}), "array too large")
    assert_rejected(with_obs(obs_ref | {"shape": [256, 55]}), "shape does not match data")
    assert_rejected(with_obs(obs_ref | {"shape": [-256, -56]}), "bad shape")
    assert_rejected(with_obs(obs_ref | {"shape": [1, 1, 1, 1, 14336]}), "bad shape")
    assert_rejected(with_obs(obs_ref | {"shape": [256.0, 56]}), "bad shape")
    assert_rejected(with_obs(obs_ref | {"shape": "256x56"}), "bad shape")
    for dtype in ("float16", "object", "<f4", "O", 5, None):
        assert_rejected(with_obs(obs_ref | {"dtype": dtype}), "bad dtype")
    assert_rejected(with_rewards(good | {"data": good["data"][:-1]}), "shape does not match data")
    assert_rejected(with_rewards(good | {"data": "text"}), "bad array data")
    assert_rejected(with_rewards(good | {"extra": 1}), "bad array keys")
    assert_rejected(with_rewards(good | {"frame": 1}), "bad array keys")
    assert_rejected(with_rewards(good | {"__nd__": 1}), "wrong type for field 'rewards'")
    assert_rejected(with_rewards(list(range(256))), "wrong type for field 'rewards'")
    small = Limits(max_array_bytes=1000)
    assert_rejected(frames, "array too large", limits=small)
    assert_decoder_still_works()


@pytest.mark.parametrize("ref", [0, -1, 2, 3, 99, 2**64 - 1, True, "1", None, 1.0])
def test_frame_references_out_of_range_are_rejected(ref: Any) -> None:
    body, frames = body_of(_transitions())
    assert len(frames) == 2
    frames = [pack(body | {"obs": body["obs"] | {"frame": ref}}), *frames[1:]]
    assert_rejected(frames, "bad frame reference")


def test_frames_must_be_referenced_exactly_once() -> None:
    msg = _transitions()
    msg = dataclasses.replace(msg, logp=np.zeros(2000, dtype=np.float32))  # a second frame
    body, frames = body_of(msg)
    assert len(frames) == 3 and body["logp"]["frame"] == 2
    twice = body | {"logp": body["logp"] | {"frame": 1}}
    assert_rejected([pack(twice), *frames[1:]], "bad frame reference")
    assert_rejected([*frames, b"spare"], "unused frame")
    assert_decoder_still_works()


# msgpack headers that declare far more than follows them: str32, bin32, array32, map32, ext32.
HUGE_HEADERS = [b"\xdb", b"\xc6", b"\xdd", b"\xdf", b"\xc9"]


@FUZZ
@given(
    st.sampled_from(HUGE_HEADERS),
    st.integers(min_value=2**20, max_value=2**32 - 1),
    st.binary(max_size=32),
    st.booleans(),
)
def test_huge_declared_sizes_are_rejected(
    kind: bytes, size: int, tail: bytes, as_field: bool
) -> None:
    value = kind + size.to_bytes(4, "big") + tail
    if not as_field:
        assert_rejected([value])
        return
    # The same header as the value of a field, after a valid message prefix.
    body, _ = body_of(Log(level="info", event="e"))
    packer = msgpack.Packer()
    prefix = packer.pack_map_header(len(body)) + b"".join(
        packer.pack(k) + packer.pack(v) for k, v in body.items() if k != "fields"
    )
    assert_rejected([prefix + packer.pack("fields") + value])


def test_limits_on_strings_lists_maps_and_frames() -> None:
    body, _ = body_of(EXAMPLES[0])
    limits = Limits(max_str_len=100, max_list_len=10, max_map_len=20, max_frames=3)
    assert_rejected([pack(body | {"host": "h" * 101})], "string too long", limits)
    assert_rejected([pack(body | {"tasks": ["t"] * 11})], "list too long", limits)
    assert_rejected([pack(body | {"host": b"b" * 200})], "wrong type for field 'host'")
    log = Log(level="info", event="e", fields={str(i): i for i in range(21)})
    assert_rejected(encode(log, "a", 0), "map too long", limits)
    assert_rejected([pack(body), b"", b"", b""], "too many frames", limits)
    assert_rejected([pack(body)] + [b""] * 64, "too many frames")
    assert_rejected([b"\xdb" + (2**22).to_bytes(4, "big") + b"s" * 2**22], "string too long")
    big = Limits(max_message_bytes=10_000)
    assert_rejected(encode(_transitions(), "a", 0), "message too large", big)
    assert_rejected([pack(body), b"x" * (64 * 2**20)], "message too large")
    assert_rejected([], "no frames")
    assert_rejected([12345], "bad frame")  # type: ignore[list-item]
    assert_rejected(["text"], "bad frame")  # type: ignore[list-item]
    assert_rejected(b"not a list of frames", "not a frame list")  # type: ignore[arg-type]


def nest(depth: int) -> Any:
    value: Any = 1
    for i in range(depth):
        value = [value] if i % 2 else {"k": value}
    return value


@FUZZ
@given(st.integers(min_value=7, max_value=400))
def test_deep_nesting_is_rejected(depth: int) -> None:
    body, _ = body_of(Log(level="info", event="e"))
    # The message map is depth 1, `fields` depth 2: `depth` more levels go past 8 from 7 on.
    # (msgpack.packb itself refuses to build much deeper values; see the raw bytes below.)
    assert_rejected([pack(body | {"fields": {"x": nest(depth)}})], "too deep")


def test_nesting_within_the_limit_is_only_a_type_error() -> None:
    body, _ = body_of(Log(level="info", event="e"))
    error = assert_rejected([pack(body | {"fields": {"x": nest(6)}})])
    assert error.reason == "wrong type for field 'fields'"
    deep = Limits(max_depth=3)
    assert_rejected(encode(_weights(), "a", 0), "too deep", deep)  # shape lists at depth 4
    # msgpack's own stack limit (deeper than any Python recursion would survive) is caught too.
    assert_rejected([b"\x91" * 100_000 + b"\x01"], "too deep")


def test_ext_types_and_non_string_keys_are_rejected() -> None:
    body, _ = body_of(Log(level="info", event="e"))
    for ext in (msgpack.ExtType(5, b"abcd"), msgpack.Timestamp(0)):
        frame = msgpack.packb(body | {"fields": {"x": ext}}, datetime=False)
        assert_rejected([frame], "ext type not allowed")
    assert_rejected([b"\xc7\x00\x05"], "ext type not allowed")  # ext 8 with empty data
    assert_rejected([pack(body | {"fields": {b"x": 1}})], "map key not a string")
    assert_rejected([msgpack.packb({1: 2})], "malformed msgpack")
    assert_decoder_still_works()


def test_decoder_counts_by_reason_with_a_bounded_number_of_reasons() -> None:
    decoder = Decoder()
    body, _ = body_of(Stop())
    for i in range(200):
        assert decoder.decode([pack(body | {f"field{i}": 1})]) is None
    assert decoder.decode([b"\xc1"]) is None
    assert decoder.decode(encode(Stop(), "s", 0)) is not None
    stats = decoder.stats
    assert stats.accepted == 1 and stats.total_rejected == 201
    assert len(stats.rejected) <= DecodeStats.MAX_REASONS + 1
    assert stats.rejected["other"] > 0
    assert decoder.last_reason == "malformed msgpack"


def test_the_shared_decoder_counted_every_rejection_and_still_decodes() -> None:
    assert DECODER.stats.total_rejected > 0
    assert_decoder_still_works()


def test_docs_list_every_field_of_every_message() -> None:
    """docs/protocol.md is the spec for other languages: its tables must match messages.py."""
    doc = (Path(__file__).parent.parent / "docs" / "protocol.md").read_text()
    sections = {}
    for part in doc.split("\n### ")[1:]:
        heading, _, text = part.partition("\n")
        rows = re.findall(r"^\| `(\w+)` \|", text.split("\n## ")[0], flags=re.MULTILINE)
        sections[heading.strip()] = rows
    for name, cls in [("CandidateSpec", CandidateSpec), *MESSAGE_TYPES.items()]:
        assert name in sections, f"docs/protocol.md has no section for {name}"
        fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        assert sections[name] == fields, f"docs/protocol.md table of {name}"
