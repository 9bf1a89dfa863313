"""Transport throughput, side by side in one run.

1. Transitions/s from one actor to one learner on loopback, Autophase-sized observations (56
   float32), at batch sizes 1, 16 and 256: the sender encodes TRANSITIONS messages with the real
   codec and pushes them; the receiver is a real `Learner` taking them in (decode, sequence
   checks, hand-off to PPO's buffer) in another process. Target: >= 100,000 transitions/s at 256.
2. An actor stepping the real LLVM env, streaming its segments to that learner vs not
   streaming (rounds alternate). Target: steps/s with streaming >= 95% of without.

    .venv/bin/python bench/transport.py [--quick]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import multiprocessing
import time
from typing import Any

import numpy as np
import zmq

OBS_DIM = 56
CANDIDATE = "bench"


def _learner_process(ready: Any, endpoint_box: Any, stop: Any, counts: Any) -> None:
    """A real Learner (PPO that never updates: pure ingest) without a supervisor."""
    from supersonic.learners.learner import Learner, LearnerOptions
    from supersonic.protocol.messages import CandidateSpec

    spec = CandidateSpec(
        name=CANDIDATE,
        algorithm="ppo",
        state_fn="autophase",
        reward_fn="ir_oz",
        hyperparameters={"rollout_steps": 65536},
    )
    learner = Learner(
        LearnerOptions(connect="tcp://127.0.0.1:9", task="llvm-codesize", candidate=spec)
    )
    learner.link.connect()  # a DEALER to nowhere: the bench has no supervisor
    endpoint_box.value = learner.transitions_endpoint.encode()
    ready.set()
    first = last = 0.0
    while not stop.is_set():
        before = learner.received
        learner._pump(50)
        if learner.received != before:
            last = time.perf_counter()
            first = first or last
        if learner.algo.ready():  # pure ingest: drop the data instead of training on it
            learner.algo._buffer.clear()
            learner.algo.buffered = 0
        counts["received"] = learner.received
        counts["first"], counts["last"] = first, last
        counts["lost"] = learner.lost_segments


def _start_learner() -> tuple[Any, Any, Any, str]:
    ctx = multiprocessing.get_context("spawn")
    ready, stop = ctx.Event(), ctx.Event()
    endpoint_box = ctx.Array("c", 128)
    counts = ctx.Manager().dict()
    proc = ctx.Process(target=_learner_process, args=(ready, endpoint_box, stop, counts))
    proc.start()
    ready.wait(60)
    return proc, stop, counts, endpoint_box.value.decode()


def throughput(batch: int, seconds: float) -> float:
    """Transitions/s through the real codec and a real learner's ingest path."""
    from supersonic.protocol.messages import Transitions
    from supersonic.protocol.transport import Channel

    proc, stop, counts, endpoint = _start_learner()
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.setsockopt(zmq.SNDHWM, 8)
    push.connect(endpoint)
    channel = Channel(push, "bench-actor")
    rng = np.random.default_rng(0)
    template = Transitions(
        candidate=CANDIDATE,
        actor="bench-actor",
        batch_seq=0,
        policy_version=0,
        obs=rng.random((batch, OBS_DIM), dtype=np.float32),
        actions=rng.integers(124, size=batch),
        rewards=np.zeros(batch, np.float32),
        terminated=np.zeros(batch, bool),
        truncated=np.zeros(batch, bool),
        logp=np.zeros(batch, np.float32),
        values=np.zeros(batch, np.float32),
    )
    sent = 0
    started = time.perf_counter()
    seq = 0
    while time.perf_counter() - started < seconds:
        channel.send(dataclasses.replace(template, batch_seq=seq))
        seq += 1
        sent += batch
    deadline = time.monotonic() + 30
    while counts.get("received", 0) < sent and time.monotonic() < deadline:
        time.sleep(0.05)
    received, first, last = counts["received"], counts["first"], counts["last"]
    stop.set()
    proc.join(30)
    push.close(0)
    ctx.term()
    assert received == sent and counts["lost"] == 0, (received, sent)
    return received / max(last - first, 1e-9)


def actor_streaming(steps_per_round: int, rounds: int) -> tuple[float, float]:
    """Env steps/s of a real actor with streaming on and off, rounds alternating."""
    from supersonic.actors.actor import Actor, ActorOptions
    from supersonic.envs import get_task
    from supersonic.envs.llvm.benchmarks import builtin_dataset
    from supersonic.learners.algorithm import make_algorithm
    from supersonic.protocol.messages import Assign, CandidateSpec, Weights

    proc, stop, _counts, endpoint = _start_learner()
    spec = CandidateSpec(name=CANDIDATE, algorithm="ppo", state_fn="autophase", reward_fn="ir_oz")
    task = get_task("llvm-codesize")
    algo = make_algorithm("ppo", task.state_fn("autophase").dim, task.n_actions, {})
    arch, tensors = algo.policy_weights()
    actor = Actor(ActorOptions(connect="tcp://127.0.0.1:9", ident="bench-actor"))
    programs = [b.uri for b in builtin_dataset().split("train")[:4]]
    actor._on_assign(
        Assign(
            candidate=spec,
            transitions_endpoint=endpoint,
            weights_endpoint="tcp://127.0.0.1:9",
            programs=programs,
            episode_length=50,
            batch_size=64,
            seed=0,
        )
    )
    work = actor.work
    assert work is not None
    actor._on_weights(work, Weights(candidate=CANDIDATE, version=0, arch=arch, tensors=tensors))
    for _ in range(400):  # warm up: every program compiled, baselines cached
        actor._step()
    times = {True: 0.0, False: 0.0}
    for i in range(rounds):
        for stream in (True, False) if i % 2 == 0 else (False, True):
            # Both modes replay exactly the same episodes (same programs, same actions): the
            # only difference between them is the streaming.
            actor._flush(work, cut=True)
            work.rng = np.random.default_rng(i)
            work.stream = stream
            started = time.perf_counter()
            for _ in range(steps_per_round):
                actor._step()
                if work.pending is not None:
                    actor._try_send(work, block_s=5.0)
            times[stream] += time.perf_counter() - started
    work.close()
    stop.set()
    proc.join(30)
    total = steps_per_round * rounds
    return total / times[True], total / times[False]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="shorter runs (< 60 s)")
    args = parser.parse_args()
    seconds = 2.0 if args.quick else 6.0
    rates = {batch: throughput(batch, seconds) for batch in (1, 16, 256)}
    for batch, rate in rates.items():
        print(f"batch {batch:4d}: {rate:12,.0f} transitions/s")
    steps, rounds = (300, 2) if args.quick else (1000, 6)
    on, off = actor_streaming(steps, rounds)
    ratio = on / off
    print(f"actor on the LLVM env: {on:.1f} steps/s streaming, {off:.1f} not; ratio {ratio:.3f}")
    print(
        json.dumps(
            {
                "bench": "transport",
                "transitions_per_s_batch_1": round(rates[1]),
                "transitions_per_s_batch_16": round(rates[16]),
                "transitions_per_s_batch_256": round(rates[256]),
                "actor_steps_per_s_streaming": round(on, 1),
                "actor_steps_per_s_not_streaming": round(off, 1),
                "streaming_ratio": round(ratio, 4),
                "target": ">= 100000 transitions/s at batch 256, and actor steps/s with streaming "
                ">= 95% of without",
                "met": rates[256] >= 100_000 and ratio >= 0.95,
            }
        )
    )


if __name__ == "__main__":
    main()
