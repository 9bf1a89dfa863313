"""The actor process: compile-and-measure steps with a local policy, streamed to a learner.

An actor connects to the supervisor (DEALER), says HELLO, heartbeats, and waits for an ASSIGN.
Then it creates the task's env with the candidate's state and reward functions (anything
task-specific, such as what a reward is computed from, goes through the task's `EpisodeScorer`),
subscribes to the candidate's weights (SUB) and pushes trajectory segments to its learner
(PUSH). It acts with
the newest weights it has (numpy only: an actor needs no torch), tags every segment with the
weights version that produced it, and starts a new segment whenever new weights arrive.

Flow control: the PUSH socket has a small high-water mark; when the learner falls behind, a
segment cannot be sent, the actor stops stepping (bounded memory) and keeps heartbeating until
it goes through. If the supervisor goes silent the actor reconnects with exponential backoff
and carries on with its assignment meanwhile. SIGTERM/SIGINT flush the partial segment, say
BYE and exit 0; a REJECT (e.g. another protocol version) is printed as one line, exit 3.

Who runs the policy is the ASSIGN's `inference` ("local", "central", "auto"; see
supersonic.actors.remote): with central inference the actor asks its learner for every action
(`RemotePolicy`), tags segments with the version that answered, and backs off (logged) while the
learner does not answer.

With a key directory (`--keys`) all its sockets are CurveZMQ clients of the run's servers; a
supervisor that refuses its key is reported like a REJECT (see supersonic.protocol.security).
"""

from __future__ import annotations

import os
import platform
import signal
import socket
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import zmq

from supersonic import logs
from supersonic.actors.policy import NumpyPolicy, action_choices
from supersonic.actors.remote import InferenceUnavailable, RemotePolicy, local_policy
from supersonic.envs import get_task, task_names
from supersonic.envs.task import EpisodeScorer, RewardFunction, StateFunction, env_observation
from supersonic.protocol.forward import EventForwarder
from supersonic.protocol.messages import (
    PROTOCOL_VERSION,
    Assign,
    BestFound,
    Bye,
    CandidateSpec,
    EvalRequest,
    EvalResult,
    Heartbeat,
    Hello,
    Message,
    Release,
    Scalar,
    Stop,
    Transitions,
    Weights,
    WeightsRequest,
)
from supersonic.protocol.peer import ControlLink
from supersonic.protocol.security import Security
from supersonic.protocol.transport import Channel

PUSH_HWM = 2  # segments queued towards the learner before the actor pauses
# Kernel socket buffers hold messages beyond ZeroMQ's high-water mark: with the default (MBs
# on loopback) hundreds of small segments would queue and the data the learner sees would be
# many policy versions old. Keep them small so the high-water marks bound what is in flight.
SOCKET_BUFFER_BYTES = 32 * 1024
EXIT_REJECTED = 3
WEIGHTS_WAIT_S = 120.0
INFERENCE_BACKOFF_S = (0.5, 10.0)  # central inference: first wait after a failure, and the cap


@dataclass(frozen=True)
class ActorOptions:
    connect: str  # the supervisor's control endpoint
    ident: str = ""
    label: str = ""
    tasks: tuple[str, ...] = ()  # the tasks this actor offers; empty: every registered one
    cores: int = 1
    log_path: Path | None = None
    protocol_version: int = PROTOCOL_VERSION  # only tests change this
    reconnect_max_s: float = 10.0
    # Send our events to the supervisor for the run's events.jsonl. Off only for the actors
    # `supersonic launch` starts itself: they append to that file directly.
    forward_events: bool = True
    keys: Path | None = None  # CurveZMQ key directory (see supersonic.protocol.security)


@dataclass
class _Segment:
    """Rows of one trajectory segment under construction."""

    obs: list[np.ndarray] = field(default_factory=list)
    actions: list[int] = field(default_factory=list)
    rewards: list[float] = field(default_factory=list)
    terminated: list[bool] = field(default_factory=list)
    truncated: list[bool] = field(default_factory=list)
    logp: list[float] = field(default_factory=list)
    values: list[float] = field(default_factory=list)
    episode_returns: list[float] = field(default_factory=list)
    episode_scores: list[float] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.actions)


