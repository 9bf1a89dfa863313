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
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import zmq

from supersonic import logs
from supersonic.envs import get_task
from supersonic.launch.config import RunConfig, RunPaths, run_env_options
from supersonic.launch.ledger import EvaluationRecord, Ledger
from supersonic.launch.space import group_of
from supersonic.launch.strategies import Strategy, make_strategy
from supersonic.protocol.messages import (
    PROTOCOL_VERSION,
    Assign,
    BestFound,
    Bye,
    CandidateSpec,
    EvalRequest,
    EvalResult,
    Events,
    Heartbeat,
    Hello,
    Log,
    Message,
    Reject,
    Release,
    Score,
    Stop,
    TrainUntil,
    WeightsRequest,
    Welcome,
)
from supersonic.protocol.security import Security, check_bind, start_zap
from supersonic.protocol.transport import Channel, Received, VersionMismatch

EVAL_TIMEOUT_S = 600.0
EVAL_RETRY_S = 0.5  # after an evaluation that failed, doubling up to EVAL_RETRY_MAX_S
EVAL_RETRY_MAX_S = 10.0
PROGRESS_EVERY_S = 2.0  # how often the `progress` event snapshots peers and candidates
MAX_FORWARDED_LINE = 64 * 1024  # a forwarded event line longer than this is refused


def policy_path(candidate: str, version: int) -> Path:
    """Where a learner keeps a scored policy, relative to the run directory."""
    return Path("checkpoints") / candidate / "policies" / f"v{version}.npz"


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
    inference_endpoint: str = ""
    group: str = ""  # the architecture (seed replicas share it): what the strategy schedules
    env_steps: int = 0
    version: int = 0
    # new -> training -> evaluating (budget reached) -> scored -> training (promoted) | paused
    # (waiting: may be promoted later) -> ... -> done (max budget) | stopped (pruned) | failed
    phase: str = "new"
    budget: int = 0  # env steps to train to before the next evaluation
    pending: Evaluation | None = None
    scores: dict[str, dict[str, Any]] = field(default_factory=dict)
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    error: str = ""
    eval_failures: int = 0  # evaluations in a row that came back with an error
    eval_retry_at: float = 0.0  # no new evaluation before this (monotonic), after a failure
    # "held": its learner takes no transitions until the initial weights are scored
    # (`Supervisor._train_until`); "ended" once they are, or once an initial evaluation failed
    hold: str = ""

    def needs(self, stage: str) -> bool:
        return stage not in self.scores and (self.pending is None or self.pending.stage != stage)

    @property
    def stage(self) -> str:
        """The evaluation stage of the current budget."""
        return f"b{self.budget}"

    @property
    def active(self) -> bool:
        """Training or being evaluated: it needs its learner and actors."""
        return self.phase in ("training", "evaluating")

    @property
    def settled(self) -> bool:
        return self.phase in ("done", "stopped", "failed")


_IDENTITY_KEYS = ("role", "id", "host", "via", "ts")


