"""The learner process: one per candidate; trains its algorithm on the actors' transitions.

It binds a PULL endpoint for transitions and a PUB endpoint for weights, reports both in its
HELLO to the supervisor, feeds each trajectory segment to the algorithm (which knows nothing of
ZeroMQ), and after every update publishes the new weights (topic = candidate name). Weights are
also re-published every second so that actors that subscribed late get them without a round
trip; a WEIGHTS_REQUEST forwarded by the supervisor publishes at once. Checkpoints are written
atomically every few updates and on exit, and a learner restarted on the same checkpoint
directory resumes from the last one. The weights of the last `KEPT_VERSIONS` published versions
stay in memory, so that when the supervisor reports a SCORE for one of them its policy is saved
as `CHECKPOINT_DIR/policies/v{version}.npz` (see `supersonic.protocol.policy_file`): the policy that
earned a score can be exported later. Per-actor `batch_seq` numbers count lost and duplicated
segments (duplicates are dropped).

It also binds an inference endpoint (ROUTER, served from a thread: `supersonic.learners.inference`)
where actors that do not run the policy themselves ask for actions, and advertises it in its
HELLO; the supervisor passes it on in ASSIGN. The endpoint answers with a frozen copy of the
network taken after each update (while actors use it), on the learner's device. An algorithm
whose policy has no numpy twin publishes WEIGHTS of kind "central" (the version only), which
sends actors to that endpoint.
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
import zmq

from supersonic import logs
from supersonic.envs import get_task
from supersonic.envs.timing_lock import shared_work
from supersonic.learners.algorithm import Algorithm, ArchValue, Batch, make_algorithm
from supersonic.learners.inference import InferenceServer
from supersonic.learners.streams import SegmentStreams
from supersonic.protocol.forward import EventForwarder
from supersonic.protocol.messages import (
    Bye,
    CandidateSpec,
    Heartbeat,
    Hello,
    Message,
    Scalar,
    Score,
    Stop,
    TrainUntil,
    Transitions,
    Weights,
    WeightsRequest,
)
from supersonic.protocol.peer import ControlLink
from supersonic.protocol.policy_file import save_policy_file
from supersonic.protocol.security import Security, check_bind, start_zap
from supersonic.protocol.transport import Channel

PULL_HWM = 4  # per connected actor (see the actor's SOCKET_BUFFER_BYTES)
SOCKET_BUFFER_BYTES = 32 * 1024
MAX_DRAIN = 64  # segments taken per loop turn, so control messages are never starved
EXIT_REJECTED = 3
RECENT_EPISODES = 50  # episodes kept for the progress reports
KEPT_VERSIONS = 16  # published policies kept in memory, to save the ones that get a score
CENTRAL_KIND = "central"  # the WEIGHTS arch of a policy only the learner can run


@dataclass(frozen=True)
class LearnerOptions:
    connect: str  # the supervisor's control endpoint
    task: str
    candidate: CandidateSpec
    ident: str = ""
    checkpoint_dir: Path | None = None
    device: str = "cpu"
    threads: int = 1  # torch intra-op threads (0: torch's default); see RunConfig.learner_threads
    log_path: Path | None = None
    bind_host: str = "127.0.0.1"
    keys: Path | None = None  # CurveZMQ key directory (see supersonic.protocol.security)
    insecure: bool = False  # allow binding a non-loopback address in the clear
    republish_s: float = 1.0
    checkpoint_every: int = 5  # updates
    # Send our events to the supervisor (EVENTS); off for the learners `supersonic launch`
    # starts on its own machine: they append to the run's events.jsonl directly.
    forward_events: bool = True


class Learner:
    """See the module docstring."""

    def __init__(self, options: LearnerOptions) -> None:
        self.options = options
        self.spec = options.candidate
        self.ident = options.ident or f"learner-{self.spec.name}"
        buffer = logs.EventBuffer() if options.forward_events else None
        self.log = logs.configure("learner", self.ident, options.log_path, forward=buffer)
        task = get_task(options.task)
        state_fn = task.state_fn(self.spec.state_fn)
        if options.threads > 0:
            torch.set_num_threads(options.threads)
        self.algo: Algorithm = make_algorithm(
            self.spec.algorithm,
            state_fn.dim,
            task.n_actions,
            self.spec.hyperparameters,
            device=options.device,
            seed=self.spec.seed,
            seq_len=state_fn.seq_len,
            vocab=state_fn.vocab,
        )
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        security = Security.from_dir(options.keys)
        check_bind(options.bind_host, security, options.insecure)
        self.zap = start_zap(self.ctx, security, self.log)
        pull = self.ctx.socket(zmq.PULL)
        security.server(pull)
        pull.setsockopt(zmq.RCVHWM, PULL_HWM)
        pull.setsockopt(zmq.RCVBUF, SOCKET_BUFFER_BYTES)
        pull.setsockopt(zmq.LINGER, 0)
        self.transitions_endpoint = _bind(pull, options.bind_host)
        self.pull = Channel(pull, self.ident, on_reject=self._bad_message)
        pub = self.ctx.socket(zmq.PUB)
        pub.setsockopt(zmq.LINGER, 0)
        security.server(pub)
        self.weights_endpoint = _bind(pub, options.bind_host)
        self.pub = Channel(pub, self.ident, topic=True)
        self.link = ControlLink(
            self.ctx, options.connect, self.ident, self._hello, self.log, security=security
        )
        self.forwarder = None if buffer is None else EventForwarder(buffer, self.link)
        self.stopping = False
        self.exit_code = 0
        self.last_publish = 0.0
        self.received = 0  # transitions received (accepted or stale)
        self.budget: int | None = None  # TRAIN_UNTIL: stop taking transitions there
        self.streams = SegmentStreams()  # per-actor batch_seq bookkeeping
        self.lost_segments = 0
        self.bad_segments = 0
        self.duplicate_segments = 0
        self.updates_since_checkpoint = 0
        self.last_metrics: dict[str, float] = {}
        self.episode_scores: list[float] = []
        self.episode_returns: list[float] = []  # returns of the candidate's reward function
        self.episodes = 0
        self.segments = 0  # segments received (not duplicates)
        self.served_segments = 0  # segments whose version the inference endpoint answered with
        self.kept: OrderedDict[int, tuple[dict[str, ArchValue], dict[str, np.ndarray]]] = (
            OrderedDict()
        )
        self.restored = self._restore()  # after the counters: it restores `received`
        self.inference = self._start_inference(security)  # after the restore: its network

    # ------------------------------------------------------------------------ main loop
    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.link.connect()
        self.link.start_heartbeats(self._heartbeat)
        self.log.info(
            "learner_start",
            candidate=self.spec.name,
            algorithm=self.spec.algorithm,
            transitions=self.transitions_endpoint,
            weights=self.weights_endpoint,
            inference=self.inference.endpoint if self.inference else "",
            device=self.options.device,
            restored_version=self.algo.version if self.restored else None,
        )
        self._publish()
        try:
            while not self.stopping:
                self._pump(100)
                if self.algo.ready():
                    self._update()
                self._keep_alive()
        except Exception:
            # A bug must be loud (traceback in the log, exit status 1) and must not look like a
            # clean stop to the supervisor; the launcher restarts us from the last checkpoint.
            self.log.exception("learner_crash", candidate=self.spec.name)
            self.exit_code = 1
        finally:
            self._shutdown()
        return self.exit_code

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.log.info("learner_signal", signal=signal.Signals(signum).name)
        self.stopping = True

    def _pump(self, timeout_ms: int) -> None:
        poller = zmq.Poller()
        poller.register(self.link.socket, zmq.POLLIN)
        # Wait on the transitions only when we would take some: segments left queued (an
        # update is due, or the budget is reached) keep the socket readable, and polling it
        # would return at once, every turn: a busy loop on one core. That loop ran through
        # every evaluation at a budget and, on a machine that times schedules (TVM, Halide),
        # slowed each measured parallel loop 10-240x (its threads wait at a barrier for a core).
        taking = not (self.algo.ready() or self._over_budget())
        if taking:
            poller.register(self.pull.socket, zmq.POLLIN)
        elif self.algo.ready():
            timeout_ms = 0  # an update is due: do not wait for control messages first
        with self.link.lock:  # the heartbeat thread shares the control socket
            events = dict(poller.poll(timeout_ms))
        if self.link.socket in events:
            for message in self.link.receive():
                self._on_control(message)
            if self.link.rejected is not None:
                print(
                    f"error: the supervisor refused this learner: {self.link.rejected}",
                    file=sys.stderr,
                )
                self.exit_code = EXIT_REJECTED
                self.stopping = True
        if taking and self.pull.socket in events:
            for _ in range(MAX_DRAIN):
                # Take no more than the next update needs: what stays queued holds the actors
                # back (ZeroMQ's high-water marks), so an update sees the amount of data its
                # hyperparameters ask for however fast the actors are.
                if self.algo.ready() or self._over_budget():
                    break
                received = self.pull.recv(block=False)
                if received is None:
                    break
                if isinstance(received.message, Transitions):
                    self._on_transitions(received.message)

    def _on_transitions(self, t: Transitions) -> None:
        if t.candidate != self.spec.name:
            self.log.warning("foreign_transitions", candidate=t.candidate, actor=t.actor)
            return
        accepted = self.streams.accept(t.actor, t.batch_seq)
        self.lost_segments, self.duplicate_segments = self.streams.lost, self.streams.duplicate
        if not accepted:
            return
        self.segments += 1
        if self.inference is not None and self.inference.served(t.policy_version):
            self.served_segments += 1
        try:
            batch = Batch(
                obs=t.obs,
                actions=t.actions,
                rewards=t.rewards,
                terminated=t.terminated,
                truncated=t.truncated,
                logp=t.logp,
                values=t.values,
                bootstrap_value=t.bootstrap_value,
                policy_version=t.policy_version,
                stream=t.actor,
                seq=t.batch_seq,
            )
            self.algo.add(batch)  # checks that it fits the network; drops it if too stale
        except ValueError as exc:  # a malformed segment is dropped, never fatal
            self.bad_segments += 1
            self.log.warning("bad_transitions", actor=t.actor, error=str(exc))
            return
        self.received += len(batch)
        if self._over_budget():  # tell the supervisor now, not at the next heartbeat
            self.link.send(self._heartbeat())
        self.episode_scores.extend(t.episode_scores)
        self.episode_returns.extend(t.episode_returns)
        self.episodes += len(t.episode_returns)
        del self.episode_scores[:-RECENT_EPISODES], self.episode_returns[:-RECENT_EPISODES]

    def _update(self) -> None:
        started = time.monotonic()
        # An update keeps a core (`learner_threads` of them) busy for 0.02-0.2 s: held like a
        # compile (envs/timing_lock.py), so that no measuring process of this machine times a
        # run under it. Without measuring processes (LLVM's code size) nobody holds it
        # exclusively, and this costs two system calls.
        with shared_work() as lock_wait_s:
            metrics = self.algo.update()
        self.last_metrics = {k: float(v) for k, v in metrics.items()}
        recent = self.episode_scores[-50:]
        returns = self.episode_returns[-20:]
        self.log.info(
            "learner_update",
            candidate=self.spec.name,
            version=self.algo.version,
            seconds=round(time.monotonic() - started, 3),
            lock_wait_s=round(lock_wait_s, 3),
            received=self.received,
            episode_score=round(sum(recent) / len(recent), 4) if recent else None,
            return_last20=round(sum(returns) / len(returns), 4) if returns else None,
            episodes=self.episodes,
            metrics={k: round(v, 5) for k, v in self.last_metrics.items()},
        )
        self._publish()
        self.updates_since_checkpoint += 1
        if self.updates_since_checkpoint >= self.options.checkpoint_every:
            self._checkpoint()

    def _start_inference(self, security: Security) -> InferenceServer | None:
        """The central inference endpoint (supersonic.learners.inference), bound like the
        other endpoints (CURVE + ZAP off loopback); None for an algorithm without one."""
        try:
            snapshot = self.algo.policy_snapshot()
        except NotImplementedError:
            return None
        server = InferenceServer(
            self.ctx, security, self.options.bind_host, self.ident, self.spec.name, self.log
        )
        server.swap(self.algo.version, snapshot)
        return server.start()

    def _publish(self) -> None:
        inference = self.inference
        if inference is not None and inference.version != self.algo.version and inference.in_use():
            inference.swap(self.algo.version, self.algo.policy_snapshot())
        try:
            arch, tensors = self.algo.policy_weights()
        except NotImplementedError:  # no numpy twin: the WEIGHTS only announce the version,
            arch, tensors = {"kind": CENTRAL_KIND}, {}  # actors ask the inference endpoint
        if self.algo.version not in self.kept and arch["kind"] != CENTRAL_KIND:
            self.kept[self.algo.version] = (arch, tensors)
            while len(self.kept) > KEPT_VERSIONS:
                self.kept.popitem(last=False)
        self.pub.send(
            Weights(
                candidate=self.spec.name,
                version=self.algo.version,
                arch=dict[str, Scalar](arch),
                tensors=tensors,
            ),
            topic=self.spec.name,
            block=False,
        )
        self.last_publish = time.monotonic()

    # ----------------------------------------------------------------- control channel
    def _hello(self) -> Hello:
        return Hello(
            role="learner",
            host=socket.gethostname(),
            pid=os.getpid(),
            tasks=[self.options.task],
            cores=1,
            candidate=self.spec,
            transitions_endpoint=self.transitions_endpoint,
            weights_endpoint=self.weights_endpoint,
            inference_endpoint=self.inference.endpoint if self.inference else "",
        )

    def _over_budget(self) -> bool:
        return self.budget is not None and self.received >= self.budget

    def _on_control(self, msg: Message) -> None:
        if isinstance(msg, WeightsRequest):
            self._publish()
        elif isinstance(msg, TrainUntil):
            self.budget = msg.env_steps
            self.log.info(
                "learner_budget",
                candidate=self.spec.name,
                env_steps=msg.env_steps,
                received=self.received,
            )
        elif isinstance(msg, Score):
            self.log.info(
                "learner_score",
                candidate=msg.candidate,
                version=msg.policy_version,
                score=msg.score,
                stage=msg.stage,
            )
            self._save_policy(msg.policy_version)
        elif isinstance(msg, Stop):
            self.log.info("learner_stop", reason=msg.reason)
            self.stopping = True

    def _save_policy(self, version: int) -> None:
        """Write the policy of `version` (one that got a score) unless it is written already."""
        if self.options.checkpoint_dir is None:
            return
        path = self.options.checkpoint_dir / "policies" / f"v{version}.npz"
        if path.exists():
            return
        kept = self.kept.get(version)
        if kept is None:
            self.log.warning("policy_not_kept", candidate=self.spec.name, version=version)
            return
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            save_policy_file(path, *kept)
        except OSError as exc:  # a full disk must not stop the training
            self.log.error("policy_save_failed", candidate=self.spec.name, error=str(exc))
            return
        self.log.info("policy_saved", candidate=self.spec.name, version=version, path=str(path))

    def _bad_message(self, reason: str) -> None:
        self.log.warning("message_rejected", reason=reason)

    def _heartbeat(self) -> Heartbeat:
        return Heartbeat(
            state="training",
            candidate=self.spec.name,
            env_steps=self.received,
            policy_version=self.algo.version,
            metrics={
                "updates": self.algo.version,
                "dropped_stale": self.algo.dropped_stale,
                "lost_segments": self.lost_segments,
                "duplicate_segments": self.duplicate_segments,
                "bad_segments": self.bad_segments,
                **self._inference_metrics(),
                **{k: round(v, 5) for k, v in self.last_metrics.items()},
            },
        )

    def _inference_metrics(self) -> dict[str, Scalar]:
        if self.inference is None:
            return {}
        stats = self.inference.stats
        return {
            "inference_requests": stats.requests,
            "inference_rows": stats.rows,
            "inference_refused": stats.refused,
            "inference_busy_s": round(stats.busy_s, 3),
            "segments": self.segments,
            "served_segments": self.served_segments,
        }

    def _keep_alive(self) -> None:
        self.link.tick(self._heartbeat)
        if self.forwarder is not None:
            self.forwarder.tick()
        if time.monotonic() - self.last_publish >= self.options.republish_s:
            self._publish()

    # ---------------------------------------------------------------------- checkpoints
    def _checkpoint_path(self) -> Path | None:
        d = self.options.checkpoint_dir
        return None if d is None else d / "latest.pt"

    def _checkpoint(self) -> None:
        path = self._checkpoint_path()
        self.updates_since_checkpoint = 0
        if path is None:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        torch.save(
            {
                "algorithm": self.algo.state_dict(),
                "spec_name": self.spec.name,
                "received": self.received,  # env steps so far: a restart resumes the count
            },
            tmp,
        )
        os.replace(tmp, path)
        self.log.info(
            "learner_checkpoint",
            candidate=self.spec.name,
            version=self.algo.version,
            path=str(path),
        )

    def _restore(self) -> bool:
        path = self._checkpoint_path()
        if path is None or not path.exists():
            return False
        state = torch.load(path, weights_only=True)
        if state.get("spec_name") != self.spec.name:
            raise ValueError(
                f"{path} is a checkpoint of {state.get('spec_name')}, not of {self.spec.name}"
            )
        self.algo.load_state_dict(state["algorithm"])
        self.received = int(state.get("received", self.algo.consumed))
        return True

    def _shutdown(self) -> None:
        if self.exit_code == 0:
            self._checkpoint()
        self._count_unconsumed()
        if self.forwarder is not None:
            self.forwarder.flush()
        self.link.close(Bye(reason="stopped") if self.exit_code == 0 else None)
        self.pull.socket.close()
        self.pub.socket.close()
        if self.inference is not None:
            self.inference.stop()
        if self.zap is not None:
            self.zap.stop()
        self.ctx.term()
        self.log.info(
            "learner_exit",
            candidate=self.spec.name,
            version=self.algo.version,
            transitions=self.received,
            lost_segments=self.lost_segments,
            duplicate_segments=self.duplicate_segments,
            **self._inference_metrics(),
        )

    def _count_unconsumed(self, quiet_s: float = 0.2, limit_s: float = 2.0) -> None:
        """Count (per actor, without training on them) the segments still queued, then log
        what this process saw of every actor's numbering: the run's accounting reconciles it
        with what the actors sent (launch/accounting.py). Bounded: actors may still push."""
        deadline = time.monotonic() + limit_s
        while time.monotonic() < deadline and self.pull.socket.poll(
            int(quiet_s * 1000), zmq.POLLIN
        ):
            received = self.pull.recv(block=False)
            if received is not None and isinstance(received.message, Transitions):
                self.streams.unconsumed(received.message.actor)
        self.log.info("learner_streams", candidate=self.spec.name, streams=self.streams.summary())


def _bind(sock: zmq.Socket[bytes], host: str) -> str:
    sock.bind(f"tcp://{host}:*")
    return str(sock.getsockopt_string(zmq.LAST_ENDPOINT))


def run_learner(options: LearnerOptions) -> int:
    return Learner(options).run()
