"""`supersonic evaluate --task superopt`: every method on every function, one table of
estimated cycles, measured time, speedups over -O0, and the verification of each rewrite.

Methods:

    O0, O2, O3, Os  clang-14's code at that level (O0 is the episode's start)
    mcmc            STOKE-style Metropolis search from the -O0 code (`search.mcmc`)
    policy:PATH     an exported policy (RUN_DIR/best of a superopt search): its deterministic
                    episode, then episodes sampled from it, the best test-equivalent rewrite

The searches get the same number of evaluations (`--trials`: one evaluation is one measured
program: an env step or an MCMC proposal). Every program is measured the same way: the tests
in unicorn, llvm-mca's cycles, native nanoseconds per call (`native.py`, a child process),
and z3's verdict against the -O0 code (`verify.py`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from supersonic.envs.superopt.asm import Instr, listing, parse_listing
from supersonic.envs.superopt.compile import LEVELS, compiled
from supersonic.envs.superopt.cost import Evaluator
from supersonic.envs.superopt.functions import get_function
from supersonic.envs.superopt.native import time_native
from supersonic.envs.superopt.search import SearchResult, clang_code, geomean, mcmc, start
from supersonic.envs.superopt.verify import prove_equivalent

BASELINES = (*LEVELS, "mcmc")
DEFAULT_METHODS = ",".join(BASELINES)


@dataclass(frozen=True)
class SuperoptRow:
    """One method's best rewrite of one function."""

    function: str
    method: str
    evaluations: int
    cycles: float  # llvm-mca
    o0_cycles: float
    ns: float | None  # native, per call (None: not measured)
    o0_ns: float | None
    verification: str
    length: int
    rewrite: str

    @property
    def speedup(self) -> float:
        """Estimated (llvm-mca cycles), over -O0."""
        return self.o0_cycles / self.cycles if self.cycles else 0.0

    @property
    def measured_speedup(self) -> float | None:
        if not self.ns or not self.o0_ns:
            return None
        return self.o0_ns / self.ns


def parse_superopt_methods(spec: str) -> list[str]:
    """`O3,mcmc,policy:RUN/best` -> the method names, each checked (a policy must load and be a
    superopt policy)."""
    from supersonic.actors.exported import load_policy

    names = [n.strip() for n in spec.split(",") if n.strip()]
    if not names:
        raise ValueError(f"no methods given: use e.g. {DEFAULT_METHODS},policy:RUN_DIR/best")
    for name in names:
        if name.startswith("policy:"):
            try:
                policy = load_policy(name.split(":", 1)[1])
            except FileNotFoundError as exc:
                raise ValueError(str(exc)) from None
            if policy.task.name != "superopt":
                raise ValueError(f"{name}: was trained for task {policy.task.name}, not superopt")
        elif name not in BASELINES:
            raise ValueError(f"unknown method {name!r}: choose policy:PATH, {', '.join(BASELINES)}")
    if len(set(names)) != len(names):
        raise ValueError(f"a method is named twice in {spec}")
    return names


def policy_search(path: str, function: str, evaluations: int, seed: int = 0) -> SearchResult:
    """The exported policy's deterministic episode, then episodes sampled from it, until
    `evaluations` env steps are spent; the best test-equivalent program of all."""
    from supersonic.actors.exported import load_policy

    exported = load_policy(path)
    rng = np.random.default_rng(seed)
    env = exported.make_env(function)
    result = start(function, "policy", env.evaluator())
    try:
        episode = 0
        while result.evaluations < evaluations:
            raw, _ = env.reset(seed=seed + episode, options={"benchmark": function})
            truncated = False
            while not truncated and result.evaluations < evaluations:
                state = exported.state_fn(raw)
                action, _, _ = exported.policy.act(state, rng, deterministic=episode == 0)
                raw, _, _, truncated, _ = env.step(action)
                assert env.current is not None
                result.offer(env.body(), env.current)
            episode += 1
    finally:
        env.close()
    return result


