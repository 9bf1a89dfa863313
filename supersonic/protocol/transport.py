"""Typed send and receive over ZeroMQ sockets: the codec plus this process's sender identity.

A `Channel` owns one socket's sending side of the protocol: it stamps every message with the
process's id and a per-channel sequence number, and it decodes what arrives with hard limits,
turning anything malformed into a counted, logged drop (`None`) instead of an exception.
The `VersionMismatch` of a peer speaking another protocol version is the one error that comes
up, on the supervisor's ROUTER only, because it must answer a HELLO of another version with a
REJECT; on every other socket it is a bad message like any other (one frame with another `v`
on a learner's PULL used to crash the learner: tests/system/test_wire_fuzz.py).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import zmq

from supersonic.protocol.codec import Decoder, VersionMismatch, encode
from supersonic.protocol.messages import PROTOCOL_VERSION, Header, Message

__all__ = ["Channel", "Received", "VersionMismatch", "loopback_endpoint"]


@dataclass(frozen=True)
class Received:
    """A decoded message; `identity` is the peer's routing id on a ROUTER socket."""

    header: Header
    message: Message
    identity: bytes | None = None


class Channel:
    """One ZeroMQ socket speaking the SuperSonic protocol."""

    def __init__(
        self,
        socket: zmq.Socket[bytes],
        src: str,
        decoder: Decoder | None = None,
        on_reject: Callable[[str], None] | None = None,
        routed: bool = False,
        topic: bool = False,
        version: int = PROTOCOL_VERSION,
    ) -> None:
        self.socket = socket
        self.src = src
        self.decoder = decoder or Decoder()
        self.seq = 0
        self.on_reject = on_reject
        self.routed = routed  # a ROUTER: frame 0 is the peer's identity
        self.topic = topic  # a PUB/SUB: frame 0 is the topic
        self.version = version  # what we stamp on messages (tests play older peers)

    def send(
        self,
        message: Message,
        *,
        identity: bytes | None = None,
        topic: str | None = None,
        block: bool = True,
    ) -> bool:
        """Send one message; False when `block=False` and the socket's queue is full."""
        frames = encode(message, self.src, self.seq, self.version)
        prefix: list[bytes] = []
        if self.routed:
            assert identity is not None, "a ROUTER channel needs the peer identity"
            prefix.append(identity)
        if self.topic:
            assert topic is not None, "a PUB channel needs a topic"
            prefix.append(topic.encode())
        try:
            self.socket.send_multipart(
                [*prefix, *frames], flags=0 if block else zmq.NOBLOCK, copy=False
            )
        except zmq.Again:
            return False
        self.seq += 1
        return True

    def recv(self, block: bool = True) -> Received | None:
        """The next message, or None when there is none (non-blocking) or it was malformed."""
        try:
            frames = self.socket.recv_multipart(flags=0 if block else zmq.NOBLOCK, copy=False)
        except zmq.Again:
            return None
        identity = None
        if self.routed:
            if len(frames) < 2:
                self._reject("no identity frame")
                return None
            identity = bytes(frames[0].buffer)
            frames = frames[1:]
        if self.topic:
            frames = frames[1:]
        try:
            decoded = self.decoder.decode(frames)  # None if malformed
        except VersionMismatch as exc:
            if not self.routed:  # only the supervisor answers one (a HELLO gets REJECT)
                self._reject(f"protocol version {exc.header.v}")  # anyone else: a bad message
                return None
            exc.identity = identity  # type: ignore[attr-defined]  # whom to REJECT
            raise
        if decoded is None:
            self._reject(self.decoder.last_reason or "malformed message")
            return None
        header, message = decoded
        return Received(header, message, identity)

    def _reject(self, reason: str) -> None:
        if self.on_reject is not None:
            self.on_reject(reason)


def loopback_endpoint(socket: zmq.Socket[bytes]) -> str:
    """Bind `socket` to a free loopback port and return the endpoint peers connect to."""
    socket.bind("tcp://127.0.0.1:*")
    return str(socket.getsockopt_string(zmq.LAST_ENDPOINT))
