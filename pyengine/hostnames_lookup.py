"""The `inventory_hostnames` lookup: host patterns resolved against the run's `groups`.

Templating sits below the inventory, so this lookup lives in the variables layer and is
added to the templating's table by `pyengine.vars`, as the vault filters are. It reads
the `groups` variable of the host being templated (what `add_host`/`group_by` changed
is in it), rebuilds a plain inventory from it and uses the one pattern matcher `hosts:`
and `--limit` use, so every pattern form means the same in all three places.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyengine.errors import PlaybookError, TemplateError
from pyengine.inventory.model import Inventory
from pyengine.inventory.patterns import select


def _inventory_from_groups(groups: Mapping[str, Any]) -> Inventory:
    inventory = Inventory()
    for host in groups.get("all") or []:
        inventory.add_host(str(host))
    for group, hosts in groups.items():
        if group == "all":
            continue
        inventory.add_group(str(group))
        for host in hosts or []:
            inventory.add_host(str(host), group=str(group))
    inventory.reconcile()
    return inventory


def inventory_hostnames(call: Any, terms: list[Any], **kw: Any) -> list[Any]:
    """Names of the hosts each pattern selects, in inventory order, each name once."""
    groups = call.variables.get("groups")
    if not isinstance(groups, Mapping):
        raise TemplateError("lookup('inventory_hostnames'): no `groups` variable here")
    inventory = _inventory_from_groups(groups)
    out: list[str] = []
    for term in terms:
        try:
            names = [host.name for host in select(inventory, str(term))]
        except PlaybookError as err:
            raise TemplateError(f"lookup('inventory_hostnames'): {err}") from None
        out.extend(name for name in names if name not in out)
    return out


LOOKUPS = {"inventory_hostnames": inventory_hostnames}