class _Work:
    """One assignment: the env, sockets and episode state for one candidate."""

    def __init__(
        self,
        assign: Assign,
        ctx: zmq.Context[zmq.Socket[bytes]],
        ident: str,
        security: Security,
    ) -> None:
        self.assign = assign
        self.spec: CandidateSpec = assign.candidate
        task = get_task(assign.task)
        self.n_actions = task.n_actions
        self.state_fn: StateFunction = task.state_fn(self.spec.state_fn)
        self.reward_fn: RewardFunction = task.reward_fn(self.spec.reward_fn)
        self.scorer: EpisodeScorer = task.scorer(self.reward_fn)
        self.env: Any = task.make_env(
            assign.programs[0],
            observation=env_observation(self.state_fn),
            max_episode_steps=assign.episode_length,
            **{**self.reward_fn.env_options, **assign.env_options},
        )
        push = ctx.socket(zmq.PUSH)
        push.setsockopt(zmq.SNDHWM, PUSH_HWM)
        push.setsockopt(zmq.SNDBUF, SOCKET_BUFFER_BYTES)
        push.setsockopt(zmq.LINGER, 2000)
        security.client(push)
        push.connect(assign.transitions_endpoint)
        self.push = Channel(push, ident)
        sub = ctx.socket(zmq.SUB)
        sub.setsockopt(zmq.LINGER, 0)
        sub.setsockopt_string(zmq.SUBSCRIBE, self.spec.name)
        security.client(sub)
        sub.connect(assign.weights_endpoint)
        self.sub = Channel(sub, ident, topic=True)
        self.rng = np.random.default_rng(assign.seed)
        self.policy: NumpyPolicy | RemotePolicy | None = None
        self.remote: RemotePolicy | None = None  # central inference, once needed
        self.retry_at = 0.0  # central inference failed: do not step before this time
        self.backoff = INFERENCE_BACKOFF_S[0]
        self.version = -1
        self.segment = _Segment()
        self.pending: Transitions | None = None  # a segment the learner could not take yet
        self.batch_seq = 0
        self.first_seq = 0  # the numbering of an actor continues across its assignments
        self.obs: np.ndarray | None = None  # None: start a new episode at the next step
        self.first_reset = True  # the first reset seeds the env (tasks with random starts)
        self.episode_return = 0.0
        self.program = ""  # the program of the episode under way
        self.best_found: dict[str, float] = {}  # per program, the best training episode's metric
        self.last_weights_request = 0.0
        self.stream = True  # False: build no segments at all (benchmarks of the env alone)

    def central(self, ctx: zmq.Context[zmq.Socket[bytes]], ident: str, security: Security) -> None:
        """Use the learner's inference endpoint from now on (see supersonic.actors.remote)."""
        if self.remote is None:
            self.remote = RemotePolicy(
                ctx,
                self.assign.inference_endpoint,
                self.spec.name,
                ident,
                self.n_actions,
                security,
            )
        self.policy = self.remote

    def close(self) -> None:
        if self.remote is not None:
            self.remote.close()
        self.env.close()
        self.push.socket.close()
        self.sub.socket.close()


