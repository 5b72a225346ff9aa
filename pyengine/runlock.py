"""The run lock: two nightly runs must never overlap on the same project.

An advisory `flock` on `.pyengine/run.lock`: the kernel drops it when the process
dies, so a crashed run never leaves a stale lock behind. The file records who holds
it, so the second run can say which run it is waiting on.
"""

from __future__ import annotations

import fcntl
import os
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from pyengine.errors import RunLocked


def default_lock_path(project_dir: Path | None = None) -> Path:
    return (project_dir or Path.cwd()) / ".pyengine" / "run.lock"


@contextmanager
def run_lock(path: Path, what: str = "") -> Iterator[None]:
    """Hold the lock for the block; raise RunLocked at once if another run holds it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = path.read_text(errors="replace").strip() or "another run"
            raise RunLocked(f"another pyengine run holds {path} ({holder}); not starting") from None
        os.ftruncate(fd, 0)
        started = time.strftime("%Y-%m-%dT%H:%M:%S%z")
        os.write(fd, f"pid {os.getpid()} on {socket.gethostname()} since {started} {what}\n"
                 .encode())
        yield
    finally:
        os.close(fd)  # closing releases the flock
