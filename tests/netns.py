"""Hosts for system tests: Linux network namespaces joined by veth pairs on a bridge.

`Hosts` makes a "head" namespace holding a bridge with the head's address and one namespace per
board, each with a veth whose other end is on the head's bridge, and removes all of it (and kills
every process it started) on exit, also when the test failed. Names carry the pid and a random
suffix so that parallel test runs do not clash; addresses live inside the namespaces, so they
cannot clash either. Needs root and iproute2.
"""

from __future__ import annotations

import os
import secrets
import shutil
import signal
import subprocess
from pathlib import Path
from types import TracebackType

SUBNET = "10.77.0"


def available() -> str | None:
    """None when network namespaces can be made here, else why not (the skip reason)."""
    if os.geteuid() != 0:
        return "network namespaces need root (CI runs as root)"
    if shutil.which("ip") is None:
        return "iproute2 is missing: bash scripts/install-system-deps.sh"
    return None


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True, text=True, timeout=30)


class Hosts:
    """A head and `boards` boards; `address(name)` and `run(name, argv)` per host."""

    def __init__(self, boards: int) -> None:
        tag = f"{os.getpid() % 100000}{secrets.token_hex(2)}"
        self.head = f"ssh-{tag}"
        self.boards = [f"ssb{i}-{tag}" for i in range(1, boards + 1)]
        self.processes: list[subprocess.Popen[bytes]] = []
        self.created: list[str] = []

    def __enter__(self) -> Hosts:
        try:
            self._create()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _create(self) -> None:
        for ns in (self.head, *self.boards):
            ip("netns", "add", ns)
            self.created.append(ns)
            ip("-n", ns, "link", "set", "lo", "up")
        ip("-n", self.head, "link", "add", "br0", "type", "bridge")
        ip("-n", self.head, "addr", "add", f"{self.address(self.head)}/24", "dev", "br0")
        ip("-n", self.head, "link", "set", "br0", "up")
        for i, board in enumerate(self.boards, 1):
            # Both ends are created inside their namespaces: nothing appears in the root one.
            ip("-n", self.head, "link", "add", f"vb{i}", "type", "veth", "peer", "eth0",
               "netns", board)  # fmt: skip
            ip("-n", self.head, "link", "set", f"vb{i}", "master", "br0", "up")
            ip("-n", board, "addr", "add", f"{self.address(board)}/24", "dev", "eth0")
            ip("-n", board, "link", "set", "eth0", "up")

    def address(self, ns: str) -> str:
        if ns == self.head:
            return f"{SUBNET}.1"
        return f"{SUBNET}.{10 + self.boards.index(ns) + 1}"

    def link(self, board: str, up: bool) -> None:
        """Cut or restore a board's link (its own end of the veth)."""
        ip("-n", board, "link", "set", "eth0", "up" if up else "down")

    def start(
        self, ns: str, argv: list[str], log: Path, env: dict[str, str] | None = None
    ) -> subprocess.Popen[bytes]:
        """Start `argv` inside namespace `ns`; killed on close if still running."""
        with log.open("ab") as out:
            process = subprocess.Popen(
                ["ip", "netns", "exec", ns, *argv],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,  # its own group: close() kills it and its children
            )
        self.processes.append(process)
        return process

    def close(self) -> None:
        for process in self.processes:
            if process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                except ProcessLookupError:
                    continue
        for process in self.processes:
            try:
                process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        for ns in reversed(self.created):
            subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=30)
        self.created.clear()
