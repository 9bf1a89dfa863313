"""A2C and IMPALA: hyperparameters, checkpoints, policy lag, V-trace, and learning CartPole.

The learning tests run, in one process, the loop the distributed runtime runs across sockets
(as tests/test_ppo.py does for PPO): an actor acts with a `NumpyPolicy` built from
`policy_weights()`, sends 128-step segments as `Batch`es, and the learner updates when `ready()`.
For IMPALA the actor gets each new version one update late, as over PUB/SUB, so the V-trace
correction has work to do.
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import pytest
import torch

from supersonic.actors.policy import NumpyPolicy
from supersonic.learners.a2c import A2C
from supersonic.learners.algorithm import Algorithm, Batch, make_algorithm
from supersonic.learners.impala import IMPALA, compute_vtrace
from supersonic.learners.ppo import compute_gae

OBS_DIM, N_ACTIONS = 5, 3
ALGORITHMS: dict[str, type[Algorithm]] = {"a2c": A2C, "impala": IMPALA}


def random_batch(rng: np.random.Generator, n: int = 64, policy_version: int = 0) -> Batch:
    """A well-formed segment of random data (episodes ending now and then)."""
    return Batch(
        obs=rng.normal(size=(n, OBS_DIM)).astype(np.float32),
        actions=rng.integers(N_ACTIONS, size=n),
        rewards=rng.normal(size=n).astype(np.float32),
        terminated=rng.random(n) < 0.05,
        truncated=rng.random(n) < 0.02,
        logp=np.full(n, -math.log(N_ACTIONS), dtype=np.float32),
        values=rng.normal(size=n).astype(np.float32),
        bootstrap_value=0.3,
        policy_version=policy_version,
    )


def trained(name: str, updates: int = 2, seed: int = 0, **hparams: Any) -> Algorithm:
    """A small algorithm that has done a few updates on random data."""
    algo = make_algorithm(name, OBS_DIM, N_ACTIONS, {"rollout_steps": 64, **hparams}, seed=seed)
    rng = np.random.default_rng(seed + 100)
    for _ in range(updates):
        assert algo.add(random_batch(rng, policy_version=algo.version))
        assert algo.ready()
        algo.update()
    return algo


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


# -- hyperparameters ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a2c", "impala"])
def test_defaults_and_registry(name: str) -> None:
    cls = ALGORITHMS[name]
    defaults = cls.resolve_hparams({})
    assert set(defaults) == {hp.name for hp in cls.hyperparameters}
    assert defaults["rollout_steps"] == 256 and defaults["hidden"] == "64,64"
    assert defaults["optimizer"] == "rmsprop"
    if name == "a2c":
        assert defaults["max_policy_lag"] == 1 and defaults["gae_lambda"] == 1.0
    else:
        assert defaults["max_policy_lag"] == 32
        assert defaults["rho_bar"] == 1.0 and defaults["c_bar"] == 1.0
    algo = make_algorithm(name, OBS_DIM, N_ACTIONS, {"hidden": "128,128"}, seed=1)
    assert type(algo) is cls and algo.version == 0
    arch, tensors = algo.policy_weights()
    assert arch["kind"] == "mlp" and tensors["pi.0.weight"].shape == (128, OBS_DIM)
    NumpyPolicy(arch, tensors)  # actors can run it unchanged


@pytest.mark.parametrize(
    ("name", "given", "fragments"),
    [
        ("a2c", {"clip_coef": 0.2}, ["clip_coef", "lr", "gae_lambda", "optimizer"]),
        ("a2c", {"lr": 0.5}, ["lr", "0.5", "1e-05", "0.01"]),
        ("a2c", {"rollout_steps": 8}, ["rollout_steps", "16", "8192"]),
        ("a2c", {"rollout_steps": 64.0}, ["rollout_steps", "integer"]),
        ("a2c", {"optimizer": "sgd"}, ["optimizer", "'rmsprop'", "'adam'"]),
        ("a2c", {"hidden": "32,32"}, ["hidden", "'64,64'", "'128,128'", "'256,256'"]),
        ("impala", {"gae_lambda": 0.9}, ["gae_lambda", "rho_bar", "c_bar"]),
        ("impala", {"rho_bar": 0.0}, ["rho_bar", "0.1", "10.0"]),
        ("impala", {"c_bar": float("nan")}, ["c_bar"]),
        ("impala", {"max_policy_lag": -1}, ["max_policy_lag", "1000"]),
        ("impala", {"ent_coef": True}, ["ent_coef"]),
    ],
)
def test_resolve_hparams_rejects_with_a_useful_message(
    name: str, given: dict[str, Any], fragments: list[str]
) -> None:
    with pytest.raises(ValueError) as excinfo:
        ALGORITHMS[name].resolve_hparams(given)
    message = str(excinfo.value)
    assert "\n" not in message
    for fragment in fragments:
        assert fragment in message


# -- updates and checkpoints ----------------------------------------------------------------------


@pytest.mark.parametrize("name", ["a2c", "impala"])
def test_update_reports_metrics(name: str) -> None:
    algo = make_algorithm(name, OBS_DIM, N_ACTIONS, {"rollout_steps": 100})
    rng = np.random.default_rng(0)
    with pytest.raises(RuntimeError):
        algo.update()
    assert algo.add(random_batch(rng))
    assert not algo.ready()
    assert algo.add(random_batch(rng))
    assert algo.ready()
    before = algo.policy_weights()[1]["pi.0.weight"]
    metrics = algo.update()
    expected = {"policy_loss", "value_loss", "entropy", "grad_norm", "explained_variance"}
    expected |= {"transitions", "policy_lag"}
    assert expected <= set(metrics)
    assert all(math.isfinite(value) for value in metrics.values())
    assert metrics["transitions"] == 128
    assert (algo.version, algo.consumed) == (1, 128)
    assert not algo.ready()
    assert not np.array_equal(before, algo.policy_weights()[1]["pi.0.weight"])


@pytest.mark.parametrize("name", ["a2c", "impala"])
def test_add_rejects_batches_that_do_not_fit(name: str) -> None:
    algo = make_algorithm(name, OBS_DIM + 1, N_ACTIONS)
    with pytest.raises(ValueError, match="features"):
        algo.add(random_batch(np.random.default_rng(0)))
    algo = make_algorithm(name, OBS_DIM, N_ACTIONS - 1)
    with pytest.raises(ValueError, match="actions"):
        algo.add(random_batch(np.random.default_rng(0), n=200))


@pytest.mark.parametrize(("name", "optimizer"), [("a2c", "rmsprop"), ("impala", "adam")])
def test_state_dict_round_trips_through_torch_save(
    name: str, optimizer: str, tmp_path: Path
) -> None:
    algo = trained(name, updates=3, optimizer=optimizer)
    torch.save(algo.state_dict(), tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    restored = Algorithm.from_state_dict(state)

    assert type(restored) is type(algo)
    assert restored.hparams == algo.hparams
    assert (restored.version, restored.consumed, restored.dropped_stale) == (3, 192, 0)
    arch, tensors = algo.policy_weights()
    arch2, tensors2 = restored.policy_weights()
    assert arch == arch2 and tensors.keys() == tensors2.keys()
    for key in tensors:
        np.testing.assert_array_equal(tensors[key], tensors2[key])

    # Optimizer state comes back too: the next update is identical.
    for algorithm in (algo, restored):
        algorithm.add(random_batch(np.random.default_rng(7), policy_version=algorithm.version))
        algorithm.update()
    for key, value in algo.policy_weights()[1].items():
        np.testing.assert_array_equal(value, restored.policy_weights()[1][key])


@pytest.mark.parametrize("name", ["a2c", "impala"])
def test_load_state_dict_refuses_a_checkpoint_that_does_not_fit(name: str) -> None:
    state = trained(name, updates=1).state_dict()
    cls = ALGORITHMS[name]
    with pytest.raises(ValueError, match="obs_dim"):
        cls(OBS_DIM + 1, N_ACTIONS).load_state_dict(state)
    with pytest.raises(ValueError, match="hidden"):
        cls(OBS_DIM, N_ACTIONS, {"hidden": "128,128"}).load_state_dict(state)
    with pytest.raises(ValueError, match="optimizer"):
        cls(OBS_DIM, N_ACTIONS, {"optimizer": "adam"}).load_state_dict(state)
    other = "impala" if name == "a2c" else "a2c"
    with pytest.raises(ValueError, match="name"):
        ALGORITHMS[other](OBS_DIM, N_ACTIONS).load_state_dict(state)


# -- policy lag -----------------------------------------------------------------------------------


def test_a2c_drops_batches_beyond_its_lag() -> None:
    algo = trained("a2c", updates=3)  # max_policy_lag defaults to 1
    rng = np.random.default_rng(1)
    assert algo.version == 3
    assert not algo.add(random_batch(rng, policy_version=1))
    assert not algo.add(random_batch(rng, policy_version=0))
    assert algo.dropped_stale == 2
    assert algo.add(random_batch(rng, policy_version=2))
    assert algo.add(random_batch(rng, policy_version=3))
    assert algo.dropped_stale == 2
    assert algo.update()["policy_lag"] == pytest.approx(0.5)


def test_impala_accepts_lagged_batches_up_to_its_limit() -> None:
    algo = trained("impala", updates=3)  # max_policy_lag defaults to 32
    rng = np.random.default_rng(1)
    for version in (0, 1, 2, 3):
        assert algo.add(random_batch(rng, policy_version=version))
    assert algo.dropped_stale == 0
    metrics = algo.update()
    assert metrics["policy_lag"] == pytest.approx(1.5)
    assert metrics["transitions"] == 256

    strict = trained("impala", updates=3, max_policy_lag=2)
    assert not strict.add(random_batch(rng, policy_version=0))
    assert strict.add(random_batch(rng, policy_version=1))
    assert strict.dropped_stale == 1


# -- V-trace --------------------------------------------------------------------------------------


def test_vtrace_on_policy_is_the_n_step_return() -> None:
    batch = _segment(rewards=[1.0, 2.0, 3.0], values=[0.0, 0.0, 0.0], bootstrap_value=8.0)
    values = np.array([1.0, 2.0, 4.0], dtype=np.float32)  # the current critic's, not the batch's
    targets, advantages = compute_vtrace(batch, values, np.zeros(3, np.float32), gamma=0.5)
    # Backwards from the bootstrap: 3 + 0.5 * 8 = 7, 2 + 0.5 * 7 = 5.5, 1 + 0.5 * 5.5 = 3.75.
    np.testing.assert_allclose(targets, [3.75, 5.5, 7.0])
    # Advantages: r_s + gamma * v_{s+1} - V(x_s) = v_s - V(x_s) on policy.
    np.testing.assert_allclose(advantages, [2.75, 3.5, 3.0])
    # Same as GAE with lambda=1 from the same values.
    same = _segment(rewards=[1.0, 2.0, 3.0], values=values, bootstrap_value=8.0)
    _, returns = compute_gae(same, gamma=0.5, gae_lambda=1.0)
    np.testing.assert_allclose(targets, returns)


def test_vtrace_truncates_importance_weights() -> None:
    batch = _segment(rewards=[1.0, 2.0, 3.0], values=[0.0, 0.0, 0.0], bootstrap_value=8.0)
    values = np.array([1.0, 2.0, 4.0], dtype=np.float32)
    # pi/mu = 2, 0.5, 1: rho and c are min(1, ratio) = 1, 0.5, 1.
    log_rhos = np.log(np.array([2.0, 0.5, 1.0], dtype=np.float32))
    targets, advantages = compute_vtrace(batch, values, log_rhos, gamma=0.5)
    # v_2 = 4 + 1 * (3 + 4 - 4) = 7
    # v_1 = 2 + 0.5 * (2 + 2 - 2) + 0.5 * 0.5 * (7 - 4) = 3.75
    # v_0 = 1 + 1 * (1 + 1 - 1) + 0.5 * 1 * (3.75 - 2) = 2.875
    np.testing.assert_allclose(targets, [2.875, 3.75, 7.0])
    # A_s = rho_s * (r_s + gamma * v_{s+1} - V(x_s))
    np.testing.assert_allclose(advantages, [1.875, 0.5 * (2 + 3.5 - 2), 3.0])
    # Higher truncation levels let the ratio 2 through.
    targets, _ = compute_vtrace(batch, values, log_rhos, gamma=0.5, rho_bar=2.0, c_bar=2.0)
    # v_0 = 1 + 2 * (1 + 1 - 1) + 0.5 * 2 * (3.75 - 2) = 4.75
    assert targets[0] == pytest.approx(4.75)


def test_vtrace_respects_episode_ends() -> None:
    values = np.array([1.0, 2.0, 4.0, 3.0], dtype=np.float32)
    batch = _segment(
        rewards=[1.0, 2.0, 3.0, 4.0],
        values=np.zeros(4),
        terminated=[True, False, False, False],
        truncated=[False, True, False, False],
        bootstrap_value=10.0,
    )
    targets, advantages = compute_vtrace(batch, values, np.zeros(4, np.float32), gamma=0.5)
    # Row 0 terminal: 1. Row 1 truncated: 2 + 0.5 * V(row 1) = 3. Rows 2-3: 4 + 5 = 9, 3 + 4.5.
    np.testing.assert_allclose(targets, [1.0, 3.0, 7.5, 9.0])
    np.testing.assert_allclose(advantages, targets - values)
    ended = _segment(rewards=[1.0], values=[0.0], terminated=[True], bootstrap_value=99.0)
    assert compute_vtrace(ended, np.zeros(1, np.float32), np.zeros(1, np.float32), 0.5)[0][0] == 1


# -- it learns ------------------------------------------------------------------------------------


def run_cartpole(
    name: str, hparams: dict[str, Any], lag: int, seed: int = 0, env_steps: int = 60_000
) -> list[float]:
    """Actor and learner in one loop; returns the episode returns in order.

    With lag=1 the actor gets each new version one update late, as over PUB/SUB.
    """
    env = gym.make("CartPole-v1")
    algo = make_algorithm(name, 4, 2, hparams, seed=seed)
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
        assert algo.add(Batch(**columns, bootstrap_value=bootstrap, policy_version=version))
        if algo.ready():
            algo.update()
            published.append((NumpyPolicy(*algo.policy_weights()), algo.version))
            policy, version = published[max(0, len(published) - 1 - lag)]
    env.close()
    return returns


@pytest.mark.slow
@pytest.mark.parametrize(("name", "lag"), [("a2c", 0), ("a2c", 1), ("impala", 1), ("impala", 4)])
def test_learns_cartpole(name: str, lag: int) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        returns = run_cartpole(name, {}, lag)  # default hyperparameters
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    mean_last_20 = float(np.mean(returns[-20:]))
    print(
        f"cartpole {name} lag={lag}: mean return of last 20 episodes {mean_last_20:.1f} "
        f"({elapsed:.1f}s)"
    )
    assert mean_last_20 > 100  # a random policy gets ~22


@pytest.mark.parametrize("name", ["a2c", "impala"])
def test_the_learning_rate_anneals_linearly_to_zero(name: str) -> None:
    """With lr_decay_steps the step size falls with the transitions consumed, reaching 0 (the
    policy stops moving) at the end; without it the rate stays constant."""
    decaying = trained(name, updates=1, lr=0.004, lr_decay_steps=256)  # 64 consumed so far
    rng = np.random.default_rng(7)
    rates = []
    for _ in range(4):
        decaying.add(random_batch(rng, policy_version=decaying.version))
        decaying.update()
        rates.append(decaying.optimizer.param_groups[0]["lr"])
    assert rates == pytest.approx([0.004 * 0.75, 0.004 * 0.5, 0.004 * 0.25, 0.0])
    before = {k: v.clone() for k, v in decaying.model.state_dict().items()}
    decaying.add(random_batch(rng, policy_version=decaying.version))
    decaying.update()  # at lr 0 nothing moves
    for key, value in decaying.model.state_dict().items():
        assert torch.equal(value, before[key]), key
    constant = trained(name, updates=3, lr=0.004)
    assert constant.optimizer.param_groups[0]["lr"] == 0.004
