"""CurveZMQ for endpoints off loopback: key files, the allow-list, and the ZAP handler.

Why: actors on boards talk to the head over networks we do not own. Every socket bound to a
non-loopback address is a CURVE server (encrypted, and the server proves its identity), and a
ZAP handler admits only clients whose public key is on the allow-list; a refused key is logged
with the address it came from. Binding a public address in the clear needs an explicit
`--insecure` (`check_bind`).

A key directory (`supersonic keys generate DIR`) holds:

    id.public        this endpoint's public key (Z85, 40 characters), safe to copy anywhere
    id.secret        its secret key (mode 600): never logged, never sent, never printed
    server.public    clients: the public key of the servers they connect to (the head's
                     id.public); absent on the head itself, whose processes use their own key
    authorized_keys  servers: the allow-list, one Z85 public key per line, then an optional
                     name; lines starting with `#` are comments. The directory's own key is allowed
                     (the head's learners connect to its supervisor with it).

Every process that binds for a run (the supervisor and its learners) shares the head's key pair,
so an actor needs one server key for all of them.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import zmq
from zmq.utils import z85

PUBLIC_FILE = "id.public"
SECRET_FILE = "id.secret"
SERVER_FILE = "server.public"
ALLOW_FILE = "authorized_keys"
ZAP_ENDPOINT = "inproc://zeromq.zap.01"
ZAP_DOMAIN = "supersonic"
REFUSAL_LOG_S = 30.0


class SecurityError(ValueError):
    """A key set-up the user must fix (missing or malformed key file, public bind without keys)."""


@dataclass(frozen=True)
class KeyPair:
    """Z85 keys. The secret is kept out of repr() so that it never reaches a log line."""

    public: bytes
    secret: bytes = field(repr=False)


def _check_z85(key: bytes, where: str) -> bytes:
    key = key.strip()
    try:
        raw = z85.decode(key) if len(key) == 40 else b""
    except Exception:  # a character outside the Z85 alphabet
        raw = b""
    if len(raw) != 32:
        raise SecurityError(f"{where}: not a CurveZMQ key (40 Z85 characters expected)")
    return key


def generate_keys(directory: Path) -> KeyPair:
    """Write a new key pair to `directory` (created if needed); refuses to overwrite one."""
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.curve_keypair()
    secret_path, public_path = directory / SECRET_FILE, directory / PUBLIC_FILE
    try:
        fd = os.open(secret_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise SecurityError(f"{secret_path} exists: not overwriting a key pair") from None
    with os.fdopen(fd, "wb") as out:
        out.write(secret + b"\n")
    public_path.write_bytes(public + b"\n")
    return KeyPair(public, secret)


def read_public_key(path: Path) -> bytes:
    try:
        return _check_z85(path.read_bytes(), str(path))
    except FileNotFoundError:
        raise SecurityError(f"{path}: no such key file") from None


def load_key_pair(directory: Path) -> KeyPair:
    if not directory.is_dir():
        raise SecurityError(f"{directory}: no such key directory (supersonic keys generate DIR)")
    public = read_public_key(directory / PUBLIC_FILE)
    secret_path = directory / SECRET_FILE
    try:
        secret = _check_z85(secret_path.read_bytes(), str(secret_path))
    except FileNotFoundError:
        raise SecurityError(f"{secret_path}: no such key file") from None
    if zmq.curve_public(secret) != public:
        raise SecurityError(f"{directory}: {PUBLIC_FILE} does not belong to {SECRET_FILE}")
    return KeyPair(public, secret)


def load_allow_list(directory: Path, own: KeyPair) -> dict[bytes, str]:
    """Raw 32-byte public key -> name, from `authorized_keys` plus the directory's own key."""
    allowed = {z85.decode(own.public): "self"}
    path = directory / ALLOW_FILE
    if not path.exists():
        return allowed
    for number, line in enumerate(path.read_text().splitlines(), 1):
        text = line.strip()
        if not text or text.startswith("#"):  # (not after the key: Z85 keys may hold a '#')
            continue
        key, _, name = text.partition(" ")
        checked = _check_z85(key.encode(), f"{path}:{number}")
        allowed[z85.decode(checked)] = name.strip() or f"line {number}"
    return allowed


def authorize_key(directory: Path, public: bytes, name: str) -> None:
    """Append a client's public key to the directory's allow-list."""
    key = _check_z85(public, "public key")
    with (directory / ALLOW_FILE).open("a") as out:
        out.write(f"{key.decode()} {name}\n".rstrip() + "\n")


