"""`supersonic report RUN_DIR`: one self-contained HTML page about a run, from its events.

The page needs nothing but a browser: the figures are PNGs inlined as base64 data URLs, there
is no script and no external link, so it opens from a mail attachment or an air-gapped machine.
The same figures are also written as PNG files next to it. Sections: summary, candidates,
learning curves, the successive-halving rungs, the best result per program against the
baselines the run recorded, throughput over time, and the decisions of the search.
"""

from __future__ import annotations

import base64
import html
import io
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from supersonic.envs.llvm.metrics import leaderboard_metric
from supersonic.monitor.events import read_all
from supersonic.monitor.state import CandidateView, RunState, fold
from supersonic.progress import format_duration

FIGURES = ("learning_curves", "rungs", "programs", "throughput")


@dataclass(frozen=True)
class Report:
    html_path: Path
    figures: dict[str, Path]  # figure name -> PNG file
    state: RunState
    skipped: int  # lines of events.jsonl that were not events


def write_report(events_file: Path, out_dir: Path) -> Report:
    """Read every event of `events_file` and write `out_dir/report.html` and the PNGs."""
    events, reader = read_all(events_file)
    state = fold(events)
    out_dir.mkdir(parents=True, exist_ok=True)
    pngs: dict[str, bytes] = {}
    drawers: dict[str, Callable[[Figure, RunState], None]] = {
        "learning_curves": _learning_curves,
        "rungs": _rungs,
        "programs": _programs,
        "throughput": _throughput,
    }
    files: dict[str, Path] = {}
    for name, draw in drawers.items():
        fig = Figure(figsize=(9, 4.6), dpi=100, layout="constrained")
        FigureCanvasAgg(fig)
        draw(fig, state)
        buffer = io.BytesIO()
        fig.savefig(buffer, format="png")
        pngs[name] = buffer.getvalue()
        files[name] = out_dir / f"{name}.png"
        files[name].write_bytes(pngs[name])
    page = out_dir / "report.html"
    page.write_text(_page(state, pngs, reader.skipped, events_file), encoding="utf-8")
    return Report(page, files, state, reader.skipped)


# ---------------------------------------------------------------------------- figures
def _empty(fig: Figure, text: str) -> None:
    ax = fig.add_subplot()
    ax.axis("off")
    ax.text(0.5, 0.5, text, ha="center", va="center", fontsize=12, color="#555")


def _learning_curves(fig: Figure, state: RunState) -> None:
    with_curve = [c for c in state.candidates.values() if c.curve or c.scores]
    if not with_curve:
        _empty(fig, "no learner updates or scores in the events")
        return
    ax = fig.add_subplot()
    for i, c in enumerate(with_curve):
        color = f"C{i % 10}"
        points = [(s, v) for s, v, _ in c.curve if v is not None]
        if points:
            ax.plot(*zip(*points, strict=True), color=color, lw=1.2, label=f"{c.name} (training)")
        scored = sorted((c.score_steps.get(stage, 0), score) for stage, score in c.scores.items())
        if scored:
            ax.plot(
                *zip(*scored, strict=True),
                color=color,
                ls="none",
                marker="o",
                ms=6,
                mec="black",
                label=f"{c.name} (validation)",
            )
    ax.set_xlabel("env steps (transitions the learner consumed)")
    ax.set_ylabel(f"score ({state.metric or 'task metric'})")
    ax.set_title("learning curves: mean training-episode score; dots: validation scores")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncols=2)


def _rungs(fig: Figure, state: RunState) -> None:
    if not state.rungs:
        _empty(fig, "no rung scores in the events")
        return
    ax = fig.add_subplot()
    groups: dict[str, list[tuple[int, float]]] = {}
    for r in state.rungs:
        groups.setdefault(r.group, []).append((r.budget, r.score))
    outcome = _group_outcomes(state)
    for i, (group, points) in enumerate(groups.items()):
        points.sort()
        xs, ys = zip(*points, strict=True)
        color = f"C{i % 10}"
        ax.plot(xs, ys, color=color, marker="o", lw=1.2, label=f"{group}: {outcome[group]}")
        last = points[-1]
        if outcome[group] == "winner":
            ax.plot(*last, marker="*", ms=18, color=color, mec="black")
        elif outcome[group] == "stopped":
            ax.plot(*last, marker="X", ms=12, color=color, mec="black")
    budgets = sorted({r.budget for r in state.rungs})
    ax.set_xscale("log")
    ax.set_xticks(budgets, [str(b) for b in budgets])
    ax.minorticks_off()
    ax.set_xlabel("rung budget (env steps)")
    ax.set_ylabel("score at the rung")
    ax.set_title("successive halving: X = stopped there, star = winner")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


