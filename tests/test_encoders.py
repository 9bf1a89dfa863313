"""Learned sequence encoders (GRU, attention) and the LLVM opcode-sequence state they read.

- the numpy policy an actor runs computes what the torch model computes, for every exported
  policy kind and both encoders, on sequences of every length from empty to full;
- PPO with either encoder learns a contextual bandit whose answer depends only on token ORDER,
  which no order-insensitive bag of tokens can represent;
- the `ir_opcode_seq` state function on real programs and on hand-written IR;
- checkpoints carry the encoder and refuse to load into a different one.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from supersonic.actors.policy import NumpyPolicy
from supersonic.envs.llvm.env import LlvmCodeSizeEnv
from supersonic.envs.llvm.ir_text import (
    IR_OPCODE_IDS,
    IR_OPCODES,
    IR_SEQ_LEN,
    IR_UNKNOWN,
    IR_VOCAB,
    ir_opcode_ids,
    ir_opcode_seq,
)
from supersonic.envs.llvm.task import STATE_FNS
from supersonic.learners.a2c import ActorCriticAlgorithm
from supersonic.learners.algorithm import Algorithm, Batch, make_algorithm
from supersonic.learners.dqn import DQN, QNetwork
from supersonic.learners.models import MLPActorCritic
from supersonic.learners.ppo import PPO

SEQ_LEN, VOCAB, EXTRA, N_ACTIONS = 10, 7, 3, 4
ENCODERS = ("gru", "attention")
KINDS = {  # one algorithm per exported policy kind, plus the other actor-critics
    "ppo": ("ppo", {}),
    "a2c": ("a2c", {}),
    "impala": ("impala", {}),
    "dqn-dueling": ("dqn", {"dueling": True}),
    "dqn-plain": ("dqn", {"dueling": False}),
}


def token_obs(rng: np.random.Generator, lengths: list[int], extra: int = EXTRA) -> np.ndarray:
    """Observations whose first SEQ_LEN entries are `length` random tokens, then padding."""
    obs = np.zeros((len(lengths), SEQ_LEN + extra), dtype=np.float32)
    for row, length in zip(obs, lengths, strict=True):
        row[:length] = rng.integers(1, VOCAB, size=length)
        row[SEQ_LEN:] = rng.normal(size=extra)
    return obs


def networks(algo: Algorithm) -> list[MLPActorCritic] | list[QNetwork]:
    """The torch networks an algorithm exports (DQN: the online net and its target)."""
    if isinstance(algo, DQN):
        return [algo.q_net, algo.target_net]
    assert isinstance(algo, PPO | ActorCriticAlgorithm)
    return [algo.model]


def torch_outputs(net: nn.Module, obs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(logits or Q-values, values or max Q) from the torch network."""
    with torch.no_grad():
        out = net(torch.as_tensor(obs))
    if isinstance(out, tuple):
        return out[0].numpy(), out[1].numpy()
    return out.numpy(), out.max(dim=-1).values.numpy()


def exported(net: nn.Module) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    if isinstance(net, QNetwork):
        return net.export_policy(epsilon=0.1)
    assert isinstance(net, MLPActorCritic)
    return net.export_policy()


# -- the numpy policy computes what torch computes ----------------------------------------------


