"""Where a role is found: `roles/` next to the playbook, the playbook's folder, then the
built-in roles. Apart from roles.py so task validation (tasks.py) can check a static
`include_role` name without importing the role loader, which imports tasks.py.
"""

from __future__ import annotations

from pathlib import Path

from pyengine.paths import builtin_roles_dir


def role_dirs(basedir: Path) -> list[Path]:
    return [basedir / "roles", basedir, builtin_roles_dir()]


def find_role(name: str, basedir: Path) -> Path | None:
    """The folder of role `name` (a name, or a path relative to the playbook)."""
    if "/" in name or name.startswith("."):
        path = (basedir / name) if not Path(name).is_absolute() else Path(name)
        return path if path.is_dir() else None
    for base in role_dirs(basedir):
        candidate = base / name
        if candidate.is_dir() and any((candidate / sub).is_dir() for sub in
                                      ("tasks", "handlers", "defaults", "vars", "meta")):
            return candidate
    return None


def known_roles(basedir: Path) -> list[str]:
    names: list[str] = []
    for base in role_dirs(basedir):
        if base.is_dir():
            names.extend(d.name for d in base.iterdir()
                         if d.is_dir() and (d / "tasks").is_dir())
    return names
