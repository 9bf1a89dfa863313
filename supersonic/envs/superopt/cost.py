"""The STOKE cost of a rewrite: correctness distance on the tests plus estimated latency.

    cost = EQ_WEIGHT * error + INCORRECT_PENALTY * (error > 0) + cycles + SIZE_WEIGHT * length

`error` is the mean over the tests of the Hamming distance between the rewrite's 32-bit return
value and the reference's (the -O0 code's), with `FAULT_BITS` for a test that faults or runs
away and `CLOBBER_BITS` more for one that returns with a callee-saved register or the stack
pointer changed. The mean (STOKE sums) keeps the two terms on one scale whatever the number of
tests; the flat `INCORRECT_PENALTY` keeps an almost-correct rewrite from looking cheaper than
a correct one a few cycles slower. llvm-mca charges nothing for an instruction whose result
nobody reads when ports are free, so a small `SIZE_WEIGHT` per instruction pushes dead code
out (STOKE's latency sum does the same).
`cycles` is llvm-mca's estimate (`mca.py`). A rewrite with error 0 is test-equivalent; only a
z3 proof (`verify.py`) makes it equivalent. Like STOKE, the distance is graded (one wrong bit
costs less than a wrong word) so that a search can walk through incorrect code towards
correct and faster code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from supersonic.envs.superopt.asm import Instr, listing
from supersonic.envs.superopt.assemble import assemble
from supersonic.envs.superopt.compile import compiled
from supersonic.envs.superopt.emulate import Emulator, Inputs, make_inputs
from supersonic.envs.superopt.functions import get_function
from supersonic.envs.superopt.mca import DEFAULT_CPU, estimate

EQ_WEIGHT = 2.0
INCORRECT_PENALTY = 4.0
SIZE_WEIGHT = 0.1
FAULT_BITS = 48
CLOBBER_BITS = 16
MCA_FAILED_CYCLES_PER_INSTR = 10.0  # llvm-mca could not read it: a pessimistic guess


@dataclass(frozen=True)
class Evaluation:
    """What one rewrite measures."""

    error: float  # the mean correctness distance over the tests (0: test-equivalent)
    cycles: float  # llvm-mca cycles per call
    cost: float
    length: int  # instructions
    failed_tests: int  # tests with a wrong value, a fault or a clobber

    @property
    def correct(self) -> bool:
        return self.error == 0


class Evaluator:
    """Measures rewrites of one function: its tests, reference outputs and emulator."""

    def __init__(
        self, function: str, n_random: int = 24, seed: int = 0, cpu: str = DEFAULT_CPU
    ) -> None:
        self.function = get_function(function)
        self.cpu = cpu
        self.emulator = Emulator()
        self.inputs: Inputs = make_inputs(n_random, seed, self.function.arity)
        reference = assemble(compiled(function, "O0"))
        if reference is None:
            raise RuntimeError(f"keystone cannot assemble clang -O0's {function}")
        outcomes = self.emulator.run(reference, self.inputs)
        if not all(o.value is not None and o.preserved for o in outcomes):
            raise RuntimeError(f"the -O0 code of {function} fails in the emulator")
        self.reference = [int(o.value) for o in outcomes if o.value is not None]
        self._cache: dict[str, Evaluation] = {}
        self.evaluations = 0  # distinct or not: every call counts (the search budget)

    def evaluate(self, body: Sequence[Instr]) -> Evaluation:
        self.evaluations += 1
        key = listing(body)
        found = self._cache.get(key)
        if found is None:
            found = self._measure(tuple(body))
            if len(self._cache) < 100_000:
                self._cache[key] = found
        return found

    def _measure(self, body: tuple[Instr, ...]) -> Evaluation:
        code = assemble(body)
        n = len(self.inputs)
        if code is None:
            total, failed = float(FAULT_BITS * n), n
        else:
            total, failed = 0.0, 0
            outcomes = self.emulator.run(code, self.inputs)
            for outcome, ref in zip(outcomes, self.reference, strict=True):
                bits = 0
                if outcome.value is None:
                    bits = FAULT_BITS
                else:
                    bits = (outcome.value ^ ref).bit_count()
                    if not outcome.preserved:
                        bits += CLOBBER_BITS
                total += bits
                failed += bits > 0
        mca = estimate(body, self.cpu)
        cycles = mca.cycles if mca else MCA_FAILED_CYCLES_PER_INSTR * max(1, len(body))
        error = total / n
        cost = (
            EQ_WEIGHT * error + INCORRECT_PENALTY * (error > 0) + cycles + SIZE_WEIGHT * len(body)
        )
        return Evaluation(error, cycles, cost, len(body), failed)
