"""PID files that cannot point at someone else's process.

A PID file stores "pid starttime" (field 22 of /proc/PID/stat). A PID is trusted only
while the running process still has that start time, so a recycled PID belonging to
another engineer's lab or to the machine is never signalled.
"""

from __future__ import annotations

import os
import time
from pathlib import Path


def start_time(pid: int) -> int | None:
    """The kernel's start time of `pid` in clock ticks, or None if it does not exist."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    # The command name (field 2) may contain spaces and parentheses: split after the last ')'.
    fields = stat[stat.rindex(")") + 2 :].split()
    return int(fields[19])


def write_pid_file(path: Path, pid: int) -> None:
    stamp = start_time(pid)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(f"{pid} {stamp or 0}\n")
    os.replace(tmp, path)


def read_pid_file(path: Path) -> int | None:
    """The PID recorded in `path` if that very process still runs, else None."""
    try:
        pid_text, stamp_text = path.read_text().split()
        pid, stamp = int(pid_text), int(stamp_text)
    except (FileNotFoundError, ValueError):
        return None
    if start_time(pid) != stamp or _is_zombie(pid):
        return None  # gone, replaced by another process, or dead and not yet reaped
    return pid


def children(pid: int) -> list[int]:
    """Direct children of `pid` (all threads)."""
    found: list[int] = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except FileNotFoundError:
        return found
    for tid in tasks:
        try:
            text = Path(f"/proc/{pid}/task/{tid}/children").read_text()
        except FileNotFoundError:
            continue
        found.extend(int(p) for p in text.split())
    return found


def wait_gone(pid: int, stamp: int | None, timeout: float) -> bool:
    """Wait until the process (pid, start time) has exited; True if it did."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        current = start_time(pid)
        if current is None or current != stamp or _is_zombie(pid):
            return True
        time.sleep(0.05)
    return False


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return True
    return stat[stat.rindex(")") + 2] == "Z"
