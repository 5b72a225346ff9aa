"""Where the owner's socket lives: a folder only the user can open.

`$PYENGINE_PERSIST_DIR`, else `$XDG_RUNTIME_DIR/pyengine`, else `/tmp/pyengine-<uid>`.
The folder is made 0700 and refused when someone else owns it or may open it (a folder
planted in /tmp by another user would otherwise receive our connections); the socket is
0600 and the owner also checks each peer's uid (SO_PEERCRED).
"""

from __future__ import annotations

import os
import socket
import stat
import struct
from pathlib import Path

from pyengine.errors import PyengineError

SOCKET_NAME = "owner.sock"
_UCRED = struct.Struct("3i")  # pid, uid, gid (Linux struct ucred)


def persist_dir(env: dict[str, str] | None = None) -> Path:
    env = dict(os.environ) if env is None else env
    if env.get("PYENGINE_PERSIST_DIR"):
        return Path(env["PYENGINE_PERSIST_DIR"])
    if env.get("XDG_RUNTIME_DIR"):
        return Path(env["XDG_RUNTIME_DIR"]) / "pyengine"
    return Path(f"/tmp/pyengine-{os.getuid()}")


def private_dir(path: Path) -> Path:
    """`path` created 0700, or checked to be ours and 0700 (one-line error otherwise)."""
    try:
        path.mkdir(mode=0o700, parents=False, exist_ok=True)
    except FileNotFoundError:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.mkdir(mode=0o700, exist_ok=True)
    except OSError as err:
        raise PyengineError(f"persist: cannot create {path}: {err.strerror}") from err
    info = os.lstat(path)
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid():
        raise PyengineError(f"persist: {path} is not a folder of this user: refusing to use it")
    if stat.S_IMODE(info.st_mode) & 0o077:
        raise PyengineError(f"persist: {path} may be opened by other users (mode "
                            f"{stat.S_IMODE(info.st_mode):o}): chmod 700 it or remove it")
    return path


def socket_path(env: dict[str, str] | None = None) -> Path:
    return persist_dir(env) / SOCKET_NAME


def peer_uid(sock: socket.socket) -> int:
    """The uid of the process at the other end of a unix socket (SO_PEERCRED)."""
    raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _UCRED.size)
    return int(_UCRED.unpack(raw)[1])


def peer_allowed(sock: socket.socket, uid: int | None = None) -> bool:
    """Only the owner's own user may talk to it (root is not let in on other users')."""
    try:
        return peer_uid(sock) == (os.getuid() if uid is None else uid)
    except OSError:
        return False
