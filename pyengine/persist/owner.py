"""The owner: one small process per user that keeps SSH transports and agents warm.

Started detached (its own session: a run's Ctrl-C never reaches it) by the first
persisting run; `python -m pyengine.persist.owner SOCKET`. It owns, per connection key,
one paramiko transport, and on it the channels that runs asked for; a run talks to a
channel's process through the owner, which relays the bytes (an SSH channel cannot be
handed to another process). An agent channel whose run detached cleanly stays, idle,
until its time is up; a run that vanishes mid-exchange gets its agent closed (the agent
sees EOF, finishes its task and exits). One run at a time per agent: a second run for
the same key while the first is attached gets a new agent on the same transport.

At the end of an idle agent's time the owner sends it `exit` (it removes what it made
and exits); a transport closes when no channel uses it and its time is up; with nothing
left the owner removes its socket and exits. No secret is written anywhere: passwords
arrive over the user's own socket and live only in this process's memory.
"""

from __future__ import annotations

import itertools
import json
import os
import shlex
import signal
import socket
import struct
import sys
import threading
import time
from pathlib import Path
from typing import Any

from pyengine.connection.base import HostKeyError
from pyengine.connection.ssh import SSHConnection
from pyengine.errors import HostUnreachable, PyengineError
from pyengine.persist import wire
from pyengine.persist.place import peer_allowed, private_dir

LINGER_S = 2.0  # the owner stays this long after its last entry and its last run
TICK_S = 0.2
_AGENT_EXIT = json.dumps({"op": "exit"}).encode()
_AGENT_HEADER = struct.Struct(">I")
_ids = itertools.count(1)


class Transport:
    """One host's SSH connection, shared by the channels opened for the same key."""

    def __init__(self, key: str, host: str, options: dict[str, Any], show: str) -> None:
        self.key = key
        self.ssh = SSHConnection(host, options)
        self.show = show
        self.expires = 0.0
        self.lock = threading.Lock()
        self.pending = 0  # requests between lookup and their channel (never reaped then)


class Channel:
    """One process on a host (an agent, or a command a run asked for) and its relay."""

    def __init__(self, transport: Transport, chan: Any, agent: str | None, show: str) -> None:
        self.id = next(_ids)
        self.transport = transport
        self.chan = chan
        self.agent = agent  # the agent key if this may stay warm, else None
        self.show = show
        self.client: socket.socket | None = None
        self.state: dict[str, Any] = {}
        self.expires = 0.0
        self.stdout_ended = threading.Event()
        self.lock = threading.Lock()
        self.closed = False

    @property
    def idle(self) -> bool:
        return self.client is None and not self.closed

    def alive(self) -> bool:
        return (not self.closed and not self.stdout_ended.is_set() and not self.chan.closed
                and self.transport.ssh.connected)

    def forward(self, kind: bytes, payload: bytes) -> None:
        with self.lock:
            if self.client is None:
                return  # idle: nothing is waiting (an expiring agent's "bye", stray stderr)
            try:
                wire.send_frame(self.client, kind, payload)
            except OSError:
                pass

    def start_pumps(self) -> None:
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        threading.Thread(target=self._pump_stderr, daemon=True).start()

    def _pump_stdout(self) -> None:
        while True:
            try:
                chunk = self.chan.recv(65536)
            except Exception:  # noqa: BLE001 - a dead channel is the end of its output
                chunk = b""
            if not chunk:
                break
            self.forward(b"o", chunk)
        self.stdout_ended.set()
        self.forward(b"O", json.dumps({"transport": self.transport.ssh.connected}).encode())
        try:
            status = self.chan.recv_exit_status()
        except Exception:  # noqa: BLE001
            status = -1
        self.forward(b"x", str(status).encode())

    def _pump_stderr(self) -> None:
        while True:
            try:
                chunk = self.chan.recv_stderr(65536)
            except TimeoutError:
                continue
            except Exception:  # noqa: BLE001
                chunk = b""
            if not chunk:
                break
            self.forward(b"e", chunk)
        self.forward(b"E", b"")

    def close(self, polite: bool) -> None:
        """Close the channel; `polite`: an idle agent is asked to exit first (it says bye
        and leaves nothing behind); otherwise EOF on its stdin ends it the same way."""
        with self.lock:
            if self.closed:
                return
            self.closed = True
            self.client = None
        try:
            if polite and not self.stdout_ended.is_set():
                self.chan.sendall(_AGENT_HEADER.pack(len(_AGENT_EXIT)) + _AGENT_EXIT)
            self.chan.shutdown_write()
        except Exception:  # noqa: BLE001 - the peer may be gone already
            pass
        self.stdout_ended.wait(3.0)
        try:
            self.chan.close()
        except Exception:  # noqa: BLE001
            pass


