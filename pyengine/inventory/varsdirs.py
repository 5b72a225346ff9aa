"""`group_vars/` and `host_vars/` folders: `NAME.yml`, `NAME.yaml`, `NAME.json`, `NAME`
(no extension), or a folder `NAME/` whose files are read in sorted order."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyengine.errors import PlaybookError
from pyengine.inventory.model import Inventory, VarLayer
from pyengine.origin import Origin
from pyengine.yamlload import Vault, load_yaml

VAR_EXTS = {"", ".yml", ".yaml", ".json"}
SKIP_SUFFIXES = (".swp", ".bak", "~", ".orig", ".retry", ".md", ".txt", ".rst")


def _var_files(folder: Path) -> dict[str, list[Path]]:
    """name -> its files, in the order they apply."""
    out: dict[str, list[Path]] = {}
    if not folder.is_dir():
        return out
    for entry in sorted(folder.iterdir()):
        if entry.name.startswith(".") or entry.name.endswith(SKIP_SUFFIXES):
            continue
        if entry.is_dir():
            files = sorted(f for f in entry.rglob("*") if f.is_file()
                           and not f.name.startswith(".") and f.suffix in VAR_EXTS
                           and not f.name.endswith(SKIP_SUFFIXES))
            out.setdefault(entry.name, []).extend(files)
        elif entry.suffix in VAR_EXTS:
            name = entry.stem if entry.suffix else entry.name
            out.setdefault(name, []).append(entry)
    return out


def load_var_file(path: Path, vault: Vault | None) -> VarLayer:
    """One variables file as a layer (must hold a mapping)."""
    data: Any = load_yaml(path, vault)
    if data is None:
        return VarLayer(str(path), {})
    if not isinstance(data, dict):
        where = getattr(data, "origin", None) or Origin(str(path))
        raise PlaybookError(f"a variables file must hold a mapping, got {type(data).__name__}",
                            where.file, where.line or None, where.column or None)
    origins = dict(getattr(data, "key_origins", {}) or {})
    return VarLayer(str(path), dict(data), origins)


def load_vars_dirs(folder: Path, inventory: Inventory | None, vault: Vault | None
                   ) -> tuple[dict[str, list[VarLayer]], dict[str, list[VarLayer]]]:
    """The layers of `folder/group_vars` and `folder/host_vars`, by group and host name."""
    groups: dict[str, list[VarLayer]] = {}
    hosts: dict[str, list[VarLayer]] = {}
    for name, files in _var_files(folder / "group_vars").items():
        groups[name] = [load_var_file(f, vault) for f in files]
    for name, files in _var_files(folder / "host_vars").items():
        hosts[name] = [load_var_file(f, vault) for f in files]
    return groups, hosts


def add_playbook_dir(inventory: Inventory, path: Path | str, vault: Vault | None = None) -> None:
    """Also read group_vars/ and host_vars/ next to a playbook (higher precedence)."""
    if str(path) in inventory.seen_playbook_paths:
        return  # asked once per task: answer without touching the file system
    inventory.seen_playbook_paths.add(str(path))
    folder = Path(path)
    if folder.is_file():
        folder = folder.parent
    if folder.resolve() in [p.resolve() for p in inventory.playbook_dirs]:
        return
    groups, hosts = load_vars_dirs(folder, inventory, vault)
    inventory.add_playbook_layers(folder, groups, hosts)
