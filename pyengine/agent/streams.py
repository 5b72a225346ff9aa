"""Controller files that travel to targets in chunks, on request, instead of inside a batch.

A `copy` of a big file used to put the whole file into the batch (read, base64, JSON):
controller memory grew with the file's size and with the number of hosts. A file at or
above STREAM_AT is registered here instead; the task carries only its reference, SHA-1
and size, the target compares its own copy by SHA-1 and asks for the bytes only when it
needs them, and each session sends them CHUNK bytes at a time.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path

STREAM_AT = 256 * 1024
CHUNK = 1024 * 1024

_lock = threading.Lock()
_paths: dict[str, Path] = {}  # ref -> file
_digests: dict[tuple[str, int, int], tuple[str, int]] = {}  # (path, mtime_ns, size) -> digest


def register(path: Path) -> tuple[str, str, int]:
    """(ref, sha1, size) of a controller file, hashed once per version of the file."""
    st = path.stat()
    key = (str(path), st.st_mtime_ns, st.st_size)
    with _lock:
        known = _digests.get(key)
    if known is None:
        digest = hashlib.sha1()
        size = 0
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(CHUNK), b""):
                digest.update(block)
                size += len(block)
        known = (digest.hexdigest(), size)
        with _lock:
            _digests[key] = known
    sha1, size = known
    ref = f"{sha1}-{size}"
    with _lock:
        _paths[ref] = path
    return ref, sha1, size


def path_of(ref: str) -> Path | None:
    with _lock:
        return _paths.get(ref)