class Owner:
    def __init__(self, sock: socket.socket, path: Path) -> None:
        self.sock = sock
        self.path = path
        self.transports: dict[str, Transport] = {}
        self.channels: list[Channel] = []
        self.lock = threading.Lock()
        self.clients = 0
        self.last_activity = time.monotonic()
        self.stopping = threading.Event()

    # -- main loop -----------------------------------------------------------------------
    def serve(self) -> None:
        self.sock.settimeout(TICK_S)
        while not self.stopping.is_set():
            try:
                client, _ = self.sock.accept()
            except TimeoutError:
                client = None
            except OSError:
                break
            if client is not None:
                if not peer_allowed(client):
                    client.close()  # another user: not a word
                    continue
                client.settimeout(None)
                with self.lock:
                    self.clients += 1
                    self.last_activity = time.monotonic()
                threading.Thread(target=self._client, args=(client,), daemon=True).start()
            if self._reap():
                break
        self.shutdown()

    def _reap(self) -> bool:
        """Retire what has expired; True when nothing is left and the owner may exit."""
        now = time.monotonic()
        with self.lock:
            expired = [c for c in self.channels if c.idle and c.expires <= now]
            dead = [c for c in self.channels if c.idle and not c.alive()]
            for channel in set(expired + dead):
                self.channels.remove(channel)
            used = {c.transport.key for c in self.channels}
            stale = [t for k, t in self.transports.items()
                     if k not in used and not t.pending
                     and (t.expires <= now or not t.ssh.connected)]
        self._close_all(expired + dead)
        with self.lock:
            for transport in stale:
                if transport.key not in {c.transport.key for c in self.channels} and \
                        not transport.pending and self.transports.get(transport.key) is transport:
                    del self.transports[transport.key]
                    transport.ssh.close()
            if stale or expired or dead:
                self.last_activity = time.monotonic()
            return (not self.transports and not self.channels and self.clients == 0
                    and time.monotonic() - self.last_activity > LINGER_S)

    @staticmethod
    def _close_all(channels: list[Channel]) -> None:
        threads = [threading.Thread(target=c.close, args=(True,), daemon=True)
                   for c in channels]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(5.0)

    def shutdown(self) -> None:
        try:  # first: a run starting now must find no owner and start a new one
            self.path.unlink()
        except OSError:
            pass
        self.sock.close()
        with self.lock:
            channels, self.channels = list(self.channels), []
            transports, self.transports = list(self.transports.values()), {}
        self._close_all(channels)
        for transport in transports:
            transport.ssh.close()

    # -- one client ------------------------------------------------------------------------
    def _client(self, client: socket.socket) -> None:
        try:
            frame = wire.recv_frame(client)
            if frame is None or frame[0] != b"q":
                return
            request = json.loads(frame[1].decode("utf-8"))
            op = request.get("op")
            if op == "status":
                wire.send_json(client, b"r", self.status())
            elif op == "hold":  # a persisting run, for its whole life: do not exit under it
                wire.send_json(client, b"r", {"ok": True})
                while wire.recv_frame(client) is not None:
                    pass
            elif op == "stop":
                wire.send_json(client, b"r", {"ok": True, "pid": os.getpid()})
                self.stopping.set()
            elif op in ("connect", "exec"):
                self._exec(client, request)
            else:
                wire.send_json(client, b"r", {"ok": False, "error": f"unknown op {op!r}"})
        except (OSError, ValueError):
            pass
        finally:
            try:
                client.close()
            except OSError:
                pass
            with self.lock:
                self.clients -= 1
                self.last_activity = time.monotonic()

    def status(self) -> dict[str, Any]:
        now = time.monotonic()
        with self.lock:
            rows = []
            for transport in self.transports.values():
                agents = [{"as": c.show, "busy": c.client is not None,
                           "expires_in": max(0.0, c.expires - now)}
                          for c in self.channels if c.transport is transport and c.agent]
                rows.append({"host": transport.ssh.host, "show": transport.show,
                             "up": transport.ssh.connected, "agents": agents,
                             "expires_in": max(0.0, transport.expires - now)})
        return {"ok": True, "pid": os.getpid(), "connections": rows}

    def _transport(self, request: dict[str, Any]) -> Transport:
        key = str(request["key"])
        with self.lock:
            transport = self.transports.get(key)
            if transport is None:
                transport = self.transports[key] = Transport(
                    key, str(request["host"]), dict(request.get("options") or {}),
                    str(request.get("login") or request["host"]))
            transport.expires = max(transport.expires,
                                    time.monotonic() + float(request.get("persist", 0)))
            transport.pending += 1
        return transport

    def _claim_idle(self, agent: str) -> Channel | None:
        with self.lock:
            for channel in self.channels:
                if channel.agent == agent and channel.idle and channel.alive():
                    channel.client = _CLAIMED  # taken: no other run gets it
                    return channel
        return None

    def _exec(self, client: socket.socket, request: dict[str, Any]) -> None:
        transport = self._transport(request)
        try:
            self._exec_on(transport, client, request)
        finally:
            with self.lock:
                transport.pending -= 1

    def _exec_on(self, transport: Transport, client: socket.socket, request: dict[str, Any]
                 ) -> None:
        agent = request.get("agent")
        persist = float(request.get("persist", 0))
        if request["op"] == "exec" and agent:
            warm = self._claim_idle(str(agent))
            if warm is not None:
                with warm.lock:
                    try:
                        wire.send_json(client, b"r", {"ok": True, "warm": True,
                                                      "state": warm.state})
                    except OSError:
                        warm.client = None  # the run went away: the agent stays idle
                        return
                    warm.client = client
                self._relay(warm, client, persist)
                return
        with transport.lock:
            before = dict(transport.ssh.phases)
            was_up = transport.ssh.connected
            try:
                transport.ssh.connect()
            except HostUnreachable as err:
                kind = "hostkey" if isinstance(err, HostKeyError) else "unreachable"
                wire.send_json(client, b"r", {"ok": False, "kind": kind, "error": err.reason})
                return
            except PyengineError as err:  # a bad option or key file: the run says it
                wire.send_json(client, b"r", {"ok": False, "kind": "error", "error": str(err)})
                return
        phases = {k: v - before.get(k, 0.0) for k, v in transport.ssh.phases.items()
                  if v - before.get(k, 0.0) > 0}
        if request["op"] == "connect":
            wire.send_json(client, b"r", {"ok": True, "reused": was_up, "phases": phases})
            return
        try:
            assert transport.ssh.transport is not None
            chan = transport.ssh.transport.open_session(timeout=30.0)
            chan.exec_command(shlex.join([str(a) for a in request["argv"]]))
        except Exception as err:  # noqa: BLE001 - paramiko's errors vary; one line back
            wire.send_json(client, b"r", {"ok": False, "kind": "unreachable",
                                          "error": f"cannot open a channel: {err}"})
            return
        channel = Channel(transport, chan, str(agent) if agent else None,
                          str(request.get("show") or ""))
        channel.client = _CLAIMED  # never idle (so never reaped) before its run has it
        with self.lock:
            self.channels.append(channel)
        with channel.lock:
            try:
                wire.send_json(client, b"r", {"ok": True, "warm": False, "reused": was_up,
                                              "phases": phases})
            except OSError:
                channel.client = None  # the run went away: reaped at once (expires 0)
            else:
                channel.client = client
        channel.start_pumps()  # after the reply: the process's first bytes follow it
        self._relay(channel, client, persist)

    def _relay(self, channel: Channel, client: socket.socket, persist: float) -> None:
        """The run's frames to the channel, until it detaches or goes away."""
        detached = False
        try:
            while True:
                frame = wire.recv_frame(client)
                if frame is None:
                    break
                kind, payload = frame
                if kind == b"i":
                    channel.chan.sendall(payload)
                elif kind == b"w":
                    channel.chan.shutdown_write()
                elif kind == b"d" and channel.agent and persist > 0 and channel.alive():
                    with channel.lock:
                        channel.state = json.loads(payload.decode("utf-8") or "{}")
                        channel.expires = time.monotonic() + persist
                        channel.transport.expires = max(channel.transport.expires,
                                                        channel.expires)
                        wire.send_frame(client, b"D")
                        channel.client = None
                    detached = True
                    break
                else:  # "k", or a detach that cannot be honoured: the channel ends
                    break
        except (OSError, ValueError):
            pass
        if not detached:
            # The run is gone or done with it; mid-exchange state is unknown: end it.
            channel.close(polite=False)
            with self.lock:
                if channel in self.channels:
                    self.channels.remove(channel)


