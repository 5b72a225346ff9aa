"""A run's side of warm connections: an SSH connection whose channels live in the owner.

`PersistedSSH` is an `SSHConnection` (same options, same errors) that asks the owner
(owner.py) for each channel instead of holding a transport; `RelayChannel` is the byte
stream of one such channel. `open_reusable_agent` returns an idle warm agent when the
owner has one for the same connection and agent settings (`warm_state` then says what the
agent already holds), else a new one the owner keeps after the run (`detach`).
"""

from __future__ import annotations

import json
import os
import select
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from pyengine.connection.base import AgentChannel, CommandResult, CommandTimeout, HostKeyError
from pyengine.connection.ssh import SSHConnection
from pyengine.errors import HostUnreachable, PyengineError
from pyengine.persist import wire
from pyengine.persist.place import private_dir, socket_path

START_TIMEOUT_S = 10.0
WRITE_CHUNK = 1 << 20
_notice: Callable[[str], None] | None = None


def set_notice(callback: Callable[[str], None] | None) -> None:
    """Where the one -v line per reused or new warm connection goes (None: nowhere)."""
    global _notice
    _notice = callback


def _say(text: str) -> None:
    if _notice is not None:
        _notice(f"persist: {text}")


# -- the owner ---------------------------------------------------------------------------
def _dial(path: Path) -> socket.socket:
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        sock.connect(str(path))
    except OSError:
        sock.close()
        raise
    return sock


