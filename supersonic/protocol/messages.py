"""Every message of the SuperSonic wire protocol, as a typed dataclass.

On the wire a message is a msgpack map `{v, t, src, seq, ...fields}` (see `codec` and
docs/protocol.md). The field names here are the wire names. Field types are limited to what the
codec can check: str, int, float, bool, lists of those, `dict[str, Scalar]`, numpy arrays,
`dict[str, ndarray]`, lists of `dict[str, Scalar]`, and the nested `CandidateSpec`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar, Union

import numpy as np

PROTOCOL_VERSION = 6  # 2: EVAL_RESULT `details`; TRAIN_UNTIL. 3: EVENTS. 4: central inference
# 5: ASSIGN `env_options`. 6: BEST_FOUND; INFER_REQUEST `choices`

# A JSON-like scalar: what `dict[str, Scalar]` fields (hyperparameters, metrics, log fields) hold.
Scalar = Union[str, int, float, bool, None]  # noqa: UP007 (get_type_hints needs a runtime type)


@dataclass(frozen=True)
class CandidateSpec:
    """One RL architecture to try: algorithm x state function x reward function (+ its seed)."""

    name: str
    algorithm: str
    state_fn: str
    reward_fn: str
    hyperparameters: dict[str, Scalar] = field(default_factory=dict)
    seed: int = 0


@dataclass(frozen=True)
class Header:
    """The fields every message carries."""

    v: int  # protocol version of the sender
    t: str  # message type, e.g. "HELLO"
    src: str  # sender id, unique in the run (e.g. "actor-host-1234")
    seq: int  # per-sender sequence number, starting at 0


class Message:
    """Base of all message types; `TYPE` is the value of the wire field `t`."""

    TYPE: ClassVar[str] = ""


@dataclass(frozen=True)
class Hello(Message):
    """First message of an actor or learner to the supervisor."""

    TYPE: ClassVar[str] = "HELLO"
    role: str  # "actor" or "learner"
    host: str
    pid: int
    tasks: list[str] = field(default_factory=list)  # tasks this process can run
    cores: int = 1
    label: str = ""  # free-form target label (e.g. the CPU model of a board)
    candidate: CandidateSpec | None = None  # learners: the candidate they train
    transitions_endpoint: str = ""  # learners: where actors PUSH transitions
    weights_endpoint: str = ""  # learners: where actors SUBscribe to weights
    inference_endpoint: str = ""  # learners: where actors ask for actions ("": not served)


@dataclass(frozen=True)
class Welcome(Message):
    """The supervisor accepted a HELLO."""

    TYPE: ClassVar[str] = "WELCOME"
    run_id: str
    heartbeat_interval_s: float
    heartbeat_timeout_s: float


@dataclass(frozen=True)
class Reject(Message):
    """The supervisor refused a HELLO (e.g. another protocol version); the peer must exit."""

    TYPE: ClassVar[str] = "REJECT"
    reason: str
    supervisor_version: int = PROTOCOL_VERSION
    rehello: bool = False  # not fatal: "I do not know you (I restarted), say HELLO again"


@dataclass(frozen=True)
class Heartbeat(Message):
    """Liveness and progress, both ways: peers send them, the supervisor answers each one."""

    TYPE: ClassVar[str] = "HEARTBEAT"
    state: str = ""  # actors: idle / training / evaluating; learners: training
    candidate: str = ""
    env_steps: int = 0  # actors: env steps taken in total; learners: transitions consumed
    steps_per_s: float = 0.0
    policy_version: int = 0
    metrics: dict[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class Assign(Message):
    """Supervisor -> actor: collect experience for a candidate, from these programs."""

    TYPE: ClassVar[str] = "ASSIGN"
    candidate: CandidateSpec
    transitions_endpoint: str
    weights_endpoint: str
    programs: list[str]
    episode_length: int
    batch_size: int  # transitions per TRANSITIONS message
    seed: int
    task: str = "llvm-codesize"  # the task whose env, state and reward functions to use
    inference_endpoint: str = ""  # the learner's INFER_REQUEST endpoint ("": it serves none)
    inference: str = "auto"  # "local" | "central" | "auto": who runs the policy (see actors)
    # Env constructor options from the run config (e.g. {"step_timeout_s": 5.0}); {}: defaults.
    env_options: dict[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class Release(Message):
    """Supervisor -> actor: stop working for this candidate (flush what you have)."""

    TYPE: ClassVar[str] = "RELEASE"
    candidate: str
    reason: str = ""


@dataclass(frozen=True)
class Transitions(Message):
    """Actor -> learner: one contiguous trajectory segment from one env, N steps long.

    Row i is (obs_i, action_i, reward_i, terminated_i, truncated_i) with the behaviour policy's
    log-probability and value estimate; `bootstrap_value` is V(obs after the last row) when the
    segment ends mid-episode (0 otherwise).
    """

    TYPE: ClassVar[str] = "TRANSITIONS"
    candidate: str
    actor: str
    batch_seq: int  # per (actor, candidate) sequence number, to detect loss and duplicates
    policy_version: int  # the weights version that chose these actions
    obs: np.ndarray  # float32 [N, D]
    actions: np.ndarray  # int64 [N]
    rewards: np.ndarray  # float32 [N]
    terminated: np.ndarray  # bool [N]
    truncated: np.ndarray  # bool [N]
    logp: np.ndarray  # float32 [N]
    values: np.ndarray  # float32 [N]
    bootstrap_value: float = 0.0
    episode_returns: list[float] = field(default_factory=list)  # episodes that ended here
    episode_scores: list[float] = field(default_factory=list)  # their task metric


@dataclass(frozen=True)
class Weights(Message):
    """Learner -> actors (PUB, topic = candidate name): a versioned policy.

    `arch` describes the network so that actors can run it without the learner's code. It holds
    only scalars, so layer lists are comma-separated strings; for the MLP:
    {"kind": "mlp", "activation": "tanh", "pi_layers": "pi.0,pi.1,pi.2", "v_layers": "v.0,v.1,v.2"}
    with tensors "<layer>.weight" [out, in] and "<layer>.bias" [out] (see docs/protocol.md).
    """

    TYPE: ClassVar[str] = "WEIGHTS"
    candidate: str
    version: int
    arch: dict[str, Scalar]
    tensors: dict[str, np.ndarray]


@dataclass(frozen=True)
class InferRequest(Message):
    """Actor -> learner (DEALER -> ROUTER): central inference, for an actor that cannot (or is
    told not to) run the policy itself: choose actions for these observations."""

    TYPE: ClassVar[str] = "INFER_REQUEST"
    candidate: str
    request_id: int  # quoted in the reply: a late reply to an abandoned request is dropped
    obs: np.ndarray  # float32 [N, D]
    deterministic: bool = False  # argmax (evaluation) instead of sampling
    have_version: int = -1  # the newest version this actor has been answered with
    choices: int = 0  # > 0: actions a and a + choices are the same choice (folded argmax)


@dataclass(frozen=True)
class InferReply(Message):
    """Learner -> actor: the answer to one INFER_REQUEST, computed by the learner's current
    network; `logp` and `values` are what the actor puts in its TRANSITIONS rows."""

    TYPE: ClassVar[str] = "INFER_REPLY"
    candidate: str
    request_id: int
    policy_version: int  # the version that chose these actions (-1 with an error)
    actions: np.ndarray  # int64 [N]
    logp: np.ndarray  # float32 [N]: log-probability of each action under that version
    values: np.ndarray  # float32 [N]: its value estimate of each observation
    error: str = ""  # non-empty: nothing was computed (the arrays are then empty)


@dataclass(frozen=True)
class WeightsRequest(Message):
    """Actor -> supervisor -> learner: I am new (or behind); publish your weights now."""

    TYPE: ClassVar[str] = "WEIGHTS_REQUEST"
    candidate: str
    have_version: int = -1


@dataclass(frozen=True)
class EvalRequest(Message):
    """Supervisor -> actor: run the candidate's policy deterministically on these programs."""

    TYPE: ClassVar[str] = "EVAL_REQUEST"
    eval_id: str
    candidate: str
    programs: list[str]
    min_version: int  # wait for weights at least this new before evaluating
    episode_length: int


