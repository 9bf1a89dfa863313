"""The run ledger, and a candidate spec's trip through config, the wire and the ledger."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from supersonic.launch.config import parse_config
from supersonic.launch.ledger import Ledger, LedgerError
from supersonic.protocol.codec import decode, encode
from supersonic.protocol.messages import Assign, CandidateSpec

CONFIG = """
[run]
name = "round-trip"
task = "llvm-codesize"
seed = 7

[[candidates]]
name = "dqn-seq"
algorithm = "dqn"
state_fn = "ir_opcode_seq+autophase"
reward_fn = "ir_text_mix"
[candidates.hyperparameters]
lr = 0.00031
n_step = 5
dueling = false
hidden = "128,128"
encoder = "attention"
encoder_dim = 16
tau = 0.005

[[candidates]]
algorithm = "ppo"
state_fn = "autophase"
reward_fn = "ir_oz"
"""


def test_a_candidate_spec_round_trips_through_config_wire_and_ledger(tmp_path: Path) -> None:
    specs = parse_config(CONFIG, "test").candidates
    assert specs[0].hyperparameters["dueling"] is False
    assert specs[1].name == "ppo-autophase-ir_oz" and specs[1].seed == 8  # seed + index
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        for spec in specs:
            # Over the wire, inside the message that carries it to an actor...
            frames = encode(
                Assign(
                    candidate=spec,
                    transitions_endpoint="tcp://127.0.0.1:1",
                    weights_endpoint="tcp://127.0.0.1:2",
                    programs=["benchmark://supersonic-v0/nqueens"],
                    episode_length=20,
                    batch_size=64,
                    seed=1,
                    task="llvm-codesize",
                ),
                src="supervisor",
                seq=0,
            )
            _, message = decode([bytes(f) for f in frames])
            assert isinstance(message, Assign)
            on_the_wire = message.candidate
            assert on_the_wire == spec
            # ...then into the ledger and back.
            ledger.add_candidate(on_the_wire)
    with Ledger(tmp_path / "ledger.sqlite") as reopened:
        back = reopened.candidates()
    assert back == list(specs)
    for before, after in zip(specs, back, strict=True):
        for key, value in before.hyperparameters.items():
            assert type(after.hyperparameters[key]) is type(value), key


def test_the_ledger_refuses_a_changed_spec_under_the_same_name(tmp_path: Path) -> None:
    spec = CandidateSpec("c", "ppo", "autophase", "ir_oz", {"lr": 0.001}, seed=1)
    with Ledger(tmp_path / "l.sqlite") as ledger:
        ledger.add_candidate(spec)
        ledger.add_candidate(spec)  # the same again: fine (a resumed run)
        with pytest.raises(LedgerError, match="already recorded"):
            ledger.add_candidate(CandidateSpec("c", "ppo", "autophase", "ir_oz", {"lr": 0.002}))
        assert ledger.candidates() == [spec]
        with pytest.raises(KeyError, match="no candidate"):
            ledger.candidate("missing")


def test_the_ledger_is_in_wal_mode_and_refuses_garbage(tmp_path: Path) -> None:
    path = tmp_path / "l.sqlite"
    Ledger(path).close()
    with sqlite3.connect(path) as db:
        assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    garbage = tmp_path / "garbage.sqlite"
    garbage.write_bytes(b"this is not a database" * 100)
    with pytest.raises(LedgerError, match="not a usable ledger"):
        Ledger(garbage)
