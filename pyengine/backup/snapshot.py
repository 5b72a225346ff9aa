"""Turning a `backup_collect` result into a host snapshot, and comparing snapshots.

Shared by the `backup` action (which writes snapshots) and the CLI (which reads them),
so both agree on where a command's output lives (`/_commands/<name>.txt`).
"""

from __future__ import annotations

import base64
import difflib
import threading
from pathlib import Path
from typing import Any

from pyengine.backup.store import BACKUP_ROOT, COMMANDS_DIR, BackupStore, host_relpath

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def repo_lock(repo: Path) -> threading.Lock:
    """One lock per repository: hosts run in threads and share the working tree and index."""
    key = str(Path(repo).resolve())
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def snapshot_from_result(result: dict[str, Any]) -> dict[str, bytes]:
    """path -> content of everything a host sent back."""
    files = {path: base64.b64decode(data) for path, data in (result.get("files") or {}).items()}
    for name, output in (result.get("commands") or {}).items():
        files[f"/{COMMANDS_DIR}/{name}.txt"] = str(output).encode("utf-8")
    return files


def current_snapshot(store: BackupStore, host: str) -> dict[str, bytes] | None:
    """The host's files as last written (None when the host was never backed up)."""
    folders = sorted(p for p in (store.root / BACKUP_ROOT).glob(f"*/{host}") if p.is_dir())
    if not folders:
        return None
    folder = folders[0]
    files: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            files["/" + str(path.relative_to(folder))] = path.read_bytes()
    return files


def changed_paths(old: dict[str, bytes] | None, new: dict[str, bytes]) -> list[str]:
    """What differs between two snapshots: '+path' added, '-path' removed, 'path' changed."""
    if old is None:
        return []
    out = []
    for path in sorted(set(old) | set(new)):
        label = path
        if path.startswith(f"/{COMMANDS_DIR}/"):
            label = "command:" + path[len(COMMANDS_DIR) + 2:].removesuffix(".txt")
        if path not in old:
            out.append("+" + label)
        elif path not in new:
            out.append("-" + label)
        elif old[path] != new[path]:
            out.append(label)
    return out


def drift_diffs(old: dict[str, bytes] | None, new: dict[str, bytes], max_files: int = 5,
                max_lines: int = 40) -> dict[str, str]:
    """A short unified diff per changed text file (the morning report shows what drifted,
    not only where): the first `max_files` files, `max_lines` lines each; binary files and
    added or removed files are left to the path list."""
    if old is None:
        return {}
    out: dict[str, str] = {}
    for path in sorted(set(old) & set(new)):
        if old[path] == new[path]:
            continue
        if len(out) >= max_files:
            break
        try:
            before, after = old[path].decode("utf-8"), new[path].decode("utf-8")
        except UnicodeDecodeError:
            continue
        lines = list(difflib.unified_diff(before.splitlines(), after.splitlines(),
                                          "before", "after", lineterm="", n=1))[2:]
        if len(lines) > max_lines:
            lines = [*lines[:max_lines], f"… {len(lines) - max_lines} more lines"]
        out[path] = "\n".join(lines)
    return out


def validate_paths(files: dict[str, bytes]) -> None:
    for path in files:
        host_relpath(path)
