"""Self-imitation (supersonic.learners.self_imitation and PPO's `sil_coef`): episodes put back
together from streamed segments, their returns, the replay buffer, and that the update pulls
the policy towards a past episode that beat the critic."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from supersonic.learners.algorithm import Batch
from supersonic.learners.ppo import PPO
from supersonic.learners.self_imitation import (
    Episode,
    EpisodeAssembler,
    SelfImitationBuffer,
    discounted_returns,
)

OBS_DIM, N_ACTIONS = 3, 4


def segment(
    rewards: list[float],
    ends: dict[int, str],
    seq: int | None = None,
    stream: str = "actor-a",
    first_obs: float = 0.0,
    actions: list[int] | None = None,
) -> Batch:
    """A segment whose row i has obs [first_obs + i, 0, 0]; `ends` maps a row to
    "terminated" or "truncated"."""
    n = len(rewards)
    obs = np.zeros((n, OBS_DIM), dtype=np.float32)
    obs[:, 0] = first_obs + np.arange(n)
    return Batch(
        obs=obs,
        actions=np.asarray(actions if actions is not None else [i % N_ACTIONS for i in range(n)]),
        rewards=np.asarray(rewards, dtype=np.float32),
        terminated=np.array([ends.get(i) == "terminated" for i in range(n)]),
        truncated=np.array([ends.get(i) == "truncated" for i in range(n)]),
        logp=np.full(n, -math.log(N_ACTIONS), dtype=np.float32),
        values=np.zeros(n, dtype=np.float32),
        stream=stream,
        seq=seq,
    )


def test_discounted_returns() -> None:
    np.testing.assert_allclose(
        discounted_returns(np.array([1.0, 0.0, 2.0]), 0.5), [1.5, 1.0, 2.0], rtol=1e-6
    )


def test_an_episode_spanning_segments_is_put_back_together() -> None:
    assembler = EpisodeAssembler(gamma=0.5)
    assert assembler.feed(segment([0.0, 0.0], {}, seq=0)) == []
    [episode] = assembler.feed(segment([0.0, 4.0, 1.0], {1: "terminated"}, seq=1, first_obs=2))
    np.testing.assert_allclose(episode.returns, [0.5, 1.0, 2.0, 4.0])
    np.testing.assert_array_equal(episode.obs[:, 0], [0, 1, 2, 3])
    np.testing.assert_array_equal(episode.actions, [0, 1, 0, 1])
    # The row after the end starts the next episode, which ends in the next segment.
    [second] = assembler.feed(segment([3.0], {0: "terminated"}, seq=2, first_obs=9))
    np.testing.assert_allclose(second.returns, [1.0 + 0.5 * 3.0, 3.0])
    np.testing.assert_array_equal(second.obs[:, 0], [4, 9])


def test_a_gap_or_a_truncation_drops_the_unfinished_rows() -> None:
    assembler = EpisodeAssembler(gamma=1.0)
    assembler.feed(segment([1.0, 1.0], {}, seq=0))
    # Segment 1 was lost: the rows of segment 0 have no known return, nor does the episode
    # that ends at segment 2's first row (its start was in the lost segment).
    [episode] = assembler.feed(segment([1.0, 1.0, 5.0], {0: "terminated", 2: "terminated"}, 2))
    np.testing.assert_allclose(episode.returns, [6.0, 5.0])
    assert assembler.dropped_rows == 3
    # A truncated episode (a time limit, a failed compile) has no complete return.
    assert assembler.feed(segment([1.0, 1.0], {1: "truncated"}, seq=3)) == []
    assert assembler.dropped_rows == 5
    # A learner that joins a stream mid-way (seq > 0 first) does not know the first episode's
    # start either; a stream that starts again (seq 0) starts a new episode.
    joined = EpisodeAssembler(gamma=1.0)
    assert joined.feed(segment([1.0, 2.0], {0: "terminated"}, seq=7, stream="c")) == []
    [restart] = joined.feed(segment([3.0], {0: "terminated"}, seq=0, stream="c"))
    np.testing.assert_allclose(restart.returns, [3.0])


def test_streams_are_kept_apart() -> None:
    assembler = EpisodeAssembler(gamma=1.0)
    assembler.feed(segment([1.0], {}, seq=0, stream="a"))
    assembler.feed(segment([10.0], {}, seq=0, stream="b"))
    [from_a] = assembler.feed(segment([2.0], {0: "terminated"}, seq=1, stream="a"))
    [from_b] = assembler.feed(segment([20.0], {0: "terminated"}, seq=1, stream="b"))
    np.testing.assert_allclose(from_a.returns, [3.0, 2.0])
    np.testing.assert_allclose(from_b.returns, [30.0, 20.0])


def test_the_buffer_keeps_the_most_recent_transitions() -> None:
    buffer = SelfImitationBuffer(OBS_DIM, capacity=4)

    def episode(values: list[float]) -> Episode:
        obs = np.zeros((len(values), OBS_DIM), dtype=np.float32)
        obs[:, 0] = values
        return Episode(obs, np.zeros(len(values), dtype=np.int64), np.asarray(values, np.float32))

    buffer.add(episode([1.0, 2.0, 3.0]))
    assert len(buffer) == 3
    buffer.add(episode([4.0, 5.0]))
    obs, _, returns = buffer.rows()
    assert sorted(returns.tolist()) == [2.0, 3.0, 4.0, 5.0]
    np.testing.assert_array_equal(obs[:, 0], returns)
    buffer.add(episode([6.0, 7.0, 8.0, 9.0, 10.0, 11.0]))  # longer than the buffer
    assert sorted(buffer.rows()[2].tolist()) == [8.0, 9.0, 10.0, 11.0]
    with pytest.raises(ValueError, match="capacity"):
        SelfImitationBuffer(OBS_DIM, capacity=0)


def good_action_probability(algo: PPO, obs: np.ndarray, action: int) -> float:
    with torch.no_grad():
        logits = algo.model.logits(torch.as_tensor(obs[None]))
    return float(torch.softmax(logits, dim=-1)[0, action])


def test_self_imitation_pulls_the_policy_towards_an_episode_that_beat_the_critic() -> None:
    """The same data and seed with and without `sil_coef`: one episode in 64 got a large return
    with action 2; after the same updates the self-imitating policy prefers it more."""
    rng = np.random.default_rng(3)
    batches = []
    for seq in range(3):
        actions = rng.integers(0, 2, size=64).tolist()  # actions 0 and 1, return 0
        rewards = [0.0] * 64
        if seq == 0:
            actions[5], rewards[5] = 2, 3.0
        batches.append(
            segment(rewards, dict.fromkeys(range(64), "terminated"), seq=seq, actions=actions)
        )
    state = np.zeros(OBS_DIM, dtype=np.float32)
    state[0] = 5.0  # the good episode's observation
    probabilities = {}
    for coef in (0.0, 1.0):
        algo = PPO(
            OBS_DIM, N_ACTIONS, {"rollout_steps": 64, "minibatch_size": 16, "sil_coef": coef}
        )
        before = good_action_probability(algo, state, 2)
        for batch in batches:
            algo.add(batch)
            metrics = algo.update()
        probabilities[coef] = good_action_probability(algo, state, 2)
        if coef:
            assert metrics["sil_transitions"] == 3 * 64
            assert 0 < metrics["sil_better_share"] < 1
        else:
            assert "sil_loss" not in metrics
    assert probabilities[1.0] > probabilities[0.0] + 0.05 and probabilities[0.0] > before


def test_self_imitation_hyperparameters_are_validated() -> None:
    with pytest.raises(ValueError, match="sil_coef"):
        PPO(OBS_DIM, N_ACTIONS, {"sil_coef": -1.0})
    with pytest.raises(ValueError, match="sil_capacity"):
        PPO(OBS_DIM, N_ACTIONS, {"sil_capacity": 0})
