"""Inventories: hosts, groups, variables with their origins, and host patterns."""

from __future__ import annotations

from pyengine.inventory.loader import load_inventory
from pyengine.inventory.model import Group, Host, Inventory, VarLayer

__all__ = ["load_inventory", "Inventory", "Host", "Group", "VarLayer"]
