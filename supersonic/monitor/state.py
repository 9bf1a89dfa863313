"""What a run looks like from its events: candidates, actors, decisions, progress.

`RunState.apply` folds events in one at a time, so the live monitor updates as lines arrive and
the report reads a finished run the same way. Only events' names and fields are used (see
docs/events.md), never the ledger: a copy of `events.jsonl` alone is enough.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from supersonic.monitor.events import Event


@dataclass
class CandidateView:
    name: str
    group: str = ""
    algorithm: str = ""
    state_fn: str = ""
    reward_fn: str = ""
    seed: int = 0
    phase: str = "new"  # the supervisor's phase (training, evaluating, paused, done, ...)
    budget: int = 0  # the rung (env steps) it trains to now, or stopped at
    env_steps: int = 0
    version: int = 0
    actors: int = 0
    scores: dict[str, float] = field(default_factory=dict)  # stage -> score
    score_steps: dict[str, int] = field(default_factory=dict)  # stage -> env steps at it
    # (env steps, mean episode score, mean return) at each learner update
    curve: list[tuple[int, float | None, float | None]] = field(default_factory=list)
    stopped_at: int | None = None
    winner: bool = False

    @property
    def architecture(self) -> str:
        return f"{self.algorithm} / {self.state_fn} / {self.reward_fn}"

    @property
    def latest_score(self) -> float | None:
        """The score at its highest budget (the initial score before any)."""
        budgets = [(int(k[1:]), v) for k, v in self.scores.items() if k.startswith("b")]
        if budgets:
            return max(budgets)[1]
        return self.scores.get("initial")

    @property
    def status(self) -> str:
        if self.winner:
            return "winner"
        if self.phase in ("stopped", "failed"):
            return self.phase
        if self.phase == "done":
            return "done"
        if self.phase in ("training", "evaluating"):
            return "alive"
        return self.phase  # new, paused, scored: waiting


@dataclass
class ActorView:
    id: str
    host: str = ""
    label: str = ""
    candidate: str = ""
    state: str = ""
    env_steps: int = 0
    steps_per_s: float = 0.0
    last_heard: float = 0.0  # epoch seconds of its last heartbeat as the supervisor saw it
    alive: bool = True


@dataclass
class RungScore:
    group: str
    budget: int
    score: float
    ts: float


@dataclass
class Decision:
    """A line of the search's story: work handed out, rung scores, stops, the winner."""

    ts: float
    text: str


@dataclass
class ThroughputSample:
    ts: float
    env_steps_total: int  # transitions the learners consumed so far
    actor_steps_per_s: float  # the actors' own rates, summed


@dataclass
class ProgramResult:
    """The best result seen for one validation program, with what the run knows to compare."""

    program: str
    best: float
    candidate: str
    details: dict[str, Any] = field(default_factory=dict)
    random: float | None = None


