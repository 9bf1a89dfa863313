"""PPO, the algorithm interface and the numpy policy that actors run.

The learning test runs, in one process, the loop the distributed runtime runs across sockets:
an actor acts with a `NumpyPolicy` built from `policy_weights()`, sends 128-step segments as
`Batch`es, and the learner updates when `ready()`; optionally the actor gets each new version
one update late, as it would over PUB/SUB, so the importance-ratio correction is exercised too.
"""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from supersonic.actors.policy import (
    NumpyPolicy,
    RandomPolicy,
    action_choices,
    folded_argmax,
    log_softmax,
)
from supersonic.learners.algorithm import (
    Algorithm,
    Batch,
    HyperParameter,
    make_algorithm,
)
from supersonic.learners.models import MLPActorCritic
from supersonic.learners.ppo import PPO, compute_gae

OBS_DIM, N_ACTIONS = 5, 3


def random_batch(
    rng: np.random.Generator, n: int = 64, policy_version: int = 0, obs_dim: int = OBS_DIM
) -> Batch:
    """A well-formed segment of random data (episodes ending now and then)."""
    return Batch(
        obs=rng.normal(size=(n, obs_dim)).astype(np.float32),
        actions=rng.integers(N_ACTIONS, size=n),
        rewards=rng.normal(size=n).astype(np.float32),
        terminated=rng.random(n) < 0.05,
        truncated=rng.random(n) < 0.02,
        logp=np.full(n, -math.log(N_ACTIONS), dtype=np.float32),
        values=rng.normal(size=n).astype(np.float32),
        bootstrap_value=0.3,
        policy_version=policy_version,
    )


def trained_ppo(updates: int = 2, seed: int = 0, **hparams: Any) -> PPO:
    """A small PPO that has done a few updates on random data."""
    algo = PPO(
        OBS_DIM, N_ACTIONS, {"rollout_steps": 64, "minibatch_size": 16, **hparams}, seed=seed
    )
    rng = np.random.default_rng(seed + 100)
    for _ in range(updates):
        algo.add(random_batch(rng, policy_version=algo.version))
        assert algo.ready()
        algo.update()
    return algo


# -- (a) the numpy policy agrees with the torch model ---------------------------------------------