def run_method(
    method: str, function: str, evaluations: int, evaluator: Evaluator, seed: int = 0
) -> SearchResult:
    if method in LEVELS:
        return clang_code(function, method, evaluator)
    if method == "mcmc":
        return mcmc(function, evaluations, evaluator, seed)
    return policy_search(method.split(":", 1)[1], function, evaluations, seed)


def verification(function: str, body: Sequence[Instr], evaluator: Evaluator) -> str:
    """z3's verdict on a test-equivalent rewrite; what failed otherwise."""
    if not evaluator.evaluate(body).correct:
        return "INVALID: differs from -O0 on the tests"
    return prove_equivalent(compiled(function, "O0"), body).label


def evaluate_superopt(
    functions: Sequence[str],
    methods: Sequence[str],
    evaluations: int,
    *,
    seed: int = 0,
    native: bool = True,
    on_result: Callable[[SuperoptRow], None] | None = None,
) -> list[SuperoptRow]:
    """Every method on every function (one after another: native timings of methods running
    side by side on a small machine would disturb each other)."""
    if evaluations < 1:
        raise ValueError(f"--trials must be >= 1, got {evaluations}")
    for name in functions:
        get_function(name)
    rows: list[SuperoptRow] = []
    timed: dict[str, float | None] = {}  # one measurement per distinct program

    def time_of(body: Sequence[Instr]) -> float | None:
        key = listing(body)
        if key not in timed:
            timed[key] = time_native(body).ns_per_call
        return timed[key]

    for function in functions:
        evaluator = Evaluator(function)
        o0 = compiled(function, "O0")
        o0_cycles = evaluator.evaluate(o0).cycles
        o0_ns = time_of(o0) if native else None
        for method in methods:
            found = run_method(method, function, evaluations, evaluator, seed)
            ns = time_of(found.body) if native else None
            row = SuperoptRow(
                function,
                method.split(":", 1)[0],
                found.evaluations,
                found.evaluation.cycles,
                o0_cycles,
                ns,
                o0_ns,
                verification(function, found.body, evaluator),
                len(found.body),
                listing(found.body),
            )
            rows.append(row)
            if on_result:
                on_result(row)
    return rows


def markdown_table(rows: Sequence[SuperoptRow], evaluations: int) -> str:
    """Per function and method: cycles, ns, speedups over -O0, verification; then geomeans."""
    lines = [
        f"# Superoptimization: {evaluations} evaluations per search",
        "",
        "| function | method | cycles | speedup | ns/call | measured speedup | instrs "
        "| verification |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |",
    ]
    for r in rows:
        ns = f"{r.ns:.2f}" if r.ns else "-"
        measured_text = f"{r.measured_speedup:.2f}" if r.measured_speedup else "-"
        lines.append(
            f"| {r.function} | {r.method} | {r.cycles:.2f} | {r.speedup:.2f} | {ns} "
            f"| {measured_text} | {r.length} | {r.verification} |"
        )
    lines += [
        "",
        "| method | geomean speedup (cycles) | geomean measured speedup | proved | functions |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for method in dict.fromkeys(r.method for r in rows):
        mine = [r for r in rows if r.method == method]
        measured = [float(r.measured_speedup) for r in mine if r.measured_speedup]
        proved = sum(r.verification.startswith("proved") for r in mine)
        lines.append(
            f"| {method} | {geomean([r.speedup for r in mine]):.2f} "
            f"| {geomean(measured) if measured else 0.0:.2f} | {proved} | {len(mine)} |"
        )
    return "\n".join(lines) + "\n"


def write_results(rows: Sequence[SuperoptRow], evaluations: int, out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    md = out_dir / "evaluation.md"
    md.write_text(markdown_table(rows, evaluations))
    js = out_dir / "evaluation.json"
    js.write_text(
        json.dumps(
            [
                {**asdict(r), "speedup": r.speedup, "measured_speedup": r.measured_speedup}
                for r in rows
            ],
            indent=1,
        )
    )
    return [md, js]


def rewrite_of(row: SuperoptRow) -> tuple[Instr, ...]:
    return parse_listing(row.rewrite)
