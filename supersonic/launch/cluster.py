"""The `[cluster]` section of RUN.toml, and the OpenSSH commands that start processes on hosts.

Why the real `ssh` client and not a Python SSH library: it honours the user's ~/.ssh/config,
agents, jump hosts and known_hosts exactly as their own shell does, and it is on every board.

A remote process is started as `ssh DEST 'cd WORKDIR && exec env K=V PYTHON -m supersonic ...
--lifeline'` with its stdin on a pipe that the launch keeps open. `--lifeline` makes the remote
process stop when that stdin reaches EOF, which happens whenever the ssh connection ends: the
launch stops it (end of run, Ctrl-C, failure), the launch dies (the ssh client has a
parent-death signal) or the connection breaks. So no remote process outlives its launch, even
though sshd does not signal commands that run without a terminal.
"""

from __future__ import annotations

import shlex
from dataclasses import dataclass, field
from typing import Any

ROLES = ("actor", "learner")
DEFAULT_SSH_OPTIONS = (
    "-o",
    "BatchMode=yes",  # never prompt: a launch has no one to type a password
    "-o",
    "ServerAliveInterval=5",  # notice a dead link within ~15 s
    "-o",
    "ServerAliveCountMax=3",
    "-o",
    "ConnectTimeout=15",  # a host that is down fails its ssh command instead of hanging it
)
_HOST_KEYS = {
    "name",
    "ssh",
    "port",
    "identity_file",
    "python",
    "workdir",
    "env",
    "actors",
    "roles",
    "keys",
    "address",
    "label",
    "ssh_options",
}


class ClusterError(ValueError):
    """The [cluster] section is invalid; the message says what to change."""


@dataclass(frozen=True)
class HostConfig:
    """One machine the launch starts processes on over ssh."""

    name: str
    ssh: str  # the OpenSSH destination: user@host, or a Host alias of ~/.ssh/config
    port: int = 0  # 0: ssh's own default (or the alias's)
    identity_file: str = ""
    python: str = "python3"  # the remote interpreter, e.g. /opt/supersonic/.venv/bin/python
    workdir: str = ""  # remote working directory; empty: the login directory
    env: dict[str, str] = field(default_factory=dict)  # remote environment variables
    actors: int = 1  # actor processes on this host (role "actor")
    roles: tuple[str, ...] = ("actor",)
    keys: str = ""  # the remote CurveZMQ key directory (required when the run uses keys)
    address: str = ""  # where other hosts reach it (learner hosts bind it); default: ssh host
    label: str = ""  # the actors' target label
    ssh_options: tuple[str, ...] = ()

    @property
    def reach(self) -> str:
        """The address this host's learners bind and advertise."""
        return self.address or self.ssh.rpartition("@")[2]


def parse_hosts(raw: Any, origin: str) -> tuple[HostConfig, ...]:
    """Validate `[[cluster.hosts]]` entries into HostConfigs (one-line ClusterError)."""
    if not isinstance(raw, list):
        raise ClusterError(f"{origin}: [cluster] hosts must be a list of [[cluster.hosts]] tables")
    hosts: list[HostConfig] = []
    for i, entry in enumerate(raw):
        where = f"{origin}: cluster host {i}"
        if not isinstance(entry, dict):
            raise ClusterError(f"{where}: must be a table")
        unknown = set(entry) - _HOST_KEYS
        if unknown:
            raise ClusterError(
                f"{where}: unknown key(s) {', '.join(sorted(unknown))}; "
                f"valid: {', '.join(sorted(_HOST_KEYS))}"
            )
        ssh = entry.get("ssh")
        if not isinstance(ssh, str) or not ssh:
            raise ClusterError(f"{where}: ssh (the destination, e.g. user@10.0.0.2) is required")
        roles = entry.get("roles", ["actor"])
        if not isinstance(roles, list) or not roles or set(roles) - set(ROLES):
            raise ClusterError(f"{where}: roles must be a non-empty list of {', '.join(ROLES)}")
        env = entry.get("env", {})
        if not isinstance(env, dict):
            raise ClusterError(f"{where}: env must be a table of strings")
        options = entry.get("ssh_options", [])
        if not isinstance(options, list) or not all(isinstance(o, str) for o in options):
            raise ClusterError(f"{where}: ssh_options must be a list of strings")
        try:
            host = HostConfig(
                name=str(entry.get("name") or ssh),
                ssh=ssh,
                port=int(entry.get("port", 0)),
                identity_file=str(entry.get("identity_file", "")),
                python=str(entry.get("python", "python3")),
                workdir=str(entry.get("workdir", "")),
                env={str(k): str(v) for k, v in env.items()},
                actors=int(entry.get("actors", 1 if "actor" in roles else 0)),
                roles=tuple(roles),
                keys=str(entry.get("keys", "")),
                address=str(entry.get("address", "")),
                label=str(entry.get("label", "")),
                ssh_options=tuple(options),
            )
        except (TypeError, ValueError) as exc:
            raise ClusterError(f"{where}: {exc}") from None
        if host.actors < 0 or (host.actors and "actor" not in host.roles):
            raise ClusterError(f"{where}: actors must be >= 0, and 0 without the actor role")
        if not 0 <= host.port < 65536:
            raise ClusterError(f"{where}: port must be 1..65535")
        hosts.append(host)
    names = [h.name for h in hosts]
    if len(set(names)) != len(names):
        raise ClusterError(f"{origin}: cluster host names must be unique")
    return tuple(hosts)


def host_from_dict(data: dict[str, Any]) -> HostConfig:
    """A HostConfig back from its `asdict` form (config.json, for --resume)."""
    return HostConfig(
        **{**data, "roles": tuple(data["roles"]), "ssh_options": tuple(data["ssh_options"])}
    )


def remote_command(host: HostConfig, args: list[str]) -> str:
    """The shell command line that runs `supersonic ARGS` on `host` (the remote shell parses
    it, so every piece is quoted)."""
    env = [f"{k}={v}" for k, v in sorted(host.env.items())]
    command = ["exec", *(["env", *env] if env else []), host.python, "-m", "supersonic", *args]
    line = shlex.join(command)
    if host.workdir:
        line = f"mkdir -p {shlex.quote(host.workdir)} && cd {shlex.quote(host.workdir)} && {line}"
    return line


def ssh_argv(host: HostConfig, extra_options: tuple[str, ...], args: list[str]) -> list[str]:
    """The local `ssh` command that runs `supersonic ARGS` on `host`."""
    return ssh_command_argv(host, extra_options, remote_command(host, args))


def ssh_command_argv(host: HostConfig, extra_options: tuple[str, ...], command: str) -> list[str]:
    """The local `ssh` command that runs the shell command line `command` on `host`."""
    argv = ["ssh", "-T", *DEFAULT_SSH_OPTIONS, *extra_options, *host.ssh_options]
    if host.port:
        argv += ["-p", str(host.port)]
    if host.identity_file:
        argv += ["-i", host.identity_file]
    return [*argv, host.ssh, command]


def tar_argv(host: HostConfig, extra_options: tuple[str, ...], directory: str) -> list[str]:
    """The local `ssh` command that writes a tar stream of `directory` (relative to the host's
    workdir) to stdout: copying back with tar needs nothing but sshd and tar on the board (scp
    needs the SFTP subsystem since OpenSSH 9)."""
    parent, _, name = directory.rstrip("/").rpartition("/")
    where = "/".join(p for p in (host.workdir, parent) if p) or "."
    command = f"tar -C {shlex.quote(where)} -cf - {shlex.quote(name)}"
    return ssh_command_argv(host, extra_options, command)