@pytest.mark.parametrize("hidden", [(64, 64), (128,), ()])
def test_numpy_policy_matches_torch_model(hidden: tuple[int, ...]) -> None:
    model = MLPActorCritic(OBS_DIM, N_ACTIONS, hidden, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():  # the initial policy is near uniform; make the logits interesting
        for param in model.parameters():
            param.add_(0.3 * torch.randn(param.shape, generator=torch.Generator().manual_seed(2)))
    arch, tensors = model.export_policy()
    n_layers = len(hidden) + 1
    assert arch["pi_layers"] == ",".join(f"pi.{i}" for i in range(n_layers))
    assert arch["v_layers"] == ",".join(f"v.{i}" for i in range(n_layers))
    assert all(t.dtype == np.float32 for t in tensors.values())
    policy = NumpyPolicy(arch, tensors)
    assert (policy.obs_dim, policy.n_actions) == (OBS_DIM, N_ACTIONS)

    obs = np.random.default_rng(3).normal(size=(32, OBS_DIM)).astype(np.float32)
    with torch.no_grad():
        logits, values = model(torch.from_numpy(obs))
    np.testing.assert_allclose(policy.logits(obs), logits.numpy(), atol=1e-5)
    np.testing.assert_allclose(policy.value(obs), values.numpy(), atol=1e-5)

    rng = np.random.default_rng(0)
    log_probs = torch.log_softmax(logits, dim=-1).numpy()
    for row in range(len(obs)):
        action, logp, value = policy.act(obs[row], rng, deterministic=True)
        assert action == int(np.argmax(logits[row].numpy()))
        assert logp == pytest.approx(log_probs[row, action], abs=1e-5)
        assert value == pytest.approx(float(values[row]), abs=1e-5)


def test_numpy_policy_samples_from_its_distribution() -> None:
    arch, tensors = MLPActorCritic(OBS_DIM, N_ACTIONS).export_policy()
    tensors["pi.2.bias"] = np.array([0.0, 1.0, -1.0], dtype=np.float32)
    policy = NumpyPolicy(arch, tensors)
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    rng = np.random.default_rng(0)
    draws = [policy.act(obs, rng) for _ in range(20_000)]
    expected = np.exp(log_softmax(policy.logits(obs)))
    counts = np.bincount([action for action, _, _ in draws], minlength=N_ACTIONS)
    np.testing.assert_allclose(counts / len(draws), expected, atol=0.015)
    for action, logp, _ in draws[:10]:
        assert logp == pytest.approx(math.log(expected[action]))


def test_the_deterministic_action_compares_choices_when_actions_alias() -> None:
    """Action a means choice a mod `choices`: choice 1 holds 0.6 of the probability spread over
    three actions, choice 0 holds 0.4 on action 0 alone. A plain argmax picks action 0."""
    probabilities = np.array([0.4, 0.25, 0.0, 0.2, 0.0, 0.15]) + 1e-12
    logp = np.log(probabilities / probabilities.sum())
    assert int(np.argmax(logp)) == 0
    assert folded_argmax(logp, 2) == 1  # choice 1's most probable action
    assert folded_argmax(logp, 3) == 0  # choices 0: 0.6 (actions 0, 3), 1: 0.4, 2: 0.0
    assert folded_argmax(logp, 0) == folded_argmax(logp, 6) == 0  # no aliasing

    arch, tensors = MLPActorCritic(OBS_DIM, N_ACTIONS).export_policy()
    tensors["pi.2.bias"] = np.array([1.5, 2.0, 1.4], dtype=np.float32)
    policy = NumpyPolicy(arch, tensors)
    obs, rng = np.zeros(OBS_DIM, dtype=np.float32), np.random.default_rng(0)
    assert policy.act(obs, rng, deterministic=True)[0] == 1
    action, logp_action, _ = policy.act(obs, rng, deterministic=True, choices=2)
    assert action == 0  # choice 0 = actions 0, 2: e^1.5 + e^1.4 > choice 1 = action 1: e^2
    assert policy.act(obs, rng, deterministic=True, choices=1)[0] == 1
    assert logp_action == pytest.approx(float(log_softmax(policy.logits(obs))[0]))

    class Knobs:
        def action_choices(self) -> int:
            return 4

    assert action_choices(Knobs()) == 4
    assert action_choices(gym.make("CartPole-v1")) == 0


def test_log_softmax_is_stable_for_large_logits() -> None:
    logp = log_softmax(np.array([1000.0, 0.0, -1000.0]))
    assert np.isfinite(logp).all()
    assert logp[0] == pytest.approx(0.0)


def _broken(change: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arch: dict[str, Any]
    arch, tensors = MLPActorCritic(OBS_DIM, N_ACTIONS).export_policy()
    if change == "kind":
        arch["kind"] = "cnn"
    elif change == "activation":
        arch["activation"] = "relu"
    elif change == "no layers":
        del arch["pi_layers"]
    elif change == "missing tensor":
        del tensors["v.1.bias"]
    elif change == "extra tensor":
        tensors["pi.3.weight"] = np.zeros((2, 2), dtype=np.float32)
    elif change == "bad chain":
        tensors["pi.1.weight"] = np.zeros((64, 63), dtype=np.float32)
    elif change == "bias shape":
        tensors["pi.0.bias"] = np.zeros(63, dtype=np.float32)
    elif change == "weight ndim":
        tensors["v.0.weight"] = np.zeros(64, dtype=np.float32)
    elif change == "two values":
        tensors["v.2.weight"] = np.zeros((2, 64), dtype=np.float32)
        tensors["v.2.bias"] = np.zeros(2, dtype=np.float32)
    elif change == "obs_dim mismatch":
        tensors["v.0.weight"] = np.zeros((64, OBS_DIM + 1), dtype=np.float32)
    elif change == "nan":
        tensors["pi.0.weight"][0, 0] = np.nan
    return arch, tensors


@pytest.mark.parametrize(
    "change",
    [
        "kind",
        "activation",
        "no layers",
        "missing tensor",
        "extra tensor",
        "bad chain",
        "bias shape",
        "weight ndim",
        "two values",
        "obs_dim mismatch",
        "nan",
    ],
)
def test_numpy_policy_rejects_bad_weights(change: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        NumpyPolicy(*_broken(change))
    assert "\n" not in str(excinfo.value)


def test_numpy_policy_rejects_wrong_observation_shape() -> None:
    policy = NumpyPolicy(*MLPActorCritic(OBS_DIM, N_ACTIONS).export_policy())
    with pytest.raises(ValueError, match="observation"):
        policy.act(np.zeros(OBS_DIM + 1), np.random.default_rng(0))


def test_random_policy() -> None:
    policy = RandomPolicy(4)
    rng = np.random.default_rng(0)
    actions = {policy.act(np.zeros(3), rng)[0] for _ in range(200)}
    assert actions == {0, 1, 2, 3}
    assert policy.act(np.zeros(3), rng)[1:] == (pytest.approx(-math.log(4)), 0.0)


def test_policy_module_does_not_import_torch() -> None:
    code = "import sys, supersonic.actors.policy; sys.exit('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


# -- (b) hyperparameters --------------------------------------------------------------------------


def test_resolve_hparams_fills_defaults_and_canonicalises() -> None:
    resolved = PPO.resolve_hparams({"lr": 1e-3, "epochs": 8, "gamma": 1 - 1e-3, "ent_coef": 0})
    assert set(resolved) == {hp.name for hp in PPO.hyperparameters}
    assert resolved["lr"] == 1e-3 and resolved["epochs"] == 8
    assert resolved["ent_coef"] == 0.0 and isinstance(resolved["ent_coef"], float)
    defaults = PPO.resolve_hparams({})
    assert defaults["lr"] == 3e-4 and defaults["rollout_steps"] == 2048
    assert defaults["hidden"] == "64,64" and defaults["max_policy_lag"] == 4


@pytest.mark.parametrize(
    ("given", "fragments"),
    [
        ({"learning_rate": 1e-3}, ["learning_rate", "lr", "gamma", "max_policy_lag"]),
        ({"lr": 0.5}, ["lr", "0.5", "1e-05", "0.01"]),
        ({"lr": float("nan")}, ["lr"]),
        ({"epochs": 2.5}, ["epochs", "integer"]),
        ({"epochs": True}, ["epochs"]),
        ({"rollout_steps": 10}, ["rollout_steps", "64", "65536"]),
        ({"hidden": "32,32"}, ["hidden", "'64,64'", "'128,128'", "'256,256'"]),
        ({"clip_vloss": 1}, ["clip_vloss", "False", "True"]),
    ],
)
def test_resolve_hparams_rejects_with_a_useful_message(
    given: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as excinfo:
        PPO.resolve_hparams(given)
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


def test_hyperparameter_declaration_is_checked() -> None:
    with pytest.raises(ValueError, match="x"):
        HyperParameter("x", "int", 200, 0, 100)
    with pytest.raises(ValueError, match="choices"):
        HyperParameter("y", "choice", "a")


def test_make_algorithm() -> None:
    algo = make_algorithm("ppo", OBS_DIM, N_ACTIONS, {"hidden": "128,128"}, seed=3)
    assert isinstance(algo, PPO) and algo.version == 0
    assert algo.policy_weights()[1]["pi.0.weight"].shape == (128, OBS_DIM)
    with pytest.raises(ValueError, match="ppo"):
        make_algorithm("trpo", OBS_DIM, N_ACTIONS)
    with pytest.raises(ValueError, match="clip_coef"):
        make_algorithm("ppo", OBS_DIM, N_ACTIONS, {"clip_coef": 0.9})


# -- batches and advantages -----------------------------------------------------------------------


def _segment(**fields: Any) -> Batch:
    n = len(fields["rewards"])
    defaults: dict[str, Any] = {
        "obs": np.zeros((n, 2), dtype=np.float32),
        "actions": np.zeros(n, dtype=np.int64),
        "terminated": np.zeros(n, dtype=bool),
        "truncated": np.zeros(n, dtype=bool),
        "logp": np.zeros(n, dtype=np.float32),
    }
    for key in ("rewards", "values", "terminated", "truncated"):
        if key in fields:
            fields[key] = np.asarray(fields[key])
    return Batch(**{**defaults, **fields})


def test_gae_cuts_at_termination_and_bootstraps_at_the_end() -> None:
    batch = _segment(
        rewards=[1.0, 2.0, 3.0, 4.0],
        values=[0.5, 1.0, 1.5, 2.0],
        terminated=[False, True, False, False],
        bootstrap_value=10.0,
    )
    advantages, returns = compute_gae(batch, gamma=0.5, gae_lambda=0.5)
    # Hand-computed: deltas 1.0, 1.0 (terminal), 2.5, 7.0 (bootstrap 10); chains of 0.25.
    np.testing.assert_allclose(advantages, [1.25, 1.0, 4.25, 7.0])
    np.testing.assert_allclose(returns, advantages + batch.values)


def test_gae_truncation_bootstraps_with_the_rows_own_value() -> None:
    batch = _segment(
        rewards=[1.0, 1.0], values=[1.0, 3.0], truncated=[True, False], bootstrap_value=6.0
    )
    advantages, _ = compute_gae(batch, gamma=0.5, gae_lambda=0.5)
    # Row 0: 1 + 0.5 * V(row 0) - V(row 0) = 0.5, no chain into the next episode.
    np.testing.assert_allclose(advantages, [0.5, 1.0])
    ended = _segment(rewards=[1.0], values=[0.0], terminated=[True], bootstrap_value=99.0)
    assert compute_gae(ended, 0.5, 0.5)[0][0] == pytest.approx(1.0)


@pytest.mark.parametrize(
    "fields",
    [
        {"rewards": [1.0, 2.0], "values": [0.0]},
        {"rewards": [1.0], "values": [0.0], "actions": np.array([0.5])},
        {"rewards": [float("nan")], "values": [0.0]},
        {"rewards": [1.0], "values": [0.0], "terminated": np.array([1])},
        {"rewards": [1.0], "values": [0.0], "bootstrap_value": float("inf")},
    ],
)
def test_batch_rejects_malformed_segments(fields: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        _segment(**fields)


def test_add_rejects_batches_that_do_not_fit() -> None:
    algo = PPO(OBS_DIM, N_ACTIONS, {"rollout_steps": 64})
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="features"):
        algo.add(random_batch(rng, obs_dim=OBS_DIM + 1))
    bad = random_batch(rng)
    with pytest.raises(ValueError, match="actions"):
        algo.add(dataclasses.replace(bad, actions=bad.actions + N_ACTIONS))


def test_update_reports_metrics() -> None:
    algo = PPO(OBS_DIM, N_ACTIONS, {"rollout_steps": 100, "minibatch_size": 32})
    rng = np.random.default_rng(0)
    assert algo.add(random_batch(rng))
    assert not algo.ready()
    assert algo.add(random_batch(rng))
    assert algo.ready()
    metrics = algo.update()
    expected = {"policy_loss", "value_loss", "entropy", "approx_kl", "clipfrac"}
    expected |= {"explained_variance", "transitions", "policy_lag"}
    assert expected <= set(metrics)
    assert all(math.isfinite(value) for value in metrics.values())
    assert metrics["transitions"] == 128
    assert (algo.version, algo.consumed, algo.buffered) == (1, 128, 0)
    assert not algo.ready()


# -- (c) checkpoints ------------------------------------------------------------------------------


def test_state_dict_round_trips_through_torch_save(tmp_path: Path) -> None:
    algo = trained_ppo(updates=3, clip_vloss=True)
    torch.save(algo.state_dict(), tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    restored = Algorithm.from_state_dict(state)

    assert isinstance(restored, PPO)
    assert restored.hparams == algo.hparams
    assert (restored.version, restored.consumed, restored.dropped_stale) == (3, 192, 0)
    arch, tensors = algo.policy_weights()
    arch2, tensors2 = restored.policy_weights()
    assert arch == arch2 and tensors.keys() == tensors2.keys()
    for key in tensors:
        np.testing.assert_array_equal(tensors[key], tensors2[key])

    # Optimizer moments and the shuffling RNG come back too: the next update is identical.
    rng_a, rng_b = np.random.default_rng(7), np.random.default_rng(7)
    for algorithm, rng in ((algo, rng_a), (restored, rng_b)):
        algorithm.add(random_batch(rng, policy_version=algorithm.version))
        algorithm.update()
    for key, value in algo.policy_weights()[1].items():
        np.testing.assert_array_equal(value, restored.policy_weights()[1][key])


def test_load_state_dict_refuses_a_checkpoint_that_does_not_fit() -> None:
    state = trained_ppo(updates=1).state_dict()
    with pytest.raises(ValueError, match="obs_dim"):
        PPO(OBS_DIM + 1, N_ACTIONS).load_state_dict(state)
    with pytest.raises(ValueError, match="hidden"):
        PPO(OBS_DIM, N_ACTIONS, {"hidden": "128,128"}).load_state_dict(state)


# -- (d) policy lag -------------------------------------------------------------------------------


def test_stale_batches_are_dropped_and_counted() -> None:
    algo = trained_ppo(updates=3, max_policy_lag=1)
    rng = np.random.default_rng(1)
    assert algo.version == 3
    assert not algo.add(random_batch(rng, policy_version=1))
    assert (algo.dropped_stale, algo.buffered) == (1, 0)
    assert algo.add(random_batch(rng, policy_version=2))
    assert algo.add(random_batch(rng, policy_version=3))
    assert (algo.dropped_stale, algo.buffered) == (1, 128)
    assert algo.update()["policy_lag"] == pytest.approx(0.5)


# -- (e) it learns --------------------------------------------------------------------------------


def run_cartpole(lag: int, seed: int = 0, env_steps: int = 60_000) -> list[float]:
    """Actor and learner in one loop; returns the episode returns in order.

    With lag=1 the actor gets each new version one update late, as over PUB/SUB.
    """
    env = gym.make("CartPole-v1")
    algo = make_algorithm(
        "ppo", 4, 2, {"rollout_steps": 512, "minibatch_size": 128, "lr": 1e-3}, seed=seed
    )
    published = [(NumpyPolicy(*algo.policy_weights()), algo.version)]
    policy, version = published[0]
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    returns: list[float] = []
    episode_return = 0.0
    for _ in range(env_steps // 128):
        rows: list[tuple[Any, ...]] = []
        for _ in range(128):
            action, logp, value = policy.act(obs, rng)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            rows.append((obs, action, reward, terminated, truncated, logp, value))
            episode_return += float(reward)
            if terminated or truncated:
                returns.append(episode_return)
                episode_return = 0.0
                next_obs, _ = env.reset()
            obs = next_obs
        ended = rows[-1][3] or rows[-1][4]
        names = ("obs", "actions", "rewards", "terminated", "truncated", "logp", "values")
        columns = {
            name: np.array(column)
            for name, column in zip(names, zip(*rows, strict=True), strict=True)
        }
        bootstrap = 0.0 if ended else float(policy.value(obs))
        algo.add(Batch(**columns, bootstrap_value=bootstrap, policy_version=version))
        if algo.ready():
            algo.update()
            published.append((NumpyPolicy(*algo.policy_weights()), algo.version))
            policy, version = published[max(0, len(published) - 1 - lag)]
    env.close()
    return returns


@pytest.mark.slow
@pytest.mark.parametrize("lag", [0, 1])
def test_ppo_learns_cartpole(lag: int) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        returns = run_cartpole(lag)
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    mean_last_20 = float(np.mean(returns[-20:]))
    print(
        f"cartpole lag={lag}: mean return of last 20 episodes {mean_last_20:.1f} ({elapsed:.1f}s)"
    )
    assert mean_last_20 > 100  # a random policy gets ~22
