"""The progress bar of the long commands: drawn on a terminal (a real pseudo-terminal here),
silent in a pipe or a file, and out of the way of the lines the command prints."""

from __future__ import annotations

import io
import os
import time

from supersonic import progress
from supersonic.progress import ProgressBar, format_duration


def test_it_draws_on_a_terminal_and_keeps_printed_lines_above_it() -> None:
    master, slave = os.openpty()
    with os.fdopen(slave, "w") as terminal:
        bar = ProgressBar(200, "searches", stream=terminal)
        assert bar.enabled
        bar.update(50)
        say = bar.above(lambda line: terminal.write(line + "\n"))
        say("[1/4] program done")
        bar.close()
        terminal.flush()
        time.sleep(0.05)
        shown = os.read(master, 65536).decode()
    os.close(master)
    assert "25%" in shown and "50/200 searches" in shown and "[#######...." in shown
    # the line comes after the bar was cleared, and the bar is drawn again below it
    cleared = shown.index("\r\x1b[K[1/4] program done")
    assert "50/200 searches" in shown[cleared:]
    assert shown.endswith("\r\x1b[K")  # close() leaves a clean line


def test_it_is_silent_when_not_a_terminal() -> None:
    read, write = os.pipe()
    with os.fdopen(write, "w") as pipe:
        bar = ProgressBar(10, "steps", stream=pipe)
        bar.update(5)
        bar.above(lambda line: pipe.write(line + "\n"))("a line")
        bar.close()
    with os.fdopen(read) as r:
        assert r.read() == "a line\n"
    assert not ProgressBar(10, "steps", stream=io.StringIO()).enabled


def test_render_and_eta() -> None:
    bar = ProgressBar(1000, "env steps", enabled=False)
    bar.started -= 30  # 30 s in, a quarter done: about 90 s left
    bar.update(250)
    text = bar.render()
    assert text.startswith("[" + "#" * (progress.WIDTH // 4))
    assert "250/1000 env steps" in text and "30 s" in text and "ETA 1 min 30 s" in text
    bar.update(1000)
    assert "ETA" not in bar.render() and "100%" in bar.render()
    assert format_duration(3725) == "1 h 02 min"
