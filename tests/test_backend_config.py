"""`[ray]` and `[slurm]`: parsed into typed settings, every mistake refused with one line, and
kept across `--resume` (config.json)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from supersonic.launch.backend_config import RayActorGroup
from supersonic.launch.config import ConfigError, parse_config
from supersonic.launch.launcher import load_run_config

BASE = """
[run]
task = "cartpole"
[[candidates]]
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
"""


def test_ray_and_slurm_sections_parse_and_survive_config_json(tmp_path: Path) -> None:
    config = parse_config(
        BASE
        + """
[ray]
address = "ray://head:10001"
learner_gpus = 1
learner_resources = { learner-node = 1 }
supervisor_resources = { learner-node = 0.5 }
[[ray.actors]]
count = 3
cpus = 0.5
resources = { cortex-a72 = 1 }
label = "a72"
[slurm]
head_gpus = 2
actor_nodes = 4
sbatch_options = ["--qos=high"]
""",
        "run.toml",
    )
    assert config.ray.actors == (RayActorGroup(3, 0.5, {"cortex-a72": 1.0}, "a72"),)
    assert config.ray.learner_demand() == {"CPU": 1.0, "learner-node": 1.0, "GPU": 1.0}
    assert config.ray.actors[0].demand() == {"CPU": 0.5, "cortex-a72": 1.0}
    assert config.ray.supervisor_demand() == {"CPU": 0.0, "learner-node": 0.5}
    assert (config.slurm.head_gpus, config.slurm.actor_nodes) == (2, 4)
    (tmp_path / "config.json").write_text(json.dumps(config.to_dict()))
    assert load_run_config(tmp_path) == config
    # Without groups, [run] actors actors of one CPU each.
    assert parse_config(BASE, "t").ray.actor_groups(2) == (RayActorGroup(count=2),)
    # The supervisor's Ray actor goes to the head node unless told otherwise.
    head = {"CPU": 0.0, "node:__internal_head__": 0.001}
    assert parse_config(BASE, "t").ray.supervisor_demand() == head


@pytest.mark.parametrize(
    ("section", "expected"),
    [
        ("[ray]\nadress = 'auto'", "run.toml: [ray]: unknown key(s) adress; valid: actors,"),
        ("[ray]\naddress = 'head'", "address 'head' is not auto, local, ray://HOST:PORT or"),
        ("[ray]\nmax_restarts = -1", "learner_cpus must be > 0, learner_gpus >= 0, max_restarts"),
        ("[ray]\nlearner_resources = { b = 0 }", "must be a table of positive numbers"),
        ("[ray]\nlearner_resources = { GPU = 1 }", "give CPU and GPU with the cpus/gpus keys"),
        ("[ray]\nsupervisor_cpus = -1", "[ray]: supervisor_cpus must be >= 0"),
        ("[ray]\nsupervisor_resources = 3", "supervisor_resources: must be a table of positive"),
        ("[[ray.actors]]\ncount = 0", "ray actor group 0: count must be >= 1 and cpus > 0"),
        ("[[ray.actors]]\nlabels = 'x'", "ray actor group 0: unknown key(s) labels"),
        ("[slurm]\nactor_nodes = 0", "head_cpus, actor_nodes, actors_per_node and actor_cpus"),
        ("[slurm]\nport = 70000", "[slurm]: port must be 1..65535"),
        ("[slurm]\nhead_gpus = 'two'", "[slurm]: invalid literal for int()"),
        ("[slurm]\nnodes = 2", "[slurm]: unknown key(s) nodes; valid: account,"),
    ],
)
def test_bad_backend_sections_are_one_line(section: str, expected: str) -> None:
    with pytest.raises(ConfigError) as err:
        parse_config(BASE + section + "\n", "run.toml")
    message = str(err.value)
    assert expected in message and "\n" not in message
