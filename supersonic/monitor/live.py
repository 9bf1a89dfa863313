"""`supersonic monitor RUN_DIR`: a terminal view of a run, redrawn as its events arrive.

The view is plain text (one function renders a snapshot), so `--once` prints exactly what the
live view shows, for scripts and tests. Times such as "last heartbeat 3 s ago" are relative to
the newest event in the file, not to the clock, so a copy of the file from another machine or a
finished run reads the same as a live one.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from supersonic.launch.tables import format_table
from supersonic.monitor.events import EventFile
from supersonic.monitor.state import RunState
from supersonic.progress import format_duration

RECENT_DECISIONS = 12


def render(state: RunState, skipped: int = 0) -> str:
    """One snapshot: header with progress and ETA, candidates, actors, recent decisions."""
    out: list[str] = []
    head = f"run: task {state.task or '?'}, {state.strategy or '?'} search"
    if state.plan:
        head += f" ({state.plan})"
    out.append(head)
    out.append(_progress_line(state))
    if skipped:
        out.append(f"skipped {skipped} lines of events.jsonl that were not events")
    out.append("")
    out.append("candidates")
    rows: list[list[object]] = []
    for c in state.candidates.values():
        rows.append(
            [
                c.name,
                c.architecture,
                c.budget or "",
                c.env_steps,
                c.scores.get("initial"),
                c.latest_score if any(k.startswith("b") for k in c.scores) else None,
                c.actors or "",
                c.status,
            ]
        )
    header = ["candidate", "architecture", "rung", "env steps", "initial", "score", "actors"]
    out.append(format_table([*header, "status"], rows))
    out.append("")
    out.append("actors")
    now = state.last_ts or 0.0
    actor_rows: list[list[object]] = [
        [
            a.id,
            a.host,
            a.label,
            a.candidate,
            a.state,
            f"{a.steps_per_s:.1f}",
            f"{max(0.0, now - a.last_heard):.0f} s ago" if a.alive else "gone",
        ]
        for a in state.actors.values()
    ]
    out.append(
        format_table(
            ["actor", "host", "target", "candidate", "state", "steps/s", "last heartbeat"],
            actor_rows,
        )
    )
    out.append("")
    out.append("decisions")
    for d in state.decisions[-RECENT_DECISIONS:]:
        stamp = time.strftime("%H:%M:%S", time.gmtime(d.ts))
        out.append(f"  {stamp}  {d.text}")
    if not state.decisions:
        out.append("  (none yet)")
    return "\n".join(out) + "\n"


def _progress_line(state: RunState) -> str:
    fraction = state.fraction_done()
    steps = f"{state.env_steps_total} env steps"
    if state.expected_env_steps:
        steps += f" of about {state.expected_env_steps}"
    elapsed = ""
    if state.started is not None and state.last_ts is not None:
        end = state.ended if state.ended is not None else state.last_ts
        elapsed = f", {format_duration(end - state.started)} elapsed"
    if state.winner is not None:
        return f"finished: winner {state.winner}; {steps}{elapsed}"
    if state.ended is not None:
        return f"stopped (no winner); {steps}{elapsed}"
    if fraction is None:
        return f"progress: {steps}{elapsed}"
    eta = state.eta_s()
    eta_text = f", ETA {format_duration(eta)}" if eta is not None else ", ETA unknown"
    return f"progress: {fraction:.0%} ({steps}){elapsed}{eta_text}"


def snapshot(path: Path) -> str:
    """The view of the file as it is now (read as complete)."""
    reader = EventFile(path)
    state = RunState()
    for e in reader.read(final=True):
        state.apply(e)
    return render(state, reader.skipped)


def follow(
    path: Path,
    interval_s: float = 1.0,
    stream: TextIO | None = None,
    stop: Callable[[RunState], bool] | None = None,
    quiet_s: float = 5.0,
) -> RunState:
    """Redraw the view every `interval_s` while the file grows, until the run has ended and
    nothing was appended for `quiet_s` (the last processes' events come after the search's
    end), or `stop` says so. On a terminal the screen is redrawn in place; elsewhere each
    snapshot is printed after the previous one."""
    out = stream if stream is not None else sys.stdout
    tty = bool(getattr(out, "isatty", None) and out.isatty())
    reader = EventFile(path)
    state = RunState()
    shown = ""
    while True:
        for e in reader.read():
            state.apply(e)
        ended = state.ended is not None and _quiet_for(path) >= quiet_s
        if ended:  # a finished run: also take a last line without its newline
            for e in reader.read(final=True):
                state.apply(e)
        view = render(state, reader.skipped)
        if view != shown:
            out.write(("\x1b[H\x1b[2J" if tty else "\n") + view)
            out.flush()
            shown = view
        if ended or (stop is not None and stop(state)):
            return state
        time.sleep(interval_s)


def _quiet_for(path: Path) -> float:
    """Seconds since the file was last written (a finished run's file: long ago)."""
    try:
        return time.time() - path.stat().st_mtime
    except FileNotFoundError:
        return 0.0
