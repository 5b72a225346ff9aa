"""State shared while one playbook (or one tasks file) is loaded."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengine.errors import PlaybookError
from pyengine.playbook.model import RoleRef
from pyengine.playbook.values import Problems
from pyengine.yamlload import Vault, load_yaml


@dataclass
class LoadContext:
    basedir: Path  # folder of the playbook: roles/, modules/, vars files are relative to it
    vault: Vault | None = None
    problems: Problems = field(default_factory=Problems)
    stack: list[Path] = field(default_factory=list)  # files being loaded (recursion guard)
    roles_seen: dict[tuple[str, str], RoleRef] = field(default_factory=dict)  # per play
    role_handlers: list[Any] = field(default_factory=list)  # per play
    role_refs: list[RoleRef] = field(default_factory=list)  # per play, in order
    validated_includes: set[Path] = field(default_factory=set)
    role_chain: list[str] = field(default_factory=list)  # roles being loaded (cycle guard)
    # `import_role:` inside a tasks file loads a role, and a role loads tasks files: the
    # loader hands tasks.py the role loader here (roles.import_role) so neither
    # module imports the other in a circle.
    import_role: Callable[..., list[Any]] | None = None

    @property
    def project_dirs(self) -> list[Path]:
        return [self.basedir]

    def load(self, path: Path) -> Any:
        """Load a YAML file; a problem is recorded and None returned."""
        try:
            return load_yaml(path, self.vault)
        except PlaybookError as err:
            self.problems.errors.append(err)
            return None
