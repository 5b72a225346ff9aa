"""A background drain for a process's stderr, shared by the ssh and local agent channels.

Without it a process that writes a lot to stderr fills the SSH window (or the pipe)
and stalls while we wait on its stdout. The buffer keeps everything for error
messages and hands out what is new to `read_stderr` (used while waiting for sudo's
prompt before the agent starts).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class StderrDrain:
    """Reads with `recv` (returns b"" at EOF) in a daemon thread until the stream ends."""

    MAX_KEPT = 1 << 20

    def __init__(self, recv: Callable[[], bytes], name: str) -> None:
        self._recv = recv
        self._cond = threading.Condition()
        self._all = bytearray()
        self._new = bytearray()
        self._ended = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            try:
                chunk = self._recv()
            except Exception:  # the stream died under us: same as EOF
                chunk = b""
            with self._cond:
                if not chunk:
                    self._ended = True
                    self._cond.notify_all()
                    return
                if len(self._all) < self.MAX_KEPT:
                    self._all += chunk
                self._new += chunk
                self._cond.notify_all()

    def read(self, timeout: float = 0.0) -> bytes | None:
        deadline = time.monotonic() + timeout
        with self._cond:
            while not self._new and not self._ended:
                left = deadline - time.monotonic()
                if left <= 0:
                    break
                self._cond.wait(left)
            if self._new:
                out = bytes(self._new)
                self._new.clear()
                return out
            return None if self._ended else b""

    def so_far(self) -> bytes:
        with self._cond:
            return bytes(self._all)

    def wait_ended(self, timeout: float) -> bool:
        with self._cond:
            return self._cond.wait_for(lambda: self._ended, timeout)
