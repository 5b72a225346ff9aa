"""Reading and writing vault files: stdin/stdout as `-`, atomic replacement, the editor.

Every write goes to a temporary file in the target's folder and is renamed over
it, so a crash or a full disk never leaves half a vault. Plaintext only ever
touches the disk inside a private 0700 folder, in a 0600 file that is overwritten
and removed as soon as the editor exits.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from pyengine.errors import VaultError

STDIO = "-"


def read_input(path: str) -> bytes:
    """The bytes of `path`, or of stdin for `-`."""
    if path == STDIO:
        return sys.stdin.buffer.read()
    try:
        return Path(path).read_bytes()
    except FileNotFoundError:
        raise VaultError(f"{path}: file not found") from None
    except IsADirectoryError:
        raise VaultError(f"{path}: is a directory") from None
    except OSError as err:
        raise VaultError(f"{path}: cannot read: {err.strerror}") from None


def write_output(path: str, data: bytes) -> None:
    """Write `data` to `path` atomically, or to stdout for `-`."""
    if path == STDIO:
        sys.stdout.buffer.write(data)
        sys.stdout.buffer.flush()
        return
    atomic_write(path, data)


def atomic_write(path: str, data: bytes) -> None:
    """Replace `path` with `data` in one rename; keep an existing file's mode and owner.

    A new file gets 0600: it holds a vault or, after `decrypt`, a secret.
    """
    target = os.path.realpath(path)
    folder = os.path.dirname(target) or "."
    try:
        current = os.stat(target)
    except FileNotFoundError:
        current = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=".pyengine-vault-", dir=folder)
    except OSError as err:
        raise VaultError(f"{path}: cannot write: {err.strerror}") from None
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        if current is not None:
            os.chmod(tmp, current.st_mode & 0o7777)
            if os.geteuid() == 0:
                os.chown(tmp, current.st_uid, current.st_gid)
        else:
            os.chmod(tmp, 0o600)
        os.replace(tmp, target)
    except OSError as err:
        _remove(tmp)
        raise VaultError(f"{path}: cannot write: {err.strerror}") from None


def _remove(path: str) -> None:
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass


def _shred(path: str) -> None:
    """Overwrite a plaintext file with zeros before removing it (best effort)."""
    try:
        size = os.path.getsize(path)
        with open(path, "r+b") as handle:
            handle.write(b"\0" * size)
            handle.flush()
            os.fsync(handle.fileno())
    except OSError:
        pass
    _remove(path)


def editor_command() -> list[str]:
    """$EDITOR (split like a shell would), else $VISUAL, else vi."""
    editor = os.environ.get("EDITOR") or os.environ.get("VISUAL") or "vi"
    argv = shlex.split(editor)
    if not argv:
        raise VaultError("$EDITOR is empty")
    return argv


def edit_bytes(initial: bytes, suffix: str = "") -> bytes:
    """Let the user edit `initial` in $EDITOR; return what they saved."""
    folder = tempfile.mkdtemp(prefix="pyengine-vault-")  # mkdtemp makes it 0700
    path = os.path.join(folder, "plaintext" + suffix)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as handle:
            handle.write(initial)
        argv = editor_command()
        try:
            proc = subprocess.run([*argv, path], check=False)
        except OSError as err:
            raise VaultError(f"cannot start editor {argv[0]!r}: {err.strerror}") from None
        if proc.returncode != 0:
            raise VaultError(f"editor {argv[0]!r} exited with status {proc.returncode}; "
                             "nothing was written")
        with open(path, "rb") as handle:
            return handle.read()
    finally:
        _shred(path)
        shutil.rmtree(folder, ignore_errors=True)