def _group_outcomes(state: RunState) -> dict[str, str]:
    out: dict[str, str] = {}
    for c in state.candidates.values():
        current = out.get(c.group)
        if c.winner or current == "winner":
            out[c.group] = "winner"
        elif current is None:
            out[c.group] = c.status
    for r in state.rungs:
        out.setdefault(r.group, "?")
    return out


def program_baselines(state: RunState) -> dict[str, dict[str, float]]:
    """Per program, the baselines' values of the task metric that the events hold: -Oz and -O3
    for LLVM runs (from the evaluation details), random search when the run ran it."""
    out: dict[str, dict[str, float]] = {}
    for program, result in state.programs.items():
        row: dict[str, float] = {}
        d = result.details
        if "ir_o0" in d and "ir_oz" in d:
            o0, oz = int(d["ir_o0"]), int(d["ir_oz"])
            row["-Oz"] = leaderboard_metric(o0, oz, oz)
            if "ir_o3" in d:
                row["-O3"] = leaderboard_metric(o0, oz, int(d["ir_o3"]))
        if result.random is not None:
            row["random search"] = result.random
        out[program] = row
    return out


def _short(program: str) -> str:
    return program.rsplit("/", 1)[-1]


def _programs(fig: Figure, state: RunState) -> None:
    if not state.programs:
        _empty(fig, "no evaluation results in the events")
        return
    baselines = program_baselines(state)
    methods = ["best of the run", *sorted({m for row in baselines.values() for m in row})]
    programs = sorted(state.programs)
    ax = fig.add_subplot()
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        xs, ys = [], []
        for i, p in enumerate(programs):
            value = state.programs[p].best if k == 0 else baselines[p].get(method)
            if value is not None:
                xs.append(i - 0.4 + width * (k + 0.5))
                ys.append(value)
        ax.bar(xs, ys, width=width, label=method, color=f"C{k % 10}")
    ax.set_xticks(range(len(programs)), [_short(p) for p in programs], rotation=45, ha="right")
    ax.set_ylabel("the task metric on the program")
    ax.set_title("best result per validation program")
    ax.grid(alpha=0.3, axis="y")
    top = ax.get_ylim()[1]
    ax.set_ylim(top=top + 0.2 * abs(top))  # room for the legend above the bars
    ax.legend(fontsize=8, ncols=len(methods), loc="upper center")


def _throughput(fig: Figure, state: RunState) -> None:
    samples = state.throughput
    if len(samples) < 2:
        _empty(fig, "fewer than two progress events: no throughput to show")
        return
    t0 = samples[0].ts
    minutes = [(s.ts - t0) / 60 for s in samples]
    consumed: list[float] = [0.0]
    for a, b in itertools.pairwise(samples):
        dt = b.ts - a.ts
        consumed.append(max(0.0, (b.env_steps_total - a.env_steps_total) / dt) if dt > 0 else 0.0)
    ax = fig.add_subplot()
    ax.plot(minutes, consumed, label="env steps/s the learners consumed", color="C0")
    ax.plot(
        minutes,
        [s.actor_steps_per_s for s in samples],
        label="env steps/s the actors reported (sum)",
        color="C1",
        ls="--",
    )
    ax.set_xlabel("minutes since the first progress event")
    ax.set_ylabel("env steps / s")
    ax.set_title("throughput over time")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)


# ------------------------------------------------------------------------------- page
_STYLE = """
body { font-family: sans-serif; margin: 2em auto; max-width: 1000px; color: #222; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #ccc; margin-top: 2em; }
table { border-collapse: collapse; font-size: 0.9em; }
td, th { border: 1px solid #ccc; padding: 3px 8px; text-align: left; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
img { max-width: 100%; border: 1px solid #eee; }
p.note { color: #555; font-style: italic; }
"""


