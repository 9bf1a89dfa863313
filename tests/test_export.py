"""Exporting the winner: the policy file format, the learner saving scored policies, and a real
CartPole search whose exported policy reproduces its recorded score in a fresh process."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from supersonic.actors.exported import load_policy
from supersonic.actors.policy import NumpyPolicy
from supersonic.launch.export import export_best, stack_versions
from supersonic.launch.launcher import best_evaluation
from supersonic.protocol.messages import CandidateSpec, Score, Transitions
from supersonic.protocol.policy_file import ARCH_KEY, load_policy_file, save_policy_file

ROOT = Path(__file__).resolve().parents[1]

CARTPOLE_CONFIG = """\
[run]
name = "export"
task = "cartpole"
actors = 2
steps_per_candidate = 4000
batch_size = 64
baseline_random = false
# Under load (2 cores, another run) a PPO update can take seconds; the learner's control link
# drops messages queued for it when it reconnects after a silence, and a lost SCORE means no
# saved policy. A generous timeout keeps this test about exporting.
heartbeat_timeout_s = 30

[[candidates]]
name = "ppo-raw"
algorithm = "ppo"
state_fn = "raw"
reward_fn = "env"
hyperparameters = { rollout_steps = 512, minibatch_size = 128, epochs = 10, lr = 0.001, \
ent_coef = 0.0 }
"""


def _mlp(rng: np.random.Generator) -> tuple[dict[str, str | int | float | bool], dict]:
    arch: dict[str, str | int | float | bool] = {
        "kind": "mlp",
        "activation": "tanh",
        "pi_layers": "pi.0,pi.1",
        "v_layers": "v.0,v.1",
    }
    tensors = {
        "pi.0.weight": rng.standard_normal((8, 4), dtype=np.float32),
        "pi.0.bias": rng.standard_normal(8, dtype=np.float32),
        "pi.1.weight": rng.standard_normal((2, 8), dtype=np.float32),
        "pi.1.bias": rng.standard_normal(2, dtype=np.float32),
        "v.0.weight": rng.standard_normal((8, 4), dtype=np.float32),
        "v.0.bias": rng.standard_normal(8, dtype=np.float32),
        "v.1.weight": rng.standard_normal((1, 8), dtype=np.float32),
        "v.1.bias": rng.standard_normal(1, dtype=np.float32),
    }
    return arch, tensors


# ------------------------------------------------------------------------------ file format
def test_policy_file_round_trip(tmp_path: Path) -> None:
    arch, tensors = _mlp(np.random.default_rng(0))
    arch["epsilon_note"] = 0.5  # any plain value survives
    path = tmp_path / "p.npz"
    save_policy_file(path, arch, tensors)
    assert [p.name for p in tmp_path.iterdir()] == ["p.npz"]  # no temporary file left
    arch2, tensors2 = load_policy_file(path)
    assert arch2 == arch
    assert set(tensors2) == set(tensors)
    for name, tensor in tensors.items():
        assert tensors2[name].dtype == np.float32
        np.testing.assert_array_equal(tensors2[name], tensor)
    del arch2["epsilon_note"]
    policy = NumpyPolicy(arch2, tensors2)
    assert policy.obs_dim == 4 and policy.n_actions == 2


def test_policy_file_holds_no_pickle(tmp_path: Path) -> None:
    arch, tensors = _mlp(np.random.default_rng(1))
    path = tmp_path / "p.npz"
    save_policy_file(path, arch, tensors)
    with zipfile.ZipFile(path) as z:
        for name in z.namelist():
            with z.open(name) as f:
                version = np.lib.format.read_magic(f)
                assert version in ((1, 0), (2, 0)), version
                read_header = (
                    np.lib.format.read_array_header_1_0
                    if version == (1, 0)
                    else np.lib.format.read_array_header_2_0
                )
                _, _, dtype = read_header(f)
                assert not dtype.hasobject, name
    with np.load(path, allow_pickle=False) as data:
        assert str(data[ARCH_KEY][()]).startswith("{")
    # An object array (which only a pickle can hold) is refused, with one line.
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{ARCH_KEY: np.array(json.dumps(arch)), "x": np.array([{}], dtype=object)})
    with pytest.raises(ValueError, match="not a readable policy file") as err:
        load_policy_file(bad)
    assert "\n" not in str(err.value)
    with pytest.raises(ValueError, match="not a number"):
        save_policy_file(tmp_path / "o.npz", arch, {"x": np.array([{}], dtype=object)})


def test_the_export_carries_the_best_results_that_passed_validation(tmp_path: Path) -> None:
    arch, tensors = _mlp(np.random.default_rng(2))
    policy_file = tmp_path / "v3.npz"
    save_policy_file(policy_file, arch, tensors)
    rows = [
        {"program": "a", "candidate": "c", "policy_version": 3, "metric": 2.0,
         "details": {"chosen": "1 2"}, "validation": "valid: same output as numpy"},
        {"program": "b", "candidate": "c", "policy_version": 2, "metric": 9.0,
         "details": {"chosen": "4 4"}, "validation": "INVALID: wrong result"},
        {"program": "d", "candidate": "c", "policy_version": 2, "metric": 1.0,
         "details": {}, "validation": ""},
    ]  # fmt: skip
    spec = CandidateSpec(name="c", algorithm="ppo", state_fn="raw", reward_fn="env")
    best = export_best(
        tmp_path, task="cartpole", spec=spec, policy_file=policy_file, scores={},
        episode_length=10, validation_programs=["a", "b", "d"], best_results=rows,
    )  # fmt: skip
    exported = load_policy(best)
    assert list(exported.best_results) == ["a"]
    assert exported.best_results["a"]["details"] == {"chosen": "1 2"}
    (best / "best_results.json").write_text('{"format": 1, "results": {"a": 3}}')
    with pytest.raises(ValueError, match="needs a 'details' object") as err:
        load_policy(best)
    assert "\n" not in str(err.value)
    # None passed validation (or none given): no file, and an empty mapping when loaded.
    export_best(
        tmp_path, task="cartpole", spec=spec, policy_file=policy_file, scores={},
        episode_length=10, validation_programs=["a"], best_results=rows[1:],
    )  # fmt: skip
    assert not (best / "best_results.json").exists() and load_policy(best).best_results == {}


# ----------------------------------------------------------------------------- the learner
def _segment(learner: object, n: int, seq: int, rng: np.random.Generator) -> Transitions:
    version = learner.algo.version  # type: ignore[attr-defined]
    return Transitions(
        candidate="ppo-raw",
        actor="test-actor",
        batch_seq=seq,
        policy_version=version,
        obs=rng.standard_normal((n, 4)).astype(np.float32),
        actions=rng.integers(2, size=n),
        rewards=np.ones(n, np.float32),
        terminated=np.zeros(n, bool),
        truncated=np.zeros(n, bool),
        logp=np.full(n, np.log(0.5), np.float32),
        values=np.zeros(n, np.float32),
    )


def test_learner_saves_the_policy_of_a_scored_version(tmp_path: Path) -> None:
    from supersonic.learners.learner import KEPT_VERSIONS, Learner, LearnerOptions

    spec = CandidateSpec(
        name="ppo-raw",
        algorithm="ppo",
        state_fn="raw",
        reward_fn="env",
        hyperparameters={"rollout_steps": 64, "minibatch_size": 32, "epochs": 1},
    )
    checkpoints = tmp_path / "ckpt"
    learner = Learner(
        LearnerOptions(
            connect="tcp://127.0.0.1:9",  # nobody there: no supervisor in this test
            task="cartpole",
            candidate=spec,
            checkpoint_dir=checkpoints,
            log_path=tmp_path / "learner.jsonl",
        )
    )
    try:
        learner.link.connect()
        learner._publish()
        published = learner.algo.policy_weights()
        learner._on_control(Score(candidate="ppo-raw", policy_version=0, score=9.0, stage="x"))
        saved = checkpoints / "policies" / "v0.npz"
        assert saved.exists()
        arch, tensors = load_policy_file(saved)
        policy = NumpyPolicy(arch, tensors)
        assert policy.obs_dim == 4 and policy.n_actions == 2
        for name, tensor in published[1].items():
            np.testing.assert_array_equal(tensors[name], tensor)
        first = saved.stat().st_mtime_ns
        learner._on_control(Score(candidate="ppo-raw", policy_version=0, score=9.0, stage="y"))
        assert saved.stat().st_mtime_ns == first  # written once

        # Real updates until version 0 has left the window of kept versions.
        rng = np.random.default_rng(0)
        for seq in range(KEPT_VERSIONS + 1):
            learner._on_transitions(_segment(learner, 64, seq, rng))
            assert learner.algo.ready()
            learner._update()
        version = learner.algo.version
        assert version == KEPT_VERSIONS + 1 and len(learner.kept) == KEPT_VERSIONS
        assert 1 not in learner.kept
        learner._on_control(Score(candidate="ppo-raw", policy_version=1, score=1.0))
        assert not (checkpoints / "policies" / "v1.npz").exists()
        learner._on_control(Score(candidate="ppo-raw", policy_version=version, score=1.0))
        arch, tensors = load_policy_file(checkpoints / "policies" / f"v{version}.npz")
        for name, tensor in learner.algo.policy_weights()[1].items():
            np.testing.assert_array_equal(tensors[name], tensor)
        assert sorted(p.name for p in (checkpoints / "policies").iterdir()) == [
            "v0.npz",
            f"v{version}.npz",
        ]
    finally:
        learner._shutdown()
    events = [json.loads(line)["event"] for line in (tmp_path / "learner.jsonl").open()]
    assert events.count("policy_saved") == 2 and events.count("policy_not_kept") == 1


def test_learner_without_checkpoint_dir_saves_nothing(tmp_path: Path) -> None:
    from supersonic.learners.learner import Learner, LearnerOptions

    spec = CandidateSpec(name="ppo-raw", algorithm="ppo", state_fn="raw", reward_fn="env")
    learner = Learner(LearnerOptions(connect="tcp://127.0.0.1:9", task="cartpole", candidate=spec))
    try:
        learner.link.connect()
        learner._publish()
        learner._on_control(Score(candidate="ppo-raw", policy_version=0, score=1.0))
    finally:
        learner._shutdown()
    assert list(tmp_path.iterdir()) == []


def test_a_learner_at_its_budget_waits_instead_of_spinning_on_queued_segments(
    tmp_path: Path,
) -> None:
    """Segments it will not take stay readable on the socket; polling it anyway returned at
    once every turn, a busy loop on one core through every evaluation at a budget (which
    slowed the TVM and Halide measurements of that evaluation 10-240x)."""
    import zmq

    from supersonic.learners.learner import Learner, LearnerOptions
    from supersonic.protocol.transport import Channel

    spec = CandidateSpec(name="ppo-raw", algorithm="ppo", state_fn="raw", reward_fn="env")
    learner = Learner(LearnerOptions(connect="tcp://127.0.0.1:9", task="cartpole", candidate=spec))
    push = learner.ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.LINGER, 0)
    push.connect(learner.transitions_endpoint)
    try:
        learner.link.connect()
        learner.budget = 0  # reached: TRAIN_UNTIL 0
        Channel(push, "test-actor").send(_segment(learner, 8, 0, np.random.default_rng(0)))
        assert learner.pull.socket.poll(5000, zmq.POLLIN)  # the segment is queued
        turns, started = 0, time.monotonic()
        while time.monotonic() - started < 1.0:
            learner._pump(200)
            turns += 1
        assert turns <= 6  # each turn waited its 200 ms (a spinning loop makes thousands)
        assert learner.received == 0 and learner.pull.socket.poll(0, zmq.POLLIN)  # not taken
        learner.budget = None  # a new budget: the queued segment is taken at the next turn
        learner._pump(200)
        assert learner.received == 8
    finally:
        push.close()
        learner._shutdown()


# ------------------------------------------------------------------------------ end to end
def test_exported_policy_reproduces_the_recorded_score_in_a_fresh_process(
    tmp_path: Path,
) -> None:
    config = tmp_path / "run.toml"
    config.write_text(CARTPOLE_CONFIG)
    run_dir = tmp_path / "run"
    proc = subprocess.run(
        [sys.executable, "-m", "supersonic", "launch", str(config), "--run-dir", str(run_dir)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    results = json.loads((run_dir / "results.json").read_text())
    candidate = results["candidates"][0]
    # The launch exported the candidate's best-scoring evaluation and says which.
    launched = json.loads((run_dir / "best" / "scores.json").read_text())["exported"]
    evaluations = [v for k, v in candidate["scores"].items() if k != "initial"]
    assert launched["score"] == max(v["score"] for v in evaluations)
    launched_spec = json.loads((run_dir / "best" / "spec.json").read_text())
    assert launched_spec["policy_version"] == launched["policy_version"]
    final = candidate["scores"]["final"]
    version = final["policy_version"]
    assert version >= 1
    run_config = json.loads((run_dir / "config.json").read_text())
    policy_file = (
        run_dir / "checkpoints" / candidate["spec"]["name"] / "policies" / f"v{version}.npz"
    )
    assert policy_file.exists(), sorted(policy_file.parent.glob("*"))
    best = export_best(
        run_dir,
        task=results["task"],
        spec=CandidateSpec(**candidate["spec"]),
        policy_file=policy_file,
        scores=candidate["scores"],
        episode_length=run_config["episode_length"],
        validation_programs=final["programs"],
    )
    assert best == run_dir / "best"
    assert sorted(p.name for p in best.iterdir()) == ["policy.npz", "scores.json", "spec.json"]
    spec = json.loads((best / "spec.json").read_text())
    assert spec["task"] == "cartpole" and spec["policy_version"] == version
    assert spec["candidate"]["hyperparameters"]["epochs"] == 10
    assert spec["episode_length"] == 500 and len(spec["validation_programs"]) == 10
    assert spec["versions"] == stack_versions() and "numpy" in spec["versions"]

    script = (
        "import json, sys\n"
        "import supersonic\n"
        f"exported = supersonic.load_policy({str(best)!r})\n"
        "spec = json.load(open(exported.path / 'spec.json'))\n"
        "score, metrics = exported.evaluate(spec['validation_programs'], spec['episode_length'])\n"
        "print(json.dumps({'score': score, 'metrics': metrics,\n"
        "                  'recorded': exported.scores['final']['score'],\n"
        "                  'torch': 'torch' in sys.modules}))\n"
    )
    fresh = subprocess.run(
        [sys.executable, "-c", script], cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert fresh.returncode == 0, fresh.stderr[-3000:]
    out = json.loads(fresh.stdout.strip().splitlines()[-1])
    assert out["torch"] is False
    assert out["metrics"] == final["metrics"]
    assert out["score"] == pytest.approx(final["score"], rel=1e-12, abs=1e-12)
    assert out["recorded"] == final["score"]

    # Exporting again replaces the old export.
    export_best(
        run_dir,
        task=results["task"],
        spec=CandidateSpec(**candidate["spec"]),
        policy_file=policy_file,
        scores={"final": {"score": 0.0}},
        episode_length=500,
        validation_programs=["seed:1"],
    )
    assert load_policy(best).scores == {"final": {"score": 0.0}}
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith("best")) == ["best"]


# ------------------------------------------------------------------------------- bad exports
def _export(tmp_path: Path) -> Path:
    arch, tensors = _mlp(np.random.default_rng(2))
    policy_file = tmp_path / "v3.npz"
    save_policy_file(policy_file, arch, tensors)
    spec = CandidateSpec(name="c", algorithm="ppo", state_fn="raw", reward_fn="env")
    return export_best(
        tmp_path,
        task="cartpole",
        spec=spec,
        policy_file=policy_file,
        scores={"final": {"score": 1.0}},
        episode_length=20,
        validation_programs=["seed:1", "seed:2"],
    )


def test_a_small_export_loads_and_acts(tmp_path: Path) -> None:
    best = _export(tmp_path)
    for path in (best, best / "policy.npz", str(best)):
        exported = load_policy(path)
        assert exported.policy_version == 3 and exported.episode_length == 20
    assert exported.act(np.zeros(4, np.float32)) in (0, 1)
    score, details = exported.rollout("seed:1")
    assert 1 <= details["length"] <= 20 and score == details["return"]
    aggregate, metrics = exported.evaluate()
    assert len(metrics) == 2 and metrics[0] == score
    assert aggregate == pytest.approx(sum(metrics) / 2)


def _one_line_error(path: Path, kind: type[Exception], match: str) -> None:
    with pytest.raises(kind, match=match) as err:
        load_policy(path)
    assert "\n" not in str(err.value)


def test_bad_exports_give_one_line_errors(tmp_path: Path) -> None:
    _one_line_error(tmp_path / "nowhere", FileNotFoundError, "no such export")
    best = _export(tmp_path)

    (best / "spec.json").rename(best / "spec.saved")
    _one_line_error(best, FileNotFoundError, "spec.json: missing")
    (best / "spec.saved").rename(best / "spec.json")

    spec = (best / "spec.json").read_text()
    (best / "spec.json").write_text(spec[:40])
    _one_line_error(best, ValueError, "not readable JSON")
    (best / "spec.json").write_text(spec.replace('"raw"', '"nope"'))
    _one_line_error(best, ValueError, "unknown state function")
    (best / "spec.json").write_text(spec)

    good = (best / "policy.npz").read_bytes()
    (best / "policy.npz").write_bytes(good[: len(good) // 2])
    _one_line_error(best, ValueError, "not a readable policy file")
    (best / "policy.npz").write_bytes(b"garbage")
    _one_line_error(best, ValueError, "not a readable policy file")
    (best / "policy.npz").unlink()
    _one_line_error(best, FileNotFoundError, "no such policy file")

    arch, tensors = _mlp(np.random.default_rng(3))
    del tensors["v.1.bias"]
    save_policy_file(best / "policy.npz", arch, tensors)
    _one_line_error(best, ValueError, "v.1.bias is missing")
    np.save(best / "single.npy", np.zeros(3))
    (best / "single.npy").rename(best / "policy.npz")
    _one_line_error(best, ValueError, "not an .npz archive")


def test_the_export_is_the_best_scoring_evaluation_not_the_last() -> None:
    def evaluation(score: float, version: int) -> dict[str, float | int]:
        return {"score": score, "policy_version": version, "budget": version * 100}

    scores = {
        "initial": evaluation(0.9, 0),  # the untrained policy is never the export
        "b2000": evaluation(0.75, 7),
        "b6000": evaluation(0.75, 20),
        "b18000": evaluation(0.05, 63),
        "final": evaluation(0.05, 63),
    }
    assert best_evaluation(scores) == ("b6000", scores["b6000"])  # ties: the later version
    assert best_evaluation({"initial": evaluation(0.5, 0)}) is None
    improving = {"b2000": evaluation(0.2, 3), "final": evaluation(0.6, 9)}
    assert best_evaluation(improving) == ("final", improving["final"])
