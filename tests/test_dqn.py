"""DQN: hyperparameters, the sum-tree, n-step targets, the numpy Q-policy, checkpoints, learning.

The learning test runs, in one process, the loop the distributed runtime runs across sockets: an
actor acts epsilon-greedily with a `NumpyPolicy` built from `policy_weights()` after every update
and sends 64-step segments as `Batch`es; the learner updates when `ready()`.
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
from supersonic.learners.algorithm import Algorithm, Batch, make_algorithm
from supersonic.learners.dqn import DQN, QNetwork, SumTree, nstep_transitions

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
        values=np.zeros(n, dtype=np.float32),
        policy_version=policy_version,
    )


SMALL = {"batch_size": 16, "learning_starts": 100, "train_every": 64, "gradient_steps": 4}


def small_dqn(seed: int = 0, **hparams: Any) -> DQN:
    return DQN(OBS_DIM, N_ACTIONS, {**SMALL, **hparams}, seed=seed)


# -- hyperparameters ------------------------------------------------------------------------------


def test_resolve_hparams_defaults() -> None:
    defaults = DQN.resolve_hparams({})
    assert set(defaults) == {hp.name for hp in DQN.hyperparameters}
    assert defaults["n_step"] == 3 and defaults["hidden"] == "64,64"
    assert defaults["dueling"] is True and defaults["double"] is True
    assert defaults["max_policy_lag"] >= 1_000_000
    resolved = DQN.resolve_hparams({"gamma": 1 - 1e-3, "per_alpha": 0, "dueling": False})
    assert resolved["per_alpha"] == 0.0 and isinstance(resolved["per_alpha"], float)
    assert resolved["dueling"] is False


@pytest.mark.parametrize(
    ("given", "fragments"),
    [
        ({"n_step": 0}, ["n_step", "1", "10"]),
        ({"n_step": 11}, ["n_step"]),
        ({"n_step": 2.0}, ["n_step", "integer"]),
        ({"lr": 0.5}, ["lr"]),
        ({"eps_end": 1.5}, ["eps_end"]),
        ({"hidden": "32,32"}, ["hidden", "'64,64'", "'128,128'", "'256,256'"]),
        ({"dueling": 1}, ["dueling", "True", "False"]),
        ({"epsilon": 0.1}, ["epsilon", "eps_start"]),
    ],
)
def test_resolve_hparams_rejects(given: dict[str, Any], fragments: list[str]) -> None:
    with pytest.raises(ValueError) as excinfo:
        DQN.resolve_hparams(given)
    assert "\n" not in str(excinfo.value)
    for fragment in fragments:
        assert fragment in str(excinfo.value)


def test_make_algorithm_finds_dqn() -> None:
    algo = make_algorithm("dqn", OBS_DIM, N_ACTIONS, {"hidden": "128,128"})
    assert isinstance(algo, DQN)
    assert algo.policy_weights()[1]["q.0.weight"].shape == (128, OBS_DIM)


# -- the sum-tree ---------------------------------------------------------------------------------


def _check_sums(tree: SumTree) -> None:
    inner = np.arange(1, tree.size)
    np.testing.assert_allclose(tree.tree[inner], tree.tree[2 * inner] + tree.tree[2 * inner + 1])


def test_sum_tree_finds_prefix_sums() -> None:
    tree = SumTree(5)  # not a power of two: 8 leaves, 3 unused
    tree.set(np.arange(5), np.array([1.0, 2.0, 3.0, 4.0, 0.0]))
    assert tree.total == 10.0
    _check_sums(tree)
    prefixes = np.array([0.0, 0.99, 1.0, 2.99, 3.0, 5.99, 6.0, 9.99])
    np.testing.assert_array_equal(tree.find(prefixes), [0, 0, 1, 1, 2, 2, 3, 3])
    np.testing.assert_array_equal(tree.get(np.array([1, 4])), [2.0, 0.0])


def test_sum_tree_samples_in_proportion_and_follows_updates() -> None:
    tree = SumTree(5)
    tree.set(np.arange(5), np.array([1.0, 2.0, 3.0, 4.0, 0.0]))
    rng = np.random.default_rng(0)
    draws = np.concatenate([tree.sample(100, rng) for _ in range(400)])
    counts = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(counts, [0.1, 0.2, 0.3, 0.4, 0.0], atol=0.01)

    tree.set(np.array([0, 3, 0]), np.array([9.0, 0.0, 5.0]))  # the last value of a slot wins
    assert tree.total == pytest.approx(10.0)
    _check_sums(tree)
    draws = np.concatenate([tree.sample(100, rng) for _ in range(400)])
    counts = np.bincount(draws, minlength=5) / len(draws)
    np.testing.assert_allclose(counts, [0.5, 0.2, 0.3, 0.0, 0.0], atol=0.01)
    with pytest.raises(ValueError):
        tree.set(np.array([5]), np.array([1.0]))
    with pytest.raises(ValueError):
        tree.set(np.array([0]), np.array([-1.0]))


# -- n-step targets -------------------------------------------------------------------------------


def _segment(rewards: list[float], **flags: list[bool]) -> Batch:
    n = len(rewards)
    return Batch(
        obs=np.arange(n, dtype=np.float32)[:, None],
        actions=np.zeros(n, dtype=np.int64),
        rewards=np.asarray(rewards, dtype=np.float32),
        terminated=np.asarray(flags.get("terminated", [False] * n)),
        truncated=np.asarray(flags.get("truncated", [False] * n)),
        logp=np.zeros(n, dtype=np.float32),
        values=np.zeros(n, dtype=np.float32),
    )


def test_nstep_cuts_at_episode_ends_and_drops_the_open_last_row() -> None:
    batch = _segment(
        [1.0, 2.0, 3.0, 4.0, 5.0, 6.0], terminated=[False, False, True, False, False, False]
    )
    steps = nstep_transitions(batch, n_step=2, gamma=0.5)
    # Hand-computed: row 5 (last, episode open) cannot start a transition; row 4's window stops
    # before it and bootstraps from it after one step.
    np.testing.assert_array_equal(steps.rows, [0, 1, 2, 3, 4])
    np.testing.assert_allclose(steps.returns, [1 + 0.5 * 2, 2 + 0.5 * 3, 3, 4 + 0.5 * 5, 5])
    np.testing.assert_array_equal(steps.next_rows[[0, 3, 4]], [2, 5, 5])
    np.testing.assert_allclose(steps.discounts, [0.25, 0.0, 0.0, 0.25, 0.5])


def test_nstep_truncation_bootstraps_from_the_last_state_and_closed_segments_keep_all() -> None:
    batch = _segment([1.0, 1.0, 1.0, 1.0], truncated=[False, True, False, False])
    steps = nstep_transitions(batch, n_step=3, gamma=0.5)
    np.testing.assert_array_equal(steps.rows, [0, 1, 2])
    np.testing.assert_allclose(steps.returns, [1.5, 1.0, 1.0])
    np.testing.assert_array_equal(steps.next_rows, [1, 1, 3])
    np.testing.assert_allclose(steps.discounts, [0.25, 0.5, 0.5])

    closed = _segment([1.0, 2.0, 4.0], terminated=[False, False, True])
    steps = nstep_transitions(closed, n_step=10, gamma=0.5)
    np.testing.assert_array_equal(steps.rows, [0, 1, 2])
    np.testing.assert_allclose(steps.returns, [1 + 1 + 1, 2 + 2, 4])
    np.testing.assert_allclose(steps.discounts, [0.0, 0.0, 0.0])

    one_step = nstep_transitions(closed, n_step=1, gamma=0.5)
    np.testing.assert_allclose(one_step.returns, [1, 2, 4])
    np.testing.assert_array_equal(one_step.next_rows[:2], [1, 2])
    np.testing.assert_allclose(one_step.discounts, [0.5, 0.5, 0.0])


# -- the numpy Q-policy ---------------------------------------------------------------------------


@pytest.mark.parametrize("dueling", [True, False])
def test_numpy_policy_matches_the_torch_network(dueling: bool) -> None:
    net = QNetwork(OBS_DIM, N_ACTIONS, (64, 64), dueling, torch.Generator().manual_seed(1))
    with torch.no_grad():  # make the value stream matter
        for param in net.parameters():
            param.add_(0.1)
    arch, tensors = net.export_policy(epsilon=0.25)
    if dueling:
        assert arch == {
            "kind": "dueling_mlp",
            "activation": "relu",
            "epsilon": 0.25,
            "trunk_layers": "q.0,q.1",
            "value_layers": "v.0",
            "advantage_layers": "a.0",
        }
    else:
        assert arch["kind"] == "q_mlp" and arch["q_layers"] == "q.0,q.1,q.2"
    assert all(t.dtype == np.float32 for t in tensors.values())
    policy = NumpyPolicy(arch, tensors)
    assert (policy.obs_dim, policy.n_actions, policy.epsilon) == (OBS_DIM, N_ACTIONS, 0.25)

    obs = np.random.default_rng(3).normal(size=(32, OBS_DIM)).astype(np.float32)
    with torch.no_grad():
        q = net(torch.from_numpy(obs)).numpy()
    np.testing.assert_allclose(policy.logits(obs), q, atol=1e-5)
    np.testing.assert_allclose(policy.value(obs), q.max(axis=1), atol=1e-5)
    rng = np.random.default_rng(0)
    for row in range(len(obs)):
        action, logp, value = policy.act(obs[row], rng, deterministic=True)
        assert action == int(np.argmax(q[row]))
        assert logp == pytest.approx(math.log(0.25 / N_ACTIONS + 0.75))
        assert value == pytest.approx(float(q[row].max()), abs=1e-5)


def test_numpy_policy_is_epsilon_greedy() -> None:
    arch, tensors = QNetwork(OBS_DIM, N_ACTIONS).export_policy(epsilon=0.3)
    tensors["a.0.bias"] = np.array([0.0, 5.0, -1.0], dtype=np.float32)
    policy = NumpyPolicy(arch, tensors)
    obs = np.zeros(OBS_DIM, dtype=np.float32)
    rng = np.random.default_rng(0)
    draws = [policy.act(obs, rng) for _ in range(20_000)]
    expected = np.array([0.1, 0.8, 0.1])
    counts = np.bincount([action for action, _, _ in draws], minlength=N_ACTIONS)
    np.testing.assert_allclose(counts / len(draws), expected, atol=0.015)
    for action, logp, value in draws[:50]:
        assert logp == pytest.approx(math.log(expected[action]))
        assert value == pytest.approx(float(policy.value(obs)))
    greedy = NumpyPolicy({**arch, "epsilon": 0.0}, tensors)
    assert {greedy.act(obs, rng)[:2] for _ in range(100)} == {(1, 0.0)}


def _broken(change: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    arch: dict[str, Any]
    arch, tensors = QNetwork(OBS_DIM, N_ACTIONS).export_policy(epsilon=0.1)
    if change == "activation":
        arch["activation"] = "sigmoid"
    elif change == "no epsilon":
        del arch["epsilon"]
    elif change == "epsilon range":
        arch["epsilon"] = 1.5
    elif change == "epsilon bool":
        arch["epsilon"] = True
    elif change == "no stream":
        del arch["value_layers"]
    elif change == "missing tensor":
        del tensors["a.0.bias"]
    elif change == "extra tensor":
        tensors["q.9.weight"] = np.zeros((2, 2), dtype=np.float32)
    elif change == "shared layer":
        arch["value_layers"] = "q.1"
    elif change == "stream width":
        tensors["v.0.weight"] = np.zeros((1, 63), dtype=np.float32)
    elif change == "two values":
        tensors["v.0.weight"] = np.zeros((2, 64), dtype=np.float32)
        tensors["v.0.bias"] = np.zeros(2, dtype=np.float32)
    elif change == "nan":
        tensors["q.0.weight"][0, 0] = np.nan
    return arch, tensors


@pytest.mark.parametrize(
    "change",
    [
        "activation",
        "no epsilon",
        "epsilon range",
        "epsilon bool",
        "no stream",
        "missing tensor",
        "extra tensor",
        "shared layer",
        "stream width",
        "two values",
        "nan",
    ],
)
def test_numpy_policy_rejects_bad_q_weights(change: str) -> None:
    with pytest.raises(ValueError) as excinfo:
        NumpyPolicy(*_broken(change))
    assert "\n" not in str(excinfo.value)


# -- ready, update, schedules ---------------------------------------------------------------------


def test_ready_update_and_schedules() -> None:
    algo = small_dqn(eps_decay_steps=200, eps_end=0.1, per_beta_steps=250)
    rng = np.random.default_rng(0)
    assert algo.policy_weights()[0]["epsilon"] == 1.0
    assert algo.add(random_batch(rng))
    assert not algo.ready()  # fewer than learning_starts in the replay
    assert algo.add(random_batch(rng))
    assert algo.ready()
    stored = len(algo.replay)
    assert 100 <= stored <= 128
    metrics = algo.update()
    expected = {"loss", "q_mean", "td_abs", "grad_norm", "transitions", "policy_lag"}
    assert expected | {"beta", "epsilon", "replay_size"} <= set(metrics)
    assert all(math.isfinite(value) for value in metrics.values())
    assert (algo.version, algo.consumed, algo.gradient_steps_done) == (1, stored, 4)
    assert metrics["transitions"] == stored and metrics["beta"] == pytest.approx(0.4)
    assert algo.epsilon == pytest.approx(1.0 - 0.9 * stored / 200)
    assert algo.policy_weights()[0]["epsilon"] == pytest.approx(algo.epsilon)
    assert not algo.ready()  # train_every new transitions needed again
    for _ in range(4):
        algo.add(random_batch(rng, policy_version=0))
        algo.update()
    assert algo.epsilon == pytest.approx(0.1) and algo.beta == pytest.approx(1.0)
    assert algo.update()["policy_lag"] == 0.0  # nothing new: no lag to report


def test_priorities_follow_td_errors() -> None:
    algo = small_dqn(learning_starts=16)
    algo.add(random_batch(np.random.default_rng(0)))
    before = algo.replay.tree.get(np.arange(len(algo.replay))).copy()
    assert (before == 1.0).all()  # new transitions get the max priority
    algo.update()
    after = algo.replay.tree.get(np.arange(len(algo.replay)))
    assert (after != before).any() and (after > 0).all()


@pytest.mark.parametrize("tau", [1.0, 0.5])
def test_target_network_sync(tau: float) -> None:
    algo = small_dqn(learning_starts=16, gradient_steps=1, target_update=2, tau=tau)
    algo.add(random_batch(np.random.default_rng(0)))

    def gap() -> float:
        pairs = zip(algo.q_net.parameters(), algo.target_net.parameters(), strict=True)
        with torch.no_grad():
            return sum(float((p - t).abs().sum()) for p, t in pairs)

    algo.update()
    first = gap()
    assert first > 0
    algo.update()
    if tau == 1.0:
        assert gap() == 0.0
    else:
        assert 0 < gap() < first * 2


def test_stale_batches_are_dropped_only_beyond_the_lag() -> None:
    algo = small_dqn(learning_starts=16, max_policy_lag=1)
    rng = np.random.default_rng(0)
    algo.add(random_batch(rng))
    algo.update()
    algo.update()
    assert not algo.add(random_batch(rng, policy_version=0))
    assert algo.dropped_stale == 1
    assert algo.add(random_batch(rng, policy_version=1))
    assert small_dqn().hparams["max_policy_lag"] >= 1_000_000


def test_add_rejects_batches_that_do_not_fit() -> None:
    algo = small_dqn()
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="features"):
        algo.add(random_batch(rng, obs_dim=OBS_DIM + 1))


# -- checkpoints ----------------------------------------------------------------------------------


def test_state_dict_round_trips_through_torch_save(tmp_path: Path) -> None:
    algo = small_dqn(seed=2, target_update=3)
    rng = np.random.default_rng(5)
    for _ in range(4):
        algo.add(random_batch(rng))
        if algo.ready():
            algo.update()
    torch.save(algo.state_dict(), tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    restored = Algorithm.from_state_dict(state)

    assert isinstance(restored, DQN)
    assert restored.hparams == algo.hparams
    assert (restored.version, restored.consumed) == (algo.version, algo.consumed)
    assert restored.gradient_steps_done == algo.gradient_steps_done
    arch, tensors = algo.policy_weights()
    arch2, tensors2 = restored.policy_weights()
    assert arch == arch2 and tensors.keys() == tensors2.keys()
    for key in tensors:
        np.testing.assert_array_equal(tensors[key], tensors2[key])
    for mine, theirs in zip(
        algo.target_net.parameters(), restored.target_net.parameters(), strict=True
    ):
        assert torch.equal(mine, theirs)
    moments = [s["exp_avg"] for s in algo.optimizer.state_dict()["state"].values()]
    moments2 = [s["exp_avg"] for s in restored.optimizer.state_dict()["state"].values()]
    assert all(torch.equal(a, b) for a, b in zip(moments, moments2, strict=True))
    # The replay buffer is not checkpointed: the restored learner refills it first.
    assert len(restored.replay) == 0 and not restored.ready()

    with pytest.raises(ValueError, match="dueling"):
        small_dqn(dueling=False).load_state_dict(state)
    with pytest.raises(ValueError, match="obs_dim"):
        DQN(OBS_DIM + 1, N_ACTIONS).load_state_dict(state)


# -- it learns ------------------------------------------------------------------------------------


def run_cartpole(seed: int = 0, env_steps: int = 40_000, segment: int = 64) -> list[float]:
    """Actor and learner in one loop; returns the episode returns in order."""
    env = gym.make("CartPole-v1")
    hparams = {
        "lr": 1e-3,
        "batch_size": 64,
        "buffer_size": 20_000,
        "learning_starts": 1_000,
        "train_every": segment,
        "gradient_steps": segment // 4,
        "target_update": 250,
        "eps_decay_steps": 10_000,
        "per_beta_steps": env_steps,
    }
    algo = make_algorithm("dqn", 4, 2, hparams, seed=seed)
    policy, version = NumpyPolicy(*algo.policy_weights()), algo.version
    rng = np.random.default_rng(seed)
    obs, _ = env.reset(seed=seed)
    returns: list[float] = []
    episode_return = 0.0
    names = ("obs", "actions", "rewards", "terminated", "truncated", "logp", "values")
    for _ in range(env_steps // segment):
        rows: list[tuple[Any, ...]] = []
        for _ in range(segment):
            action, logp, value = policy.act(obs, rng)
            next_obs, reward, terminated, truncated, _ = env.step(action)
            rows.append((obs, action, reward, terminated, truncated, logp, value))
            episode_return += float(reward)
            if terminated or truncated:
                returns.append(episode_return)
                episode_return = 0.0
                next_obs, _ = env.reset()
            obs = next_obs
        columns: dict[str, Any] = {
            name: np.array(column)
            for name, column in zip(names, zip(*rows, strict=True), strict=True)
        }
        algo.add(Batch(**columns, policy_version=version))
        if algo.ready():
            algo.update()
            policy, version = NumpyPolicy(*algo.policy_weights()), algo.version
    env.close()
    return returns


@pytest.mark.slow
def test_dqn_learns_cartpole() -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        returns = run_cartpole()
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    mean_last_20 = float(np.mean(returns[-20:]))
    print(f"dqn cartpole: mean return of last 20 episodes {mean_last_20:.1f} ({elapsed:.1f}s)")
    assert mean_last_20 > 100  # a random policy gets ~22
