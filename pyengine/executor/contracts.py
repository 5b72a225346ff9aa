"""What the executor is given: the run's options and its view of the other layers.

`run_playbook(playbook, sources, options)` needs nothing else. `Sources` is the whole
interface to inventory, variables, modules and the loader: the `run` command passes
`InventorySources` (executor/sources.py), unit tests pass a small in-memory one. Every
method here is called by the executor; nothing is looked up with `getattr`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyengine.agent.bundle import ModuleCode
from pyengine.connection.base import Connection
from pyengine.playbook.model import Play, Task, TaskOrBlock


@dataclass
class RunOptions:
    """How to run: the command line's choices that change what the hosts do."""

    check: bool = False
    diff: bool = False
    tags: set[str] = field(default_factory=set)
    skip_tags: set[str] = field(default_factory=set)
    forks: int = 50
    verbosity: int = 0  # -v count: `ansible_verbosity` (debug's `verbosity:` threshold)
    limit: str | None = None  # --limit, as given: `ansible_limit`
    # The same mapping the variable layer puts on top (-e): play keywords that are
    # rendered before any host has variables (serial, check_mode, max_fail_percentage)
    # read it.
    extra_vars: dict[str, Any] = field(default_factory=dict)
    # -K: used when the host's variables name no become password.
    become_password: str | None = None
    # --persist: seconds the hosts' SSH transports and agents stay warm after the run
    # (pyengine/persist); 0: closed at the end as usual.
    persist: float = 0.0


class Sources(Protocol):
    """What the executor needs from inventory, variables, modules and the loader."""

    def play_hosts(self, play: Play) -> list[str]:
        """The hosts a play targets (its pattern, narrowed by --limit), inventory order."""

    def base_vars(self, host: str, play: Play, task: Task | None) -> Mapping[str, Any]:
        """A host's variables below the run-time ones (templates not yet rendered)."""

    def inventory_vars(self, host: str) -> Mapping[str, Any]:
        """A host's inventory variables alone (for the records of a run)."""

    def groups(self) -> dict[str, list[str]]:
        """group name -> host names (the `groups` magic variable)."""

    def connection(self, host: str, variables: Mapping[str, Any]) -> Connection:
        """An unopened connection to `host` from its variables (see pyengine/reach.py)."""

    def module_source(self, name: str) -> str | ModuleCode:
        """A target module's Python source or its ModuleCode (helpers, an Ansible module's
        pack); the agent ships each once per session."""

    def module_source_ps1(self, name: str) -> str:
        """A target module's PowerShell source, for Windows hosts."""

    def normalize(self, module: str, args: dict[str, Any], task: Task) -> dict[str, Any]:
        """Rendered module arguments validated and normalised (aliases, types, defaults)."""

    def load_include(self, task: Task, args: dict[str, Any], play: Play
                     ) -> list[TaskOrBlock]:
        """The tasks of an include_tasks/import_tasks file."""

    def load_include_role(self, task: Task, args: dict[str, Any], play: Play
                          ) -> tuple[list[TaskOrBlock], list[Task]]:
        """The tasks and handlers of an include_role/import_role."""

    def apply_inventory_change(self, host: str, result: dict[str, Any]) -> None:
        """A group_by or add_host result, applied between plays (main thread)."""