class _Claimed:
    """Marks a channel taken by a run between the claim and the reply (never sent to)."""

    def sendall(self, data: bytes) -> None:
        raise OSError("not attached yet")


_CLAIMED: Any = _Claimed()


def bind(path: Path) -> socket.socket | None:
    """The listening socket at `path` (0600), or None when a live owner already has it.

    Two runs may start an owner at the same moment: a lock file decides which binds."""
    import fcntl

    private_dir(path.parent)
    lock = os.open(path.parent / "owner.lock", os.O_CREAT | os.O_RDWR, 0o600)
    try:
        fcntl.flock(lock, fcntl.LOCK_EX)
        return _bind_locked(path)
    finally:
        os.close(lock)


def _bind_locked(path: Path) -> socket.socket | None:
    probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    probe.settimeout(5.0)
    try:  # another owner that answers serves this user (one that is exiting does not)
        probe.connect(str(path))
        wire.send_json(probe, b"q", {"op": "status"})
        if wire.recv_frame(probe) is not None:
            return None
    except OSError:
        pass
    finally:
        probe.close()
    try:
        path.unlink()
    except FileNotFoundError:
        pass
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old = os.umask(0o177)  # the socket is born 0600: no window where others could open it
    try:
        sock.bind(str(path))
    finally:
        os.umask(old)
    os.chmod(path, 0o600)
    sock.listen(256)
    return sock


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    path = Path(args[0])
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # never a run's Ctrl-C
    signal.signal(signal.SIGHUP, signal.SIG_IGN)  # nor the terminal closing
    sock = bind(path)
    if sock is None:
        return 0
    owner = Owner(sock, path)
    signal.signal(signal.SIGTERM, lambda *_: owner.stopping.set())
    owner.serve()
    return 0


if __name__ == "__main__":
    sys.exit(main())
