"""Loading inventories: INI or YAML files, or folders of them, plus the group_vars/
and host_vars/ folders beside them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from pyengine.errors import PlaybookError
from pyengine.inventory.ini import parse_ini
from pyengine.inventory.model import Inventory
from pyengine.inventory.varsdirs import SKIP_SUFFIXES, add_playbook_dir, load_vars_dirs
from pyengine.inventory.yamlinv import parse_yaml_inventory
from pyengine.yamlload import Vault, load_yaml_text, read_text, register_leaves

YAML_SUFFIXES = (".yml", ".yaml", ".json")
_YAML_START = re.compile(r"^[\w.-]+:\s*(#.*)?$")


def _looks_like_yaml(text: str) -> bool:
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith(("#", ";", "---")):
            continue
        return bool(_YAML_START.match(stripped))
    return False


def _parse(text: str, path: Path, inventory: Inventory, vault: Vault | None) -> None:
    if path.suffix in YAML_SUFFIXES or (path.suffix != ".ini" and _looks_like_yaml(text)):
        parse_yaml_inventory(load_yaml_text(text, str(path), vault), str(path), inventory)
    else:
        parse_ini(text, str(path), inventory)


def _load_file(path: Path, inventory: Inventory, vault: Vault | None) -> None:
    text, encrypted = read_text(path, vault)
    if encrypted:
        # Mark the values this file sets as secrets (not its host and group names).
        alone = Inventory()
        _parse(text, path, alone, vault)
        for host in alone.hosts.values():
            register_leaves(host.vars)
        for group in alone.groups.values():
            register_leaves(group.vars)
    _parse(text, path, inventory, vault)


def _inventory_files(folder: Path) -> list[Path]:
    out = []
    for entry in sorted(folder.iterdir()):
        if entry.name in ("group_vars", "host_vars") or entry.name.startswith("."):
            continue
        if entry.name.endswith(SKIP_SUFFIXES) or entry.suffix in (".pyc", ".cfg"):
            continue
        if entry.is_dir():
            out.extend(_inventory_files(entry))
        elif entry.is_file():
            out.append(entry)
    return out


def _check_cycles(inventory: Inventory) -> None:
    for name in inventory.groups:
        parents = set()
        todo = list(inventory.groups[name].parents)
        while todo:
            g = todo.pop()
            if g == name:
                where = inventory.groups[name].origin
                raise PlaybookError(f"group '{name}' is its own ancestor (a children cycle)",
                                    where.file if where else None,
                                    where.line if where else None,
                                    where.column if where else None)
            if g not in parents:
                parents.add(g)
                todo.extend(inventory.groups[g].parents)


def load_inventory(paths: Iterable[Path | str] | Path | str, vault: Vault | None = None,
                   playbook_dir: Path | str | None = None) -> Inventory:
    """Load one or more inventory sources into one Inventory.

    A source is an INI or YAML file or a folder of them; a comma-separated host list
    (`-i web1,web2,`) works as in Ansible. group_vars/ and host_vars/ next to each
    source (and next to `playbook_dir`, when given) are read too.
    """
    if isinstance(paths, (str, Path)):
        paths = [paths]
    inventory = Inventory()
    var_dirs: list[Path] = []
    for raw in paths:
        text = str(raw)
        path = Path(text)
        if not path.exists() and "," in text:
            for name in (n.strip() for n in text.split(",")):
                if name:
                    inventory.add_host(name)
            continue
        if not path.exists():
            raise PlaybookError("inventory not found", text)
        inventory.sources.append(path)
        if path.is_dir():
            for f in _inventory_files(path):
                _load_file(f, inventory, vault)
            var_dirs.append(path)
        else:
            _load_file(path, inventory, vault)
            var_dirs.append(path.parent)
    inventory.reconcile()
    _check_cycles(inventory)
    seen: set[Path] = set()
    for folder in var_dirs:
        if folder.resolve() in seen:
            continue
        seen.add(folder.resolve())
        groups, hosts = load_vars_dirs(folder, inventory, vault)
        for k, v in groups.items():
            inventory.inventory_group_files.setdefault(k, []).extend(v)
        for k, v in hosts.items():
            inventory.inventory_host_files.setdefault(k, []).extend(v)
    inventory.invalidate()
    if playbook_dir is not None:
        add_playbook_dir(inventory, playbook_dir, vault)
    return inventory