@dataclass(frozen=True)
class Security:
    """How one process's sockets talk: in the clear (`keys` None) or with CURVE."""

    keys: KeyPair | None = None
    server_key: bytes | None = None  # Z85 public key of the servers this process connects to
    allowed: dict[bytes, str] = field(default_factory=dict, repr=False)

    @classmethod
    def from_dir(cls, directory: Path | None) -> Security:
        """CURVE with the keys in `directory`; in the clear when it is None."""
        if directory is None:
            return cls()
        keys = load_key_pair(directory)
        server = directory / SERVER_FILE
        server_key = read_public_key(server) if server.exists() else keys.public
        return cls(keys, server_key, load_allow_list(directory, keys))

    @property
    def curve(self) -> bool:
        return self.keys is not None

    def client(self, sock: zmq.Socket[bytes]) -> None:
        """Make `sock` (before it connects) a CURVE client of the run's servers."""
        if self.keys is None:
            return
        assert self.server_key is not None
        sock.curve_publickey = self.keys.public
        sock.curve_secretkey = self.keys.secret
        sock.curve_serverkey = self.server_key

    def server(self, sock: zmq.Socket[bytes]) -> None:
        """Make `sock` (before it binds) a CURVE server whose clients ZAP checks."""
        if self.keys is None:
            return
        sock.curve_server = True
        sock.curve_publickey = self.keys.public
        sock.curve_secretkey = self.keys.secret
        sock.zap_domain = ZAP_DOMAIN.encode()


def is_loopback(host: str) -> bool:
    """Whether binding `host` keeps the endpoint on this machine."""
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, None)
    except OSError:
        return False
    return bool(infos) and all(ipaddress.ip_address(i[4][0]).is_loopback for i in infos)


def check_bind(host: str, security: Security, insecure: bool) -> None:
    """Refuse to bind a non-loopback address in the clear unless the user said `insecure`."""
    if security.curve or insecure or is_loopback(host):
        return
    raise SecurityError(
        f"binding {host} (not loopback) needs CurveZMQ keys: give a key directory "
        "(`supersonic keys generate DIR`, then keys = DIR / --keys DIR), or --insecure "
        "on a network you trust"
    )


class ZapHandler:
    """The ZAP handler (ZeroMQ RFC 27) of one context: admits CURVE clients on the allow-list.

    It answers on `inproc://zeromq.zap.01` from a thread of its own (libzmq asks it during each
    handshake, from its I/O thread, and waits for the answer). `on_refuse(address, key, reason)`
    is called for every refusal, so the caller logs it with the address it came from.
    """

    def __init__(
        self,
        ctx: zmq.Context[zmq.Socket[bytes]],
        allowed: dict[bytes, str],
        on_refuse: Callable[[str, str, str], None],
        on_admit: Callable[[str, str], None] | None = None,
    ) -> None:
        self.ctx, self.allowed = ctx, allowed
        self.on_refuse, self.on_admit = on_refuse, on_admit
        self.refused = 0
        self._running = threading.Event()
        self._ready = threading.Event()
        self._thread = threading.Thread(target=self._serve, name="zap", daemon=True)

    def start(self) -> ZapHandler:
        self._running.set()
        self._thread.start()
        if not self._ready.wait(5.0):
            raise RuntimeError("the ZAP handler did not start")
        return self

    def stop(self) -> None:
        self._running.clear()
        self._thread.join(timeout=2.0)

    def _serve(self) -> None:
        sock = self.ctx.socket(zmq.REP)
        sock.setsockopt(zmq.LINGER, 0)
        sock.bind(ZAP_ENDPOINT)
        self._ready.set()
        try:
            while self._running.is_set():
                if not sock.poll(100, zmq.POLLIN):
                    continue
                sock.send_multipart(self._answer(sock.recv_multipart()))
        finally:
            sock.close(linger=0)

    def _answer(self, frames: list[bytes]) -> list[bytes]:
        # version, request id, domain, address, routing id, mechanism, credentials...
        if len(frames) < 6 or frames[0] != b"1.0":
            request_id = frames[1] if len(frames) > 1 else b""
            return [b"1.0", request_id, b"400", b"malformed ZAP request", b"", b""]
        request_id, address, mechanism = frames[1], frames[3].decode(errors="replace"), frames[5]
        key = frames[6] if mechanism == b"CURVE" and len(frames) > 6 else b""
        name = self.allowed.get(key)
        if name is None:
            self.refused += 1
            printable = z85.encode(key).decode() if len(key) == 32 else ""
            reason = "unknown key" if key else f"mechanism {mechanism.decode(errors='replace')}"
            self.on_refuse(address, printable, reason)
            return [b"1.0", request_id, b"400", reason.encode(), b"", b""]
        if self.on_admit is not None:
            self.on_admit(address, name)
        return [b"1.0", request_id, b"200", b"OK", name.encode(), b""]


def start_zap(
    ctx: zmq.Context[zmq.Socket[bytes]], security: Security, log: Any
) -> ZapHandler | None:
    """Start the context's ZAP handler when `security` is CURVE; refusals go to `log` as
    `auth_refused` warnings with the client's address and public key."""
    if not security.curve:
        return None

    last: dict[tuple[str, str], tuple[float, int]] = {}

    def refuse(address: str, key: str, reason: str) -> None:
        # A refused client retries every reconnect interval: log each (address, key) once,
        # then at most every REFUSAL_LOG_S with the number of attempts since.
        now = time.monotonic()
        logged_at, count = last.get((address, key), (float("-inf"), 0))
        if now - logged_at < REFUSAL_LOG_S:
            last[(address, key)] = (logged_at, count + 1)
            return
        last[(address, key)] = (now, 0)
        log.warning(
            "auth_refused", address=address, public_key=key, reason=reason, attempts=count + 1
        )

    return ZapHandler(ctx, security.allowed, refuse).start()
