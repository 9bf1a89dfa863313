"""Central inference on the actor's side: a policy that asks its learner for actions.

Why: a light actor (no torch) runs the policy with numpy from the published weights, but a
network with no numpy twin cannot run there, and a run may choose to keep inference on the
learner (`[run] inference = "central"`, e.g. a big network on the learner's GPU). `RemotePolicy`
has the interface of the numpy policies (`act`, `value`, `n_actions`) and gets each answer from
the learner's inference endpoint (INFER_REQUEST -> INFER_REPLY, supersonic.learners.inference).

Which one an actor uses (`choose_policy`): "local" always runs the weights (and refuses weights
it cannot run), "central" always asks the learner, "auto" (the default) runs the weights when
numpy can and asks the learner when it cannot and the learner serves inference.

A learner that goes away must not hang the actor: a request unanswered within `timeout_s`
raises `InferenceUnavailable` after reopening the socket (so that requests queued towards a dead
endpoint are dropped and a restarted learner is reached afresh); the actor then backs off (0.5 s
doubling to 10 s, logged), keeps heartbeating, and tries again. A late reply to an abandoned
request is recognised by its `request_id` and dropped. This module needs no torch.
"""

from __future__ import annotations

import time
from collections.abc import Mapping

import numpy as np
import zmq

from supersonic.actors.policy import NumpyPolicy
from supersonic.protocol.messages import InferReply, InferRequest
from supersonic.protocol.security import Security
from supersonic.protocol.transport import Channel, VersionMismatch

INFERENCE_MODES = ("auto", "local", "central")
DEFAULT_TIMEOUT_S = 2.0


class InferenceUnavailable(RuntimeError):
    """The learner did not answer in time, or answered with an error; try again later."""


class RemotePolicy:
    """See the module docstring. `version` is the policy version of the latest answer (-1 before
    the first): an actor tags its transitions with it."""

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        endpoint: str,
        candidate: str,
        ident: str,
        n_actions: int,
        security: Security | None = None,
        timeout_s: float = DEFAULT_TIMEOUT_S,
    ) -> None:
        self.ctx, self.endpoint, self.candidate, self.ident = ctx, endpoint, candidate, ident
        self.security = security or Security()
        self.timeout_s = timeout_s
        self._n_actions = n_actions
        self.version = -1
        self.requests = 0
        self._next_id = 0
        self.channel: Channel | None = None
        self._connect()

    @property
    def n_actions(self) -> int:
        return self._n_actions

    def _connect(self) -> None:
        if self.channel is not None:
            self.channel.socket.close(linger=0)
        sock = self.ctx.socket(zmq.DEALER)
        sock.setsockopt(zmq.LINGER, 0)
        self.security.client(sock)
        sock.connect(self.endpoint)
        self.channel = Channel(sock, self.ident)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.socket.close(linger=0)
            self.channel = None

    def act_batch(
        self, obs: np.ndarray, deterministic: bool = False, choices: int = 0
    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(actions int64 [N], logp float32 [N], values float32 [N]) for obs [N, D], computed by
        the learner; raises `InferenceUnavailable` if it does not answer within `timeout_s`."""
        assert self.channel is not None, "closed"
        obs = np.ascontiguousarray(obs, dtype=np.float32)
        request_id = self._next_id
        self._next_id += 1
        request = InferRequest(
            candidate=self.candidate,
            request_id=request_id,
            obs=obs,
            deterministic=deterministic,
            have_version=self.version,
            choices=choices,
        )
        self.requests += 1
        deadline = time.monotonic() + self.timeout_s
        while not self.channel.send(request, block=False):  # no connection (yet, or refused)
            left = deadline - time.monotonic()
            if left <= 0 or not self.channel.socket.poll(int(left * 1000) + 1, zmq.POLLOUT):
                self._connect()
                raise InferenceUnavailable(
                    f"{self.endpoint}: no connection within {self.timeout_s:g} s"
                )
        while (left := deadline - time.monotonic()) > 0:
            if not self.channel.socket.poll(int(left * 1000) + 1, zmq.POLLIN):
                continue
            try:
                received = self.channel.recv(block=False)
            except VersionMismatch as exc:
                raise InferenceUnavailable(f"{self.endpoint}: {exc}") from None
            reply = None if received is None else received.message
            if isinstance(reply, InferReply) and reply.request_id == request_id:
                return self._accept(reply, len(obs))
        self._connect()  # drop what is queued towards a learner that may be gone
        raise InferenceUnavailable(f"{self.endpoint}: no answer within {self.timeout_s:g} s")

    def _accept(self, reply: InferReply, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        if reply.error:
            raise InferenceUnavailable(f"{self.endpoint}: {reply.error}")
        arrays = (reply.actions, reply.logp, reply.values)
        if any(a.shape != (n,) for a in arrays) or not (
            reply.actions.min(initial=0) >= 0 and reply.actions.max(initial=0) < self.n_actions
        ):
            raise InferenceUnavailable(f"{self.endpoint}: malformed reply")
        self.version = reply.policy_version
        return (
            reply.actions.astype(np.int64),
            reply.logp.astype(np.float32),
            reply.values.astype(np.float32),
        )

    def act(
        self,
        obs: np.ndarray,
        rng: np.random.Generator,
        deterministic: bool = False,
        choices: int = 0,
    ) -> tuple[int, float, float]:
        """(action, its log-probability, value) for one observation, as `NumpyPolicy.act`
        (`rng` is unused: the learner draws the action)."""
        actions, logp, values = self.act_batch(np.asarray(obs)[None, :], deterministic, choices)
        return int(actions[0]), float(logp[0]), float(values[0])

    def value(self, obs: np.ndarray) -> float:
        """V(obs) by the learner's current network (one round trip)."""
        return float(self.act_batch(np.asarray(obs)[None, :], deterministic=True)[2][0])


def local_policy(
    mode: str, arch: Mapping[str, object], tensors: Mapping[str, np.ndarray], central: bool
) -> NumpyPolicy | None:
    """The numpy policy to run for published weights, or None when the actor must ask the
    learner instead. Raises ValueError for weights the actor cannot use either way.

    `central`: the learner serves inference (its endpoint was in the ASSIGN).
    """
    if mode == "central":
        if not central:
            raise ValueError("inference is 'central' but the learner serves no inference endpoint")
        return None
    try:
        return NumpyPolicy(arch, tensors)
    except ValueError as exc:
        if mode == "auto" and central:
            return None
        raise ValueError(
            f"{exc} (and the learner serves no central inference)"
            if mode == "auto"
            else f"{exc} (inference is 'local')"
        ) from None