def ensure_owner(path: Path | None = None) -> Path:
    """The owner's socket, starting the owner (detached, its own session) if none runs."""
    path = path or socket_path()
    private_dir(path.parent)
    try:
        _dial(path).close()
        return path
    except OSError:
        pass
    package_root = str(Path(__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (package_root, env.get("PYTHONPATH")) if p)
    log = os.open(path.parent / "owner.log", os.O_CREAT | os.O_WRONLY | os.O_APPEND, 0o600)
    try:
        subprocess.Popen(  # noqa: S603 - our own interpreter and module
            [sys.executable, "-m", "pyengine.persist.owner", str(path)],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log, cwd="/",
            env=env, start_new_session=True, close_fds=True)
    finally:
        os.close(log)
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            _dial(path).close()
            return path
        except OSError:
            time.sleep(0.02)
    raise PyengineError(f"persist: the owner process did not start (see {path.parent}/owner.log)")


_held: list[socket.socket] = []


def hold_owner(path: Path) -> None:
    """Keep a connection to the owner open for the rest of this process: an owner with no
    entry left exits after a moment, never while a persisting run is still starting."""
    try:
        sock = _dial(path)
        wire.send_json(sock, b"q", {"op": "hold"})
    except OSError:
        return
    _held.append(sock)  # closed by the process's exit


def ask(request: Mapping[str, Any], path: Path | None = None) -> dict[str, Any]:
    """One request (`status`, `stop`) to a running owner; OSError when none runs."""
    sock = _dial(path or socket_path())
    sock.settimeout(10.0)
    try:
        wire.send_json(sock, b"q", request)
        frame = wire.recv_frame(sock)
    finally:
        sock.close()
    if frame is None or frame[0] != b"r":
        raise OSError("the owner closed the connection")
    reply: dict[str, Any] = json.loads(frame[1].decode("utf-8"))
    return reply


# -- a channel through the owner -----------------------------------------------------------
class RelayChannel(AgentChannel):
    """One process on the host, its bytes relayed by the owner (frames in wire.py).

    Frames are read by the caller's own thread when it waits for something (stdout,
    stderr, the exit status, the detach answer): no reader thread, so a reply costs no
    extra thread switch on this side. The owner sends whole frames, so once a frame's
    first byte is readable the rest follows at once.
    """

    def __init__(self, sock: socket.socket, host: str,
                 on_down: Callable[[], None] | None = None) -> None:
        self.sock = sock
        self.host = host
        self._on_down = on_down  # the transport (or the owner) is gone: not reachable
        self.warm_state: dict[str, Any] | None = None
        self.transport_up = True
        self._read_lock = threading.Lock()
        self._out = bytearray()
        self._out_ended = False
        self._err_all = bytearray()
        self._err_new = bytearray()
        self._err_ended = False
        self._ended = False  # the socket itself
        self._status: int | None = None
        self._detached = False
        self._send_lock = threading.Lock()
        self._closed = False

    def _fill(self, timeout: float | None) -> None:
        """File the next frame, waiting up to `timeout` for one to start."""
        with self._read_lock:
            if self._ended:
                return
            frame: tuple[bytes, bytes] | None
            try:
                if timeout is not None:
                    ready, _, _ = select.select([self.sock], [], [], max(0.0, timeout))
                    if not ready:
                        return
                frame = wire.recv_frame(self.sock)
            except (OSError, ValueError):  # closed under us (an interrupt closed the host)
                frame = None
            self._file(frame)

    def _file(self, frame: tuple[bytes, bytes] | None) -> None:
        if frame is None:
            if not self._closed and not self._out_ended and self._on_down is not None:
                self._on_down()  # the owner went away mid-stream
            self._ended = self._out_ended = self._err_ended = True
            return
        kind, payload = frame
        if kind == b"o":
            self._out += payload
        elif kind == b"O":
            self._out_ended = True
            self.transport_up = bool(json.loads(payload or b"{}").get("transport", True))
            if not self.transport_up and self._on_down is not None:
                self._on_down()
        elif kind == b"e":
            if len(self._err_all) < 1 << 20:
                self._err_all += payload
            self._err_new += payload
        elif kind == b"E":
            self._err_ended = True
        elif kind == b"x":
            self._status = int(payload)
        elif kind == b"D":
            self._detached = True

    @staticmethod
    def _left(deadline: float | None) -> float | None:
        return None if deadline is None else deadline - time.monotonic()

    def _send(self, kind: bytes, payload: bytes = b"") -> None:
        with self._send_lock:
            try:
                wire.send_frame(self.sock, kind, payload)
            except OSError as err:
                raise EOFError(f"the persist owner went away: {err}") from err

    def write(self, data: bytes) -> None:
        view = memoryview(data)
        for start in range(0, len(view), WRITE_CHUNK):
            self._send(b"i", bytes(view[start:start + WRITE_CHUNK]))

    def shutdown_write(self) -> None:
        self._send(b"w")

    def read(self, n: int, timeout: float | None = None) -> bytes:
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._out and not self._out_ended:
            left = self._left(deadline)
            if left is not None and left <= 0:
                raise TimeoutError(f"no output within {timeout:g}s")
            self._fill(left)
        out = bytes(self._out[:n])
        del self._out[:n]
        return out

    def read_stderr(self, timeout: float = 0.0) -> bytes | None:
        deadline = time.monotonic() + timeout
        while not self._err_new and not self._err_ended:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(left)
        if self._err_new:
            out = bytes(self._err_new)
            self._err_new.clear()
            return out
        return None if self._err_ended else b""

    def stderr_so_far(self) -> bytes:
        return bytes(self._err_all)

    def exit_status(self, timeout: float = 0.0) -> int | None:
        deadline = time.monotonic() + timeout
        while self._status is None and not self._ended:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(left)
        return self._status

    def detach(self, state: Mapping[str, Any]) -> bool:
        """Leave the agent running in the owner, idle, with what it holds (`state`)."""
        if self._closed:
            return False
        try:
            self._send(b"d", json.dumps(state, separators=(",", ":")).encode("utf-8"))
        except EOFError:
            return False
        # The owner answers `D`, or closes the stream when it cannot keep the agent.
        deadline = time.monotonic() + 5.0
        while not self._detached and not self._ended:
            left = deadline - time.monotonic()
            if left <= 0:
                break
            self._fill(left)
        self._close_socket()
        return self._detached

    def close(self) -> None:
        if self._closed:
            return
        try:
            self._send(b"k")
        except EOFError:
            pass
        self._close_socket()

    def _close_socket(self) -> None:
        self._closed = True
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.sock.close()


# -- the connection ------------------------------------------------------------------------
class PersistedSSH(SSHConnection):
    """An SSH connection held by the owner for `seconds` after the run (see module doc)."""

    def __init__(self, base: SSHConnection, seconds: float, path: Path) -> None:
        super().__init__(base.host, dict(base.options))
        self.seconds = seconds
        self.path = path
        self.key = wire.connection_key(self.host, self.options)
        self.show = f"{self.user}@{self.address}:{self.port}"
        self._up = False
        self._said = False

    @property
    def connected(self) -> bool:
        return self._up

    def _ask_owner(self, request: Mapping[str, Any]) -> tuple[socket.socket, dict[str, Any]]:
        """Send `request`; an owner that is gone, or exiting as we came, is started anew
        (an owner exits after its last entry: that is not the run's failure)."""
        problem = ""
        for attempt in range(3):
            try:
                sock = _dial(self.path if attempt == 0 else ensure_owner(self.path))
            except (OSError, PyengineError) as err:
                problem = str(err)
                continue
            try:
                wire.send_json(sock, b"q", request)
                frame = wire.recv_frame(sock)
            except OSError as err:
                frame, problem = None, str(err)
            if frame is not None and frame[0] == b"r":
                return sock, json.loads(frame[1].decode("utf-8"))
            sock.close()
            problem = problem or "it closed the connection"
            time.sleep(0.05)
        raise HostUnreachable(self.host, f"persist owner unreachable: {problem}")

    def _request(self, op: str, **extra: Any) -> tuple[socket.socket, dict[str, Any]]:
        request = {"op": op, "key": self.key, "host": self.host, "options": self.options,
                   "persist": self.seconds, "login": self.show, **extra}
        sock, reply = self._ask_owner(request)
        if not reply.get("ok"):
            sock.close()
            self._up = False
            if reply.get("kind") == "error":
                raise PyengineError(str(reply.get("error")))
            error = HostKeyError if reply.get("kind") == "hostkey" else HostUnreachable
            raise error(self.host, str(reply.get("error")))
        self._up = True
        for name, seconds in (reply.get("phases") or {}).items():
            self.phases[name] = self.phases.get(name, 0.0) + float(seconds)
        return sock, reply

    def _down(self) -> None:
        self._up = False

    def connect(self) -> None:
        if self._up:  # the owner said so a moment ago; an exec reconnects if need be
            return
        sock, reply = self._request("connect")
        sock.close()
        if not self._said:
            self._said = True
            _say(f"{self.host}: " + ("warm SSH connection reused" if reply.get("reused")
                                     else "new SSH connection, kept warm"))

    def _channel(self, argv: list[str], agent: str | None, show: str = "") -> RelayChannel:
        sock, reply = self._request("exec", argv=argv, agent=agent, show=show)
        channel = RelayChannel(sock, self.host, self._down)
        if reply.get("warm"):
            channel.warm_state = dict(reply.get("state") or {})
        return channel

    def open_agent(self, argv: list[str]) -> AgentChannel:
        return self._channel(argv, None)

    def open_reusable_agent(self, argv: list[str], identity: Mapping[str, Any]
                            ) -> AgentChannel:
        show = f"{self.user} -> {identity.get('become_user')}" if identity.get("become") \
            else self.user
        channel = self._channel(argv, wire.agent_key(self.key, identity), show)
        _say(f"{self.host}: " + ("warm agent reused (no handshake, no agent start)"
                                 if channel.warm_state is not None else
                                 f"agent started as {show}, kept warm"))
        return channel

    def run(self, argv: list[str], data: bytes | None = None, timeout: float | None = None
            ) -> CommandResult:
        timeout = timeout if timeout is not None else self.option("command_timeout")
        deadline = None if timeout is None else time.monotonic() + float(timeout)
        channel = self._channel(argv, None)
        try:
            try:
                if data:
                    channel.write(data)
                channel.shutdown_write()
            except EOFError as err:
                raise HostUnreachable(self.host, f"cannot run {argv[0]!r}: {err}") from err
            out = bytearray()
            while True:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    raise CommandTimeout(
                        f"{self.host}: command {argv[0]!r} did not finish within {timeout:g}s")
                try:
                    chunk = channel.read(65536, None if left is None else min(left, 1.0))
                except TimeoutError:
                    continue
                if not chunk:
                    break
                out += chunk
            status = channel.exit_status(30.0)
            if status is None or not channel.transport_up:
                self._up = channel.transport_up
                raise HostUnreachable(self.host, "connection lost while running a command")
            deadline_err = time.monotonic() + 5.0
            while time.monotonic() < deadline_err and channel.read_stderr(0.2) is not None:
                pass
            return CommandResult(status, bytes(out), channel.stderr_so_far())
        finally:
            channel.close()

    def close(self) -> None:
        """Nothing to close here: the transport stays in the owner for `seconds`."""
        self._up = False


def persisted(connection: Any, seconds: float, path: Path | None = None) -> Any:
    """`connection` through the owner when it is a plain SSH connection (a jump host given
    as an object, WinRM and local connections are used as they are)."""
    if seconds <= 0 or type(connection) is not SSHConnection or connection.gateway is not None:
        return connection
    return PersistedSSH(connection, seconds, path or socket_path())
