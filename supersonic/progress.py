"""A one-line progress bar on stderr for the long commands (launch, baseline, evaluate).

It draws only when stderr is a terminal: in a pipe, a log file or a test, the commands print
exactly their usual lines and nothing else. Lines the command prints while the bar is shown go
through `above`, which clears the bar, prints the line and redraws the bar under it.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import TextIO

WIDTH = 28
REDRAW_EVERY_S = 0.2


class ProgressBar:
    """`update(done)` with the amount done so far (of `total`); `close()` at the end."""

    def __init__(
        self, total: int, label: str, stream: TextIO | None = None, enabled: bool | None = None
    ) -> None:
        self.stream = stream if stream is not None else sys.stderr
        isatty = getattr(self.stream, "isatty", None)
        self.enabled = bool(isatty and isatty()) if enabled is None else enabled
        self.total = max(1, int(total))
        self.label = label
        self.done = 0
        self.started = time.monotonic()
        self.last_draw = 0.0
        self.shown = False

    def update(self, done: int) -> None:
        self.done = done
        now = time.monotonic()
        if self.enabled and now - self.last_draw >= REDRAW_EVERY_S:
            self.last_draw = now
            self._draw()

    def advance(self, n: int = 1) -> None:
        self.update(self.done + n)

    def render(self) -> str:
        """The bar's text: `[#####.....]  45%  4500/10000 env steps  12 s, ETA 15 s`."""
        fraction = min(1.0, self.done / self.total)
        filled = int(fraction * WIDTH)
        elapsed = time.monotonic() - self.started
        eta = ""
        if 0 < fraction < 1:
            eta = f", ETA {format_duration(elapsed * (1 - fraction) / fraction)}"
        return (
            f"[{'#' * filled}{'.' * (WIDTH - filled)}] {fraction:4.0%}  "
            f"{self.done}/{self.total} {self.label}  {format_duration(elapsed)}{eta}"
        )

    def above(self, echo: Callable[[str], None]) -> Callable[[str], None]:
        """`echo`, but keeping the bar below what it prints."""

        def say(line: str) -> None:
            self._clear()
            echo(line)
            if self.enabled:
                self._draw()

        return say

    def close(self) -> None:
        self._clear()

    def _draw(self) -> None:
        self.stream.write("\r\x1b[K" + self.render())
        self.stream.flush()
        self.shown = True

    def _clear(self) -> None:
        if self.shown:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
            self.shown = False


def format_duration(seconds: float) -> str:
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"
