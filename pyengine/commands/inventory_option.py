"""`-i/--inventory` as every command that talks to hosts takes it (run, patch status,
health): repeatable; without it `$PYENGINE_INVENTORY`, then ansible.cfg's `inventory`
(`$ANSIBLE_INVENTORY`), then the running default lab (`pyengine lab up`)."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import click

from pyengine.errors import PyengineError

ENV_INVENTORY = "PYENGINE_INVENTORY"
HELP = ("Inventory file, folder or host list (repeatable). Default: $PYENGINE_INVENTORY, "
        "then ansible.cfg's inventory, then the running lab.")


def inventory_option(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add `-i/--inventory` (parameter `inventories`) to a click command."""
    return click.option("-i", "--inventory", "inventories", multiple=True,
                        metavar="INVENTORY", help=HELP)(func)


def inventory_paths(given: tuple[str, ...] | list[str],
                    configured: list[str] | None = None) -> list[str]:
    """The inventory sources of a command that talks to hosts, in the order above.
    `configured` is ansible.cfg's inventory (read by the caller, which has the config)."""
    if given:
        return list(given)
    from_env = [p for p in os.environ.get(ENV_INVENTORY, "").split(os.pathsep) if p]
    if from_env:
        return from_env
    if configured is None:
        from pyengine.content.ansible_config import current_config

        configured = current_config().inventory
    if configured:
        return list(configured)
    from pyengine.lab import lab as lab_module

    path = lab_module.default_inventory_path()
    if path is None:
        raise PyengineError("no inventory: give -i INVENTORY, or run `pyengine lab up` to "
                            "start the embedded default target")
    return [str(path)]