@pytest.mark.parametrize("encoder", ENCODERS)
@pytest.mark.parametrize("kind", list(KINDS))
def test_numpy_encoder_matches_torch(kind: str, encoder: str) -> None:
    name, hparams = KINDS[kind]
    algo = make_algorithm(
        name,
        SEQ_LEN + EXTRA,
        N_ACTIONS,
        {**hparams, "encoder": encoder, "encoder_dim": 16},
        seed=3,
        seq_len=SEQ_LEN,
        vocab=VOCAB,
    )
    rng = np.random.default_rng(0)
    # Every length from empty to full, three times each, in a shuffled order.
    lengths = [int(k) for k in rng.permutation(np.repeat(np.arange(SEQ_LEN + 1), 3))]
    obs = token_obs(rng, lengths)
    generator = torch.Generator().manual_seed(1)
    for net in networks(algo):
        with torch.no_grad():  # random weights, so that every path shows in the outputs
            for param in net.parameters():
                param.normal_(0.0, 0.5, generator=generator)
        arch, tensors = exported(net)
        assert arch["encoder"] == encoder
        assert (arch["seq_len"], arch["vocab"], arch["encoder_dim"]) == (SEQ_LEN, VOCAB, 16)
        assert any(key.startswith("enc.") for key in tensors)
        policy = NumpyPolicy(arch, tensors)
        assert policy.obs_dim == SEQ_LEN + EXTRA  # what the actor checks against the state fn

        logits, values = torch_outputs(net, obs)
        assert np.abs(logits).max() > 0.1  # not trivially equal
        np.testing.assert_allclose(policy.logits(obs), logits, rtol=1e-4, atol=1e-4)
        np.testing.assert_allclose(policy.value(obs), values, rtol=1e-4, atol=1e-4)
        # One observation at a time (as an actor acts) gives the same numbers.
        for row, expected in zip(obs[:5], values[:5], strict=True):
            assert float(policy.value(row)) == pytest.approx(float(expected), abs=1e-4)
            assert policy.act(row, rng)[2] == pytest.approx(float(expected), abs=1e-4)


