"""Where the built-in content lives, from a checkout or from an installed wheel.

In a checkout, `modules/` and `playbooks/` sit at the repository root and
`pyengine/_content/` holds symlinks to them; a wheel copies the files themselves
into `pyengine/_content/`. Either way the same path works.
"""

from __future__ import annotations

import os
from pathlib import Path

CONTENT_DIR = Path(__file__).resolve().parent / "_content"
PACKAGE_DIR = Path(__file__).resolve().parent


def builtin_modules_dir() -> Path:
    """The folder of built-in target modules (`modules/`)."""
    return CONTENT_DIR / "modules"


def builtin_playbooks_dir() -> Path:
    """The folder of built-in playbooks (`playbooks/`)."""
    return CONTENT_DIR / "playbooks"


def builtin_roles_dir() -> Path:
    """The folder of built-in roles (`playbooks/roles/`)."""
    return builtin_playbooks_dir() / "roles"


def search_dirs(role_path: Path | None, basedir: Path, kinds: tuple[str, ...]) -> list[Path]:
    """Where a task finds a controller-side file (`src:`, lookups), in Ansible's order:
    the role's `kinds` folders and the role itself, then the playbook's.

    `kinds` is ("files",) for copy, ("templates",) for template, ("vars",) for
    include_vars, and both files and templates for lookups.
    """
    dirs: list[Path] = []
    for base in ([role_path] if role_path is not None else []) + [basedir]:
        dirs += [base / kind for kind in kinds] + [base]
    return dirs


def expand_user(path: str | os.PathLike[str]) -> Path:
    """`~` and `~user` expanded as the shell does; an unknown `~user` stays as written
    (pathlib's expanduser raises instead, which would surface as a traceback)."""
    return Path(os.path.expanduser(os.fspath(path)))