@dataclass(frozen=True)
class EvalResult(Message):
    """Actor -> supervisor: per-program results of an EVAL_REQUEST."""

    TYPE: ClassVar[str] = "EVAL_RESULT"
    eval_id: str
    candidate: str
    policy_version: int
    programs: list[str]
    metrics: list[float]  # the task metric per program (leaderboard metric for LLVM)
    details: list[dict[str, Scalar]]  # per program, the measurements behind its metric
    env_steps: int
    error: str = ""  # non-empty when the evaluation could not run


@dataclass(frozen=True)
class BestFound(Message):
    """Actor -> supervisor: a training episode on `program` scored higher than every earlier
    one this actor ran there for `candidate`. Offered to the ledger as the program's best
    result, like an evaluation's (and validated with them at the end of the run): a search
    measures its best schedules while it trains, and a tuner keeps every measured record."""

    TYPE: ClassVar[str] = "BEST_FOUND"
    candidate: str
    program: str
    policy_version: int  # the weights that chose it (sampling, as in training)
    metric: float  # the task metric of the episode, as an evaluation scores it
    details: dict[str, Scalar]  # the scorer's details (what validation rebuilds it from)


@dataclass(frozen=True)
class TrainUntil(Message):
    """Supervisor -> learner: take transitions until `env_steps` in total, then stop taking
    them (what stays queued holds the actors back) until a larger budget comes."""

    TYPE: ClassVar[str] = "TRAIN_UNTIL"
    candidate: str
    env_steps: int


@dataclass(frozen=True)
class Score(Message):
    """Supervisor -> learner: the candidate's validation score at a policy version."""

    TYPE: ClassVar[str] = "SCORE"
    candidate: str
    policy_version: int
    score: float
    stage: str = ""


@dataclass(frozen=True)
class Log(Message):
    """Any process -> supervisor: a structured log event to write into the run's events."""

    TYPE: ClassVar[str] = "LOG"
    level: str
    event: str
    fields: dict[str, Scalar] = field(default_factory=dict)


@dataclass(frozen=True)
class Events(Message):
    """Actor -> supervisor: a batch of the actor's own event lines (JSON objects, as it wrote
    them to its log), for the run's events.jsonl; `dropped`: lines it could not keep before
    these (its buffer is bounded while the supervisor is unreachable)."""

    TYPE: ClassVar[str] = "EVENTS"
    lines: list[str]
    dropped: int = 0


@dataclass(frozen=True)
class Stop(Message):
    """Supervisor -> any process: finish cleanly and exit."""

    TYPE: ClassVar[str] = "STOP"
    reason: str = ""


@dataclass(frozen=True)
class Bye(Message):
    """Any process -> supervisor: I am leaving (after STOP, SIGTERM or a fatal error)."""

    TYPE: ClassVar[str] = "BYE"
    reason: str = ""


MESSAGE_TYPES: dict[str, type[Message]] = {
    cls.TYPE: cls
    for cls in (
        Hello,
        Welcome,
        Reject,
        Heartbeat,
        Assign,
        Release,
        Transitions,
        Weights,
        InferRequest,
        InferReply,
        WeightsRequest,
        EvalRequest,
        EvalResult,
        BestFound,
        TrainUntil,
        Score,
        Log,
        Events,
        Stop,
        Bye,
    )
}
