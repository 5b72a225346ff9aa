"""Where Ansible collections live on this controller, in Ansible's search order.

INTERFACE (shared by the role finder, the module bridge and the template plugins):
`collection_roots(playbook_dir)` and `find_collection(fqcn, playbook_dir)` and
`find_ansible_module(name, collections, playbook_dir)`. The first version is a
minimal one; the collections work fills in ansible.cfg and the full order.
"""

from __future__ import annotations

import importlib.util
import os
from dataclasses import dataclass
from pathlib import Path


def _site_packages_root() -> Path | None:
    """The folder holding the `ansible_collections` package that `pip install ansible`
    brings (found without importing it)."""
    spec = importlib.util.find_spec("ansible_collections")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0]).parent


def ansible_core_dir() -> Path | None:
    """The installed `ansible` package (ansible-core), found without importing it."""
    spec = importlib.util.find_spec("ansible")
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def collection_roots(playbook_dir: Path | None = None) -> list[Path]:
    """Folders that each hold an `ansible_collections/` folder, first match wins."""
    roots: list[Path] = []
    if playbook_dir is not None:
        roots.append(playbook_dir / "collections")
    env = os.environ.get("ANSIBLE_COLLECTIONS_PATH") or os.environ.get("ANSIBLE_COLLECTIONS_PATHS")
    if env:
        roots.extend(Path(p).expanduser() for p in env.split(os.pathsep) if p)
    else:
        roots.append(Path("~/.ansible/collections").expanduser())
        roots.append(Path("/usr/share/ansible/collections"))
    site = _site_packages_root()
    if site is not None:
        roots.append(site)
    out: list[Path] = []
    for root in roots:
        # A path may name the ansible_collections folder itself or its parent.
        if root.name == "ansible_collections":
            root = root.parent
        if root not in out:
            out.append(root)
    return out


def find_collection(fqcn: str, playbook_dir: Path | None = None) -> Path | None:
    """The folder of collection 'namespace.name', or None."""
    namespace, _, name = fqcn.partition(".")
    if not namespace or not name:
        return None
    for root in collection_roots(playbook_dir):
        candidate = root / "ansible_collections" / namespace / name
        if candidate.is_dir():
            return candidate
    return None


@dataclass(frozen=True)
class AnsibleModule:
    """An Ansible module file installed on the controller."""

    fqcn: str          # 'community.general.ini_file'
    path: Path         # the module's .py file
    collection: Path | None  # the collection folder (None for ansible-core's own)


def find_ansible_module(name: str, collections: tuple[str, ...] | list[str] = (),
                        playbook_dir: Path | None = None) -> AnsibleModule | None:
    """An installed Ansible module by FQCN, or by short name through the play's
    `collections:` list and then ansible.builtin."""
    parts = name.split(".")
    if len(parts) >= 3:
        candidates = [name]
    else:
        candidates = [f"{c}.{name}" for c in collections] + [f"ansible.builtin.{name}"]
    for fqcn in candidates:
        namespace, coll, *rest = fqcn.split(".")
        short = ".".join(rest)
        if (namespace, coll) in (("ansible", "builtin"), ("ansible", "legacy")):
            core = ansible_core_dir()
            path = core / "modules" / f"{short}.py" if core else None
            if path is not None and path.is_file():
                return AnsibleModule(f"ansible.builtin.{short}", path, None)
            continue
        folder = find_collection(f"{namespace}.{coll}", playbook_dir)
        if folder is None:
            continue
        path = folder / "plugins" / "modules" / (short.replace(".", "/") + ".py")
        if path.is_file():
            return AnsibleModule(fqcn, path, folder)
    return None
