"""The executor's view of inventory, variables, modules and the loader (one adapter).

Everything the host workers ask of the other layers goes through here, so the
executor depends on one small interface (`contracts.Sources`) and its unit tests can
use any inventory.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pyengine import modspec
from pyengine.agent.bundle import ModuleCode
from pyengine.bridge import module_code
from pyengine.connection.base import Connection
from pyengine.errors import PlaybookError, PyengineError
from pyengine.inventory.model import Inventory
from pyengine.inventory.patterns import select
from pyengine.inventory.varsdirs import add_playbook_dir
from pyengine.masking import register_secret
from pyengine.playbook.model import Play, Task, TaskOrBlock
from pyengine.reach import open_connection
from pyengine.templating import Templar
from pyengine.templating.controller_files import use_vault
from pyengine.vars import VariableManager
from pyengine.yamlload import Vault

SHOWN_NO_LOG_ARGS = {"content"}


def _secret_names(spec: modspec.ModuleSpec, args: Mapping[str, Any]) -> list[str]:
    """Names matching `spec.secret_values(args)` one to one (same filter, same order)."""
    return [n for n, o in spec.args.items() if o.get("no_log") and args.get(n) not in (None, "")]


class InventorySources:
    """Sources backed by a loaded inventory and the VariableManager."""

    def __init__(self, inventory: Inventory, variables: VariableManager,
                 limit: str | None = None, trust_new_hosts: bool = False,
                 vault: Vault | None = None) -> None:
        self.inventory = inventory
        self.vm = variables
        self.limit = limit
        self.trust_new_hosts = trust_new_hosts
        self.vault = vault
        use_vault(vault)  # copy/template src and lookups open vaulted controller files
        self._sources: dict[str, str] = {}
        self._codes: dict[str, ModuleCode] = {}
        # Module specs found during this run, by name (cleared when a folder is added).
        self._specs: dict[str, modspec.ModuleSpec | None] = {}
        self._project_dirs: list[Path] = []
        self._lock = threading.Lock()
        # Host threads read the inventory (variables, groups) while add_host / group_by
        # change it: both happen under this lock.
        self._inventory_lock = threading.RLock()
        # (host, play id, task id) -> (task, vars); the task is kept so its id stays unique.
        self._cache: dict[tuple[str, int, int], tuple[Any, Mapping[str, Any]]] = {}

    def set_playbook_dir(self, path: Path) -> None:
        if path not in self._project_dirs:
            self._project_dirs.append(path)
            with self._lock:
                self._specs.clear()  # a module there may shadow one found before

    # -- hosts -----------------------------------------------------------------------
    def play_hosts(self, play: Play) -> list[str]:
        # Read the playbook's group_vars/host_vars here, once, before the host threads
        # start asking for variables.
        add_playbook_dir(self.inventory, play.basedir, self.vault)
        pattern = str(Templar(self.vm.extra_vars).render(play.hosts))
        names = [h.name for h in select(self.inventory, pattern)]
        if self.limit:
            allowed = {h.name for h in select(self.inventory, self.limit)}
            names = [n for n in names if n in allowed]
        return names

    def groups(self) -> dict[str, list[str]]:
        with self._inventory_lock:
            return self.inventory.groups_mapping()

    def apply_inventory_change(self, host: str, result: dict[str, Any]) -> None:
        """A group_by or add_host result, as soon as a host reports it."""
        with self._inventory_lock:
            self._change_inventory(host, result)
            with self._lock:
                self._cache.clear()

    def _change_inventory(self, host: str, result: dict[str, Any]) -> None:
        if result.get("add_group"):
            group = str(result["add_group"])
            for parent in result.get("parent_groups") or ["all"]:
                if parent != "all":
                    self.inventory.add_child(str(parent), group)
            self.inventory.add_host(host, group)
        new = result.get("add_host")
        if isinstance(new, dict) and new.get("host_name"):
            name = str(new["host_name"])
            groups = [str(g) for g in new.get("groups") or []]
            entry = self.inventory.add_host(name, groups[0] if groups else None)
            for group in groups[1:]:
                self.inventory.add_host(name, group)
            entry.vars.update(new.get("host_vars") or {})
        self.inventory.reconcile()

    # -- variables -------------------------------------------------------------------
    def base_vars(self, host: str, play: Play, task: Task | None) -> Mapping[str, Any]:
        key = (host, id(play), id(task))
        with self._lock:
            cached = self._cache.get(key)
        if cached is not None:
            return cached[1]
        with self._inventory_lock:  # computed and kept before a change can clear the cache
            values = self.vm.get_vars(host, play, task)
            with self._lock:
                self._cache[key] = (task, values)
        return values

    def inventory_vars(self, host: str) -> Mapping[str, Any]:
        with self._inventory_lock:
            return self.vm.get_vars(host)

    # -- connections -----------------------------------------------------------------
    def connection(self, host: str, variables: Mapping[str, Any]) -> Connection:
        return open_connection(host, variables, trust_new_hosts=self.trust_new_hosts)

    # -- modules ---------------------------------------------------------------------
    def module_source(self, name: str) -> ModuleCode:
        """A native module with its module_utils helpers, or an installed Ansible module
        packed for the bridge (pyengine/bridge)."""
        with self._lock:
            if name in self._codes:
                return self._codes[name]
        code = module_code(name, self._project_dirs)
        with self._lock:
            self._codes[name] = code
        return code

    def module_source_ps1(self, name: str) -> str:
        """A module's PowerShell source, for Windows hosts (`modules/NAME.ps1`)."""
        key = f"{name}.ps1"
        with self._lock:
            if key in self._sources:
                return self._sources[key]
        spec = modspec.find_module(name, self._project_dirs)
        path = spec.ps1_path if spec is not None else None
        if path is None:
            raise PyengineError(f"module {name!r} has no Windows (.ps1) version")
        source = path.read_text(encoding="utf-8")
        with self._lock:
            self._sources[key] = source
        return source

    def _spec(self, module: str) -> modspec.ModuleSpec | None:
        """`modspec.find_module`, once per module name and run (every task of every host
        asks; each lookup probes every module folder)."""
        with self._lock:
            if module in self._specs:
                return self._specs[module]
        spec = modspec.find_module(module, self._project_dirs)
        if spec is not None:
            with self._lock:
                self._specs[module] = spec
        return spec

    def normalize(self, module: str, args: dict[str, Any], task: Task) -> dict[str, Any]:
        spec = self._spec(module)
        out = modspec.normalize_args(module, args, self._project_dirs, task.origin, spec=spec)
        if spec is not None:
            # File contents (copy/template `content`) are shown in diffs, as Ansible does;
            # a secret inside them comes from a vault variable, which is masked already.
            for name in _secret_names(spec, out):
                if name not in SHOWN_NO_LOG_ARGS:
                    register_secret(str(out[name]))
        return out

    # -- loader ----------------------------------------------------------------------
    def load_include(self, task: Task, args: dict[str, Any], play: Play
                     ) -> list[TaskOrBlock]:
        from pyengine.playbook.loader import load_include

        file = args.get("file") or args.get("_raw_params")
        if not file:
            raise PlaybookError("include_tasks needs a file", task.origin.file,
                                task.origin.line or None, task.origin.column or None)
        return load_include(task, str(file), play, self.vault)

    def load_include_role(self, task: Task, args: dict[str, Any], play: Play
                          ) -> tuple[list[TaskOrBlock], list[Task]]:
        from pyengine.playbook.loader import load_include_role

        tasks, handlers, _role = load_include_role(task, args, play, self.vault)
        return tasks, handlers
