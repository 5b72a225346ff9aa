"""group_by / add_host results: applied to the inventory as soon as a host reports them.

As in Ansible, the change is visible to every host's next task (`groups`, `group_names`,
`hostvars` and the new group's variables) while the play's own host list stays as it
was: new hosts are played from the next play on. Sources applies it under its lock, so
no host thread reads the inventory half-changed.
"""

from __future__ import annotations

from typing import Any

from pyengine.executor.contracts import Sources

INVENTORY_KEYS = ("add_group", "add_host")


class InventoryChanges:
    """Where a play's inventory-changing results go."""

    def __init__(self, sources: Sources) -> None:
        self.sources = sources

    @staticmethod
    def wanted_by(result: dict[str, Any]) -> bool:
        return any(key in result for key in INVENTORY_KEYS)

    def record(self, host: str, result: dict[str, Any]) -> None:
        self.sources.apply_inventory_change(host, result)
