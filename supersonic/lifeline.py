"""Stop this process when its stdin closes: how a process started over ssh dies with its launch.

sshd does not signal a command that runs without a terminal when the connection ends, so a
remote actor or learner would outlive a launch that was killed or lost its link. Such processes
are started with `--lifeline`: a thread reads stdin (a pipe the launch holds through ssh) and,
at EOF, sends this process SIGTERM (its normal clean shutdown: flush, BYE, checkpoint); if the
process is still alive `grace_s` later, it exits hard.
"""

from __future__ import annotations

import ctypes
import os
import signal
import threading
import time
from collections.abc import Callable

PR_SET_PDEATHSIG = 1  # linux/prctl.h


def watch_stdin(grace_s: float = 15.0) -> threading.Thread:
    """Start the watcher thread (a daemon: it never keeps the process alive by itself)."""

    def watch() -> None:
        try:
            while os.read(0, 4096):
                pass  # the launch never writes; anything read is ignored
        except (OSError, ValueError):
            pass
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(grace_s)
        os._exit(1)

    thread = threading.Thread(target=watch, name="lifeline", daemon=True)
    thread.start()
    return thread


def die_with_parent(sig: int = signal.SIGTERM) -> Callable[[], None]:
    """A `preexec_fn` that makes the child receive `sig` when the thread that started it ends.

    The kernel ties the signal to the starting *thread*: only use it from a thread that lives
    as long as the process (the main thread). libc's `prctl` is resolved here, before the fork,
    so the child runs no dynamic loading between fork and exec.
    """
    prctl = ctypes.CDLL("libc.so.6", use_errno=True).prctl

    def preexec() -> None:  # runs in the child between fork and exec
        prctl(PR_SET_PDEATHSIG, int(sig))

    return preexec
