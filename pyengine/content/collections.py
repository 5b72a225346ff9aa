"""Where Ansible collections live on this controller, in Ansible's search order.

INTERFACE (shared by the role finder, the module bridge and the template plugins):
`collection_roots(playbook_dir)`, `find_collection(fqcn, playbook_dir)`,
`find_ansible_module(name, collections, playbook_dir)`, `ansible_core_dir()`,
`route_plugin(fqcn, kind, playbook_dir)` (meta/runtime.yml redirects) and
`AnsibleModule`.

The order is ansible-core's (its collection finder and config):
1. `collections/` beside the playbook (a folder holding `ansible_collections/`);
2. the configured collections path: `$ANSIBLE_COLLECTIONS_PATH`, else
   `collections_path` in ansible.cfg, else `~/.ansible/collections:/usr/share/ansible/
   collections` (`$ANSIBLE_HOME` moves the first);
3. every `sys.path` entry holding `ansible_collections/` (the `pip install ansible`
   package in site-packages), unless `collections_scan_sys_path = False`.
A root counts only if it holds an `ansible_collections/` folder (a path may name that
folder itself); the first root that holds `namespace/name` provides the whole
collection, later copies are masked, as in Ansible.
"""

from __future__ import annotations

import functools
import importlib.util
import re
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyengine.content.ansible_config import AnsibleConfig, current_config

FQCR = re.compile(r"^\w+(\.\w+){2,}$")  # ns.coll.resource (and ns.coll.sub.dirs.resource)
COLLECTION_NAME = re.compile(r"^\w+\.\w+$")
BUILTIN = ("ansible.builtin", "ansible.legacy")


@functools.cache
def ansible_core_dir() -> Path | None:
    """The installed `ansible` package (ansible-core), found without importing it (once
    per process: an installation does not move under a running controller)."""
    spec = importlib.util.find_spec("ansible")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def collection_roots(playbook_dir: Path | None = None, config: AnsibleConfig | None = None
                     ) -> list[Path]:
    """Folders that each hold an `ansible_collections/` folder, first match wins."""
    config = config or current_config()
    candidates: list[Path] = []
    if playbook_dir is not None:
        candidates.append(Path(playbook_dir) / "collections")
    candidates.extend(config.collection_paths)
    if config.collections_scan_sys_path:
        candidates.extend(Path(p) for p in sys.path if p)
    out: list[Path] = []
    for root in candidates:
        if root.name == "ansible_collections":
            root = root.parent
        if root not in out and (root / "ansible_collections").is_dir():
            out.append(root)
    return out


def find_collection(fqcn: str, playbook_dir: Path | None = None,
                    config: AnsibleConfig | None = None) -> Path | None:
    """The folder of collection 'namespace.name' (the first root holding it), or None."""
    if not COLLECTION_NAME.match(fqcn) or fqcn in BUILTIN:
        return None
    namespace, name = fqcn.split(".")
    for root in collection_roots(playbook_dir, config):
        candidate = root / "ansible_collections" / namespace / name
        if candidate.is_dir():
            return candidate
    return None


def installed_collections(playbook_dir: Path | None = None,
                          config: AnsibleConfig | None = None) -> dict[str, Path]:
    """Every collection that resolves ('ns.name' -> folder), first root wins."""
    found: dict[str, Path] = {}
    for root in collection_roots(playbook_dir, config):
        base = root / "ansible_collections"
        for ns in sorted(base.iterdir()):
            if not ns.is_dir() or not ns.name.isidentifier():
                continue
            for coll in sorted(ns.iterdir()):
                if coll.is_dir() and coll.name.isidentifier():
                    found.setdefault(f"{ns.name}.{coll.name}", coll)
    return found


# -- meta/runtime.yml routing --------------------------------------------------------

_runtime_cache: dict[tuple[str, float], dict[str, Any]] = {}


def _runtime_file(collection: str, playbook_dir: Path | None, config: AnsibleConfig | None
                  ) -> Path | None:
    if collection in BUILTIN:
        core = ansible_core_dir()
        return core / "config" / "ansible_builtin_runtime.yml" if core else None
    folder = find_collection(collection, playbook_dir, config)
    return folder / "meta" / "runtime.yml" if folder else None


