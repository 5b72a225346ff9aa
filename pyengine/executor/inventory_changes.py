"""group_by / add_host results: collected while a play runs, applied when it ends.

Host threads only record; the main thread applies between plays, so no host sees
the inventory change under its feet (as in Ansible, where they count from the next
play on).
"""

from __future__ import annotations

import threading
from typing import Any

from pyengine.executor.contracts import Sources

INVENTORY_KEYS = ("add_group", "add_host")


class InventoryChanges:
    """The inventory changes a play's tasks asked for, in the order they came."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources
        self.pending: list[tuple[str, dict[str, Any]]] = []
        self._lock = threading.Lock()

    @staticmethod
    def wanted_by(result: dict[str, Any]) -> bool:
        return any(key in result for key in INVENTORY_KEYS)

    def record(self, host: str, result: dict[str, Any]) -> None:
        with self._lock:
            self.pending.append((host, result))

    def apply(self) -> None:
        """Main thread, after the play's hosts finished."""
        for host, result in self.pending:
            self.sources.apply_inventory_change(host, result)
        self.pending.clear()
