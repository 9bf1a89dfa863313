"""The `[ray]` and `[slurm]` sections of RUN.toml: what a cluster engine is asked for.

Kept apart from launch/config.py because they only matter to `supersonic launch --backend ray`
and `--backend slurm`; a run without them parses to the defaults. Every mistake is one line
(BackendConfigError, turned into ConfigError by the caller) that names the key and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

BACKENDS = ("local", "ray", "slurm")
HEAD_NODE_RESOURCE = "node:__internal_head__"  # Ray's resource of its head node


class BackendConfigError(ValueError):
    """A `[ray]` or `[slurm]` key is wrong; the message says which and what to change."""


@dataclass(frozen=True)
class RayActorGroup:
    """Actors that ask Ray for the same resources, e.g. the ones that must run on a board."""

    count: int = 1
    cpus: float = 1.0
    resources: dict[str, float] = field(default_factory=dict)  # custom Ray resources per actor
    label: str = ""  # the actors' target label (`supersonic actor --label`)

    def demand(self) -> dict[str, float]:
        """What one actor of the group asks Ray for."""
        return {"CPU": self.cpus, **self.resources}


@dataclass(frozen=True)
class RaySettings:
    """`[ray]`: where the cluster is and what each process asks it for."""

    address: str = "auto"  # auto | ray://HOST:PORT | HOST:PORT (GCS) | local (a private Ray)
    actors: tuple[RayActorGroup, ...] = ()  # empty: [run] actors, 1 CPU each, anywhere
    learner_cpus: float = 1.0
    learner_gpus: float = 0.0
    learner_resources: dict[str, float] = field(default_factory=dict)
    max_restarts: int = 3  # Ray restarts a process's host this many times after a crash
    # The supervisor's Ray actor (the launch itself is only Ray's driver, following it). No
    # CPU by default: it waits on its sockets; its place is the head node unless
    # `supervisor_resources` names custom resources of another node.
    supervisor_cpus: float = 0.0
    supervisor_resources: dict[str, float] = field(default_factory=dict)
    env: dict[str, str] = field(default_factory=dict)  # environment of the processes
    keys: str = ""  # the CurveZMQ key directory on the nodes; empty: [run] keys
    # The interpreter of the processes on the nodes; empty: the Ray worker's own. Set it when
    # Ray lives in an environment of its own (Ray 2.60's node agent refuses pydantic 1, which
    # CompilerGym needs: docs/cluster.md).
    python: str = ""

    def actor_groups(self, run_actors: int) -> tuple[RayActorGroup, ...]:
        return self.actors or ((RayActorGroup(count=run_actors),) if run_actors else ())

    def supervisor_demand(self) -> dict[str, float]:
        """What the supervisor's Ray actor asks for: by default a sliver of the head node's
        own resource (every Ray head has `node:__internal_head__`)."""
        placement = self.supervisor_resources or {HEAD_NODE_RESOURCE: 0.001}
        return {"CPU": self.supervisor_cpus, **placement}

    def learner_demand(self) -> dict[str, float]:
        demand = {"CPU": self.learner_cpus, **self.learner_resources}
        if self.learner_gpus:
            demand["GPU"] = self.learner_gpus
        return demand


@dataclass(frozen=True)
class SlurmSettings:
    """`[slurm]`: the heterogeneous job (group 0: the head with the GPUs; group 1: actors)."""

    partition: str = ""
    account: str = ""
    time: str = "02:00:00"
    head_cpus: int = 4  # CPUs for the supervisor, the learners and `[run] actors` on the head
    head_gpus: int = 0
    actor_nodes: int = 1
    actors_per_node: int = 1
    actor_cpus: int = 1
    actor_partition: str = ""  # default: partition
    constraint: str = ""  # the actor nodes' --constraint (e.g. a board feature)
    label: str = ""  # the actors' target label
    python: str = "python3"  # the interpreter with supersonic-rl on the nodes
    workdir: str = ""  # where the job runs; default: the directory it was submitted from
    keys: str = ""  # the key directory (on a filesystem every node sees); empty: [run] keys
    port: int = 5555  # the supervisor's control port on the head node ([run] port wins)
    env: dict[str, str] = field(default_factory=dict)
    sbatch_options: tuple[str, ...] = ()  # extra #SBATCH lines for the first group


_RAY_KEYS = {f for f in RaySettings.__dataclass_fields__}
_GROUP_KEYS = {f for f in RayActorGroup.__dataclass_fields__}
_SLURM_KEYS = {f for f in SlurmSettings.__dataclass_fields__}


def _unknown(where: str, given: set[str], valid: set[str]) -> None:
    unknown = given - valid
    if unknown:
        raise BackendConfigError(
            f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
            f"valid: {', '.join(sorted(valid))}"
        )


def _resources(raw: Any, where: str) -> dict[str, float]:
    if not isinstance(raw, dict) or not all(
        isinstance(v, int | float) and not isinstance(v, bool) and v > 0 for v in raw.values()
    ):
        raise BackendConfigError(
            f"{where}: must be a table of positive numbers, e.g. {{ board-a72 = 1 }}"
        )
    if {"CPU", "GPU"} & set(raw):
        raise BackendConfigError(f"{where}: give CPU and GPU with the cpus/gpus keys")
    return {str(k): float(v) for k, v in raw.items()}


def _strings(raw: Any, where: str) -> dict[str, str]:
    if not isinstance(raw, dict):
        raise BackendConfigError(f"{where}: must be a table of strings")
    return {str(k): str(v) for k, v in raw.items()}


def parse_ray(raw: Any, origin: str) -> RaySettings:
    """Validate `[ray]` (and its `[[ray.actors]]` groups)."""
    where = f"{origin}: [ray]"
    if not isinstance(raw, dict):
        raise BackendConfigError(f"{where} must be a table")
    _unknown(where, set(raw), _RAY_KEYS)
    groups_raw = raw.get("actors", [])
    if not isinstance(groups_raw, list):
        raise BackendConfigError(f"{where} actors must be [[ray.actors]] tables")
    groups = []
    for i, g in enumerate(groups_raw):
        gwhere = f"{origin}: ray actor group {i}"
        if not isinstance(g, dict):
            raise BackendConfigError(f"{gwhere}: must be a table")
        _unknown(gwhere, set(g), _GROUP_KEYS)
        try:
            group = RayActorGroup(
                count=int(g.get("count", 1)),
                cpus=float(g.get("cpus", 1.0)),
                resources=_resources(g.get("resources", {}), f"{gwhere}: resources"),
                label=str(g.get("label", "")),
            )
        except (TypeError, ValueError) as exc:
            raise BackendConfigError(f"{gwhere}: {exc}") from None
        if group.count < 1 or group.cpus <= 0:
            raise BackendConfigError(f"{gwhere}: count must be >= 1 and cpus > 0")
        groups.append(group)
    try:
        settings = RaySettings(
            address=str(raw.get("address", "auto")),
            actors=tuple(groups),
            learner_cpus=float(raw.get("learner_cpus", 1.0)),
            learner_gpus=float(raw.get("learner_gpus", 0.0)),
            learner_resources=_resources(
                raw.get("learner_resources", {}), f"{where} learner_resources"
            ),
            max_restarts=int(raw.get("max_restarts", 3)),
            supervisor_cpus=float(raw.get("supervisor_cpus", 0.0)),
            supervisor_resources=_resources(
                raw.get("supervisor_resources", {}), f"{where} supervisor_resources"
            ),
            env=_strings(raw.get("env", {}), f"{where} env"),
            keys=str(raw.get("keys", "")),
            python=str(raw.get("python", "")),
        )
    except (TypeError, ValueError) as exc:
        raise BackendConfigError(f"{where}: {exc}") from None
    if settings.learner_cpus <= 0 or settings.learner_gpus < 0 or settings.max_restarts < 0:
        raise BackendConfigError(
            f"{where}: learner_cpus must be > 0, learner_gpus >= 0, max_restarts >= 0"
        )
    if settings.supervisor_cpus < 0:
        raise BackendConfigError(f"{where}: supervisor_cpus must be >= 0")
    check_ray_address(settings.address, where)
    return settings


def check_ray_address(address: str, where: str) -> None:
    """The forms `ray.init` takes that the launch supports."""
    if address in ("auto", "local"):
        return
    host_port = address.removeprefix("ray://")
    host, _, port = host_port.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise BackendConfigError(
            f"{where}: address {address!r} is not auto, local, ray://HOST:PORT or HOST:PORT"
        )


def parse_slurm(raw: Any, origin: str) -> SlurmSettings:
    """Validate `[slurm]`."""
    where = f"{origin}: [slurm]"
    if not isinstance(raw, dict):
        raise BackendConfigError(f"{where} must be a table")
    _unknown(where, set(raw), _SLURM_KEYS)
    options = raw.get("sbatch_options", [])
    if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
        raise BackendConfigError(f"{where} sbatch_options must be a list of strings")
    values = {k: v for k, v in raw.items() if k not in ("env", "sbatch_options")}
    try:
        settings = SlurmSettings(
            **{
                k: type(getattr(SlurmSettings, k))(v)  # the field's type: int or str
                for k, v in values.items()
            },
            env=_strings(raw.get("env", {}), f"{where} env"),
            sbatch_options=tuple(options),
        )
    except (TypeError, ValueError) as exc:
        raise BackendConfigError(f"{where}: {exc}") from None
    numbers = (settings.head_cpus, settings.actor_nodes, settings.actors_per_node)
    if min(numbers) < 1 or settings.actor_cpus < 1 or settings.head_gpus < 0:
        raise BackendConfigError(
            f"{where}: head_cpus, actor_nodes, actors_per_node and actor_cpus must be >= 1, "
            "head_gpus >= 0"
        )
    if not 0 < settings.port < 65536:
        raise BackendConfigError(f"{where}: port must be 1..65535")
    return settings


def ray_from_dict(data: dict[str, Any]) -> RaySettings:
    """RaySettings back from its `asdict` form (config.json, for --resume)."""
    groups = tuple(RayActorGroup(**g) for g in data.get("actors", []))
    return RaySettings(**{**data, "actors": groups})


def slurm_from_dict(data: dict[str, Any]) -> SlurmSettings:
    return SlurmSettings(**{**data, "sbatch_options": tuple(data.get("sbatch_options", []))})