def runtime_metadata(collection: str, playbook_dir: Path | None = None,
                     config: AnsibleConfig | None = None) -> dict[str, Any]:
    """A collection's meta/runtime.yml ({} when it has none or it cannot be read)."""
    path = _runtime_file(collection, playbook_dir, config)
    if path is None or not path.is_file():
        return {}
    key = (str(path), path.stat().st_mtime)
    cached = _runtime_cache.get(key)
    if cached is None:
        import yaml

        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
        try:
            data = yaml.load(path.read_text(encoding="utf-8"), Loader=loader)
        except (OSError, UnicodeDecodeError, yaml.YAMLError):
            data = None
        cached = _runtime_cache[key] = data if isinstance(data, dict) else {}
    return cached


@dataclass(frozen=True)
class Route:
    """Where a plugin name points after meta/runtime.yml redirects."""

    fqcn: str                          # the final name
    redirected_from: tuple[str, ...] = ()  # the names passed on the way, in order
    deprecation: str | None = None     # a deprecation note met on the way
    removed: str | None = None         # the tombstone text: the plugin was removed


def route_plugin(fqcn: str, kind: str = "modules", playbook_dir: Path | None = None,
                 config: AnsibleConfig | None = None) -> Route:
    """Follow `plugin_routing.<kind>.<name>.redirect` (kind: modules, filter, test, lookup,
    action, ...) from collection to collection; ansible.builtin/ansible.legacy names use
    ansible-core's own ansible_builtin_runtime.yml."""
    seen: list[str] = []
    current = fqcn
    deprecation: str | None = None
    while True:
        if current in seen or len(seen) > 10:
            return Route(current, tuple(seen), deprecation,
                         removed=f"redirect loop: {' -> '.join([*seen, current])}")
        parts = current.split(".")
        if len(parts) < 3:
            return Route(current, tuple(seen), deprecation)
        collection, short = ".".join(parts[:2]), ".".join(parts[2:])
        routing = runtime_metadata(collection, playbook_dir, config).get("plugin_routing")
        entry = routing.get(kind, {}).get(short) if isinstance(routing, dict) and \
            isinstance(routing.get(kind), dict) else None
        if not isinstance(entry, dict):
            return Route(current, tuple(seen), deprecation)
        if isinstance(entry.get("tombstone"), dict):
            text = entry["tombstone"].get("warning_text") or "removed"
            return Route(current, tuple(seen), deprecation, removed=f"{current}: {text}")
        if isinstance(entry.get("deprecation"), dict) and deprecation is None:
            text = entry["deprecation"].get("warning_text")
            deprecation = f"{current} is deprecated" + (f": {text}" if text else "")
        target = entry.get("redirect")
        if not isinstance(target, str) or not target:
            return Route(current, tuple(seen), deprecation)
        seen.append(current)
        current = target


# -- modules ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AnsibleModule:
    """An Ansible module file installed on the controller."""

    fqcn: str          # 'community.general.ini_file'
    path: Path         # the module's .py file
    collection: Path | None  # the collection folder (None for ansible-core's own)


def library_dirs(playbook_dir: Path | None = None, config: AnsibleConfig | None = None,
                 role_paths: Sequence[Path] = ()) -> list[Path]:
    """Where `ansible.legacy` modules are looked for before ansible-core's own: a role's
    `library/`, `library/` beside the playbook, then `library` of ansible.cfg
    (`$ANSIBLE_LIBRARY`; default ~/.ansible/plugins/modules and
    /usr/share/ansible/plugins/modules)."""
    config = config or current_config()
    dirs = [Path(r) / "library" for r in role_paths]
    if playbook_dir is not None:
        dirs.append(Path(playbook_dir) / "library")
    dirs.extend(config.library_paths)
    return dirs


def find_ansible_module(name: str, collections: tuple[str, ...] | list[str] = (),
                        playbook_dir: Path | None = None, config: AnsibleConfig | None = None,
                        role_paths: Sequence[Path] = ()) -> AnsibleModule | None:
    """An installed Ansible module by FQCN, or by short name through the `collections:`
    list and then ansible.legacy (library folders, ansible-core's modules), following
    meta/runtime.yml redirects (`ini_file` -> community.general.ini_file) as Ansible does.
    A removed (tombstoned) module is not found."""
    if FQCR.match(name):
        candidates = [name]
    elif re.fullmatch(r"\w+", name):
        candidates = [f"{c}.{name}" for c in collections if c not in BUILTIN]
        candidates.append(f"ansible.legacy.{name}")
    else:
        return None
    for candidate in candidates:
        found = _locate_module(candidate, playbook_dir, config, role_paths)
        if found is not None:
            return found
    return None


