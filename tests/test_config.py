"""Run configuration: the embedded default loads, and every mistake is one clear line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from supersonic.launch.config import ConfigError, load_config, parse_config

ROOT = Path(__file__).resolve().parents[1]

CANDIDATE = """
[[candidates]]
algorithm = "ppo"
state_fn = "{state}"
reward_fn = "{reward}"
hyperparameters = {hparams}
"""


def config(
    run: str = "", state: str = "autophase", reward: str = "ir_oz", hparams: str = "{}"
) -> str:
    return "[run]\n" + run + "\n" + CANDIDATE.format(state=state, reward=reward, hparams=hparams)


def test_the_embedded_default_is_valid() -> None:
    cfg = load_config(None)
    assert cfg.task == "llvm-codesize"
    assert len(cfg.candidates) == 6 and cfg.strategy == "asha"
    assert len({c.seed for c in cfg.candidates}) == 6  # each candidate its own seed


def test_candidate_names_default_from_their_parts() -> None:
    cfg = parse_config(config(), "t")
    assert cfg.candidates[0].name == "ppo-autophase-ir_oz"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            config(state="nope"),
            "unknown state function for task llvm-codesize: 'nope'; choose one of autophase",
        ),
        (config(reward="nope"), "choose one of ir_oz, ir_o0, log_ratio"),
        (config().replace('"ppo"', '"sac"'), "unknown algorithm 'sac'; choose one of ppo"),
        (config(hparams="{ lr = 5.0 }"), "lr"),
        (config(hparams="{ nope = 1 }"), "nope"),
        (config(run='task = "nope"'), "unknown task 'nope'"),
        (config(run="actors = -1"), "actors must be >= 0"),  # 0: only cluster or hand-started
        (config(run="bogus = 1"), "unknown [run] key(s) bogus"),
        (config(run="learner_threads = -1"), "learner_threads must be >= 0"),
        (config(run="step_timeout_s = -1"), "step_timeout_s must be > 0 seconds, or 0"),
        (
            config(run='task = "cartpole"\nstep_timeout_s = 5', state="raw", reward="env"),
            "step_timeout_s: task cartpole has no step timeout to set; remove it",
        ),
        ("[run]\n", "no candidates: give [[candidates]] or a [space]"),
        ("not toml [", "not valid TOML"),
        (config(state="autophase+nope"), "'nope'; choose one of autophase"),
        (config(state="autophase+ir_opcode_seq"), "ir_opcode_seq is a token sequence: it must"),
        (config(hparams='{ encoder = "lstm" }'), "expected one of 'gru', 'attention'"),
        (config(run='train = "nope:train"'), "unknown dataset 'nope'"),
        (config(run='validation = "builtin"'), "expected DATASET:SPLIT"),
        (
            config(run='task = "cartpole"', state="raw", reward="ir_oz"),
            "unknown reward function for task cartpole: 'ir_oz'; choose one of env",
        ),
    ],
)
def test_bad_configs_are_refused_with_one_line(text: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(text, "run.toml")
    message = str(info.value)
    assert expected in message, message
    assert "\n" not in message


def test_launch_with_a_bad_config_is_a_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "run.toml"
    path.write_text(config(reward="nope"))
    proc = subprocess.run(
        [sys.executable, "-m", "supersonic", "launch", str(path)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert proc.stderr.startswith("error: ") and len(proc.stderr.strip().splitlines()) == 1
    missing = subprocess.run(
        [sys.executable, "-m", "supersonic", "launch", "nope.toml"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert missing.returncode == 2 and "no such config file" in missing.stderr


def test_a_task_sets_its_natural_episode_length() -> None:
    cartpole = parse_config(config(run='task = "cartpole"', state="raw", reward="env"), "t")
    assert cartpole.episode_length == 500
    assert parse_config(config(), "t").episode_length == 30
    set_here = config(run='task = "cartpole"\nepisode_length = 200', state="raw", reward="env")
    assert parse_config(set_here, "t").episode_length == 200


def test_concatenations_and_sequence_encoders_are_valid_candidates() -> None:
    cfg = parse_config(
        config(state="ir_opcode_seq+autophase", hparams='{ encoder = "attention" }'), "t"
    )
    assert cfg.candidates[0].state_fn == "ir_opcode_seq+autophase"


def test_a_space_expands_to_its_product_or_a_seeded_sample() -> None:
    product = parse_config(
        "[run]\n[space]\nalgorithms = ['ppo', 'a2c']\nstate_fns = ['autophase', "
        "'autophase+action_history']\nreward_fns = ['ir_oz']\n"
        "[space.hyperparameters.ppo]\nlr = 0.002\n",
        "t",
    )
    assert [c.name for c in product.candidates] == [
        "ppo-autophase-ir_oz",
        "ppo-autophase+action_history-ir_oz",
        "a2c-autophase-ir_oz",
        "a2c-autophase+action_history-ir_oz",
    ]
    assert product.candidates[0].hyperparameters == {"lr": 0.002}
    assert product.candidates[2].hyperparameters == {}
    sample = "[run]\nseed = 5\n[space]\nalgorithms = ['ppo', 'dqn']\nstate_fns = ['autophase']\n"
    sample += "reward_fns = ['ir_oz', 'sign']\nsample = 6\n[search]\nseeds = 2\n"
    first, again = parse_config(sample, "t"), parse_config(sample, "t")
    assert first.candidates == again.candidates  # seeded: the same config, the same candidates
    assert len(first.candidates) == 12  # 6 architectures x 2 seeds
    assert first.candidates[0].name.endswith("#1") and first.candidates[1].name.endswith("#2")
    assert first.candidates[0].seed != first.candidates[1].seed
    assert len({c.seed for c in first.candidates}) == 12
    for c in first.candidates:  # sampled within the declared spaces, system settings untouched
        assert "buffer_size" not in c.hyperparameters and "max_policy_lag" not in c.hyperparameters
        assert 1e-5 <= float(c.hyperparameters["lr"]) <= 1e-2
    other = parse_config(sample.replace("seed = 5", "seed = 6"), "t")
    assert other.candidates != first.candidates


@pytest.mark.parametrize(
    ("search", "expected"),
    [
        ("reduction_factor = 1", "reduction_factor must be >= 2"),
        ('strategy = "asha"\nmin_budget = 999999', "smaller than one rung"),
        ('strategy = "asha"\nmin_budget = 10', "smaller than one batch"),
        ('strategy = "grid"', "unknown strategy 'grid'; choose one of asha, bandit, exhaustive"),
        ("seeds = 0", "seeds must be >= 1"),
        ("nope = 1", "unknown [search] key(s) nope"),
    ],
)
def test_bad_search_settings_are_refused(search: str, expected: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_config(config() + "\n[search]\n" + search + "\n", "run.toml")
    assert expected in str(info.value)


def test_a_users_task_module_is_a_task(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`task = "pkg.module:attr"` loads a user's Task (here: CartPole with a shaped reward)."""
    (tmp_path / "my_tasks.py").write_text(
        "import dataclasses\n"
        "from supersonic.envs.gym_task import cartpole_task\n"
        "from supersonic.envs.task import RewardFunction\n"
        "def shaped():\n"
        "    base = cartpole_task()\n"
        "    bonus = RewardFunction('bonus', lambda b, a, _: 2.0 * (a - b), 'twice the reward')\n"
        "    return dataclasses.replace(base, name='my-cartpole', reward_fns={'bonus': bonus})\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    text = config(run='task = "my_tasks:shaped"', state="raw", reward="bonus")
    cfg = parse_config(text, "t")
    assert cfg.task == "my_tasks:shaped" and cfg.episode_length == 500
    with pytest.raises(ConfigError, match="cannot import no_such_module"):
        parse_config(config(run='task = "no_such_module:x"'), "t")
    with pytest.raises(ConfigError, match="not a Task"):
        parse_config(config(run='task = "my_tasks:dataclasses"'), "t")
