"""The owner's socket protocol, and the keys that decide what may be reused.

Frames both ways: 1 byte kind + 4-byte big-endian length + payload.
  run -> owner: `q` request (JSON), `i` stdin bytes, `w` end of stdin, `d` detach (JSON
                state: the agent stays, idle), `k` close the channel (the process gets EOF).
  owner -> run: `r` reply (JSON), `o` stdout bytes, `O` stdout ended (JSON: is the
                transport still up), `e` stderr bytes, `E` stderr ended, `x` exit status,
                `D` detached.
A connection to the socket carries one request: `status`, `stop`, or `exec` (one channel
to a host, then its bytes both ways until `d`, `k` or the end).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import struct
from collections.abc import Mapping
from typing import Any

from pyengine.paths import expand_user

HEADER = struct.Struct(">I")
MAX_PAYLOAD = 64 * 1024 * 1024


def send_frame(sock: socket.socket, kind: bytes, payload: bytes = b"") -> None:
    sock.sendall(kind + HEADER.pack(len(payload)) + payload)


def send_json(sock: socket.socket, kind: bytes, message: Mapping[str, Any]) -> None:
    send_frame(sock, kind, json.dumps(message, separators=(",", ":")).encode("utf-8"))


def recv_frame(sock: socket.socket) -> tuple[bytes, bytes] | None:
    """(kind, payload), or None at the end of the stream."""
    head = _recv_exactly(sock, 1 + HEADER.size)
    if head is None:
        return None
    (size,) = HEADER.unpack(head[1:])
    if size > MAX_PAYLOAD:
        raise OSError(f"persist: a {size}-byte frame announced")
    payload = _recv_exactly(sock, size) if size else b""
    if payload is None:
        return None
    return head[:1], payload


def _recv_exactly(sock: socket.socket, n: int) -> bytes | None:
    chunks: list[bytes] = []
    left = n
    while left:
        chunk = sock.recv(min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


# -- reuse keys --------------------------------------------------------------------------
def _file_digest(name: Any) -> str:
    """A file's content hash ("" if absent): a replaced key or known_hosts file at the
    same path must not reuse what was opened with the old one."""
    if not name:
        return ""
    try:
        return hashlib.sha256(expand_user(str(name)).read_bytes()).hexdigest()
    except OSError:
        return "unreadable"


def connection_key(host: str, options: Mapping[str, Any],
                   env: Mapping[str, str] | None = None) -> str:
    """Everything that changes what an SSH connection is, as one digest.

    The options (address, port, user, keys, passwords, host key policy, jump hosts, ...)
    plus the contents of the key and known_hosts files and the ssh-agent socket in use.
    The digest is held in the owner's memory only; passwords never leave this process
    except over the user's own socket.
    """
    env = os.environ if env is None else env
    keys = options.get("private_key_file") or []
    if isinstance(keys, str):
        keys = [keys]
    files = {
        "keys": [(str(k), _file_digest(k)) for k in keys],
        "known_hosts": _file_digest(options.get("known_hosts_file")),
        "user_known_hosts": [_file_digest(p) for p in ("~/.ssh/known_hosts",
                                                       "/etc/ssh/ssh_known_hosts")],
        "default_keys": [_file_digest(p) for p in ("~/.ssh/id_ed25519", "~/.ssh/id_ecdsa",
                                                   "~/.ssh/id_rsa")],
    }
    material = {
        "host": host,
        "options": sorted((str(k), json.dumps(v, sort_keys=True, default=str))
                          for k, v in options.items()),
        "files": files,
        "ssh_auth_sock": env.get("SSH_AUTH_SOCK", ""),
        "uid": os.getuid(),
    }
    return hashlib.sha256(json.dumps(material, sort_keys=True).encode("utf-8")).hexdigest()


def agent_key(connection: str, identity: Mapping[str, Any]) -> str:
    """An agent's key: its connection's, plus what the agent runs as (python, become, the
    become user and password): a warm root agent is reused only by the same sudo setup."""
    material = {"connection": connection,
                "identity": sorted((str(k), str(v)) for k, v in identity.items())}
    return hashlib.sha256(json.dumps(material).encode("utf-8")).hexdigest()