class Actor:
    """See the module docstring."""

    def __init__(self, options: ActorOptions) -> None:
        self.options = options
        self.ident = options.ident or default_ident()
        buffer = logs.EventBuffer() if options.forward_events else None
        self.log = logs.configure("actor", self.ident, options.log_path, forward=buffer)
        self.ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        self.security = Security.from_dir(options.keys)
        self.link = ControlLink(
            self.ctx,
            options.connect,
            self.ident,
            self._hello,
            self.log,
            version=options.protocol_version,
            reconnect_max_s=options.reconnect_max_s,
            security=self.security,
        )
        self.forwarder = None if buffer is None else EventForwarder(buffer, self.link)
        self.work: _Work | None = None
        self.evals: list[EvalRequest] = []
        self.stopping = False
        self.exit_code = 0
        self.env_steps = 0
        self.rate = _Rate()
        self.next_seq: dict[str, int] = {}  # candidate -> its next batch_seq (see learners/streams)

    # ------------------------------------------------------------------------ main loop
    def run(self) -> int:
        signal.signal(signal.SIGTERM, self._on_signal)
        signal.signal(signal.SIGINT, self._on_signal)
        self.link.connect()
        self.link.start_heartbeats(self._heartbeat)
        try:
            while not self.stopping:
                self._pump(0 if self._can_step() else 50)
                self._keep_alive()
                if self.stopping:
                    break
                if self.evals and self._ready_for_eval(self.evals[0]):
                    self._evaluate(self.evals.pop(0))
                elif self._can_step():
                    self._step()
        except Exception:
            self.log.exception("actor_crash")
            self.exit_code = 1
        finally:
            self._shutdown()
        return self.exit_code

    def _on_signal(self, signum: int, _frame: Any) -> None:
        self.log.info("actor_signal", signal=signal.Signals(signum).name)
        self.stopping = True

    def _can_step(self) -> bool:
        w = self.work
        return (
            w is not None
            and w.policy is not None
            and w.pending is None
            and time.monotonic() >= w.retry_at
        )

    # ----------------------------------------------------------------- control channel
    def _hello(self) -> Hello:
        return Hello(
            role="actor",
            host=socket.gethostname(),
            pid=os.getpid(),
            tasks=list(self.options.tasks or task_names()),
            cores=self.options.cores,
            label=self.options.label,
        )

    def _keep_alive(self) -> None:
        self.link.tick(self._heartbeat)
        if self.forwarder is not None:
            self.forwarder.tick()
        w = self.work
        now = time.monotonic()
        if w is not None and w.policy is None and now - w.last_weights_request > 2.0:
            w.last_weights_request = now
            self.link.send(WeightsRequest(candidate=w.spec.name, have_version=w.version))
        if w is not None and w.pending is not None:
            self._try_send(w)

    def _heartbeat(self) -> Heartbeat:
        w = self.work
        state = "idle" if w is None else ("evaluating" if self.evals else "training")
        return Heartbeat(
            state=state,
            candidate=w.spec.name if w else "",
            env_steps=self.env_steps,
            steps_per_s=self.rate.value,
            policy_version=w.version if w else -1,
        )

    def _pump(self, timeout_ms: int) -> None:
        """Handle every message waiting on the control and weights sockets."""
        poller = zmq.Poller()
        poller.register(self.link.socket, zmq.POLLIN)
        w = self.work
        if w is not None:
            poller.register(w.sub.socket, zmq.POLLIN)
        with self.link.lock:  # the heartbeat thread shares the control socket
            events = dict(poller.poll(timeout_ms))
        if self.link.socket in events:
            for message in self.link.receive():
                self._on_control(message)
                if self.stopping:
                    return
        if self.link.rejected is not None:
            print(
                f"error: the supervisor refused this actor: {self.link.rejected}",
                file=sys.stderr,
            )
            self.exit_code = EXIT_REJECTED
            self.stopping = True
            return
        w = self.work
        if w is not None and w.sub.socket in events:
            latest: Weights | None = None
            while (received := w.sub.recv(block=False)) is not None:
                if isinstance(received.message, Weights):
                    latest = received.message
            if latest is not None:
                self._on_weights(w, latest)

    def _on_control(self, msg: Message) -> None:
        if isinstance(msg, Assign):
            self._on_assign(msg)
        elif isinstance(msg, Release):
            if self.work is not None and self.work.spec.name == msg.candidate:
                self._drop_work(f"released: {msg.reason}")
        elif isinstance(msg, EvalRequest):
            self.evals.append(msg)
        elif isinstance(msg, Stop):
            self.log.info("actor_stop", reason=msg.reason)
            self.stopping = True

    # ---------------------------------------------------------------------- assignment
    def _on_assign(self, assign: Assign) -> None:
        w = self.work
        if w is not None and (w.spec, w.assign.transitions_endpoint) == (
            assign.candidate,
            assign.transitions_endpoint,
        ):
            return  # the same work again (we rejoined after a silence): keep its sockets
        if self.work is not None:
            self._drop_work(f"reassigned to {assign.candidate.name}")
        try:
            self.work = _Work(assign, self.ctx, self.ident, self.security)
        except Exception as exc:  # a bad assignment must not kill the actor
            self.log.error("assign_failed", candidate=assign.candidate.name, error=str(exc))
            self.work = None
            return
        self.work.batch_seq = self.work.first_seq = self.next_seq.get(assign.candidate.name, 0)
        self.log.info(
            "actor_assigned",
            candidate=assign.candidate.name,
            programs=len(assign.programs),
            inference=assign.inference,
        )
        if assign.inference == "central":  # no weights needed: the learner runs the policy
            if not assign.inference_endpoint:
                self.log.error(
                    "assign_failed",
                    candidate=assign.candidate.name,
                    error="inference is central but the learner serves none",
                )
                self.work.close()
                self.work = None
                return
            self.work.central(self.ctx, self.ident, self.security)
            return
        self.link.send(WeightsRequest(candidate=assign.candidate.name, have_version=-1))
        self.work.last_weights_request = time.monotonic()

    def _drop_work(self, reason: str) -> None:
        w = self.work
        assert w is not None
        self._flush(w, cut=True)
        if w.pending is not None:
            self._try_send(w, block_s=2.0)
        self.evals = [e for e in self.evals if e.candidate != w.spec.name]
        self.next_seq[w.spec.name] = w.batch_seq
        # For the run's accounting (launch/accounting.py): numbers first_seq..next_seq-1 went
        # to the learner, but for `unsent` (the last, which it could not take in time).
        self.log.info(
            "actor_segments",
            candidate=w.spec.name,
            pid=os.getpid(),
            first_seq=w.first_seq,
            next_seq=w.batch_seq,
            unsent=int(w.pending is not None),
        )
        w.close()
        self.work = None
        self.log.info("actor_released", candidate=w.spec.name, reason=reason)

    def _on_weights(self, w: _Work, weights: Weights) -> None:
        if weights.candidate != w.spec.name or weights.version <= w.version:
            return
        if w.assign.inference == "central":
            return  # the versions come with the inference replies
        try:
            policy = local_policy(
                w.assign.inference,
                dict(weights.arch),
                dict(weights.tensors),
                bool(w.assign.inference_endpoint),
            )
        except ValueError as exc:
            self.log.error("bad_weights", candidate=w.spec.name, error=str(exc))
            return
        if policy is None:  # auto: numpy cannot run these weights, the learner can
            if w.remote is None:
                self.log.info(
                    "central_inference",
                    candidate=w.spec.name,
                    kind=str(weights.arch.get("kind")),
                    endpoint=w.assign.inference_endpoint,
                )
                self._flush(w)
                w.central(self.ctx, self.ident, self.security)
            return
        if policy.obs_dim != w.state_fn.dim:
            self.log.error(
                "bad_weights",
                candidate=w.spec.name,
                error=f"policy expects {policy.obs_dim} inputs, state has {w.state_fn.dim}",
            )
            return
        self._flush(w)  # a segment holds transitions of one policy version only
        w.policy, w.version = policy, weights.version
        if w.remote is not None:  # auto, and the weights became runnable here again
            w.remote.close()
            w.remote = None

    # ------------------------------------------------------------------------- stepping
    def _start_episode(self, w: _Work) -> None:
        program = w.assign.programs[int(w.rng.integers(len(w.assign.programs)))]
        seed = w.assign.seed if w.first_reset else None
        w.first_reset = False
        restarts = getattr(w.env, "service_restarts", 0)
        raw, info = w.env.reset(seed=seed, options={"benchmark": program})
        if getattr(w.env, "service_restarts", 0) != restarts:  # a failed start, retried
            self.log.warning(
                "env_failure", candidate=w.spec.name, failure=w.env.last_failure, at="reset"
            )
        w.obs = w.state_fn(raw)
        w.scorer.start(info)
        w.episode_return = 0.0
        w.program = program

    def _step(self) -> None:
        w = self.work
        assert w is not None and w.policy is not None
        if w.obs is None:
            self._start_episode(w)
        assert w.obs is not None
        try:
            action, logp, value = w.policy.act(w.obs, w.rng)
        except InferenceUnavailable as exc:
            self._inference_failed(w, str(exc))
            return
        remote = isinstance(w.policy, RemotePolicy)
        if remote:
            self._inference_answered(w, value)
        raw, env_reward, terminated, truncated, info = w.env.step(action)
        if "failure" in info:
            reward = float(env_reward)
            self.log.warning("env_failure", candidate=w.spec.name, failure=info["failure"])
        else:
            reward = w.scorer.step(float(env_reward), info)
        seg = w.segment
        if w.stream:
            seg.obs.append(w.obs)
            seg.actions.append(action)
            seg.rewards.append(reward)
            seg.terminated.append(bool(terminated))
            seg.truncated.append(bool(truncated))
            seg.logp.append(logp)
            seg.values.append(value)
        w.episode_return += reward
        self.env_steps += 1
        self.rate.tick()
        if terminated or truncated:
            seg.episode_returns.append(w.episode_return)
            seg.episode_scores.append(w.scorer.score())
            w.obs = None
            if "failure" not in info:
                self._offer_best(w, seg.episode_scores[-1])
        else:
            w.obs = w.state_fn(raw)
        if w.stream and len(seg) >= w.assign.batch_size and not remote:
            self._flush(w)  # (central: flushed at the next step, with the value it brings)

    def _offer_best(self, w: _Work, metric: float) -> None:
        """Send BEST_FOUND when this episode beats every earlier one on its program (each
        offer beats the last, so there are few of them): the search's best results include
        what it measured while training, not only its evaluations."""
        if not w.program or metric <= w.best_found.get(w.program, float("-inf")):
            return
        w.best_found[w.program] = metric
        self.link.send(
            BestFound(
                candidate=w.spec.name,
                program=w.program,
                policy_version=w.version,
                metric=float(metric),
                details=dict(w.scorer.details()),
            )
        )

    def _inference_answered(self, w: _Work, value: float) -> None:
        """After a central answer: a new version or a full segment ends the segment, with the
        answer's value of the current observation as its bootstrap (no extra round trip)."""
        assert w.remote is not None
        if w.retry_at:
            self.log.info("inference_recovered", candidate=w.spec.name, version=w.remote.version)
            w.retry_at, w.backoff = 0.0, INFERENCE_BACKOFF_S[0]
        if w.remote.version != w.version or len(w.segment) >= w.assign.batch_size:
            self._flush(w, bootstrap=value)
            w.version = w.remote.version

    def _inference_failed(self, w: _Work, error: str) -> None:
        """The learner did not answer: wait (doubling) before asking again; meanwhile the actor
        heartbeats and handles control messages, and nothing is stepped."""
        self.log.warning(
            "inference_unavailable", candidate=w.spec.name, error=error, retry_s=w.backoff
        )
        w.retry_at = time.monotonic() + w.backoff
        w.backoff = min(w.backoff * 2, INFERENCE_BACKOFF_S[1])

    def _flush(self, w: _Work, cut: bool = False, bootstrap: float | None = None) -> None:
        """Turn the rows collected so far into a TRANSITIONS message and try to send it.

        `cut` marks the last row truncated: the episode will not continue (release, eval).
        `bootstrap`: V(current observation) when the caller has it (central inference).
        """
        seg = w.segment
        if not len(seg):
            return
        if w.pending is not None:  # the previous segment is still waiting: never overwrite it
            self._try_send(w, block_s=1.0)
            if w.pending is not None:
                self.log.warning("segment_dropped", candidate=w.spec.name, rows=len(seg))
                w.segment = _Segment()
                if cut:
                    w.obs = None
                return
        if cut and w.obs is not None:
            seg.truncated[-1] = True
            w.obs = None
        if w.obs is not None and bootstrap is None and isinstance(w.policy, RemotePolicy):
            seg.truncated[-1] = True  # no value without a round trip: end the episode here
            w.obs = None
        if w.obs is None or w.policy is None:
            bootstrap = 0.0
        elif bootstrap is None:
            bootstrap = float(w.policy.value(w.obs))
        w.pending = Transitions(
            candidate=w.spec.name,
            actor=self.ident,
            batch_seq=w.batch_seq,
            policy_version=w.version,
            obs=np.stack(seg.obs).astype(np.float32, copy=False),
            actions=np.asarray(seg.actions, dtype=np.int64),
            rewards=np.asarray(seg.rewards, dtype=np.float32),
            terminated=np.asarray(seg.terminated, dtype=bool),
            truncated=np.asarray(seg.truncated, dtype=bool),
            logp=np.asarray(seg.logp, dtype=np.float32),
            values=np.asarray(seg.values, dtype=np.float32),
            bootstrap_value=float(bootstrap),
            episode_returns=seg.episode_returns,
            episode_scores=seg.episode_scores,
        )
        w.batch_seq += 1
        w.segment = _Segment()
        self._try_send(w)

    def _try_send(self, w: _Work, block_s: float = 0.0) -> None:
        assert w.pending is not None
        deadline = time.monotonic() + block_s
        while True:
            if w.push.send(w.pending, block=False):
                w.pending = None
                return
            if time.monotonic() >= deadline:
                return
            time.sleep(0.01)

    # ----------------------------------------------------------------------- evaluation
    def _ready_for_eval(self, request: EvalRequest) -> bool:
        w = self.work
        if w is None or w.spec.name != request.candidate:
            self.link.send(self._eval_error(request, "not assigned to this candidate"))
            self.evals.pop(0)
            return False
        return w.policy is not None and w.version >= request.min_version

    def _eval_error(self, request: EvalRequest, error: str) -> EvalResult:
        return EvalResult(
            eval_id=request.eval_id,
            candidate=request.candidate,
            policy_version=-1,
            programs=list(request.programs),
            metrics=[],
            details=[],
            env_steps=0,
            error=error,
        )

    def _evaluate(self, request: EvalRequest) -> None:
        """Run the policy deterministically on each program and score it with the task's
        scorer (LLVM: the best module along the rollout counts, as a deployed policy keeps the
        best module it has seen)."""
        w = self.work
        assert w is not None and w.policy is not None
        self._flush(w, cut=True)
        policy, version = w.policy, w.version
        metrics: list[float] = []
        details: list[dict[str, Scalar]] = []
        scorer = w.scorer  # training restarts its episode after the evaluation anyway
        steps = 0
        self.log.info(
            "eval_start",
            candidate=w.spec.name,
            eval_id=request.eval_id,
            policy_version=version,
            programs=len(request.programs),
        )
        for program in request.programs:
            raw, info = w.env.reset(options={"benchmark": program})
            scorer.start(info)
            failure = ""
            for _ in range(request.episode_length):
                try:
                    action, _, _ = policy.act(
                        w.state_fn(raw), w.rng, deterministic=True, choices=action_choices(w.env)
                    )
                except InferenceUnavailable as exc:  # the supervisor asks again later
                    self._inference_failed(w, str(exc))
                    w.obs = None
                    self.link.send(self._eval_error(request, f"central inference: {exc}"))
                    return
                raw, env_reward, terminated, truncated, info = w.env.step(action)
                steps += 1
                if "failure" in info:
                    failure = str(info["failure"])
                    self.log.warning(
                        "env_failure",
                        candidate=w.spec.name,
                        failure=failure,
                        eval_id=request.eval_id,
                    )
                    break
                scorer.step(float(env_reward), info)
                if terminated or truncated:
                    break
            metrics.append(scorer.score())
            details.append(dict(scorer.details()))
            if failure:  # the score stands, but the supervisor offers no best result from it
                details[-1]["failure"] = failure[:200]
            self._pump(0)  # stay responsive (heartbeat answers, STOP) between programs
            self._keep_alive()
            if self.stopping or self.work is not w:
                return
        w.obs = None
        self.link.send(
            EvalResult(
                eval_id=request.eval_id,
                candidate=w.spec.name,
                policy_version=version,
                programs=list(request.programs),
                metrics=metrics,
                details=details,
                env_steps=steps,
            )
        )
        self.log.info(
            "eval_done",
            candidate=w.spec.name,
            eval_id=request.eval_id,
            policy_version=version,
            metrics=[round(m, 4) for m in metrics],
        )

    # ------------------------------------------------------------------------- shutdown
    def _shutdown(self) -> None:
        if self.work is not None and self.exit_code == 0:
            self._drop_work("shutting down")
        elif self.work is not None:
            self.work.close()
            self.work = None
        if self.forwarder is not None:
            self.forwarder.flush()
        self.link.close(Bye(reason="stopped") if self.exit_code == 0 else None)
        self.ctx.term()
        self.log.info("actor_exit", code=self.exit_code, env_steps=self.env_steps)


class _Rate:
    """Steps per second, as an exponential moving average over ~5 s."""

    def __init__(self) -> None:
        self.value = 0.0
        self._count = 0
        self._since = time.monotonic()

    def tick(self) -> None:
        self._count += 1
        now = time.monotonic()
        if now - self._since >= 1.0:
            current = self._count / (now - self._since)
            self.value = current if self.value == 0 else 0.8 * self.value + 0.2 * current
            self._count, self._since = 0, now


def machine_label() -> str:
    """This machine's CPU model (Linux), else its architecture: the default target label."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "Hardware") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.machine()


def default_ident() -> str:
    return f"actor-{socket.gethostname()}-{os.getpid()}"


def run_actor(options: ActorOptions) -> int:
    return Actor(options).run()