class Supervisor:
    """See the module docstring."""

    def __init__(
        self, config: RunConfig, paths: RunPaths, port: int = 0, resume: bool = False
    ) -> None:
        self.config = config
        self.paths = paths
        self.run_id = uuid.uuid4().hex[:12]
        self.log = logs.configure("supervisor", "supervisor", paths.events)
        self.forwarded = logs.EventWriter(paths.events)  # remote actors' events (EVENTS, LOG)
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        host = config.bind_host
        self.security = Security.from_dir(Path(config.keys) if config.keys else None)
        check_bind(host, self.security, config.insecure)
        self.zap = start_zap(self.ctx, self.security, self.log)
        sock = self.ctx.socket(zmq.ROUTER)
        sock.setsockopt(zmq.LINGER, 0)
        sock.setsockopt(zmq.ROUTER_MANDATORY, 0)
        self.security.server(sock)
        port = port or config.port
        if port:
            try:
                sock.bind(f"tcp://{host}:{port}")
            except zmq.ZMQError as exc:
                sock.close(linger=0)
                if self.zap is not None:
                    self.zap.stop()
                self.ctx.term()
                raise ValueError(f"cannot bind tcp://{host}:{port}: {exc}") from None
        else:
            port = sock.bind_to_random_port(f"tcp://{host}")
        self.endpoint = f"tcp://{host}:{port}"
        self.control = Channel(sock, "supervisor", routed=True, on_reject=self._bad_message)
        self.peers: dict[str, Peer] = {}
        self.candidates = {
            c.name: CandidateState(c, group=group_of(c.name)) for c in config.candidates
        }
        self.groups: dict[str, list[str]] = {}
        for name, state in self.candidates.items():
            self.groups.setdefault(state.group, []).append(name)
        self.slots = config.concurrent or max(1, config.total_actors // config.seeds)
        self.strategy: Strategy = make_strategy(
            config.strategy,
            list(self.groups),
            min_budget=config.first_budget,
            max_budget=config.max_budget,
            reduction_factor=config.reduction_factor,
            total_budget=config.total_budget or None,
            slots=self.slots,
        )
        self.ledger = Ledger(paths.ledger)
        for c in config.candidates:
            self.ledger.add_candidate(c)
        self.reported: set[tuple[str, int]] = set()
        if resume:
            self._restore_from_ledger()
        self.task = get_task(config.task)
        self.train_programs = self.task.resolve_programs(config.train or self.task.train)
        self.validation_programs = self.task.resolve_programs(
            config.validation or self.task.validation
        )
        self.validation_set = set(self.validation_programs)
        self.stop_requested = False
        self.rejected = 0
        self.dead: list[str] = []
        self.log.info(
            "supervisor_start",
            endpoint=self.endpoint,
            run_id=self.run_id,
            pid=os.getpid(),
            candidates=[c.name for c in config.candidates],
            protocol_version=PROTOCOL_VERSION,
            curve=self.security.curve,
            insecure=config.insecure and not self.security.curve,
            server_key=self.security.keys.public.decode() if self.security.keys else "",
        )
        self.log.info(
            "run_plan",
            task=config.task,
            metric=self.task.metric,
            strategy=config.strategy,
            plan=self.strategy.describe(),
            max_budget=config.max_budget,
            seeds=config.seeds,
            actors=config.actors,
            validation_programs=len(self.validation_programs),
            expected_env_steps=self.strategy.expected_env_steps() * config.seeds,
            resumed=resume,
            candidates=[
                {
                    "name": c.name,
                    "group": group_of(c.name),
                    "algorithm": c.algorithm,
                    "state_fn": c.state_fn,
                    "reward_fn": c.reward_fn,
                    "seed": c.seed,
                }
                for c in config.candidates
            ],
        )
        self.forwarded_rejected = 0
        self.next_progress = 0.0
        self.on_progress: Callable[[str], None] = lambda _line: None  # `run` sets it

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
            if now >= self.next_progress:
                self.next_progress = now + PROGRESS_EVERY_S
                self._log_progress(now)
        self._log_progress(time.monotonic())
        self.stop_everyone("run finished" if self.finished() else "stop requested")
        results = self.results()
        self.log.info(
            "search_done",
            winner=results["winner"],
            env_steps_total=results["env_steps_total"],
            outcomes={c["spec"]["name"]: c["phase"] for c in results["candidates"]},
            finished=self.finished(),
        )
        return results

    def _log_progress(self, now: float) -> None:
        """One snapshot of every candidate and peer: what `supersonic monitor` shows between
        the events that change them (heartbeats themselves are not logged)."""
        self.log.info(
            "progress",
            env_steps_total=sum(s.env_steps for s in self.candidates.values()),
            candidates=[
                {
                    "name": s.spec.name,
                    "phase": s.phase,
                    "budget": s.budget,
                    "env_steps": s.env_steps,
                    "version": s.version,
                    "actors": len(self._actors_of(s.spec.name)),
                }
                for s in self.candidates.values()
            ],
            peers=[
                {
                    "id": p.ident,
                    "role": p.role,
                    "host": p.host,
                    "label": p.label,
                    "candidate": p.candidate,
                    "state": p.state,
                    "env_steps": p.env_steps,
                    "steps_per_s": round(p.steps_per_s, 1),
                    "silent_s": round(now - p.last_seen, 1),
                }
                for p in self.peers.values()
            ],
        )

    def request_stop(self) -> None:
        self.stop_requested = True

    def finished(self) -> bool:
        if all(c.settled for c in self.candidates.values()):
            return True
        busy = any(c.active for c in self.candidates.values())
        return not busy and self.strategy.finished()

    def is_done(self, candidate: str) -> bool:
        return self.candidates[candidate].settled

    def wants_learner(self, candidate: str) -> bool:
        """Whether `candidate`'s learner should be running now (the launcher starts it)."""
        state = self.candidates[candidate]
        return state.active or (state.pending is not None)

    def fail_candidate(self, candidate: str, reason: str) -> None:
        """Give up on a candidate (e.g. its learner keeps crashing); the run goes on."""
        state = self.candidates[candidate]
        state.phase, state.error, state.finished = "failed", reason, time.monotonic()
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
        elif isinstance(msg, BestFound):
            self._on_best_found(peer, msg)
        elif isinstance(msg, Log):
            fields = {k: v for k, v in msg.fields.items() if k not in _IDENTITY_KEYS}
            record = {**fields, "event": msg.event, "level": msg.level, "ts": logs.now_iso()}
            self.forwarded.write({**record, **self._identity(peer)})
        elif isinstance(msg, Events):
            self._on_events(peer, msg)
        elif isinstance(msg, Bye):
            self.log.info("peer_bye", peer=src, peer_role=peer.role, reason=msg.reason)
            self._forget(peer)

    def _identity(self, peer: Peer) -> dict[str, str]:
        return {"role": peer.role, "id": peer.ident, "host": peer.host, "via": "supervisor"}

    def _on_events(self, peer: Peer, msg: Events) -> None:
        """Write a remote peer's event lines into events.jsonl. A line must be a JSON object
        with an `event`; who sent it is what the supervisor knows of the peer, whatever the
        line says. Bad lines are counted and skipped."""
        bad = 0
        for line in msg.lines:
            try:
                if len(line) > MAX_FORWARDED_LINE:
                    raise ValueError("too long")
                record = json.loads(line)
                if not isinstance(record, dict) or not isinstance(record.get("event"), str):
                    raise ValueError("not an event")
            except ValueError:
                bad += 1
                continue
            record.setdefault("ts", logs.now_iso())
            self.forwarded.write({**record, **self._identity(peer)})
        if bad:
            self.forwarded_rejected += bad
            self.log.warning(
                "forwarded_events_rejected",
                peer=peer.ident,
                lines=bad,
                total=self.forwarded_rejected,
            )
        if msg.dropped:
            self.log.warning("forwarded_events_dropped", peer=peer.ident, lines=msg.dropped)

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
            # A user's task (pkg.module:task) is not in any list: the actor imports it when
            # assigned (and logs assign_failed if it cannot).
            if self.config.task not in hello.tasks and ":" not in self.config.task:
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
        rejoin = known is not None
        if known is not None and (known.host, known.pid) != (hello.host, hello.pid):
            # A new process under a known name (restarted by the launch, by Ray, over ssh or by
            # a service manager before its predecessor was declared dead): whatever that one
            # held (work, an evaluation) is gone with it, so this one starts idle.
            self._forget(known)
            known = None
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
            cores=hello.cores,
            tasks=",".join(hello.tasks),
            rejoin=rejoin,
        )
        if hello.role == "learner":
            assert hello.candidate is not None
            state = self.candidates[hello.candidate.name]
            moved = (
                state.transitions_endpoint,
                state.weights_endpoint,
                state.inference_endpoint,
            ) != (hello.transitions_endpoint, hello.weights_endpoint, hello.inference_endpoint)
            state.learner = src
            state.transitions_endpoint = hello.transitions_endpoint
            state.weights_endpoint = hello.weights_endpoint
            state.inference_endpoint = hello.inference_endpoint
            peer.candidate = state.spec.name
            if moved:  # a restarted learner: point its actors at the new endpoints
                for actor in self._actors_of(state.spec.name):
                    self._assign(actor, state)
            if not state.active:
                self._send(peer, Stop(reason=f"candidate {state.phase}"))
            else:
                self._send(peer, self._train_until(state))

    def _on_heartbeat(self, peer: Peer, hb: Heartbeat) -> None:
        peer.env_steps, peer.steps_per_s, peer.state = hb.env_steps, hb.steps_per_s, hb.state
        if peer.role == "learner":
            state = self.candidates.get(peer.candidate)
            if state is not None:
                state.env_steps, state.version = hb.env_steps, hb.policy_version
        self._send(peer, Heartbeat(state="supervising"))

    def _train_until(self, state: CandidateState) -> TrainUntil:
        """The TRAIN_UNTIL for `state`'s learner: its budget, or 0 (take nothing) while its
        initial weights are still to be scored. The evaluating actor may get its first weights
        late (a slow board, a busy machine); meanwhile the other actors' transitions would let
        the learner update, and "initial" would score version 1 or later (CI saw it). Held,
        the actors fill their queues and wait; the hold ends when the initial score is
        recorded or an initial evaluation fails (`_end_hold`): at most one evaluation's time."""
        if not state.hold and self.config.eval_initial and "initial" not in state.scores:
            state.hold = "held"
            self.log.info("initial_hold", candidate=state.spec.name)
        env_steps = 0 if state.hold == "held" else state.budget
        return TrainUntil(candidate=state.spec.name, env_steps=env_steps)

    def _end_hold(self, state: CandidateState, reason: str) -> None:
        """Let `state`'s learner train to its budget (see `_train_until`)."""
        if state.hold != "held":
            return
        state.hold = "ended"
        self.log.info("initial_hold_end", candidate=state.spec.name, reason=reason)
        learner = self._learner_of(state.spec.name)
        if learner is not None and state.active:
            self._send(learner, self._train_until(state))

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
                if state.pending.stage == "initial":
                    self._end_hold(state, "initial evaluation timed out")
                state.pending = None
            if state.phase == "training" and state.env_steps >= state.budget:
                self._budget_reached(state)
        self._decide()
        for actor in [p for p in self.peers.values() if p.role == "actor"]:
            current = self.candidates.get(actor.candidate)
            if current is None or not current.active or not current.learner:
                self._assign_idle(actor)
        for state in self.candidates.values():
            self._start_evaluations(state, now)

    def _budget_reached(self, state: CandidateState) -> None:
        state.phase = "evaluating"
        self.log.info(
            "candidate_budget_reached",
            candidate=state.spec.name,
            budget=state.budget,
            env_steps=state.env_steps,
            version=state.version,
        )
        self.on_progress(
            f"{state.spec.name}: {state.env_steps} steps, version {state.version}: "
            f"evaluation at budget {state.budget}"
        )
        if state.stage in self.scores_of(state):  # scored before a restart
            state.phase = "scored"

    def scores_of(self, state: CandidateState) -> dict[str, dict[str, Any]]:
        return state.scores

    def _decide(self) -> None:
        """Report groups whose replicas are all scored at their budget, then hand free slots
        to the strategy's next work; a reported group that gets no new work is paused."""
        reported_now: list[str] = []
        for group, names in self.groups.items():
            states = [self.candidates[n] for n in names]
            alive = [s for s in states if s.phase != "failed"]
            budget = states[0].budget
            if alive and all(s.phase == "scored" for s in alive):
                score = sum(s.scores[s.stage]["score"] for s in alive) / len(alive)
            elif not alive and budget and self.strategy.status(group) == "running":
                score = float("-inf")  # every replica failed: the strategy ranks it last
            else:
                continue
            if (group, budget) not in self.reported:
                self.ledger.add_rung_score(group, budget, score)  # recorded before acted on
                self.reported.add((group, budget))
                self.strategy.report(group, budget, score)
                self.log.info("rung_score", group=group, budget=budget, score=round(score, 4))
            reported_now.append(group)
        running = {
            s.group for s in self.candidates.values() if s.active or s.phase == "scored"
        } - set(reported_now)
        while len(running) < self.slots:
            work = self.strategy.next_work()
            if work is None:
                break
            running.add(work.candidate)
            for name in self.groups[work.candidate]:
                state = self.candidates[name]
                state.budget, state.phase = work.budget, "training"
                learner = self._learner_of(name)
                if learner is not None:  # else it gets the budget when it says HELLO
                    self._send(learner, self._train_until(state))
            self.log.info("work", group=work.candidate, budget=work.budget)
            if work.candidate in reported_now:
                reported_now.remove(work.candidate)
        for group in reported_now:  # not given more work now: pause (or finish)
            status = self.strategy.status(group)
            phase = "done" if status == "done" else "paused"
            for name in self.groups[group]:
                self._settle(self.candidates[name], phase)
        if self.strategy.finished() and not running:
            for state in self.candidates.values():
                if state.phase in ("paused", "new"):
                    self._settle(
                        state, "done" if self.strategy.status(state.group) == "done" else "stopped"
                    )

    def _settle(self, state: CandidateState, phase: str) -> None:
        """Take a candidate out of training: its learner stops (checkpointing), its actors go."""
        if state.phase in (phase, "failed"):
            return
        state.phase = phase
        if phase in ("done", "stopped"):
            state.finished = time.monotonic()
        # Literal event names, so that the event catalogue check can see them.
        if phase == "done":
            self.log.info("candidate_done", candidate=state.spec.name, budget=state.budget)
        elif phase == "stopped":
            self.log.info("candidate_stopped", candidate=state.spec.name, budget=state.budget)
        else:
            self.log.info("candidate_paused", candidate=state.spec.name, budget=state.budget)
        learner = self._learner_of(state.spec.name)
        if learner is not None:
            self._send(learner, Stop(reason=f"candidate {phase}"))
        for actor in self._actors_of(state.spec.name):
            self._send(actor, Release(candidate=state.spec.name, reason=f"candidate {phase}"))
            actor.candidate = ""

    def _assign_idle(self, actor: Peer) -> None:
        if actor.candidate and actor.candidate in self.candidates:
            previous = self.candidates[actor.candidate]
            if not previous.active:
                self._send(
                    actor, Release(candidate=actor.candidate, reason=f"candidate {previous.phase}")
                )
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

    def _wanted_stage(self, state: CandidateState) -> str | None:
        """The evaluation `state` needs next, if any."""
        if not state.active:
            return None
        if self.config.eval_initial and state.needs("initial"):
            return "initial"
        if state.phase == "evaluating" and state.needs(state.stage):
            return state.stage
        return None

    def _waiting_eval(self, state: CandidateState) -> bool:
        return self._wanted_stage(state) is not None and not self._actors_of(state.spec.name)

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
                inference_endpoint=state.inference_endpoint,
                inference=self.config.inference,
                env_options=run_env_options(self.config),
            ),
        )
        self.log.info("assign", actor=actor.ident, candidate=state.spec.name)

    def _start_evaluations(self, state: CandidateState, now: float) -> None:
        if state.pending is not None or not state.learner or now < state.eval_retry_at:
            return
        stage = self._wanted_stage(state)
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
        if stage != "initial":  # only the evaluating actor stays; the others move on now
            for other in actors[1:]:
                self._send(other, Release(candidate=state.spec.name, reason="budget reached"))
                other.candidate = ""

    def _on_best_found(self, peer: Peer, found: BestFound) -> None:
        """A training episode's result, offered as its program's best (validation programs
        only: the run's best results are theirs, and each is validated at the end)."""
        if found.candidate not in self.candidates or found.program not in self.validation_set:
            self.log.info(
                "best_found_ignored",
                candidate=found.candidate,
                program=found.program,
                peer=peer.ident,
            )
            return
        if self.ledger.offer_best(
            found.program, found.candidate, found.policy_version, found.metric, found.details
        ):
            self.log.info(
                "best_found",
                candidate=found.candidate,
                program=found.program,
                policy_version=found.policy_version,
                metric=round(found.metric, 4),
                actor=peer.ident,
            )

    def _on_eval_result(self, peer: Peer, result: EvalResult) -> None:
        state = self.candidates.get(result.candidate)
        if state is None or state.pending is None or state.pending.eval_id != result.eval_id:
            self.log.info("eval_result_ignored", candidate=result.candidate, eval_id=result.eval_id)
            return
        pending, state.pending = state.pending, None
        if result.error:
            # Asked again after a backoff, not at once: an actor that keeps answering with an
            # error (e.g. "not assigned" while it re-registers) must not make a busy loop.
            state.eval_failures += 1
            delay = min(EVAL_RETRY_MAX_S, EVAL_RETRY_S * 2 ** (state.eval_failures - 1))
            state.eval_retry_at = time.monotonic() + delay
            self.log.warning(
                "eval_failed",
                candidate=result.candidate,
                error=result.error,
                failures=state.eval_failures,
                retry_in_s=delay,
            )
            if pending.stage == "initial":  # scored later, of whatever version then
                self._end_hold(state, "initial evaluation failed")
            return
        state.eval_failures = 0
        score = self.task.aggregate(result.metrics)
        budget = 0 if pending.stage == "initial" else state.budget
        # Recorded before anything acts on it: a SIGKILL from here on loses nothing.
        self.ledger.add_evaluation(
            EvaluationRecord(
                eval_id=result.eval_id,
                candidate=result.candidate,
                stage=pending.stage,
                budget=budget,
                policy_version=result.policy_version,
                env_steps=state.env_steps,
                score=score,
                programs=list(result.programs),
                metrics=list(result.metrics),
                details=[dict(d) for d in result.details],
            )
        )
        for program, metric, details in zip(
            result.programs, result.metrics, result.details, strict=False
        ):
            if "failure" in details:  # the compiler failed in this episode (see actors)
                continue
            self.ledger.offer_best(
                program, result.candidate, result.policy_version, metric, details
            )
        self.ledger.add_policy(
            result.candidate,
            result.policy_version,
            str(policy_path(state.spec.name, result.policy_version)),
            pending.stage,
        )
        state.scores[pending.stage] = {
            "score": score,
            "budget": budget,
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
            budget=budget,
            programs=list(result.programs),
            metrics=list(result.metrics),
            details=[dict(d) for d in result.details],
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
        if pending.stage == "initial":
            self._end_hold(state, "initial weights scored")
        elif state.phase == "evaluating":
            state.phase = "scored"  # the strategy decides once every replica is scored

    # ------------------------------------------------------------------------- the end
    def stop_everyone(self, reason: str) -> None:
        for peer in list(self.peers.values()):
            self._send(peer, Stop(reason=reason))
        deadline = time.monotonic() + 5.0
        while self.peers and time.monotonic() < deadline:
            self._pump(100)
        self.log.info("supervisor_stop", reason=reason, peers_left=len(self.peers))

    def results(self) -> dict[str, Any]:
        """The run's outcome (also written to results.json): per candidate its scores by stage
        ("initial", "b<budget>", and "final": the one at its highest budget), the strategy's
        winner, and the best result per validation program from the ledger."""
        candidates = []
        for s in self.candidates.values():
            scores = dict(s.scores)
            budgets = [v for k, v in s.scores.items() if k != "initial"]
            if budgets:
                scores["final"] = max(budgets, key=lambda v: v["budget"])
            candidates.append(
                {
                    "spec": asdict(s.spec),
                    "group": s.group,
                    "env_steps": s.env_steps,
                    "version": s.version,
                    "phase": s.phase,
                    "budget": s.budget,
                    "scores": scores,
                    "error": s.error,
                    "seconds": None if s.finished is None else round(s.finished - s.started, 1),
                }
            )
        out = {
            "run_id": self.run_id,
            "task": self.config.task,
            "strategy": self.config.strategy,
            "plan": self.strategy.describe(),
            "winner": self.winner(),
            "env_steps_total": sum(s.env_steps for s in self.candidates.values()),
            "candidates": candidates,
            "rung_scores": [
                {"group": g, "budget": b, "score": sc} for g, b, sc in self.ledger.rung_scores()
            ],
            "best_results": self.ledger.best_results(),
            "dead_peers": self.dead,
            "rejected_messages": self.rejected,
        }
        self.paths.results.write_text(json.dumps(out, indent=2))
        return out

    def winner(self) -> str | None:
        """The best candidate (replica) of the strategy's winning architecture, by its score at
        its highest budget."""
        group = self.strategy.winner()
        if group is None:
            return None
        best: tuple[float, str] | None = None
        for name in self.groups[group]:
            budgets = [v for k, v in self.candidates[name].scores.items() if k != "initial"]
            if budgets:
                top = max(budgets, key=lambda v: (v["budget"], v["score"]))
                if best is None or top["score"] > best[0]:
                    best = (top["score"], name)
        return None if best is None else best[1]

    def _restore_from_ledger(self) -> None:
        """Resume: scores from the recorded evaluations, and the strategy fed the recorded rung
        scores in their order, so it makes the decisions it made before."""
        for record in self.ledger.evaluations():
            state = self.candidates.get(record.candidate)
            if state is None:
                continue
            state.scores[record.stage] = {
                "score": record.score,
                "budget": record.budget,
                "policy_version": record.policy_version,
                "env_steps": record.env_steps,
                "programs": record.programs,
                "metrics": record.metrics,
                "details": record.details,
            }
            state.env_steps = max(state.env_steps, record.env_steps)
        for group, budget, score in self.ledger.rung_scores():
            if group in self.groups:
                self.strategy.replay_report(group, budget, score)
                self.reported.add((group, budget))
                for name in self.groups[group]:
                    self.candidates[name].budget = budget
                    self.candidates[name].phase = (
                        "done" if self.strategy.status(group) == "done" else "paused"
                    )
        self.log.info(
            "supervisor_resume",
            evaluations=len(self.ledger.evaluations()),
            rung_scores=len(self.reported),
        )

    def close(self) -> None:
        self.control.socket.close(linger=0)
        if self.zap is not None:
            self.zap.stop()
        self.ctx.term()
        self.ledger.close()
        self.forwarded.close()
