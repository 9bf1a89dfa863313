"""Central inference with real sockets on loopback: the learner's inference endpoint (a real
algorithm's frozen network on a thread) answered through `RemotePolicy`, its refusals and
timeouts, CurveZMQ on it, and the actor's choice between running weights and asking."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import zmq

from supersonic.actors.policy import NumpyPolicy
from supersonic.actors.remote import InferenceUnavailable, RemotePolicy, local_policy
from supersonic.launch.config import ConfigError, parse_config
from supersonic.learners.algorithm import make_algorithm
from supersonic.learners.inference import InferenceServer
from supersonic.logs import configure
from supersonic.protocol.security import Security, ZapHandler, generate_keys

OBS_DIM, N_ACTIONS = 6, 5


@pytest.fixture
def ctx() -> zmq.Context[zmq.Socket[bytes]]:
    context: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    yield context
    context.term()


def _obs(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(n, OBS_DIM)).astype(np.float32)


@pytest.mark.parametrize("algorithm", ["ppo", "dqn"])
def test_a_snapshot_answers_as_the_numpy_policy_of_the_same_weights(algorithm: str) -> None:
    algo = make_algorithm(algorithm, OBS_DIM, N_ACTIONS, seed=3)
    snapshot = algo.policy_snapshot()
    local = NumpyPolicy(*algo.policy_weights())
    obs = _obs(16)
    actions, logp, values = snapshot.act(obs, deterministic=True)
    rng = np.random.default_rng(0)
    expected = [local.act(o, rng, deterministic=True) for o in obs]
    assert actions.tolist() == [a for a, _, _ in expected]
    np.testing.assert_allclose(logp, [lp for _, lp, _ in expected], atol=1e-5)
    np.testing.assert_allclose(values, [v for _, _, v in expected], atol=1e-5)
    # Deterministic over choices (action a is choice a mod 2): the learner folds as the actor.
    folded, _, _ = snapshot.act(obs, deterministic=True, choices=2)
    assert folded.tolist() == [local.act(o, rng, True, choices=2)[0] for o in obs]
    sampled, sampled_logp, _ = snapshot.act(obs, deterministic=False)
    assert sampled.dtype == np.int64 and ((sampled >= 0) & (sampled < N_ACTIONS)).all()
    assert (sampled_logp <= 0).all()


def test_the_endpoint_serves_the_latest_version_and_refuses_bad_requests(
    ctx: zmq.Context[zmq.Socket[bytes]], tmp_path: Path
) -> None:
    algo = make_algorithm("ppo", OBS_DIM, N_ACTIONS, seed=1)
    log = configure("learner", "learner-test", tmp_path / "events.jsonl")
    server = InferenceServer(ctx, Security(), "127.0.0.1", "learner-test", "c1", log)
    server.swap(0, algo.policy_snapshot())
    server.start()
    remote = RemotePolicy(ctx, server.endpoint, "c1", "actor-test", N_ACTIONS, timeout_s=5.0)
    try:
        local = NumpyPolicy(*algo.policy_weights())
        rng = np.random.default_rng(0)
        obs = _obs(4)
        action, logp, value = remote.act(obs[0], np.random.default_rng(0), deterministic=True)
        expected = local.act(obs[0], np.random.default_rng(0), deterministic=True)
        assert action == expected[0] and remote.version == 0
        assert logp == pytest.approx(expected[1], abs=1e-5)
        assert value == pytest.approx(expected[2], abs=1e-5)
        actions, _, values = remote.act_batch(obs)  # a batch: one forward pass, N answers
        assert actions.shape == values.shape == (4,)
        folded = remote.act_batch(obs, deterministic=True, choices=3)[0]
        assert folded.tolist() == [local.act(o, rng, True, choices=3)[0] for o in obs]

        algo.version = 7  # as after updates: the learner swaps in the new network
        server.swap(7, algo.policy_snapshot())
        remote.act(obs[1], np.random.default_rng(0))
        assert remote.version == 7 and server.served(7) and not server.served(3)

        with pytest.raises(InferenceUnavailable, match=r"obs must be float32 \[N >= 1, 6\]"):
            remote.act_batch(_obs(2)[:, :4])
        wrong = RemotePolicy(ctx, server.endpoint, "other", "actor-test", N_ACTIONS)
        with pytest.raises(InferenceUnavailable, match="trains c1, not other"):
            wrong.act(obs[0], np.random.default_rng(0))
        wrong.close()
        assert remote.act(obs[2], np.random.default_rng(0))[0] in range(N_ACTIONS)
        assert server.stats.refused == 2 and server.stats.rows == 1 + 4 + 4 + 1 + 1
    finally:
        remote.close()
        server.stop()
    events = (tmp_path / "events.jsonl").read_text()
    assert events.count('"inference_refused"') == 2


@pytest.mark.timeout(30)
def test_a_learner_that_is_gone_does_not_hang_the_actor(
    ctx: zmq.Context[zmq.Socket[bytes]], tmp_path: Path
) -> None:
    algo = make_algorithm("ppo", OBS_DIM, N_ACTIONS, seed=1)
    log = configure("learner", "learner-test", tmp_path / "events.jsonl")
    server = InferenceServer(ctx, Security(), "127.0.0.1", "learner-test", "c1", log)
    server.swap(0, algo.policy_snapshot())
    server.start()
    remote = RemotePolicy(ctx, server.endpoint, "c1", "actor-test", N_ACTIONS, timeout_s=0.3)
    try:
        remote.act(_obs(1)[0], np.random.default_rng(0))
        server.stop()  # the learner dies
        with pytest.raises(InferenceUnavailable, match=r"no answer within 0\.3 s"):
            remote.act(_obs(1)[0], np.random.default_rng(0))  # raises: it does not wait forever
    finally:
        remote.close()


def test_an_unknown_key_is_refused_on_the_inference_endpoint(
    ctx: zmq.Context[zmq.Socket[bytes]], tmp_path: Path
) -> None:
    head = generate_keys(tmp_path / "head")
    board = generate_keys(tmp_path / "board")
    rogue = generate_keys(tmp_path / "rogue")
    (tmp_path / "head" / "authorized_keys").write_text(board.public.decode() + " board\n")
    server_security = Security.from_dir(tmp_path / "head")
    refused: list[tuple[str, str, str]] = []
    zap = ZapHandler(ctx, server_security.allowed, lambda *r: refused.append(r)).start()
    algo = make_algorithm("ppo", OBS_DIM, N_ACTIONS, seed=1)
    log = configure("learner", "learner-test", tmp_path / "events.jsonl")
    server = InferenceServer(ctx, server_security, "127.0.0.1", "learner-test", "c1", log)
    server.swap(0, algo.policy_snapshot())
    server.start()
    good = RemotePolicy(
        ctx, server.endpoint, "c1", "board", N_ACTIONS, Security(board, head.public), 5.0
    )
    bad = RemotePolicy(
        ctx, server.endpoint, "c1", "rogue", N_ACTIONS, Security(rogue, head.public), 1.0
    )
    try:
        assert good.act(_obs(1)[0], np.random.default_rng(0))[0] in range(N_ACTIONS)
        # Refused at the handshake: either its request finds no connection, or no answer comes.
        with pytest.raises(InferenceUnavailable, match=r"no connection|no answer"):
            bad.act(_obs(1)[0], np.random.default_rng(0))
        assert refused and refused[0][0] == "127.0.0.1"
        assert refused[0][1] == rogue.public.decode()
        assert server.stats.requests == 1  # nothing of the rogue ever reached the server
    finally:
        good.close()
        bad.close()
        server.stop()
        zap.stop()


def test_the_actor_runs_weights_it_can_and_asks_the_learner_for_the_rest() -> None:
    arch, tensors = make_algorithm("ppo", OBS_DIM, N_ACTIONS).policy_weights()
    central_only: dict[str, object] = {"kind": "central"}
    assert isinstance(local_policy("auto", arch, tensors, central=True), NumpyPolicy)
    assert isinstance(local_policy("local", arch, tensors, central=True), NumpyPolicy)
    assert local_policy("auto", central_only, {}, central=True) is None
    assert local_policy("central", arch, tensors, central=True) is None
    with pytest.raises(ValueError, match="no central inference"):
        local_policy("auto", central_only, {}, central=False)
    with pytest.raises(ValueError, match="inference is 'local'"):
        local_policy("local", central_only, {}, central=True)
    with pytest.raises(ValueError, match="serves no inference endpoint"):
        local_policy("central", arch, tensors, central=False)


def test_a_bad_inference_setting_is_one_line() -> None:
    text = """
[run]
task = "cartpole"
inference = "gpu"
[[candidates]]
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
"""
    with pytest.raises(ConfigError) as info:
        parse_config(text, "run.toml")
    message = str(info.value)
    assert "\n" not in message
    assert "inference = 'gpu' is not valid; choose one of auto, local, central" in message
    assert parse_config(text.replace('"gpu"', '"central"'), "run.toml").inference == "central"
