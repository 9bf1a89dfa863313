"""Central inference: the learner's endpoint that chooses actions for actors (INFER_REQUEST).

Why it exists: an actor runs the policy itself with numpy when it can (no round trip), but a
network without a numpy twin, or a run told `inference = "central"`, needs the learner's own
network, on the learner's device, to choose the actions.

Why a ROUTER (not a REP): one learner serves every actor of its candidate at once. A REP answers
strictly one request at a time and must reply before it may read the next; a ROUTER reads all
waiting requests, runs them as one batch through the network (one forward pass for many actors
is what makes a GPU worth it), and answers each at its routing identity. Actors use a DEALER
with request ids instead of a REQ, so that an abandoned request (a timeout) never wedges the
socket: a late reply is recognised by its id and dropped.

Why a thread: the training loop's updates take from milliseconds to seconds, and actors waiting
for actions that long would idle. The server runs on its own thread and answers from a
`PolicySnapshot`, a frozen copy of the network that the main loop swaps in after each update
(`swap`), so it never reads weights mid-update and every answer comes from one version. The
socket belongs to the thread after `start`; the main loop only calls `swap`, `served` and
reads the counters. The thread runs torch with one intra-op thread (see `_serve`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import zmq

from supersonic.learners.algorithm import PolicySnapshot
from supersonic.protocol.messages import InferReply, InferRequest
from supersonic.protocol.security import Security
from supersonic.protocol.transport import Channel, VersionMismatch

MAX_BATCH_REQUESTS = 64  # requests answered by one forward pass
IN_USE_S = 30.0  # a request this recent means actors use the endpoint: keep its network fresh
RCVHWM = 1000  # requests queued before ZeroMQ drops new ones (actors time out and retry)
_EMPTY_I = np.zeros(0, dtype=np.int64)
_EMPTY_F = np.zeros(0, dtype=np.float32)


@dataclass
class InferenceStats:
    """Counters for heartbeats and the exit event (written by the server thread only)."""

    requests: int = 0
    rows: int = 0
    refused: int = 0  # answered with an error
    batches: int = 0  # forward passes
    busy_s: float = 0.0  # time spent in forward passes


class InferenceServer:
    """See the module docstring."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        security: Security,
        bind_host: str,
        ident: str,
        candidate: str,
        log: Any,
    ) -> None:
        sock = ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.RCVHWM, RCVHWM)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)  # a reply to a vanished actor is dropped
        security.server(sock)
        sock.bind(f"tcp://{bind_host}:*")
        self.endpoint = str(sock.getsockopt_string(zmq.LAST_ENDPOINT))
        self.channel = Channel(sock, ident, routed=True, on_reject=self._bad_message)
        self.candidate = candidate
        self.log = log
        self.stats = InferenceStats()
        self._lock = threading.Lock()
        self._snapshot: PolicySnapshot | None = None
        self._version = -1
        self._served: set[int] = set()
        self._last_request = -IN_USE_S
        self._logged_reasons: set[str] = set()
        self._running = threading.Event()
        self._thread: threading.Thread | None = None

    # ------------------------------------------------------------------ main-loop side
    def swap(self, version: int, snapshot: PolicySnapshot) -> None:
        """Answer with `snapshot` (the network at `version`) from now on."""
        with self._lock:
            self._snapshot, self._version = snapshot, version

    @property
    def version(self) -> int:
        """The version of the snapshot now being served (-1: none yet)."""
        return self._version

    def in_use(self) -> bool:
        """Whether actors asked recently. The learner takes a new snapshot after an update only
        then: a run whose actors all infer locally pays no copy per update; the first request
        after a quiet spell is answered by an older version until the next publish (<= 1 s)."""
        return time.monotonic() - self._last_request < IN_USE_S

    def served(self, version: int) -> bool:
        """Whether some INFER_REPLY was computed by `version`."""
        with self._lock:
            return version in self._served

    def start(self) -> InferenceServer:
        self._running.set()
        self._thread = threading.Thread(target=self._serve, name="inference", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        self._running.clear()
        if self._thread is not None:
            self._thread.join(timeout=5.0)
            self._thread = None
        self.channel.socket.close(linger=0)

    # ------------------------------------------------------------------ server thread
    def _serve(self) -> None:
        # One intra-op thread for this thread only (OpenMP's setting is per thread): small
        # forward passes gain nothing from more, and two OpenMP teams (this one and the
        # training loop's) spinning on the same cores slowed updates several times here.
        torch.set_num_threads(1)
        sock = self.channel.socket
        while self._running.is_set():
            if not sock.poll(100, zmq.POLLIN):
                continue
            waiting: list[tuple[bytes, InferRequest]] = []
            while len(waiting) < MAX_BATCH_REQUESTS:
                try:
                    received = self.channel.recv(block=False)
                except VersionMismatch as exc:  # an actor of another version: it is refused
                    self._bad_message(exc.reason)  # at HELLO, so this is rare: just drop it
                    continue
                if received is None:
                    if not sock.poll(0, zmq.POLLIN):
                        break
                    continue  # a malformed message was dropped (and counted): read on
                if isinstance(received.message, InferRequest):
                    assert received.identity is not None
                    waiting.append((received.identity, received.message))
                else:
                    self._bad_message(f"unexpected {received.message.TYPE}")
            if waiting:
                self._answer(waiting)

    def _answer(self, waiting: list[tuple[bytes, InferRequest]]) -> None:
        self._last_request = time.monotonic()
        with self._lock:
            snapshot, version = self._snapshot, self._version
        # One forward pass per kind of answer: sampled, or deterministic over so many choices.
        good: dict[tuple[bool, int], list[tuple[bytes, InferRequest]]] = {}
        for identity, request in waiting:
            self.stats.requests += 1
            error = self._check(request, snapshot)
            if error:
                self._refuse(identity, request, error)
            else:
                kind = (request.deterministic, request.choices if request.deterministic else 0)
                good.setdefault(kind, []).append((identity, request))
        assert snapshot is not None or not good
        for (deterministic, choices), group in good.items():
            if not group:
                continue
            obs = np.concatenate([request.obs for _, request in group])
            started = time.perf_counter()
            assert snapshot is not None
            try:
                actions, logp, values = snapshot.act(obs, deterministic, choices)
            except Exception as exc:  # a bug or a device error: answer it, keep serving
                for identity, request in group:
                    self._refuse(identity, request, f"inference failed: {type(exc).__name__}")
                self.log.exception("inference_failed", candidate=self.candidate)
                continue
            self.stats.busy_s += time.perf_counter() - started
            self.stats.batches += 1
            self.stats.rows += len(obs)
            with self._lock:
                self._served.add(version)
            start = 0
            for identity, request in group:
                end = start + len(request.obs)
                self.channel.send(
                    InferReply(
                        candidate=self.candidate,
                        request_id=request.request_id,
                        policy_version=version,
                        actions=actions[start:end],
                        logp=logp[start:end],
                        values=values[start:end],
                    ),
                    identity=identity,
                    block=False,
                )
                start = end

    def _check(self, request: InferRequest, snapshot: PolicySnapshot | None) -> str:
        """Why `request` cannot be answered ("" if it can)."""
        if request.candidate != self.candidate:
            return f"this learner trains {self.candidate}, not {request.candidate}"
        if snapshot is None:
            return "no network yet"
        obs = request.obs
        if obs.ndim != 2 or obs.shape[0] < 1 or obs.shape[1] != snapshot.obs_dim:
            return f"obs must be float32 [N >= 1, {snapshot.obs_dim}], got {list(obs.shape)}"
        if obs.dtype != np.float32 or not np.isfinite(obs).all():
            return "obs must be finite float32"
        return ""

    def _refuse(self, identity: bytes, request: InferRequest, error: str) -> None:
        self.stats.refused += 1
        if error not in self._logged_reasons and len(self._logged_reasons) < 32:
            self._logged_reasons.add(error)  # once per reason: a confused actor asks often
            self.log.warning("inference_refused", candidate=self.candidate, error=error)
        self.channel.send(
            InferReply(
                candidate=self.candidate,
                request_id=request.request_id,
                policy_version=-1,
                actions=_EMPTY_I,
                logp=_EMPTY_F,
                values=_EMPTY_F,
                error=error,
            ),
            identity=identity,
            block=False,
        )

    def _bad_message(self, reason: str) -> None:
        self.log.warning("message_rejected", reason=reason, socket="inference")
