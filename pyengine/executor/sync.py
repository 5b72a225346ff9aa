"""Meeting points for the hosts of one play (run_once, handler flushes, aborts).

Hosts move through their tasks on their own; where a point concerns several
hosts they meet here. A host that reaches a point waits until no host of the
play is still running; then the hosts waiting at the EARLIEST point in program
order go on together (that is what Ansible's linear strategy would have done:
every host reaches task N before any host starts task N+1). Hosts that fail,
become unreachable or finish leave the group, so nobody waits for them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

Position = tuple[int, ...]


@dataclass
class Meeting:
    """The hosts released together at one point; the first one leads (run_once)."""

    hosts: list[str]
    done: threading.Event = field(default_factory=threading.Event)
    value: Any = None

    @property
    def leader(self) -> str:
        return self.hosts[0]


class HostGroup:
    """The hosts of one play (one serial batch) and the play-wide stop flags."""

    def __init__(self, hosts: list[str]) -> None:
        self.order = {h: i for i, h in enumerate(hosts)}
        # Only hosts that have started count: with fewer forks than hosts, the others
        # join later (and must not be waited for before they can even start).
        self.active: set[str] = set()
        self.once: dict[Position, Any] = {}  # run_once results, for hosts that come later
        self.total = len(hosts)
        self.failed: set[str] = set()
        self.aborted = ""  # reason once any_errors_fatal / max_fail_percentage hit
        self.interrupted = False
        self.ended = False  # meta: end_play (no failure: the others stop quietly)
        self._cond = threading.Condition()
        self._waiting: dict[str, Position] = {}
        self._released: dict[str, Meeting] = {}

    def join(self, host: str) -> None:
        with self._cond:
            self.active.add(host)

    def leave(self, host: str) -> None:
        """`host` will not meet anyone again in this play (done, failed or unreachable)."""
        with self._cond:
            self.active.discard(host)
            self._release_if_idle()
            self._cond.notify_all()

    def abort(self, reason: str) -> None:
        with self._cond:
            if not self.aborted:
                self.aborted = reason
            self._cond.notify_all()

    def end(self) -> None:
        with self._cond:
            self.ended = True
            self._cond.notify_all()

    def mark_failed(self, host: str) -> int:
        with self._cond:
            self.failed.add(host)
            return len(self.failed)

    def meet(self, host: str, position: Position) -> Meeting:
        """Wait at `position` until released with the other hosts at the same point."""
        with self._cond:
            self._waiting[host] = position
            self._release_if_idle()
            while host not in self._released:
                if self.aborted or self.interrupted or self.ended:
                    self._waiting.pop(host, None)
                    return Meeting([host])
                self._cond.wait(0.5)
            return self._released.pop(host)

    def _release_if_idle(self) -> None:
        waiting = {h: p for h, p in self._waiting.items() if h in self.active}
        running = self.active - set(waiting)
        if running or not waiting:
            return
        first = min(waiting.values())
        hosts = sorted((h for h, p in waiting.items() if p == first), key=self.order.__getitem__)
        meeting = Meeting(hosts)
        for h in hosts:
            del self._waiting[h]
            self._released[h] = meeting
        self._cond.notify_all()