def _locate_module(fqcn: str, playbook_dir: Path | None, config: AnsibleConfig | None,
                   role_paths: Sequence[Path]) -> AnsibleModule | None:
    parts = fqcn.split(".")
    collection, short = ".".join(parts[:2]), ".".join(parts[2:])
    if collection == "ansible.legacy":
        # Module folders the user configured come first, as in Ansible's legacy search.
        for libdir in library_dirs(playbook_dir, config, role_paths):
            path = libdir / f"{short}.py"
            if path.is_file():
                return AnsibleModule(f"ansible.legacy.{short}", path, None)
    if collection in BUILTIN:
        core = ansible_core_dir()
        core_path = core / "modules" / f"{short.replace('.', '/')}.py" if core else None
        if core_path is not None and core_path.is_file():
            return AnsibleModule(f"ansible.builtin.{short}", core_path, None)
    else:
        folder = find_collection(collection, playbook_dir, config)
        if folder is not None:
            coll_path = folder / "plugins" / "modules" / f"{short.replace('.', '/')}.py"
            if coll_path.is_file():
                return AnsibleModule(fqcn, coll_path, folder)
    route = route_plugin(f"ansible.builtin.{short}" if collection in BUILTIN else fqcn,
                         "modules", playbook_dir, config)
    if route.removed is None and route.redirected_from:
        return _locate_module(route.fqcn, playbook_dir, config, role_paths)
    return None


# -- roles -----------------------------------------------------------------------------


@dataclass(frozen=True)
class CollectionRole:
    """A role found in a collection."""

    name: str        # the role's own name ('os_hardening')
    path: Path       # its folder
    collection: str  # 'devsec.hardening'

    @property
    def fqcn(self) -> str:
        return f"{self.collection}.{self.name}"


def find_collection_role(name: str, collections: Sequence[str] = (),
                         playbook_dir: Path | None = None,
                         config: AnsibleConfig | None = None) -> CollectionRole | None:
    """A role named 'ns.coll.role', or a short name looked for in each of `collections`
    (ansible.builtin/ansible.legacy mean "the role paths" and are skipped here)."""
    if FQCR.match(name) and len(name.split(".")) == 3:
        namespace, coll, role = name.split(".")
        search = [f"{namespace}.{coll}"]
    elif re.fullmatch(r"\w+", name) and collections:
        role = name
        search = [c for c in collections if c not in BUILTIN]
    else:
        return None
    for collection in search:
        folder = find_collection(collection, playbook_dir, config)
        if folder is not None and (folder / "roles" / role).is_dir():
            return CollectionRole(role, folder / "roles" / role, collection)
    return None


def find_collection_playbook(name: str, playbook_dir: Path | None = None,
                             config: AnsibleConfig | None = None) -> Path | None:
    """The file of playbook 'ns.coll.name' (or 'ns.coll.sub.name') in a collection's
    playbooks/ folder, with or without .yml/.yaml, as `import_playbook` and
    ansible-playbook accept it; None when `name` is no such reference."""
    if not FQCR.match(name) or name.endswith((".yml", ".yaml")) and Path(name).exists():
        return None
    parts = name.split(".")
    if parts[-1] in ("yml", "yaml") and len(parts) > 3:
        parts = [*parts[:-2], f"{parts[-2]}.{parts[-1]}"]
    folder = find_collection(".".join(parts[:2]), playbook_dir, config)
    if folder is None:
        return None
    base = folder.joinpath("playbooks", *parts[2:-1])
    for candidate in (base / parts[-1], base / f"{parts[-1]}.yml",
                      base / f"{parts[-1]}.yaml"):
        if candidate.is_file():
            return candidate
    return None


def collection_of_path(path: Path, playbook_dir: Path | None = None,
                       config: AnsibleConfig | None = None) -> str | None:
    """'ns.coll' when `path` lies inside an installed collection (that is not masked by
    another copy found earlier), else None."""
    resolved = Path(path).resolve()
    parts = resolved.parts
    if "ansible_collections" not in parts:
        return None
    index = len(parts) - 1 - parts[::-1].index("ansible_collections")
    if len(parts) < index + 3:
        return None
    name = f"{parts[index + 1]}.{parts[index + 2]}"
    found = find_collection(name, playbook_dir, config)
    if found is None or found.resolve() != Path(*parts[:index + 3]):
        return None
    return name
