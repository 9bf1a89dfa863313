"""The supervisor: registers actors and learners, assigns work, watches liveness, scores.

It binds one ROUTER control endpoint. Learners say HELLO with their candidate and endpoints;
actors say HELLO with their capabilities; everyone heartbeats and every heartbeat is answered,
so both sides detect a silent peer. Idle actors are assigned to the training candidate with the
fewest actors. A candidate is evaluated (deterministic rollouts on the validation programs) once
with its initial weights and once when its learner has consumed `steps_per_candidate`
transitions; then its learner is stopped and its actors are re-assigned at once. An actor or
learner silent for `heartbeat_timeout_s` is declared dead: its evaluations go to another actor,
its candidate gets the next idle actor. The run ends when every candidate has its final score.
Pruning (successive halving) is a later layer over the same bookkeeping.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import zmq

from supersonic import logs
from supersonic.envs import get_task
from supersonic.launch.config import RunConfig, RunPaths
from supersonic.protocol.messages import (
    PROTOCOL_VERSION,
    Assign,
    Bye,
    CandidateSpec,
    EvalRequest,
    EvalResult,
    Heartbeat,
    Hello,
    Log,
    Message,
    Reject,
    Release,
    Score,
    Stop,
    WeightsRequest,
    Welcome,
)
from supersonic.protocol.transport import Channel, Received, VersionMismatch

EVAL_TIMEOUT_S = 600.0


@dataclass
class Peer:
    ident: str
    identity: bytes
    role: str
    host: str
    pid: int
    label: str = ""
    last_seen: float = field(default_factory=time.monotonic)
    candidate: str = ""  # learners: their candidate; actors: the one they work for
    env_steps: int = 0
    steps_per_s: float = 0.0
    state: str = "idle"


@dataclass
class Evaluation:
    eval_id: str
    stage: str  # "initial" or "final"
    actor: str
    sent_at: float
    min_version: int


@dataclass
class CandidateState:
    spec: CandidateSpec
    learner: str = ""  # the learner peer's ident
    transitions_endpoint: str = ""
    weights_endpoint: str = ""
    env_steps: int = 0
    version: int = 0
    phase: str = "training"  # training -> final_eval -> done
    pending: Evaluation | None = None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str = ""

    def needs(self, stage: str) -> bool:
        return stage not in self.scores and (self.pending is None or self.pending.stage != stage)


class Supervisor:
    """See the module docstring."""

    def __init__(self, config: RunConfig, paths: RunPaths, port: int = 0) -> None:
        self.config = config
        self.paths = paths
        self.run_id = uuid.uuid4().hex[:12]
        self.log = logs.configure("supervisor", "supervisor", paths.events)
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        host = config.bind_host
        if port:
            sock.bind(f"tcp://{host}:{port}")
        else:
            port = sock.bind_to_random_port(f"tcp://{host}")
        self.endpoint = f"tcp://{host}:{port}"
        self.control = Channel(sock, "supervisor", routed=True, on_reject=self._bad_message)
        self.peers: dict[str, Peer] = {}
        self.candidates = {c.name: CandidateState(c) for c in config.candidates}
        self.task = get_task(config.task)
        self.train_programs = self.task.resolve_programs(config.train or self.task.train)
        self.validation_programs = self.task.resolve_programs(
            config.validation or self.task.validation
        )
        self.stop_requested = False
        self.rejected = 0
        self.dead: list[str] = []
        self.log.info(
            "supervisor_start",
            endpoint=self.endpoint,
            run_id=self.run_id,
            candidates=[c.name for c in config.candidates],
            protocol_version=PROTOCOL_VERSION,
        )

    # ------------------------------------------------------------------------ main loop
    def run(
        self,
        on_progress: Callable[[str], None] | None = None,
        on_tick: Callable[[], None] | None = None,
    ) -> dict[str, Any]:
        """Run until every candidate has its final score (or `request_stop`).

        `on_tick` runs about every 100 ms in this thread: the launcher watches its child
        processes there.
        """
        self.on_progress = on_progress or (lambda _line: None)
        while not self.stop_requested and not self.finished():
            self._pump(100)
            now = time.monotonic()
            self._reap(now)
            self._schedule(now)
            if on_tick is not None:
                on_tick()
        self.stop_everyone("run finished" if self.finished() else "stop requested")
        return self.results()

    def request_stop(self) -> None:
        self.stop_requested = True

    def finished(self) -> bool:
        return all(c.phase == "done" for c in self.candidates.values())

    def is_done(self, candidate: str) -> bool:
        return self.candidates[candidate].phase == "done"

    def fail_candidate(self, candidate: str, reason: str) -> None:
        """Give up on a candidate (e.g. its learner keeps crashing); the run goes on."""
        state = self.candidates[candidate]
        state.phase, state.error, state.finished = "done", reason, time.monotonic()
        state.pending = None
        self.log.error("candidate_failed", candidate=candidate, reason=reason)
        self.on_progress(f"{candidate}: failed: {reason}")
        for actor in self._actors_of(candidate):
            self._send(actor, Release(candidate=candidate, reason="candidate failed"))
            actor.candidate = ""

    def _pump(self, timeout_ms: int) -> None:
        if not self.control.socket.poll(timeout_ms, zmq.POLLIN):
            return
        for _ in range(1000):
            try:
                received = self.control.recv(block=False)
            except VersionMismatch as exc:
                self._refuse_version(exc)
                continue
            if received is None:
                if not self.control.socket.poll(0, zmq.POLLIN):
                    return
                continue
            self._dispatch(received)

    def _bad_message(self, reason: str) -> None:
        self.rejected += 1
        self.log.warning("message_rejected", reason=reason, total=self.rejected)

    def _refuse_version(self, exc: VersionMismatch) -> None:
        identity = getattr(exc, "identity", None)
        header = exc.header
        reason = (
            f"protocol version {header.v} is not supported: this supervisor speaks "
            f"version {PROTOCOL_VERSION}"
        )
        self.log.warning("peer_refused", peer=header.src, reason=reason)
        if identity is not None and header.t == "HELLO":
            self.control.send(Reject(reason=reason), identity=identity, block=False)

    def _send(self, peer: Peer, message: Message) -> None:
        self.control.send(message, identity=peer.identity, block=False)

    def _dispatch(self, received: Received) -> None:
        msg, src = received.message, received.header.src
        assert received.identity is not None
        if isinstance(msg, Hello):
            self._on_hello(src, received.identity, msg)
            return
        peer = self.peers.get(src)
        if peer is None:
            # Someone we do not know (e.g. we restarted): ask it to introduce itself again.
            self.control.send(
                Reject(reason="unknown peer: say HELLO again", rehello=True),
                identity=received.identity,
                block=False,
            )
            return
        peer.identity = received.identity
        peer.last_seen = time.monotonic()
        if isinstance(msg, Heartbeat):
            self._on_heartbeat(peer, msg)
        elif isinstance(msg, WeightsRequest):
            learner = self._learner_of(msg.candidate)
            if learner is not None:
                self._send(learner, msg)
        elif isinstance(msg, EvalResult):
            self._on_eval_result(peer, msg)
        elif isinstance(msg, Log):
            self.log.info(msg.event, peer=src, level_of_peer=msg.level, **msg.fields)
        elif isinstance(msg, Bye):
            self.log.info("peer_bye", peer=src, peer_role=peer.role, reason=msg.reason)
            self._forget(peer)

    # ------------------------------------------------------------------- registrations
    def _on_hello(self, src: str, identity: bytes, hello: Hello) -> None:
        if hello.role == "learner":
            spec = hello.candidate
            if spec is None or spec.name not in self.candidates:
                self.control.send(
                    Reject(reason=f"unknown candidate {spec.name if spec else None!r}"),
                    identity=identity,
                    block=False,
                )
                return
        elif hello.role == "actor":
            if self.config.task not in hello.tasks:
                self.control.send(
                    Reject(
                        reason=f"this run needs task {self.config.task}; the "
                        f"actor offers {', '.join(hello.tasks) or 'none'}"
                    ),
                    identity=identity,
                    block=False,
                )
                return
        else:
            self.control.send(
                Reject(reason=f"unknown role {hello.role!r}"), identity=identity, block=False
            )
            return
        known = self.peers.get(src)
        peer = Peer(
            ident=src,
            identity=identity,
            role=hello.role,
            host=hello.host,
            pid=hello.pid,
            label=hello.label,
            candidate=known.candidate if known and hello.role == "actor" else "",
        )
        self.peers[src] = peer
        self.control.send(
            Welcome(
                run_id=self.run_id,
                heartbeat_interval_s=self.config.heartbeat_interval_s,
                heartbeat_timeout_s=self.config.heartbeat_timeout_s,
            ),
            identity=identity,
            block=False,
        )
        self.log.info(
            "peer_join",
            peer=src,
            peer_role=hello.role,
            host=hello.host,
            pid=hello.pid,
            label=hello.label,
            rejoin=known is not None,
        )
        if hello.role == "learner":
            assert hello.candidate is not None
            state = self.candidates[hello.candidate.name]
            moved = (state.transitions_endpoint, state.weights_endpoint) != (
                hello.transitions_endpoint,
                hello.weights_endpoint,
            )
            state.learner = src
            state.transitions_endpoint = hello.transitions_endpoint
            state.weights_endpoint = hello.weights_endpoint
            peer.candidate = state.spec.name
            if moved:  # a restarted learner: point its actors at the new endpoints
                for actor in self._actors_of(state.spec.name):
                    self._assign(actor, state)
            if state.phase == "done":
                self._send(peer, Stop(reason="candidate already finished"))

    def _on_heartbeat(self, peer: Peer, hb: Heartbeat) -> None:
        peer.env_steps, peer.steps_per_s, peer.state = hb.env_steps, hb.steps_per_s, hb.state
        if peer.role == "learner":
            state = self.candidates.get(peer.candidate)
            if state is not None:
                state.env_steps, state.version = hb.env_steps, hb.policy_version
        self._send(peer, Heartbeat(state="supervising"))

    def _learner_of(self, candidate: str) -> Peer | None:
        state = self.candidates.get(candidate)
        return self.peers.get(state.learner) if state and state.learner else None

    def _actors_of(self, candidate: str) -> list[Peer]:
        return [p for p in self.peers.values() if p.role == "actor" and p.candidate == candidate]

    # ----------------------------------------------------------------- liveness
    def _reap(self, now: float) -> None:
        for peer in list(self.peers.values()):
            if now - peer.last_seen > self.config.heartbeat_timeout_s:
                self.dead.append(peer.ident)
                self.log.warning(
                    "peer_dead",
                    peer=peer.ident,
                    peer_role=peer.role,
                    silent_s=round(now - peer.last_seen, 1),
                    candidate=peer.candidate,
                )
                self.on_progress(f"{peer.role} {peer.ident} is silent: declared dead")
                self._forget(peer)

    def _forget(self, peer: Peer) -> None:
        self.peers.pop(peer.ident, None)
        for state in self.candidates.values():
            if state.pending is not None and state.pending.actor == peer.ident:
                self.log.info(
                    "eval_reissue",
                    candidate=state.spec.name,
                    eval_id=state.pending.eval_id,
                    reason="actor gone",
                )
                state.pending = None
            if state.learner == peer.ident:
                state.learner = ""

    # ------------------------------------------------------------------- scheduling
    def _schedule(self, now: float) -> None:
        for state in self.candidates.values():
            if state.pending is not None and now - state.pending.sent_at > EVAL_TIMEOUT_S:
                self.log.warning(
                    "eval_timeout", candidate=state.spec.name, eval_id=state.pending.eval_id
                )
                state.pending = None
            if state.phase == "training" and state.env_steps >= self.config.steps_per_candidate:
                state.phase = "final_eval"
                self.log.info(
                    "candidate_budget_reached",
                    candidate=state.spec.name,
                    env_steps=state.env_steps,
                    version=state.version,
                )
                self.on_progress(
                    f"{state.spec.name}: {state.env_steps} steps, "
                    f"version {state.version}: final evaluation"
                )
        for actor in [p for p in self.peers.values() if p.role == "actor"]:
            current = self.candidates.get(actor.candidate)
            if current is None or current.phase == "done" or not current.learner:
                self._assign_idle(actor)
        for state in self.candidates.values():
            self._start_evaluations(state, now)

    def _assign_idle(self, actor: Peer) -> None:
        if actor.candidate and actor.candidate in self.candidates:
            previous = self.candidates[actor.candidate]
            if previous.phase == "done":
                self._send(actor, Release(candidate=actor.candidate, reason="candidate done"))
            actor.candidate = ""
        open_states = [
            s
            for s in self.candidates.values()
            if s.learner in self.peers and (s.phase == "training" or self._waiting_eval(s))
        ]
        # Work first goes where an evaluation waits for an actor, then where training has the
        # fewest actors.
        open_states.sort(
            key=lambda s: (
                not self._waiting_eval(s),
                s.phase != "training",
                len(self._actors_of(s.spec.name)),
            )
        )
        if open_states:
            self._assign(actor, open_states[0])

    def _waiting_eval(self, state: CandidateState) -> bool:
        wants = (self.config.eval_initial and state.needs("initial")) or (
            state.phase == "final_eval" and state.needs("final")
        )
        return wants and not self._actors_of(state.spec.name)

    def _assign(self, actor: Peer, state: CandidateState) -> None:
        actor.candidate = state.spec.name
        self._send(
            actor,
            Assign(
                candidate=state.spec,
                transitions_endpoint=state.transitions_endpoint,
                weights_endpoint=state.weights_endpoint,
                programs=self.train_programs,
                episode_length=self.config.episode_length,
                batch_size=self.config.batch_size,
                seed=state.spec.seed * 1000 + len(self._actors_of(state.spec.name)),
                task=self.config.task,
            ),
        )
        self.log.info("assign", actor=actor.ident, candidate=state.spec.name)

    def _start_evaluations(self, state: CandidateState, now: float) -> None:
        if state.pending is not None or not state.learner:
            return
        stage = None
        if self.config.eval_initial and state.needs("initial"):
            stage = "initial"
        elif state.phase == "final_eval" and state.needs("final"):
            stage = "final"
        if stage is None:
            return
        actors = self._actors_of(state.spec.name)
        if not actors:
            return
        actor = actors[0]
        eval_id = uuid.uuid4().hex[:10]
        min_version = 0 if stage == "initial" else state.version
        state.pending = Evaluation(eval_id, stage, actor.ident, now, min_version)
        self._send(
            actor,
            EvalRequest(
                eval_id=eval_id,
                candidate=state.spec.name,
                programs=self.validation_programs,
                min_version=min_version,
                episode_length=self.config.episode_length,
            ),
        )
        self.log.info(
            "eval_request",
            candidate=state.spec.name,
            eval_id=eval_id,
            stage=stage,
            actor=actor.ident,
            min_version=min_version,
        )
        if stage == "final":  # only the evaluating actor stays; the others move on now
            for other in actors[1:]:
                self._send(other, Release(candidate=state.spec.name, reason="final evaluation"))
                other.candidate = ""

    def _on_eval_result(self, peer: Peer, result: EvalResult) -> None:
        state = self.candidates.get(result.candidate)
        if state is None or state.pending is None or state.pending.eval_id != result.eval_id:
            self.log.info("eval_result_ignored", candidate=result.candidate, eval_id=result.eval_id)
            return
        pending, state.pending = state.pending, None
        if result.error:
            self.log.warning("eval_failed", candidate=result.candidate, error=result.error)
            return
        score = self.task.aggregate(result.metrics)
        state.scores[pending.stage] = {
            "score": score,
            "policy_version": result.policy_version,
            "env_steps": state.env_steps,
            "programs": result.programs,
            "metrics": result.metrics,
            "details": result.details,
        }
        self.log.info(
            "candidate_score",
            candidate=result.candidate,
            stage=pending.stage,
            score=round(score, 4),
            policy_version=result.policy_version,
            env_steps=state.env_steps,
        )
        self.on_progress(
            f"{result.candidate}: {pending.stage} score {score:.3f} "
            f"(version {result.policy_version})"
        )
        learner = self._learner_of(result.candidate)
        if learner is not None:
            self._send(
                learner,
                Score(
                    candidate=result.candidate,
                    policy_version=result.policy_version,
                    score=score,
                    stage=pending.stage,
                ),
            )
        if pending.stage == "final":
            state.phase, state.finished = "done", time.monotonic()
            if learner is not None:
                self._send(learner, Stop(reason="candidate finished"))
            for actor in self._actors_of(state.spec.name):
                self._send(actor, Release(candidate=state.spec.name, reason="candidate done"))
                actor.candidate = ""

    # ------------------------------------------------------------------------- the end
    def stop_everyone(self, reason: str) -> None:
        for peer in list(self.peers.values()):
            self._send(peer, Stop(reason=reason))
        deadline = time.monotonic() + 5.0
        while self.peers and time.monotonic() < deadline:
            self._pump(100)
        self.log.info("supervisor_stop", reason=reason, peers_left=len(self.peers))

    def results(self) -> dict[str, Any]:
        out = {
            "run_id": self.run_id,
            "task": self.config.task,
            "candidates": [
                {
                    "spec": {
                        "name": s.spec.name,
                        "algorithm": s.spec.algorithm,
                        "state_fn": s.spec.state_fn,
                        "reward_fn": s.spec.reward_fn,
                        "hyperparameters": s.spec.hyperparameters,
                        "seed": s.spec.seed,
                    },
                    "env_steps": s.env_steps,
                    "version": s.version,
                    "phase": s.phase,
                    "scores": s.scores,
                    "error": s.error,
                    "seconds": None if s.finished is None else round(s.finished - s.started, 1),
                }
                for s in self.candidates.values()
            ],
            "dead_peers": self.dead,
            "rejected_messages": self.rejected,
        }
        self.paths.results.write_text(json.dumps(out, indent=2))
        return out

    def close(self) -> None:
        self.control.socket.close(linger=0)
        self.ctx.term()
