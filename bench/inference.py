"""Central inference against the actor's local numpy forward pass, side by side in one run.

A real `Learner` (PPO on the LLVM task's Autophase state: 56 inputs, 124 actions, the default
64x64 MLPs) runs in its own process with its inference endpoint (ROUTER, served from a thread);
this process plays an actor. Measured:

1. local: `NumpyPolicy.act` on the weights that learner published (what a light actor does);
2. central: `RemotePolicy.act` (INFER_REQUEST -> INFER_REPLY over loopback, one observation per
   request, as an actor with one env asks) while the learner is idle, and while it trains
   (a PPO update on a synthetic 1,024-row rollout);
3. central with 64 observations per request (`act_batch`): what batching buys;
4. the learner's side: the wall and thread-CPU time of one update with no inference traffic,
   while answering an actor that asks as fast as it can ("full rate"), and while answering one
   that steps an env of 1 ms between requests ("paced", closer to a real actor). The three
   alternate round by round, so that the machine's changing load hits them alike.

Round trips are per call (median, p99); actions/s is calls x observations / wall time.
Target (loopback, 2 shared cores): central p99 round trip <= 5 ms with the learner idle, and
updates at most 1.5x slower while serving the paced actor. Both processes share the 2 cores, so
the "serving" figures include the actor's own CPU use, which a board would not add to the head.

The learner trains with one torch intra-op thread by default (`--torch-threads 0`: torch's
default, 2 here). On these 2 cores shared with other jobs, OpenMP's two-thread team made a PPO
update 0.8-2.9 s of wall time instead of 0.13 s (its threads wait at barriers for each other
while descheduled), which drowns what this bench looks for; see docs/cluster.md.

    .venv/bin/python bench/inference.py [--quick] [--device cuda]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import zmq

OBS_DIM, N_ACTIONS = 56, 124
CANDIDATE = "bench"
ROLLOUT = 1024
STEP_S = 0.001  # the paced actor's env step: LLVM's in-process step takes 0.5-4 ms here


def _learner_process(conn: Any, device: str, log_dir: str, threads: int) -> None:
    """A real Learner without a supervisor: it serves inference and, on command, trains."""
    import torch

    if threads:
        torch.set_num_threads(threads)
    from supersonic.learners.algorithm import Batch
    from supersonic.learners.learner import Learner, LearnerOptions
    from supersonic.protocol.messages import CandidateSpec

    spec = CandidateSpec(
        name=CANDIDATE,
        algorithm="ppo",
        state_fn="autophase",
        reward_fn="ir_oz",
        hyperparameters={"rollout_steps": ROLLOUT, "minibatch_size": 128, "lr": 0.001},
    )
    learner = Learner(
        LearnerOptions(
            connect="tcp://127.0.0.1:9",
            task="llvm-codesize",
            candidate=spec,
            device=device,
            log_path=Path(log_dir) / "learner.jsonl",
            forward_events=False,
        )
    )
    learner.link.connect()  # a DEALER to nowhere: the bench has no supervisor
    assert learner.inference is not None
    arch, tensors = learner.algo.policy_weights()
    conn.send((learner.inference.endpoint, arch, tensors))
    rng = np.random.default_rng(0)
    while True:
        command = conn.recv()
        if command == "stop":
            break
        durations, cpu = [], []
        for _ in range(int(command)):
            n = ROLLOUT
            learner.algo.add(
                Batch(
                    obs=rng.normal(size=(n, OBS_DIM)).astype(np.float32),
                    actions=rng.integers(0, N_ACTIONS, n),
                    rewards=rng.normal(size=n).astype(np.float32),
                    terminated=np.arange(n) % 25 == 24,
                    truncated=np.zeros(n, dtype=bool),
                    logp=np.full(n, -np.log(N_ACTIONS), dtype=np.float32),
                    values=np.zeros(n, dtype=np.float32),
                    policy_version=learner.algo.version,
                )
            )
            started, thread_cpu = time.perf_counter(), time.thread_time()
            learner._update()  # train, log, publish (swaps the served snapshot)
            durations.append(time.perf_counter() - started)
            cpu.append(time.thread_time() - thread_cpu)
        conn.send((durations, cpu, learner.inference.stats.requests))
    learner.inference.stop()
    learner.link.close(None)


def _latencies(call: Any, count: int, until: Any = None) -> tuple[list[float], float]:
    """Per-call seconds of `call()` (count calls, or until `until()` is true), and wall time."""
    out: list[float] = []
    started = time.perf_counter()
    while (len(out) < count) if until is None else not until():
        t = time.perf_counter()
        call()
        out.append(time.perf_counter() - t)
    return out, time.perf_counter() - started


def _ms(values: list[float], q: float) -> float:
    return round(1000 * float(np.quantile(values, q)), 3)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer calls and updates (< 60 s)")
    parser.add_argument("--device", default="cpu", help="the learner's torch device")
    parser.add_argument(
        "--torch-threads",
        type=int,
        default=1,
        help="the learner's intra-op threads for training (0: torch's default); see above",
    )
    args = parser.parse_args()
    calls, rounds = (200, 3) if args.quick else (4000, 9)

    from supersonic.actors.policy import NumpyPolicy
    from supersonic.actors.remote import RemotePolicy

    mp = multiprocessing.get_context("spawn")
    ours, theirs = mp.Pipe()
    with tempfile.TemporaryDirectory() as log_dir:
        proc = mp.Process(
            target=_learner_process, args=(theirs, args.device, log_dir, args.torch_threads)
        )
        proc.start()
        try:
            endpoint, arch, tensors = ours.recv()
            local = NumpyPolicy(arch, tensors)
            ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
            remote = RemotePolicy(ctx, endpoint, CANDIDATE, "bench-actor", N_ACTIONS)
            rng = np.random.default_rng(1)
            obs = rng.normal(size=(256, OBS_DIM)).astype(np.float32)
            i = iter(range(10**9))

            def one_local() -> None:
                local.act(obs[next(i) % 256], rng)

            def one_central() -> None:
                remote.act(obs[next(i) % 256], rng)

            def batch_central() -> None:
                remote.act_batch(obs[:64])

            for _ in range(50):  # warm up both paths (connection, first forward passes)
                one_local(), one_central()
            local_s, local_wall = _latencies(one_local, calls)
            central_s, central_wall = _latencies(one_central, calls)
            batch_s, batch_wall = _latencies(batch_central, max(20, calls // 10))

            # The learner's side: single updates under three loads, interleaved round by round
            # (the order rotates) so that a change in the machine's load hits all of them.
            def paced_central() -> None:  # an actor whose env step takes STEP_S
                one_central()
                time.sleep(STEP_S)

            loads: dict[str, Any] = {"idle": None, "full": one_central, "paced": paced_central}
            walls: dict[str, list[float]] = {name: [] for name in loads}
            cpus: dict[str, list[float]] = {name: [] for name in loads}
            training_s: list[float] = []
            ours.send(1)  # a first update (lazy initialisations) is not measured
            ours.recv()
            for r in range(rounds):
                names = list(loads)[r % 3 :] + list(loads)[: r % 3]
                for name in names:
                    ours.send(1)
                    if loads[name] is not None:
                        samples, _ = _latencies(loads[name], 0, until=lambda: ours.poll(0))
                        if name == "full":
                            training_s += samples
                    (wall,), (cpu,), _ = ours.recv()
                    walls[name].append(wall)
                    cpus[name].append(cpu)
            ours.send("stop")
            remote.close()
            ctx.term()
        finally:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()

    wall = {name: statistics.median(v) for name, v in walls.items()}
    cpu = {name: statistics.median(v) for name, v in cpus.items()}
    central_p99 = _ms(central_s, 0.99)
    slowdown = wall["paced"] / wall["idle"]
    result: dict[str, Any] = {
        "bench": "inference",
        "quick": args.quick,
        "device": args.device,
        "learner_torch_threads": args.torch_threads,
        "obs_dim": OBS_DIM,
        "n_actions": N_ACTIONS,
        "local_actions_per_s": round(calls / local_wall),
        "local_rtt_median_ms": _ms(local_s, 0.5),
        "local_rtt_p99_ms": _ms(local_s, 0.99),
        "central_actions_per_s": round(calls / central_wall),
        "central_rtt_median_ms": _ms(central_s, 0.5),
        "central_rtt_p99_ms": _ms(central_s, 0.99),
        "central_batch64_actions_per_s": round(64 * len(batch_s) / batch_wall),
        "central_batch64_rtt_median_ms": _ms(batch_s, 0.5),
        "central_while_training_rtt_median_ms": _ms(training_s, 0.5),
        "central_while_training_rtt_p99_ms": _ms(training_s, 0.99),
        "update_rounds": rounds,
        "update_s_idle": round(wall["idle"], 4),
        "update_s_serving_full_rate": round(wall["full"], 4),
        "update_s_serving_paced": round(wall["paced"], 4),
        "update_cpu_s_idle": round(cpu["idle"], 4),
        "update_cpu_s_serving_full_rate": round(cpu["full"], 4),
        "update_cpu_s_serving_paced": round(cpu["paced"], 4),
        "update_slowdown_full_rate": round(wall["full"] / wall["idle"], 3),
        "update_slowdown_paced": round(slowdown, 3),
        "target": "central inference p99 round trip <= 5 ms (learner idle, loopback) and "
        "learner updates <= 1.5x slower while serving an actor that steps 1 ms per action",
        "met": central_p99 <= 5.0 and slowdown <= 1.5,
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
