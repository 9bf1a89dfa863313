"""A peer's control link to the supervisor: the part of the protocol every actor and learner share.

It owns the DEALER socket and does what docs/protocol.md asks of any peer: say HELLO on
(re)connect, take WELCOME's heartbeat settings, heartbeat on time, treat any message from the
supervisor as a sign of life, reconnect with exponential backoff (0.5 s doubling to a cap) when
the supervisor is silent for longer than the heartbeat timeout, say HELLO again when a restarted
supervisor does not know us (REJECT with `rehello`), and remember a fatal REJECT. What the
messages mean for the peer's work (ASSIGN, STOP, ...) stays with the peer: `receive` returns them.

Heartbeats also go out from a background thread (`start_heartbeats`): a peer's main thread can
be busy for longer than the heartbeat timeout for good reasons (a CompilerGym service starting
under load, the -O0/-O3/-Oz baselines of a new program, a step that may take up to the env's
step timeout, a long update), and the supervisor must not declare it dead for that. The socket
is shared under `lock`: every use of it, including the peer's polls, holds the lock.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import zmq
from zmq.utils.monitor import parse_monitor_message

from supersonic.protocol.messages import (
    PROTOCOL_VERSION,
    Bye,
    Heartbeat,
    Hello,
    Message,
    Reject,
    Welcome,
)
from supersonic.protocol.security import Security
from supersonic.protocol.transport import Channel

INITIAL_BACKOFF_S = 0.5


class ControlLink:
    """See the module docstring."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        ident: str,
        hello: Callable[[], Hello],
        log: Any,
        *,
        version: int = PROTOCOL_VERSION,
        reconnect_max_s: float = 10.0,
        security: Security | None = None,
    ) -> None:
        self.ctx, self.endpoint, self.ident = ctx, endpoint, ident
        self.security = security or Security()
        self.hello, self.log, self.version = hello, log, version
        self.reconnect_max_s = reconnect_max_s
        self.channel: Channel | None = None
        self.monitor: zmq.Socket[bytes] | None = None  # CURVE: tells us our key was refused
        self.heartbeat_interval = 1.0
        self.heartbeat_timeout = 6.0
        self.backoff = INITIAL_BACKOFF_S
        self.last_heard = time.monotonic()
        self.last_heartbeat = 0.0
        self.welcomed = False
        self.rejected: str | None = None  # the reason of a fatal REJECT
        self.lock = threading.RLock()  # the socket is shared with the heartbeat thread
        self._beating = threading.Event()
        self._beat_thread: threading.Thread | None = None

    @property
    def socket(self) -> zmq.Socket[bytes]:
        assert self.channel is not None, "connect() first"
        return self.channel.socket

    def connect(self) -> None:
        """(Re)create the DEALER, connect it and say HELLO."""
        with self.lock:
            self._connect()

    def _connect(self) -> None:
        self._close_monitor()
        if self.channel is not None:
            self.channel.socket.close(linger=0)
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        self.security.client(sock)
        self.monitor = sock.get_monitor_socket(
            zmq.EVENT_HANDSHAKE_FAILED_AUTH | zmq.EVENT_HANDSHAKE_FAILED_PROTOCOL
        )
        sock.connect(self.endpoint)
        self.channel = Channel(sock, self.ident, on_reject=self._bad_message, version=self.version)
        self.welcomed = False
        self.last_heard = time.monotonic()
        self.channel.send(self.hello())
        self.log.info("peer_connect", endpoint=self.endpoint)

    def send(self, message: Message) -> None:
        """Send without blocking (a full queue drops it: control messages are all repeated)."""
        with self.lock:
            if self.channel is not None:
                self.channel.send(message, block=False)

    def receive(self) -> list[Message]:
        """Every waiting message the peer must act on (protocol housekeeping done here)."""
        with self.lock:
            return self._receive()

    def _receive(self) -> list[Message]:
        out: list[Message] = []
        while self.channel is not None and (received := self.channel.recv(block=False)):
            self.last_heard = time.monotonic()
            msg = received.message
            if isinstance(msg, Welcome):
                self.welcomed, self.backoff = True, INITIAL_BACKOFF_S
                self.heartbeat_interval = msg.heartbeat_interval_s
                self.heartbeat_timeout = msg.heartbeat_timeout_s
                self.log.info("peer_welcome", run_id=msg.run_id)
            elif isinstance(msg, Reject) and msg.rehello:
                self.log.info("peer_rehello", reason=msg.reason)
                self.channel.send(self.hello())
            elif isinstance(msg, Reject):
                self.rejected = msg.reason
                self.log.error("peer_rejected", reason=msg.reason)
            elif not isinstance(msg, Heartbeat):  # heartbeats only prove the supervisor lives
                out.append(msg)
        return out

    def _check_auth(self) -> None:
        """A supervisor that refused our key, or that speaks another security mechanism (CURVE
        vs none), will never answer: say so (a fatal refusal, like REJECT) instead of
        reconnecting forever."""
        if self.monitor is None or not self.monitor.poll(0, zmq.POLLIN):
            return
        event = parse_monitor_message(self.monitor.recv_multipart())
        if event["event"] == zmq.EVENT_HANDSHAKE_FAILED_AUTH:
            self.rejected = (
                f"{self.endpoint} refused this process's CurveZMQ key: add its id.public to the "
                "head's authorized_keys (supersonic keys authorize), and check that "
                "server.public is the head's id.public"
            )
        elif event["value"] == zmq.PROTOCOL_ERROR_ZMTP_MECHANISM_MISMATCH:
            self.rejected = (
                f"{self.endpoint} does not use CurveZMQ: start this process without --keys"
                if self.security.curve
                else f"{self.endpoint} requires CurveZMQ: start this process with --keys DIR "
                "(see docs/cluster.md)"
            )
        else:
            return  # another protocol error (e.g. not a ZeroMQ peer): keep trying
        self.log.error("auth_failed", endpoint=self.endpoint, reason=self.rejected)

    def _close_monitor(self) -> None:
        if self.monitor is not None:
            if self.channel is not None:
                self.channel.socket.disable_monitor()
            self.monitor.close(linger=0)
        self.monitor = None

    def tick(self, heartbeat: Callable[[], Heartbeat]) -> None:
        """Heartbeat when due; reconnect when the supervisor has been silent too long."""
        with self.lock:
            self._check_auth()
            if self.rejected is not None:
                return
            now = time.monotonic()
            if now - self.last_heartbeat >= self.heartbeat_interval:
                self.last_heartbeat = now
                self.send(heartbeat())
            if now - self.last_heard > self.heartbeat_timeout + self.backoff:
                # Messages waiting unread mean we were busy (a long update), not that the
                # supervisor went silent: reconnecting now would throw them away.
                if self.channel is not None and self.channel.socket.poll(0, zmq.POLLIN):
                    return
                self.log.warning(
                    "supervisor_silent",
                    seconds=round(now - self.last_heard, 1),
                    backoff_s=self.backoff,
                )
                self.backoff = min(self.backoff * 2, self.reconnect_max_s)
                self._connect()

    def start_heartbeats(self, heartbeat: Callable[[], Heartbeat]) -> None:
        """Heartbeat from a background thread too, while the main thread is busy (see the
        module docstring). Only heartbeats: receiving and reconnecting stay with `tick`."""
        if self._beat_thread is not None:
            return
        self._beating.set()

        def beat() -> None:
            while self._beating.is_set():
                time.sleep(min(0.25, self.heartbeat_interval / 2))
                with self.lock:
                    due = time.monotonic() - self.last_heartbeat >= self.heartbeat_interval
                    if due and self.channel is not None and self._beating.is_set():
                        self.last_heartbeat = time.monotonic()
                        self.channel.send(heartbeat(), block=False)

        self._beat_thread = threading.Thread(target=beat, name="heartbeat", daemon=True)
        self._beat_thread.start()

    def close(self, bye: Bye | None) -> None:
        """Say BYE (when given) and close the socket."""
        self._beating.clear()
        if self._beat_thread is not None:
            self._beat_thread.join(timeout=2.0)
            self._beat_thread = None
        with self.lock:
            self._close_monitor()
            if self.channel is None:
                return
            if bye is not None:
                self.channel.send(bye, block=False)
            self.channel.socket.close(linger=500)
            self.channel = None

    def _bad_message(self, reason: str) -> None:
        self.log.warning("message_rejected", reason=reason)
