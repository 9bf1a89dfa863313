"""The run configuration (`RUN.toml`), its validation, and the embedded default.

Everything a user can get wrong is checked at load time with a one-line message that lists the
valid choices: an unknown task, algorithm, state or reward function, a hyperparameter outside
its declared range, an empty candidate list, budgets that make no sense.
"""

from __future__ import annotations

import contextlib
import tomllib
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from supersonic.actors.remote import INFERENCE_MODES
from supersonic.envs import get_task
from supersonic.launch.backend_config import (
    BackendConfigError,
    RaySettings,
    SlurmSettings,
    parse_ray,
    parse_slurm,
)
from supersonic.launch.cluster import ClusterError, HostConfig, parse_hosts
from supersonic.launch.space import expand_space, replicate
from supersonic.protocol.messages import CandidateSpec, Scalar


class ConfigError(ValueError):
    """The run configuration is invalid; the message says what to change."""


@dataclass(frozen=True)
class RunConfig:
    name: str
    task: str
    candidates: tuple[CandidateSpec, ...]
    actors: int = 2
    seed: int = 0
    steps_per_candidate: int = 10_000
    episode_length: int = 30  # when the config omits it: the task's own, else 30
    batch_size: int = 64
    train: str = ""  # dataset:split; empty means the task's own
    validation: str = ""
    eval_initial: bool = True
    heartbeat_interval_s: float = 1.0
    heartbeat_timeout_s: float = 6.0
    # Seconds one env step may take before it counts as a failure (LLVM: a hung compile step);
    # 0: the task's env decides (LLVM: 60 s). Reaches the env through ASSIGN's env_options.
    step_timeout_s: float = 0.0
    device: str = "cpu"
    # torch threads per learner process (0: torch's default, one per core). Learners of one
    # search share the head's cores, and their small networks gain little from threads: with
    # torch's default a PPO update on a shared 2-core machine took 0.8-2.9 s, with 1 thread 0.13 s.
    learner_threads: int = 1
    baseline_random: bool = True
    bind_host: str = "127.0.0.1"
    port: int = 0  # the supervisor's control port; 0: a free one (fix it for hand-started actors)
    keys: str = ""  # CurveZMQ key directory of the head (see supersonic.protocol.security)
    insecure: bool = False  # allow binding a non-loopback bind_host in the clear
    # Who runs the policy: the actor with numpy ("local"), the learner ("central"), or the actor
    # when it can and else the learner ("auto"; see supersonic.actors.remote).
    inference: str = "auto"
    # [cluster]: hosts the launch starts actors (and learners) on over ssh (launch/cluster.py).
    hosts: tuple[HostConfig, ...] = ()
    ssh_options: tuple[str, ...] = ()  # added to every ssh command
    # [search]: how the budget is spread over candidates (see launch/strategies.py).
    strategy: str = "exhaustive"  # asha | bandit | exhaustive
    min_budget: int = 0  # env steps at the first rung (ASHA) / per slice (bandit); 0: max / eta^2
    reduction_factor: int = 3  # ASHA's eta: the top 1/eta of a rung is promoted
    total_budget: int = 0  # bandit: env steps in all; 0: candidates * max budget / 4
    concurrent: int = 0  # candidates training at once; 0: one per actor
    seeds: int = 1  # training seeds per architecture, scored together
    # [ray] / [slurm]: for `launch --backend ray|slurm` (launch/backend_config.py).
    ray: RaySettings = field(default_factory=RaySettings)
    slurm: SlurmSettings = field(default_factory=SlurmSettings)

    @property
    def max_budget(self) -> int:
        """The most env steps one candidate trains for."""
        return self.steps_per_candidate

    @property
    def total_actors(self) -> int:
        """Actors the launch starts: local ones plus those of the cluster hosts."""
        return self.actors + sum(h.actors for h in self.hosts)

    @property
    def learner_hosts(self) -> tuple[HostConfig, ...]:
        return tuple(h for h in self.hosts if "learner" in h.roles)

    @property
    def first_budget(self) -> int:
        """The first rung's (or slice's) budget."""
        return self.min_budget or max(1, self.steps_per_candidate // self.reduction_factor**2)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["candidates"] = [asdict(c) for c in self.candidates]
        data["hosts"] = [asdict(h) for h in self.hosts]
        return data


DEFAULT_CONFIG = """\
# The embedded default: ASHA over six architectures (PPO, A2C, IMPALA x two state functions)
# on the LLVM code-size task, sized for a 2-core machine (a few minutes).
[run]
name = "llvm-codesize-default"
task = "llvm-codesize"
actors = 2
seed = 0
steps_per_candidate = 18000
episode_length = 25
batch_size = 64
eval_initial = true

[search]
strategy = "asha"
min_budget = 2000
reduction_factor = 3

[space]
algorithms = ["ppo", "a2c", "impala"]
state_fns = ["autophase", "instcount_norm"]
reward_fns = ["ir_oz"]

[space.hyperparameters.ppo]
rollout_steps = 1024
minibatch_size = 128
ent_coef = 0.01
lr = 0.001
"""

_SEARCH_KEYS = {
    "strategy",
    "min_budget",
    "reduction_factor",
    "total_budget",
    "concurrent",
    "seeds",
}
_CLUSTER_KEYS = {"hosts", "ssh_options"}
_RUN_KEYS = (
    {f for f in RunConfig.__dataclass_fields__ if f not in ("candidates", "ray", "slurm")}
    - _SEARCH_KEYS
    - _CLUSTER_KEYS
)
STRATEGIES = ("asha", "bandit", "exhaustive")
_CANDIDATE_KEYS = {"name", "algorithm", "state_fn", "reward_fn", "hyperparameters", "seed"}


def load_config(path: Path | None) -> RunConfig:
    """Parse and validate `path`, or the embedded default when `path` is None."""
    if path is None:
        return parse_config(DEFAULT_CONFIG, "<embedded default>")
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(f"{path}: no such config file") from None
    return parse_config(text, str(path))


def parse_config(text: str, origin: str) -> RunConfig:
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{origin}: not valid TOML: {exc}") from None
    run = data.get("run", {})
    search = data.get("search", {})
    cluster = data.get("cluster", {})
    _refuse_unknown(
        origin,
        "table(s)",
        set(data),
        {"run", "search", "space", "candidates", "cluster", "ray", "slurm"},
    )
    _refuse_unknown(origin, "[run] key(s)", set(run), _RUN_KEYS)
    _refuse_unknown(origin, "[search] key(s)", set(search), _SEARCH_KEYS)
    _refuse_unknown(origin, "[cluster] key(s)", set(cluster), _CLUSTER_KEYS)
    try:
        hosts = parse_hosts(cluster.get("hosts", []), origin)
        ray = parse_ray(data.get("ray", {}), origin)
        slurm = parse_slurm(data.get("slurm", {}), origin)
    except (ClusterError, BackendConfigError) as exc:
        raise ConfigError(str(exc)) from None
    ssh_options = cluster.get("ssh_options", [])
    if not isinstance(ssh_options, list) or not all(isinstance(o, str) for o in ssh_options):
        raise ConfigError(f"{origin}: [cluster] ssh_options must be a list of strings")
    base_seed = int(run.get("seed", 0))
    raw_candidates = data.get("candidates", [])
    explicit = [_candidate(c, i, base_seed, origin) for i, c in enumerate(raw_candidates)]
    try:
        spaced = expand_space(data["space"], base_seed + len(explicit)) if "space" in data else []
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    if not explicit and not spaced:
        raise ConfigError(
            f"{origin}: no candidates: give [[candidates]] or a [space] to draw them from"
        )
    seeds = int(search.get("seeds", 1))
    if seeds < 1:
        raise ConfigError(f"{origin}: seeds must be >= 1")
    candidates = tuple(replicate(explicit + spaced, seeds))
    run = {"name": "run", "task": "llvm-codesize", **run, **search}
    if "episode_length" not in run:  # a task with a natural episode length (CartPole: 500)
        with contextlib.suppress(ValueError):  # an unknown task is reported by validate()
            run["episode_length"] = get_task(str(run["task"])).episode_length or 30
    try:
        config = RunConfig(
            candidates=candidates,
            hosts=hosts,
            ssh_options=tuple(ssh_options),
            ray=ray,
            slurm=slurm,
            **run,
        )
    except TypeError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    validate(config, origin)
    return config


def _refuse_unknown(origin: str, what: str, given: set[str], valid: set[str]) -> None:
    unknown = given - valid
    if unknown:
        raise ConfigError(
            f"{origin}: unknown {what} {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(valid))}"
        )


def _candidate(raw: dict[str, Any], index: int, base_seed: int, origin: str) -> CandidateSpec:
    _refuse_unknown(origin, f"candidate {index}: key(s)", set(raw), _CANDIDATE_KEYS)
    missing = {"algorithm", "state_fn", "reward_fn"} - set(raw)
    if missing:
        raise ConfigError(f"{origin}: candidate {index}: missing {', '.join(sorted(missing))}")
    name = raw.get("name") or f"{raw['algorithm']}-{raw['state_fn']}-{raw['reward_fn']}"
    return CandidateSpec(
        name=str(name),
        algorithm=str(raw["algorithm"]),
        state_fn=str(raw["state_fn"]),
        reward_fn=str(raw["reward_fn"]),
        hyperparameters=dict(raw.get("hyperparameters", {})),
        seed=int(raw.get("seed", base_seed + index)),
    )


def validate(config: RunConfig, origin: str = "config") -> None:
    """Check every name against the registries and every number against its range."""
    from supersonic.learners.algorithm import algorithm_class

    try:
        task = get_task(config.task)
    except ValueError as exc:
        raise ConfigError(f"{origin}: {exc}") from None
    checks = [
        (config.actors >= 0, "actors must be >= 0 (0: only cluster or hand-started actors)"),
        (config.learner_threads >= 0, "learner_threads must be >= 0 (0: torch's default)"),
        (0 <= config.port < 65536, "port must be 0 (any free one) or 1..65535"),
        (
            not config.keys or Path(config.keys).is_dir(),
            f"keys = {config.keys!r}: no such directory (supersonic keys generate DIR)",
        ),
        (
            not config.keys or all(h.keys for h in config.hosts),
            "the run uses CurveZMQ keys: give every cluster host its remote key directory "
            "(keys = ...)",
        ),
        (
            config.strategy in STRATEGIES,
            f"unknown strategy {config.strategy!r}; choose one of {', '.join(STRATEGIES)}",
        ),
        (
            config.inference in INFERENCE_MODES,
            f"inference = {config.inference!r} is not valid; choose one of "
            f"{', '.join(INFERENCE_MODES)} (docs/cluster.md#central-inference)",
        ),
        (config.reduction_factor >= 2, "reduction_factor must be >= 2"),
        (config.min_budget >= 0, "min_budget must be >= 0"),
        (
            config.strategy == "exhaustive" or config.first_budget <= config.max_budget,
            f"the budget (steps_per_candidate = {config.max_budget}) is smaller than one rung "
            f"(min_budget = {config.first_budget})",
        ),
        (
            config.strategy == "exhaustive" or config.first_budget >= config.batch_size,
            f"a rung of {config.first_budget} env steps is smaller than one batch "
            f"({config.batch_size}): raise min_budget",
        ),
        (config.total_budget >= 0, "total_budget must be >= 0"),
        (config.concurrent >= 0, "concurrent must be >= 0"),
        (
            config.steps_per_candidate >= config.batch_size,
            "steps_per_candidate must be >= batch_size",
        ),
        (config.episode_length >= 1, "episode_length must be >= 1"),
        (config.batch_size >= 1, "batch_size must be >= 1"),
        (config.heartbeat_interval_s > 0, "heartbeat_interval_s must be > 0"),
        (
            config.heartbeat_timeout_s > 2 * config.heartbeat_interval_s,
            "heartbeat_timeout_s must be more than twice heartbeat_interval_s",
        ),
        (
            config.step_timeout_s >= 0,
            "step_timeout_s must be > 0 seconds, or 0 for the task's default",
        ),
        (
            not config.step_timeout_s or "step_timeout_s" in task.run_env_options,
            f"step_timeout_s: task {config.task} has no step timeout to set; remove it",
        ),
    ]
    for ok, message in checks:
        if not ok:
            raise ConfigError(f"{origin}: {message}")
    for spec in (config.train, config.validation):
        try:
            if spec:
                task.resolve_programs(spec)
        except ValueError as exc:
            raise ConfigError(f"{origin}: {exc}") from None
    names = [c.name for c in config.candidates]
    if len(set(names)) != len(names):
        raise ConfigError(f"{origin}: candidate names must be unique")
    for c in config.candidates:
        where = f"{origin}: candidate {c.name}"
        if c.algorithm not in task.algorithms:
            raise ConfigError(
                f"{where}: unknown algorithm {c.algorithm!r}; choose one of "
                f"{', '.join(task.algorithms)}"
            )
        try:
            task.state_fn(c.state_fn)
            task.reward_fn(c.reward_fn)
            algorithm_class(c.algorithm).resolve_hparams(c.hyperparameters)
        except ValueError as exc:
            raise ConfigError(f"{where}: {exc}") from None


def run_env_options(config: RunConfig) -> dict[str, Scalar]:
    """The env options the run config sets (sent to actors in ASSIGN): only those given, so
    that an env keeps its own defaults for the rest."""
    return {"step_timeout_s": config.step_timeout_s} if config.step_timeout_s else {}


@dataclass
class RunPaths:
    """Where a run keeps its files."""

    root: Path
    config: Path = field(init=False)
    events: Path = field(init=False)
    logs: Path = field(init=False)
    checkpoints: Path = field(init=False)
    results: Path = field(init=False)
    ledger: Path = field(init=False)

    def __post_init__(self) -> None:
        self.config = self.root / "config.json"
        self.events = self.root / "events.jsonl"
        self.logs = self.root / "logs"
        self.checkpoints = self.root / "checkpoints"
        self.results = self.root / "results.json"
        self.ledger = self.root / "ledger.sqlite"
