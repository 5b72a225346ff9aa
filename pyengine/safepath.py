"""Controller-side writes whose path a target chose stay inside their folder.

A fetched file's name, a backup's paths and a slurp's source come from the target's
answers; a hostile or confused target must not make the controller write outside the
folder the user named (Ansible's CVE-2019-3828 is this class). Every such write
resolves its path here first.
"""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath

from pyengine.errors import PyengineError


class UnsafePath(PyengineError):
    """A path derived from a target's answer would leave its folder."""


def contained(root: Path, relative: str, what: str = "path") -> Path:
    """`root/relative`, refused when `relative` climbs out of `root` by `..`, is absolute
    after normalising, or passes through a symlink that leads outside `root`."""
    parts = PurePosixPath(relative.replace("\\", "/")).parts
    clean = [p for p in parts if p not in ("/", ".", "")]
    if ".." in clean or not clean:
        raise UnsafePath(f"refusing {what} {relative!r}: it would leave {root}")
    base = Path(os.path.realpath(root))
    target = base.joinpath(*clean)
    # Resolve what exists on the way: a symlink inside root must not point outside it.
    resolved = Path(os.path.realpath(target))
    if resolved != base and base not in resolved.parents:
        raise UnsafePath(f"refusing {what} {relative!r}: it resolves outside {root}")
    return target
