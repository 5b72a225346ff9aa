"""`pyengine inventory list|graph|host NAME`: the inventory as pyengine reads it.

`host NAME` prints each variable with the file and line that set it, so "where
does this value come from?" has an answer without reading five folders.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

import click

from pyengine.inventory.loader import load_inventory
from pyengine.inventory.model import Inventory
from pyengine.inventory.patterns import select, unmatched_terms
from pyengine.masking import mask

ENV_INVENTORY = "PYENGINE_INVENTORY"


def _common(func: Callable[..., Any]) -> Callable[..., Any]:
    from pyengine.commands.vault_options import vault_options

    func = click.option("--playbook-dir", type=click.Path(exists=True, file_okay=False),
                        help="Also read group_vars/ and host_vars/ next to the playbooks here."
                        )(func)
    func = click.option("-i", "--inventory", "inventories", multiple=True,
                        help=f"Inventory file or folder (repeatable; default ${ENV_INVENTORY}, "
                        "then ansible.cfg's inventory)."
                        )(func)
    return vault_options(func)


def _load(inventories: tuple[str, ...], playbook_dir: str | None, **vault_opts: Any
          ) -> Inventory:
    from pyengine.commands.vault_options import vault_from_options
    from pyengine.content.ansible_config import current_config

    sources = list(inventories) or [p for p in os.environ.get(ENV_INVENTORY, "").split(":") if p]
    # Then ansible.cfg's `inventory` / $ANSIBLE_INVENTORY, as ansible-inventory reads it.
    sources = sources or list(current_config().inventory or [])
    if not sources:
        raise click.UsageError(f"no inventory: give -i PATH, set ${ENV_INVENTORY} or "
                               f"`inventory` in ansible.cfg")
    vault = vault_from_options(**vault_opts)
    return load_inventory(sources, vault=vault, playbook_dir=playbook_dir)


def _show(value: Any) -> str:
    return json.dumps(mask(value), default=str, ensure_ascii=False)


@click.group()
def inventory() -> None:
    """Show hosts, groups and variables as pyengine resolves them."""


@inventory.command("list")
@_common
@click.option("-l", "--limit", default="all", show_default=True, help="Host pattern.")
@click.option("--json", "as_json", is_flag=True,
              help="ansible-inventory --list style JSON, with every host's variables.")
def list_hosts(inventories: tuple[str, ...], playbook_dir: str | None, limit: str,
               as_json: bool, **vault_opts: Any) -> None:
    """List the hosts a pattern selects, with their groups."""
    inv = _load(inventories, playbook_dir, **vault_opts)
    hosts = select(inv, limit)
    for term in unmatched_terms(inv, limit):
        click.echo(f"warning: '{term}' matches no host or group", err=True)
    if as_json:
        data: dict[str, Any] = {"_meta": {"hostvars": {h.name: mask(inv.host_vars(h.name))
                                                       for h in hosts}}}
        for name, group in inv.groups.items():
            entry: dict[str, Any] = {}
            members = [h for h in group.hosts if any(x.name == h for x in hosts)]
            if members:
                entry["hosts"] = members
            if group.children:
                entry["children"] = list(group.children)
            if entry:
                data[name] = entry
        click.echo(json.dumps(data, indent=2, default=str))
        return
    width = max((len(h.name) for h in hosts), default=0)
    for host in hosts:
        click.echo(f"{host.name:<{width}}  {', '.join(inv.group_names(host.name))}")
    click.echo(f"{len(hosts)} host(s)", err=True)


@inventory.command()
@_common
@click.argument("group", default="all")
@click.option("--vars", "show_vars", is_flag=True, help="Show group variables too.")
def graph(inventories: tuple[str, ...], playbook_dir: str | None, group: str,
          show_vars: bool, **vault_opts: Any) -> None:
    """Draw the group tree (like ansible-inventory --graph)."""
    inv = _load(inventories, playbook_dir, **vault_opts)
    if group not in inv.groups:
        from pyengine.errors import PlaybookError, did_you_mean

        raise PlaybookError(f"no group '{group}'", hint=did_you_mean(group, inv.groups))

    def draw(name: str, prefix: str, seen: frozenset[str]) -> None:
        click.echo(f"{prefix}@{name}:")
        g = inv.groups[name]
        inner = prefix.replace("|--", "|  ") + "|--" if prefix else "  |--"
        if show_vars:
            for key, value in g.vars.items():
                click.echo(f"{inner}{{{key} = {_show(value)}}}")
        for child in g.children:
            if child in seen:
                continue
            if child == "ungrouped" and not inv.groups[child].hosts:
                continue
            draw(child, inner, seen | {child})
        for host in g.hosts:
            click.echo(f"{inner}{host}")

    draw(group, "", frozenset({group}))


@inventory.command()
@_common
@click.argument("name")
@click.option("--playbook", type=click.Path(exists=True, dir_okay=False),
              help="Show the variables each play of this playbook gives the host (role "
                   "defaults, play vars, vars_files and role vars too).")
@click.option("-e", "--extra-vars", "extra", multiple=True,
              help="key=value, as for `pyengine run` (with --playbook).")
@click.option("--json", "as_json", is_flag=True, help="name -> {value, origin} as JSON.")
def host(inventories: tuple[str, ...], playbook_dir: str | None, name: str,
         playbook: str | None, extra: tuple[str, ...], as_json: bool,
         **vault_opts: Any) -> None:
    """Show a host's variables and the file:line that set each one."""
    inv = _load(inventories, playbook_dir or (os.path.dirname(playbook) if playbook else None),
                **vault_opts)
    if inv.get_host(name) is None:
        from pyengine.errors import PlaybookError, did_you_mean

        raise PlaybookError(f"no host '{name}' in the inventory", hint=did_you_mean(name,
                                                                                    inv.hosts))
    sections: list[tuple[str, dict[str, tuple[Any, str]]]] = []
    if playbook:
        from pyengine.commands.vault_options import vault_from_options
        from pyengine.modspec import parse_kv
        from pyengine.playbook import load_playbook
        from pyengine.vars import VariableManager

        extra_vars: dict[str, Any] = {}
        for item in extra:
            extra_vars.update(parse_kv(item, None)[0])
        book = load_playbook(playbook, vault=vault_from_options(**vault_opts))
        vm = VariableManager(inv, extra_vars, vault_from_options(**vault_opts))
        for play in book.plays:
            if any(h.name == name for h in select(inv, play.hosts)):
                sections.append((f"play '{play.name or play.hosts}' ({play.origin})",
                                 vm.get_vars_with_origins(name, play)))
        if not sections:
            click.echo(f"warning: no play of {playbook} targets {name}", err=True)
    else:
        sections.append(("inventory", inv.host_vars_with_origins(name)))
    if as_json:
        click.echo(json.dumps({title: {k: {"value": mask(v), "origin": o}
                                       for k, (v, o) in sorted(values.items())}
                               for title, values in sections}, indent=2, default=str))
        return
    click.echo(f"{name}  groups: {', '.join(inv.group_names(name)) or '-'}")
    for title, values in sections:
        if len(sections) > 1 or playbook:
            click.echo(f"{title}:")
        if not values:
            click.echo("  (no variables)")
            continue
        width = max(len(k) for k in values)
        for key in sorted(values):
            value, origin = values[key]
            click.echo(f"  {key:<{width}} = {_show(value)}    # {origin}")
