"""Finding a role by name, in Ansible's order, then pyengine's built-in roles.

1. In a collection: a name 'ns.coll.role' (FQCN), or a short name looked for in each
   collection of the `collections:` list in force (the play's, or for a role's
   dependencies the role's own collection and its meta/main.yml `collections:`);
2. `roles/` beside the playbook;
3. the roles path: `$ANSIBLE_ROLES_PATH`, else `roles_path` in ansible.cfg, else
   `~/.ansible/roles:/usr/share/ansible/roles:/etc/ansible/roles`;
4. for a dependency, the folder holding the role that depends on it;
5. the playbook's folder itself;
6. the name as a path (relative to the playbook's folder, then to the working folder);
7. pyengine's built-in roles (`playbooks/roles`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from pyengine.content.ansible_config import AnsibleConfig, current_config
from pyengine.content.collections import find_collection_role, installed_collections
from pyengine.paths import builtin_roles_dir, expand_user


@dataclass(frozen=True)
class FoundRole:
    """A role folder and how it was named."""

    name: str                       # the role's own name ('os_hardening')
    path: Path
    collection: str | None = None   # 'devsec.hardening' for a collection role


def role_search_paths(basedir: Path, role_basedir: Path | None = None,
                      config: AnsibleConfig | None = None) -> list[Path]:
    """The folders a short role name is looked for in, in order (steps 2-5, then 7)."""
    config = config or current_config()
    paths = [basedir / "roles", *config.role_paths]
    if role_basedir is not None:
        paths.append(role_basedir)
    paths.extend([basedir, builtin_roles_dir()])
    out: list[Path] = []
    for path in paths:
        if path not in out:
            out.append(path)
    return out


def find_role(name: str, basedir: Path, collections: Sequence[str] = (),
              role_basedir: Path | None = None, config: AnsibleConfig | None = None
              ) -> FoundRole | None:
    """The role `name` names, or None."""
    config = config or current_config()
    if collections or name.count(".") >= 2:
        found = find_collection_role(name, collections, basedir, config)
        if found is not None:
            return FoundRole(found.name, found.path, found.collection)
    if "/" not in name and not name.startswith("."):
        for base in role_search_paths(basedir, role_basedir, config):
            candidate = base / name
            if candidate.is_dir() and (base != basedir or _looks_like_role(candidate)):
                return FoundRole(name, candidate)
    as_path = expand_user(name)
    for candidate in ([as_path] if as_path.is_absolute() else [basedir / as_path, as_path]):
        if candidate.is_dir():
            return FoundRole(candidate.name, candidate)
    return None


def _looks_like_role(folder: Path) -> bool:
    """A folder beside the playbook counts as a role only if it has a role's layout (so
    'files' or 'templates' there is not taken for one)."""
    return any((folder / sub).is_dir() for sub in
               ("tasks", "handlers", "defaults", "vars", "meta"))


def known_roles(basedir: Path, collections: Sequence[str] = (),
                config: AnsibleConfig | None = None) -> list[str]:
    """Role names a user could have meant (for "did you mean")."""
    config = config or current_config()
    names: list[str] = []
    for base in role_search_paths(basedir, None, config):
        if base.is_dir():
            names.extend(d.name for d in base.iterdir() if d.is_dir() and (d / "tasks").is_dir())
    wanted = set(collections)
    for fqcn, folder in installed_collections(basedir, config).items():
        roles = folder / "roles"
        if not roles.is_dir():
            continue
        for role in roles.iterdir():
            if role.is_dir():
                names.append(f"{fqcn}.{role.name}")
                if fqcn in wanted:
                    names.append(role.name)
    return names


def searched_places(basedir: Path, collections: Sequence[str] = (),
                    role_basedir: Path | None = None, config: AnsibleConfig | None = None
                    ) -> str:
    """The places a role was looked for, for the "not found" message."""
    places = [f"collection {c}" for c in collections if c not in ("ansible.builtin",
                                                                    "ansible.legacy")]
    places.extend(str(p) for p in role_search_paths(basedir, role_basedir, config))
    return ", ".join(places)