@dataclass
class RunState:
    task: str = ""
    metric: str = ""
    strategy: str = ""
    plan: str = ""
    max_budget: int = 0
    expected_env_steps: int = 0
    started: float | None = None  # the (latest) supervisor start
    steps_at_start: int = 0  # env steps already done then (a resumed run)
    last_ts: float | None = None
    ended: float | None = None
    winner: str | None = None
    env_steps_total: int = 0
    candidates: dict[str, CandidateView] = field(default_factory=dict)
    actors: dict[str, ActorView] = field(default_factory=dict)
    rungs: list[RungScore] = field(default_factory=list)
    decisions: list[Decision] = field(default_factory=list)
    throughput: list[ThroughputSample] = field(default_factory=list)
    programs: dict[str, ProgramResult] = field(default_factory=dict)
    random_search: dict[str, Any] | None = None
    warnings: int = 0
    errors: int = 0
    events: int = 0

    # ----------------------------------------------------------------------- folding
    def apply(self, e: Event) -> None:
        self.events += 1
        self.last_ts = e.ts if self.last_ts is None else max(self.last_ts, e.ts)
        if e.level == "warning":
            self.warnings += 1
        elif e.level in ("error", "critical"):
            self.errors += 1
        handler = getattr(self, "_on_" + e.event, None)
        if handler is not None:
            handler(e)

    def candidate(self, name: str) -> CandidateView:
        if name not in self.candidates:
            self.candidates[name] = CandidateView(name=name, group=name)
        return self.candidates[name]

    def _say(self, e: Event, text: str) -> None:
        self.decisions.append(Decision(e.ts, text))

    def _on_supervisor_start(self, e: Event) -> None:
        self.started, self.ended = e.ts, None
        self.steps_at_start = self.env_steps_total
        for name in e.get("candidates", []) or []:
            self.candidate(str(name))

    def _on_run_plan(self, e: Event) -> None:
        self.task = str(e.get("task", ""))
        self.metric = str(e.get("metric", ""))
        self.strategy = str(e.get("strategy", ""))
        self.plan = str(e.get("plan", ""))
        self.max_budget = int(e.get("max_budget", 0) or 0)
        self.expected_env_steps = int(e.get("expected_env_steps", 0) or 0)
        for spec in e.get("candidates", []) or []:
            if not isinstance(spec, dict) or "name" not in spec:
                continue
            c = self.candidate(str(spec["name"]))
            c.group = str(spec.get("group", c.name))
            c.algorithm = str(spec.get("algorithm", ""))
            c.state_fn = str(spec.get("state_fn", ""))
            c.reward_fn = str(spec.get("reward_fn", ""))
            c.seed = int(spec.get("seed", 0) or 0)

    def _on_progress(self, e: Event) -> None:
        self.env_steps_total = int(e.get("env_steps_total", 0) or 0)
        rate = 0.0
        for row in e.get("candidates", []) or []:
            if isinstance(row, dict) and "name" in row:
                c = self.candidate(str(row["name"]))
                c.phase = str(row.get("phase", c.phase))
                c.budget = int(row.get("budget", c.budget) or 0)
                c.env_steps = int(row.get("env_steps", c.env_steps) or 0)
                c.version = int(row.get("version", c.version) or 0)
                c.actors = int(row.get("actors", 0) or 0)
        seen = set()
        for row in e.get("peers", []) or []:
            if not isinstance(row, dict) or row.get("role") != "actor":
                continue
            a = self.actors.setdefault(str(row["id"]), ActorView(id=str(row["id"])))
            seen.add(a.id)
            a.host = str(row.get("host", a.host))
            a.label = str(row.get("label", a.label))
            a.candidate = str(row.get("candidate", ""))
            a.state = str(row.get("state", ""))
            a.env_steps = int(row.get("env_steps", 0) or 0)
            a.steps_per_s = float(row.get("steps_per_s", 0.0) or 0.0)
            a.last_heard = e.ts - float(row.get("silent_s", 0.0) or 0.0)
            a.alive = True
            rate += a.steps_per_s
        for a in self.actors.values():
            if a.id not in seen:
                a.alive = False
        self.throughput.append(ThroughputSample(e.ts, self.env_steps_total, rate))

    def _on_peer_join(self, e: Event) -> None:
        if e.get("peer_role") != "actor":
            return
        a = self.actors.setdefault(str(e.get("peer")), ActorView(id=str(e.get("peer"))))
        a.host, a.label = str(e.get("host", "")), str(e.get("label", ""))
        a.alive, a.last_heard = True, e.ts

    def _on_peer_dead(self, e: Event) -> None:
        a = self.actors.get(str(e.get("peer")))
        if a is not None:
            a.alive = False
        self._say(e, f"{e.get('peer_role')} {e.get('peer')} silent: declared dead")

    def _on_peer_bye(self, e: Event) -> None:
        a = self.actors.get(str(e.get("peer")))
        if a is not None:
            a.alive = False

    def _on_assign(self, e: Event) -> None:
        a = self.actors.setdefault(str(e.get("actor")), ActorView(id=str(e.get("actor"))))
        a.candidate = str(e.get("candidate", ""))

    def _on_work(self, e: Event) -> None:
        group, budget = str(e.get("group")), int(e.get("budget", 0) or 0)
        for c in self.candidates.values():
            if c.group == group:
                c.budget, c.phase = budget, "training"
        self._say(e, f"{group}: train to {budget} env steps")

    def _on_learner_update(self, e: Event) -> None:
        c = self.candidate(str(e.get("candidate")))
        steps = int(e.get("received", 0) or 0)
        c.env_steps = max(c.env_steps, steps)
        c.version = int(e.get("version", c.version) or 0)
        c.curve.append((steps, e.get("episode_score"), e.get("return_last20")))

    def _on_candidate_budget_reached(self, e: Event) -> None:
        c = self.candidate(str(e.get("candidate")))
        c.phase = "evaluating"

    def _on_candidate_score(self, e: Event) -> None:
        c = self.candidate(str(e.get("candidate")))
        stage = str(e.get("stage"))
        score = float(e.get("score"))
        c.scores[stage] = score
        c.score_steps[stage] = int(e.get("env_steps", 0) or 0)
        programs = e.get("programs") or []
        metrics = e.get("metrics") or []
        details = e.get("details") or [{}] * len(programs)
        for program, metric, detail in zip(programs, metrics, details, strict=False):
            best = self.programs.get(program)
            if best is None or float(metric) > best.best:
                random = best.random if best else None
                self.programs[program] = ProgramResult(
                    program, float(metric), c.name, dict(detail or {}), random
                )

    def _on_rung_score(self, e: Event) -> None:
        group, budget = str(e.get("group")), int(e.get("budget", 0) or 0)
        score = float(e.get("score"))
        self.rungs.append(RungScore(group, budget, score, e.ts))
        self._say(e, f"{group}: scored {score:.4g} at rung {budget}")

    def _settled(self, e: Event, phase: str) -> None:
        c = self.candidate(str(e.get("candidate")))
        c.phase = phase
        c.budget = int(e.get("budget", c.budget) or 0)
        if phase == "stopped":
            c.stopped_at = c.budget
            self._say(e, f"{c.name}: stopped at {c.budget} env steps (pruned)")
        elif phase == "done":
            self._say(e, f"{c.name}: done at the maximum budget {c.budget}")
        elif phase == "paused":
            self._say(e, f"{c.name}: paused at {c.budget} (may be promoted later)")

    def _on_candidate_stopped(self, e: Event) -> None:
        self._settled(e, "stopped")

    def _on_candidate_done(self, e: Event) -> None:
        self._settled(e, "done")

    def _on_candidate_paused(self, e: Event) -> None:
        self._settled(e, "paused")

    def _on_candidate_failed(self, e: Event) -> None:
        c = self.candidate(str(e.get("candidate")))
        c.phase = "failed"
        self._say(e, f"{c.name}: failed: {e.get('reason')}")

    def _on_search_done(self, e: Event) -> None:
        self.ended = e.ts
        self.env_steps_total = int(e.get("env_steps_total", self.env_steps_total) or 0)
        self.winner = e.get("winner")
        outcomes = e.get("outcomes") or {}
        for name, phase in outcomes.items():
            self.candidate(str(name)).phase = str(phase)
        for c in self.candidates.values():
            c.winner = c.name == self.winner
        self._say(e, f"search done: winner {self.winner}")

    def _on_supervisor_stop(self, e: Event) -> None:
        if self.ended is None:
            self.ended = e.ts

    def _on_random_search(self, e: Event) -> None:
        self.random_search = dict(e.fields)
        for program, metric in zip(e.get("programs") or [], e.get("metrics") or [], strict=False):
            if program in self.programs:
                self.programs[program].random = float(metric)

    # ------------------------------------------------------------------------ summaries
    def fraction_done(self) -> float | None:
        """The share of the expected env steps done (1 once the search is done)."""
        if self.winner is not None or (self.ended is not None and self.candidates):
            return 1.0
        if not self.expected_env_steps:
            return None
        return min(1.0, self.env_steps_total / self.expected_env_steps)

    def eta_s(self) -> float | None:
        """Seconds left, from the rate of env steps since the (latest) supervisor start."""
        fraction = self.fraction_done()
        if fraction is None or fraction >= 1.0 or self.started is None or self.last_ts is None:
            return None
        done_here = self.env_steps_total - self.steps_at_start
        left = self.expected_env_steps - self.env_steps_total
        elapsed = self.last_ts - self.started
        if done_here <= 0 or elapsed <= 0:
            return None
        return max(0.0, left * elapsed / done_here)


def fold(events: list[Event]) -> RunState:
    state = RunState()
    for e in events:
        state.apply(e)
    return state
