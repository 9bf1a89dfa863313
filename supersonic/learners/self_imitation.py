"""Self-imitation learning (Oh et al. 2018, "Self-Imitation Learning", ICML): a replay of the
agent's own past transitions, imitated where their actual return beat the critic's estimate.

Why here: a schedule search (TVM, Halide) gets one reward per episode, after about a dozen
decisions, and measures only a few hundred schedules per program in a whole search. Plain PPO
learns from each of them once, in one update, and forgets the best schedule it ever measured if
the next batches do not sample it again: a bench run ended with a policy that was confidently
wrong on one workload although the search had measured far better schedules of it. Replaying
transitions whose Monte-Carlo return R exceeds the current value estimate V(s) pulls the policy
towards its best episodes, and only while they are better than what it expects now (the
loss `-log pi(a|s) (R - V(s))+` vanishes once V catches up).

The parts, each used by an algorithm that opts in (PPO's `sil_coef`):

- `EpisodeAssembler` turns streamed segments back into finished episodes. Segments of one
  actor's env arrive in order with consecutive sequence numbers, and an episode can span
  several of them (a segment ends when it is full or new weights arrive); a row's return is
  known only once its episode has ended. A gap in the numbers (a lost segment) drops the
  unfinished rows and the rest of that episode. Only *terminated* episodes are kept: a
  truncated one (time limit, failed compile, a released assignment) has no complete return.
- `SelfImitationBuffer` keeps the last `capacity` transitions of finished episodes with their
  discounted returns (first in, first out).

The buffer is memory only: a learner restored from a checkpoint starts it empty again, like
PPO's rollout buffer.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from supersonic.learners.algorithm import Batch


@dataclass
class _Pending:
    """The rows of a stream's episode that has not ended yet."""

    next_seq: int | None
    broken: bool = False  # its first rows are missing: it cannot be imitated
    obs: list[np.ndarray] = field(default_factory=list)
    actions: list[np.ndarray] = field(default_factory=list)
    rewards: list[np.ndarray] = field(default_factory=list)

    def append(self, batch: Batch, start: int, stop: int) -> None:
        self.obs.append(batch.obs[start:stop])
        self.actions.append(batch.actions[start:stop])
        self.rewards.append(batch.rewards[start:stop])

    def rows(self) -> int:
        return sum(len(a) for a in self.actions)


@dataclass(frozen=True)
class Episode:
    """One finished (terminated) episode: its rows and each row's discounted return-to-go."""

    obs: np.ndarray  # float32 [T, D]
    actions: np.ndarray  # int64 [T]
    returns: np.ndarray  # float32 [T]


def discounted_returns(rewards: np.ndarray, gamma: float) -> np.ndarray:
    """R_t = sum_k gamma^k r_{t+k} to the end of the episode, float32 [T]."""
    out = np.zeros(len(rewards), dtype=np.float64)
    running = 0.0
    for i in range(len(rewards) - 1, -1, -1):
        running = float(rewards[i]) + gamma * running
        out[i] = running
    return out.astype(np.float32)


class EpisodeAssembler:
    """Finished episodes out of segments, per stream (one actor's env for one candidate)."""

    def __init__(self, gamma: float) -> None:
        self.gamma = gamma
        self._pending: dict[str, _Pending] = {}
        self.dropped_rows = 0  # rows whose episode could not be completed (gap, truncation)

    def feed(self, batch: Batch) -> list[Episode]:
        """The episodes that `batch` finishes. Its `seq` is its number in its `stream` (0: the
        stream starts, with a new episode); None means "follows the previous segment of the
        stream" (in-process use)."""
        stream, seq = batch.stream, batch.seq
        pending = self._pending.get(stream)
        if seq is not None and (pending is None or pending.next_seq != seq):
            if pending is not None:
                self.dropped_rows += pending.rows()
            # A stream that starts (seq 0) starts an episode; after a gap, or when the learner
            # joins a stream mid-way, the rows up to the next episode end have no known start.
            pending = _Pending(next_seq=None, broken=seq != 0)
        elif pending is None:
            pending = _Pending(next_seq=None)
        episodes: list[Episode] = []
        start = 0
        for end in np.flatnonzero(batch.terminated | batch.truncated):
            pending.append(batch, start, end + 1)
            if batch.terminated[end] and not pending.broken:
                episodes.append(self._finish(pending))
            else:
                self.dropped_rows += pending.rows()
            pending = _Pending(next_seq=None)
            start = end + 1
        if start < len(batch):
            pending.append(batch, start, len(batch))
        pending.next_seq = None if seq is None else seq + 1
        self._pending[stream] = pending
        return episodes

    def _finish(self, pending: _Pending) -> Episode:
        rewards = np.concatenate(pending.rewards)
        return Episode(
            obs=np.concatenate(pending.obs),
            actions=np.concatenate(pending.actions),
            returns=discounted_returns(rewards, self.gamma),
        )


class SelfImitationBuffer:
    """The last `capacity` transitions of finished episodes, with their returns (FIFO)."""

    def __init__(self, obs_dim: int, capacity: int) -> None:
        if capacity < 1:
            raise ValueError(f"self-imitation capacity must be >= 1, got {capacity}")
        self.capacity = capacity
        self.obs = np.zeros((capacity, obs_dim), dtype=np.float32)
        self.actions = np.zeros(capacity, dtype=np.int64)
        self.returns = np.zeros(capacity, dtype=np.float32)
        self.size = 0
        self._next = 0  # the slot written next

    def __len__(self) -> int:
        return self.size

    def add(self, episode: Episode) -> None:
        for start in range(0, len(episode.actions), self.capacity):
            self._add_rows(
                episode.obs[start : start + self.capacity],
                episode.actions[start : start + self.capacity],
                episode.returns[start : start + self.capacity],
            )

    def _add_rows(self, obs: np.ndarray, actions: np.ndarray, returns: np.ndarray) -> None:
        n = len(actions)
        slots = (self._next + np.arange(n)) % self.capacity
        self.obs[slots], self.actions[slots], self.returns[slots] = obs, actions, returns
        self._next = int((self._next + n) % self.capacity)
        self.size = min(self.capacity, self.size + n)

    def rows(self) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(obs, actions, returns) of every stored transition (views; order is not kept)."""
        n = self.size
        return self.obs[:n], self.actions[:n], self.returns[:n]
