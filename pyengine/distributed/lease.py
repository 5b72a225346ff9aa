"""Keep a running job's host leases alive while the engine works.

A lease lasts `ttl` seconds and is renewed every third of that, so a worker that dies
(SIGKILL, power) frees its hosts within one `ttl` and a live one never loses them.
"""

from __future__ import annotations

import threading
from pathlib import Path
from types import TracebackType

from pyengine.history.db import HistoryDB


class LeaseKeeper:
    """A thread renewing `job_id`'s leases for `worker` until the block ends."""

    def __init__(self, history: str | Path, job_id: str, worker: str, ttl: float) -> None:
        self.history, self.job_id, self.worker, self.ttl = history, job_id, worker, ttl
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease", daemon=True)
        self.error = ""

    def _loop(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                with HistoryDB(self.history) as db:
                    db.renew_leases(self.job_id, self.worker, self.ttl)
            except Exception as err:  # a database blip: try again at the next beat
                self.error = str(err)

    def __enter__(self) -> LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=10)