@pytest.mark.parametrize("encoder", ENCODERS)
def test_encoder_without_extra_features_and_out_of_range_ids(encoder: str) -> None:
    """A state that is only a sequence; ids outside [0, vocab) are clipped alike on both sides."""
    algo = make_algorithm("ppo", SEQ_LEN, 2, {"encoder": encoder}, seq_len=SEQ_LEN, vocab=VOCAB)
    net = networks(algo)[0]
    with torch.no_grad():
        for param in net.parameters():
            param.normal_(0.0, 0.5, generator=torch.Generator().manual_seed(2))
    policy = NumpyPolicy(*exported(net))
    assert policy.obs_dim == SEQ_LEN
    obs = token_obs(np.random.default_rng(1), [0, 1, 4, SEQ_LEN], extra=0)
    obs[2, 1], obs[3, 0] = VOCAB + 3.0, -2.0
    logits, values = torch_outputs(net, obs)
    np.testing.assert_allclose(policy.logits(obs), logits, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(policy.value(obs), values, rtol=1e-4, atol=1e-4)


def _encoder_weights(encoder: str) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    algo = make_algorithm(
        "ppo", SEQ_LEN + EXTRA, 2, {"encoder": encoder}, seq_len=SEQ_LEN, vocab=VOCAB
    )
    return algo.policy_weights()


@pytest.mark.parametrize(
    ("encoder", "change"),
    [
        ("gru", "unknown encoder"),
        ("gru", "seq_len missing"),
        ("gru", "vocab not an int"),
        ("gru", "missing tensor"),
        ("gru", "wrong shape"),
        ("gru", "extra tensor"),
        ("gru", "nan"),
        ("attention", "missing tensor"),
        ("attention", "wrong shape"),
        ("attention", "encoder_dim too large"),
    ],
)
def test_numpy_policy_rejects_bad_encoder_weights(encoder: str, change: str) -> None:
    arch, tensors = _encoder_weights(encoder)
    if change == "unknown encoder":
        arch["encoder"] = "lstm"
    elif change == "seq_len missing":
        del arch["seq_len"]
    elif change == "vocab not an int":
        arch["vocab"] = 7.0
    elif change == "missing tensor":
        del tensors["enc.embed.weight"]
    elif change == "wrong shape":
        key = "enc.gru.weight_hh" if encoder == "gru" else "enc.pos"
        tensors[key] = tensors[key][:-1]
    elif change == "extra tensor":
        tensors["enc.lstm.weight"] = np.zeros((2, 2), dtype=np.float32)
    elif change == "nan":
        tensors["enc.gru.bias_ih"][0] = np.nan
    elif change == "encoder_dim too large":  # consistent encoder tensors, too wide for the MLP
        big = make_algorithm(
            "ppo", 2, 2, {"encoder": encoder, "encoder_dim": 64}, seq_len=2, vocab=VOCAB
        ).policy_weights()[1]
        tensors = {k: v for k, v in tensors.items() if not k.startswith("enc.")}
        tensors |= {k: v for k, v in big.items() if k.startswith("enc.")}
        arch |= {"encoder_dim": 64, "seq_len": 2}
    with pytest.raises(ValueError) as excinfo:
        NumpyPolicy(arch, tensors)
    assert "\n" not in str(excinfo.value)


def test_no_encoder_without_a_sequence() -> None:
    arch, tensors = make_algorithm("ppo", 5, 2).policy_weights()
    assert "encoder" not in arch and not any(key.startswith("enc.") for key in tensors)
    assert NumpyPolicy({**arch, "encoder": "none"}, tensors).obs_dim == 5
    with pytest.raises(ValueError, match="seq_len"):
        make_algorithm("ppo", 5, 2, seq_len=6, vocab=VOCAB)
    with pytest.raises(ValueError, match="vocab"):
        make_algorithm("dqn", 5, 2, seq_len=3, vocab=1)


# -- it learns what a bag of tokens cannot ------------------------------------------------------

BANDIT_LEN, BANDIT_VOCAB = 12, 8
TOKEN_A, TOKEN_B = 1, 2  # the other ids, 3..7, are filler


def order_bandit(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """(obs, the rewarded action): a sequence of 2..BANDIT_LEN tokens holding one A and one B
    at random places among filler, then one noise feature; action 1 pays iff A comes before B.

    Swapping A and B gives the same bag of tokens with the other answer, and both orders are
    equally likely, so to any order-insensitive encoder the answer is a coin flip.
    """
    obs = np.zeros((n, BANDIT_LEN + 1), dtype=np.float32)
    answers = np.zeros(n, dtype=np.int64)
    for row, i in zip(obs, range(n), strict=True):
        length = int(rng.integers(2, BANDIT_LEN + 1))
        row[:length] = rng.integers(3, BANDIT_VOCAB, size=length)
        where_a, where_b = rng.choice(length, size=2, replace=False)
        row[where_a], row[where_b] = TOKEN_A, TOKEN_B
        answers[i] = int(where_a < where_b)
    obs[:, -1] = rng.normal(size=n)
    return obs, answers


def swapped(obs: np.ndarray) -> np.ndarray:
    """The same observations with A and B exchanged: identical bags, opposite answers."""
    out = obs.copy()
    tokens = out[:, :BANDIT_LEN]
    is_a, is_b = tokens == TOKEN_A, tokens == TOKEN_B
    tokens[is_a], tokens[is_b] = TOKEN_B, TOKEN_A
    return out


def train_order_bandit(encoder: str, updates: int = 40, seed: int = 0) -> NumpyPolicy:
    """PPO on the bandit, acting with the numpy policy as an actor would; one-step episodes."""
    algo = make_algorithm(
        "ppo",
        BANDIT_LEN + 1,
        2,
        {"rollout_steps": 256, "minibatch_size": 64, "lr": 3e-3, "encoder": encoder},
        seed=seed,
        seq_len=BANDIT_LEN,
        vocab=BANDIT_VOCAB,
    )
    rng = np.random.default_rng(seed)
    for _ in range(updates):
        policy = NumpyPolicy(*algo.policy_weights())
        while not algo.ready():
            obs, answers = order_bandit(rng, 64)
            acted = [policy.act(row, rng) for row in obs]  # (action, logp, value) per row
            action, logp, value = (np.array(column) for column in zip(*acted, strict=True))
            algo.add(
                Batch(
                    obs=obs,
                    actions=action,
                    rewards=(action == answers).astype(np.float32),
                    terminated=np.ones(64, dtype=bool),
                    truncated=np.zeros(64, dtype=bool),
                    logp=logp,
                    values=value,
                    policy_version=algo.version,
                )
            )
        algo.update()
    return NumpyPolicy(*algo.policy_weights())


@pytest.mark.parametrize("encoder", ENCODERS)
def test_ppo_with_an_encoder_learns_token_order(encoder: str) -> None:
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        start = time.perf_counter()
        policy = train_order_bandit(encoder)
        elapsed = time.perf_counter() - start
    finally:
        torch.set_num_threads(threads)
    obs, answers = order_bandit(np.random.default_rng(1234), 500)
    # Each sequence and its A/B swap: the same bag of tokens, opposite answers. A bag encoder
    # must act alike on both and so score exactly 50% over the pairs.
    choices = np.concatenate([policy.logits(obs), policy.logits(swapped(obs))]).argmax(axis=-1)
    accuracy = float((choices == np.concatenate([answers, 1 - answers])).mean())
    print(f"{encoder}: accuracy {accuracy:.3f} on order-only pairs ({elapsed:.1f}s)")
    assert accuracy > 0.8


# -- the opcode-sequence state of an LLVM module -------------------------------------------------

PROGRAMS = ("nqueens", "base64")


@pytest.fixture(scope="module")
def program_ir() -> Iterator[dict[str, str]]:
    """The textual IR of each program at reset."""
    irs = {}
    for program in PROGRAMS:
        env = LlvmCodeSizeEnv(program, observation="Ir")
        try:
            irs[program] = env.reset()[0]
        finally:
            env.close()
    yield irs


def test_ir_opcode_seq_on_real_programs(program_ir: dict[str, str]) -> None:
    fn = STATE_FNS["ir_opcode_seq"]
    assert (fn.dim, fn.seq_len, fn.vocab) == (IR_SEQ_LEN + 1, IR_SEQ_LEN, IR_VOCAB)
    assert fn.observation == "Ir"
    states = {}
    for program, ir in program_ir.items():
        state = fn(ir)
        assert state.shape == (IR_SEQ_LEN + 1,) and state.dtype == np.float32
        np.testing.assert_array_equal(fn(ir), state)  # deterministic
        ids = state[:IR_SEQ_LEN]
        assert (ids == np.round(ids)).all() and ids.min() >= 0 and ids.max() < IR_VOCAB
        count = len(ir_opcode_ids(ir))
        assert count > IR_SEQ_LEN  # both programs are sampled down to IR_SEQ_LEN
        assert (ids > 0).all()  # so no padding, and every opcode is known
        assert (ids != IR_UNKNOWN).all()
        assert state[-1] == pytest.approx(math.log1p(count))
        states[program] = state
    first, second = states.values()
    assert not np.array_equal(first, second)


def test_ir_opcode_seq_on_hand_written_ir() -> None:
    ir = """\
define i32 @f(i32 %0) #0 {
  %2 = alloca i32, align 4
  switch i32 %0, label %5 [
    i32 1, label %3
    i32 2, label %4
  ]

3:                                                ; preds = %1
  %r = tail call i32 @g(i32 %0)
  %s = frobnicate i32 %r, 1
  ret i32 %s

4:
  unreachable
}
"""
    op = IR_OPCODE_IDS
    expected = [op["alloca"], op["switch"], op["call"], IR_UNKNOWN, op["ret"], op["unreachable"]]
    state = ir_opcode_seq(ir)
    np.testing.assert_array_equal(state[:6], expected)
    assert not state[6:IR_SEQ_LEN].any()  # padding
    assert state[-1] == pytest.approx(math.log1p(6))
    assert not ir_opcode_seq("").any()


def test_a_long_module_is_sampled_evenly() -> None:
    count = 3 * IR_SEQ_LEN + 5
    body = "".join(
        f"  %{i} = {'add' if i < count // 2 else 'mul'} i32 1, 2\n" for i in range(count)
    )
    state = ir_opcode_seq(f"define void @f() {{\n{body}  ret void\n}}\n")
    ids = state[:IR_SEQ_LEN]
    # The first and the last instruction are kept, and each half keeps about half the samples.
    assert ids[0] == IR_OPCODE_IDS["add"] and ids[-1] == IR_OPCODE_IDS["ret"]
    assert abs(int((ids == IR_OPCODE_IDS["add"]).sum()) - IR_SEQ_LEN // 2) <= 1
    assert state[-1] == pytest.approx(math.log1p(count + 1))


def test_the_vocabulary() -> None:
    assert len(set(IR_OPCODES)) == len(IR_OPCODES) == IR_VOCAB - 2
    assert sorted(IR_OPCODE_IDS.values()) == list(range(2, IR_VOCAB))
    for opcode in ("ret", "br", "fneg", "call", "select", "va_arg", "landingpad", "freeze"):
        assert opcode in IR_OPCODE_IDS


# -- checkpoints ----------------------------------------------------------------------------------


def sequence_batch(rng: np.random.Generator, n: int = 64) -> Batch:
    return Batch(
        obs=token_obs(rng, [int(k) for k in rng.integers(0, SEQ_LEN + 1, size=n)]),
        actions=rng.integers(N_ACTIONS, size=n),
        rewards=rng.normal(size=n).astype(np.float32),
        terminated=rng.random(n) < 0.1,
        truncated=np.zeros(n, dtype=bool),
        logp=np.full(n, -math.log(N_ACTIONS), dtype=np.float32),
        values=rng.normal(size=n).astype(np.float32),
    )


SMALL = {
    "ppo": {"rollout_steps": 64, "minibatch_size": 32},
    "a2c": {"rollout_steps": 64},
    "impala": {"rollout_steps": 64},
    "dqn": {"learning_starts": 0, "batch_size": 32, "train_every": 32, "gradient_steps": 2},
}


@pytest.mark.parametrize("name", list(SMALL))
def test_checkpoint_round_trip_with_an_encoder(name: str, tmp_path: Path) -> None:
    def make(**hparams: Any) -> Algorithm:
        return make_algorithm(
            name,
            SEQ_LEN + EXTRA,
            N_ACTIONS,
            {**SMALL[name], "encoder": "attention", "encoder_dim": 16, **hparams},
            seed=1,
            seq_len=SEQ_LEN,
            vocab=VOCAB,
        )

    algo = make()
    algo.add(sequence_batch(np.random.default_rng(0)))
    assert algo.ready()
    algo.update()
    torch.save(algo.state_dict(), tmp_path / "ckpt.pt")
    state = torch.load(tmp_path / "ckpt.pt", weights_only=True)

    restored = Algorithm.from_state_dict(state)
    assert (restored.seq_len, restored.vocab, restored.version) == (SEQ_LEN, VOCAB, 1)
    arch, tensors = algo.policy_weights()
    arch2, tensors2 = restored.policy_weights()
    assert arch == arch2 and arch["encoder"] == "attention"
    assert tensors.keys() == tensors2.keys()
    for key in tensors:
        np.testing.assert_array_equal(tensors[key], tensors2[key])

    with pytest.raises(ValueError, match="encoder"):
        make(encoder="gru").load_state_dict(state)
    with pytest.raises(ValueError, match="encoder_dim"):
        make(encoder_dim=32).load_state_dict(state)
    with pytest.raises(ValueError, match="seq_len"):
        make_algorithm(name, SEQ_LEN + EXTRA, N_ACTIONS, SMALL[name]).load_state_dict(state)


def test_a_checkpoint_from_before_sequences_still_loads() -> None:
    algo = make_algorithm("a2c", 5, 2, {"encoder": "attention"})
    state = algo.state_dict()
    del state["seq_len"], state["vocab"]
    state["hparams"] = {k: v for k, v in state["hparams"].items() if "encoder" not in k}
    restored = Algorithm.from_state_dict(state)
    assert restored.seq_len == 0 and restored.hparams["encoder"] == "gru"
    make_algorithm("a2c", 5, 2).load_state_dict(state)  # no sequence: the encoder is moot