def _table(header: list[str] | None, rows: list[list[object]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header or [])
    body = []
    for row in rows:
        cells = []
        for value in row:
            if isinstance(value, float):
                cells.append(f'<td class="num">{value:.4f}</td>')
            elif isinstance(value, int) and not isinstance(value, bool):
                cells.append(f'<td class="num">{value}</td>')
            else:
                cells.append(f"<td>{html.escape('' if value is None else str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    thead = f"<thead><tr>{head}</tr></thead>" if head else ""
    return f"<table>{thead}<tbody>{''.join(body)}</tbody></table>"


def _figure(name: str, pngs: dict[str, bytes], alt: str) -> str:
    data = base64.b64encode(pngs[name]).decode("ascii")
    return f'<img id="fig-{name}" alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _section(ident: str, title: str, body: str) -> str:
    return f'<section id="{ident}"><h2>{html.escape(title)}</h2>{body}</section>'


def _candidate_row(c: CandidateView) -> list[object]:
    return [
        c.name,
        c.algorithm,
        c.state_fn,
        c.reward_fn,
        c.env_steps,
        c.budget,
        c.scores.get("initial"),
        c.latest_score if any(k.startswith("b") for k in c.scores) else None,
        c.status,
    ]


def _page(state: RunState, pngs: dict[str, bytes], skipped: int, source: Path) -> str:
    duration = ""
    if state.started is not None and state.last_ts is not None:
        end = state.ended if state.ended is not None else state.last_ts
        duration = format_duration(end - state.started)
    summary = _table(
        None,
        [
            ["task", state.task],
            ["metric", state.metric],
            ["search", f"{state.strategy}: {state.plan}"],
            ["winner", state.winner or "(none)"],
            ["env steps (learners)", state.env_steps_total],
            ["wall time (latest start to end)", duration],
            ["events read", state.events],
            ["lines skipped (not events)", skipped],
            ["warnings / errors logged", f"{state.warnings} / {state.errors}"],
        ],
    )
    candidates = _table(
        [
            "candidate",
            "algorithm",
            "state",
            "reward",
            "env steps",
            "rung",
            "initial",
            "score",
            "outcome",
        ],
        [_candidate_row(c) for c in state.candidates.values()],
    )
    rungs_table = _table(
        ["architecture", "rung (env steps)", "score"],
        [[r.group, r.budget, r.score] for r in state.rungs],
    )
    stopped = [c for c in state.candidates.values() if c.stopped_at is not None]
    stopped_text = (
        "<p>Stopped: "
        + ", ".join(f"{html.escape(c.name)} at {c.stopped_at}" for c in stopped)
        + ".</p>"
        if stopped
        else "<p>No candidate was stopped early.</p>"
    )
    baselines = program_baselines(state)
    methods = sorted({m for row in baselines.values() for m in row})
    program_rows = [
        [p, state.programs[p].best, state.programs[p].candidate]
        + [baselines[p].get(m) for m in methods]
        for p in sorted(state.programs)
    ]
    missing = [m for m in ("-Oz", "-O3", "random search", "greedy search") if m not in methods]
    note = (
        f'<p class="note">Not recorded by this run: {", ".join(missing)}. '
        + (
            "This task has no compiler baselines."
            if not any(k in methods for k in ("-Oz", "-O3"))
            else "Greedy search is not part of a search run (`supersonic evaluate` measures it)."
        )
        + "</p>"
        if missing
        else ""
    )
    programs = (
        _figure("programs", pngs, "best result per program")
        + note
        + _table(["program", "best of the run", "by", *methods], program_rows)
    )
    decisions = "".join(
        f"<li>{time.strftime('%H:%M:%S', time.gmtime(d.ts))} {html.escape(d.text)}</li>"
        for d in state.decisions
    )
    body = "".join(
        [
            f"<h1>SuperSonic run report: {html.escape(state.task or source.parent.name)}</h1>",
            f"<p>From <code>{html.escape(str(source))}</code>.</p>",
            _section("summary", "Summary", summary),
            _section("candidates", "Candidates", candidates),
            _section(
                "learning-curves",
                "Learning curves",
                _figure("learning_curves", pngs, "learning curve per candidate"),
            ),
            _section(
                "rungs",
                "Successive-halving rungs",
                _figure("rungs", pngs, "rung scores") + stopped_text + rungs_table,
            ),
            _section("programs", "Best result per program", programs),
            _section("throughput", "Throughput", _figure("throughput", pngs, "throughput")),
            _section("decisions", "Decisions", f"<ol>{decisions}</ol>"),
        ]
    )
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<link rel='icon' href='data:,'>"
        f"<title>SuperSonic report</title><style>{_STYLE}</style></head>"
        f"<body>{body}</body></html>\n"
    )
