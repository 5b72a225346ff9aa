"""A host's variables for a task, in Ansible's precedence order, with their origins.

The order (lowest first) is written down in docs/VARIABLES.md; `layers()` returns
it as a list so that `get_vars()` (the merged dict the executor renders with) and
`get_vars_with_origins()` (what `pyengine inventory host` shows) cannot disagree.
Merging replaces top-level keys, like Ansible's default `hash_behaviour=replace`.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pyengine.errors import PlaybookError
from pyengine.hostnames_lookup import LOOKUPS as HOST_LOOKUPS
from pyengine.inventory.model import Inventory, VarLayer
from pyengine.inventory.varsdirs import add_playbook_dir, load_var_file
from pyengine.playbook.model import Play, RoleRef, Task
from pyengine.templating import OMIT, Templar, is_template, wrap_unsafe
from pyengine.templating.environment import add_filters
from pyengine.templating.lookups import add_lookups
from pyengine.vault.jinja import FILTERS as VAULT_FILTERS
from pyengine.yamlload import Vault

# The ansible-core whose behaviour pyengine follows (playbooks test `ansible_version`).
ANSIBLE_VERSION = {"string": "2.19.0", "full": "2.19.0", "major": 2, "minor": 19,
                   "revision": 0}

add_filters(VAULT_FILTERS)  # every run computes variables here, so templates have them
add_lookups(HOST_LOOKUPS)

PRECEDENCE = [
    "role defaults",
    "inventory file group vars (all, then groups by depth/priority/name)",
    "inventory group_vars/all",
    "playbook group_vars/all",
    "inventory group_vars/<group>",
    "playbook group_vars/<group>",
    "inventory file host vars",
    "inventory host_vars/<host>",
    "playbook host_vars/<host>",
    "facts",
    "play vars",
    "play vars_files",
    "role vars",
    "block and task vars (include_tasks vars)",
    "set_fact and registered results",
    "role params",
    "extra vars (-e)",
]


def fact_vars(facts: Mapping[str, Any]) -> dict[str, Any]:
    """`ansible_facts` plus each fact as `ansible_NAME` (Ansible's INJECT_FACTS_AS_VARS).
    Facts come from the target, so they are never rendered as templates."""
    safe = wrap_unsafe(dict(facts))
    out: dict[str, Any] = {"ansible_facts": safe}
    for key, value in safe.items():
        out[key if key.startswith("ansible_") else f"ansible_{key}"] = value
    return out


def _roles_of(play: Play | None, task: Task | None) -> list[RoleRef]:
    roles = list(play.role_refs) if play is not None else []
    if task is not None and task.role is not None:
        roles.append(task.role)  # the task's own role wins over the play's other roles
    return roles


class VariableManager:
    """Computes variables for (host, play, task); one per run."""

    def __init__(self, inventory: Inventory, extra_vars: Mapping[str, Any] | None = None,
                 vault: Vault | None = None,
                 defaults: Mapping[str, Any] | None = None) -> None:
        self.inventory = inventory
        self.extra_vars = dict(extra_vars or {})
        # Below everything: connection settings from the command line (-T, --private-key,
        # -b, ...) and ansible.cfg, which any inventory or play variable overrides.
        self.defaults = dict(defaults or {})
        self.vault = vault
        self._vars_files: dict[tuple[int, str], list[VarLayer]] = {}

    def layers(self, host: str, play: Play | None = None, task: Task | None = None,
               facts: Mapping[str, Any] | None = None,
               runtime: Mapping[str, Any] | None = None) -> list[VarLayer]:
        """Every variable source for `host`, lowest precedence first.

        `facts` are the gathered facts; `runtime` holds set_fact values and registered
        results of this host (the executor keeps them).
        """
        if play is not None:
            add_playbook_dir(self.inventory, play.basedir, self.vault)
        out: list[VarLayer] = []
        if self.defaults:
            out.append(VarLayer("command line and ansible.cfg defaults", self.defaults))
        for role in _roles_of(play, task):
            if role.defaults:
                out.append(VarLayer(f"role '{role.name}' defaults ({role.path}/defaults)",
                                    role.defaults, _origins(role.defaults)))
        out.extend(self.inventory.host_var_layers(host))
        if facts:
            out.append(VarLayer("facts", fact_vars(facts)))
        if play is not None:
            if play.vars:
                out.append(VarLayer("play vars", play.vars, _origins(play.vars)))
            out.extend(self._play_vars_files(host, play, out))
        for role in _roles_of(play, task):
            if role.vars:
                out.append(VarLayer(f"role '{role.name}' vars ({role.path}/vars)", role.vars,
                                    _origins(role.vars)))
        if task is not None and task.vars:
            out.append(VarLayer("block/task vars", task.vars, _origins(task.vars)))
        if runtime:
            # Already rendered on the controller or produced by the target: never re-rendered.
            out.append(VarLayer("set_fact/register", wrap_unsafe(dict(runtime))))
        if task is not None and task.role is not None and task.role.params:
            out.append(VarLayer(f"role '{task.role.name}' params", task.role.params,
                                _origins(task.role.params)))
        if self.extra_vars:
            out.append(VarLayer("extra vars (-e)", self.extra_vars))
        return out

    @functools.cached_property
    def config_file(self) -> str | None:
        """The ansible.cfg of this run (None when there is none), looked up once: magic_vars
        runs for every task of every host (4,400 times for 100 hosts x 40 tasks) and the
        lookup stats the candidate files and scans the environment (~140 us each)."""
        return _config_file()

    def magic_vars(self, host: str, play: Play | None = None, task: Task | None = None
                   ) -> dict[str, Any]:
        """Variables Ansible always defines (see its "special variables" list); the
        executor adds the run-time ones (hostvars, play hosts, check mode: `option_vars`)."""
        magic: dict[str, Any] = {
            "inventory_hostname": host,
            "inventory_hostname_short": host.split(".")[0],
            "group_names": self.inventory.group_names(host),
            "groups": self.inventory.groups_mapping(),
            "omit": OMIT,
            "ansible_version": dict(ANSIBLE_VERSION),
            "ansible_playbook_python": sys.executable,
            "ansible_config_file": self.config_file,
        }
        if self.inventory.sources:
            first = self.inventory.sources[0]
            magic["inventory_dir"] = str(first if first.is_dir() else first.parent)
            magic["inventory_file"] = str(first)
            magic["ansible_inventory_sources"] = [str(p) for p in self.inventory.sources]
        if play is not None:
            magic["playbook_dir"] = str(play.basedir)
            magic["ansible_play_name"] = play.name or play.hosts
            names = _unique(r.fqcn for r in play.role_refs)
            magic["ansible_play_role_names"] = names
            magic["role_names"] = names
            magic["ansible_role_names"] = names
        if task is not None and task.role is not None:
            role = task.role
            magic["role_name"] = role.name
            magic["ansible_role_name"] = role.fqcn
            magic["role_path"] = str(role.path)
            magic["ansible_collection_name"] = role.collection
        return magic

    def get_vars(self, host: str, play: Play | None = None, task: Task | None = None,
                 facts: Mapping[str, Any] | None = None,
                 runtime: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """The merged variables (templates unrendered: render lazily with Templar)."""
        merged: dict[str, Any] = {}
        for layer in self.layers(host, play, task, facts, runtime):
            merged.update(layer.values)
        merged.update(self.magic_vars(host, play, task))
        return merged

    def get_vars_with_origins(self, host: str, play: Play | None = None,
                              task: Task | None = None,
                              facts: Mapping[str, Any] | None = None,
                              runtime: Mapping[str, Any] | None = None
                              ) -> dict[str, tuple[Any, str]]:
        """name -> (value, where it was set), for `pyengine inventory host`."""
        out: dict[str, tuple[Any, str]] = {}
        for layer in self.layers(host, play, task, facts, runtime):
            for key, value in layer.values.items():
                out[key] = (value, layer.origin(key))
        return out

    def _play_vars_files(self, host: str, play: Play, below: list[VarLayer]) -> list[VarLayer]:
        """vars_files of a play; names may be templates (rendered with the vars so far)."""
        if not play.vars_files:
            return []
        key = (id(play), host)
        if key in self._vars_files:
            return self._vars_files[key]
        context: dict[str, Any] = {}
        for layer in below:
            context.update(layer.values)
        context.update(self.extra_vars)
        context.update(self.magic_vars(host, play))
        templar = Templar(context)
        layers: list[VarLayer] = []
        for entry in play.vars_files:
            choices = entry if isinstance(entry, list) else [entry]
            found = None
            tried = []
            for name in choices:
                rendered = str(templar.render(name)) if is_template(name) else str(name)
                path = Path(rendered)
                if not path.is_absolute():
                    path = play.basedir / path
                tried.append(str(path))
                if path.is_file():
                    found = path
                    break
            if found is None:
                raise PlaybookError(f"vars_files: {' or '.join(tried)} not found",
                                    play.origin.file, play.origin.line or None,
                                    play.origin.column or None)
            layers.append(load_var_file(found, self.vault))
        self._vars_files[key] = layers
        return layers


def option_vars(check: bool = False, diff: bool = False, forks: int | None = None,
                tags: Iterable[str] = (), skip_tags: Iterable[str] = (),
                limit: str | None = None, verbosity: int = 0) -> dict[str, Any]:
    """The magic variables Ansible makes of the command line's options."""
    out: dict[str, Any] = {
        "ansible_check_mode": check, "ansible_diff_mode": diff,
        "ansible_run_tags": sorted(tags) or ["all"], "ansible_skip_tags": sorted(skip_tags),
        "ansible_verbosity": verbosity,
    }
    if forks is not None:
        out["ansible_forks"] = forks
    if limit:
        out["ansible_limit"] = limit
    return out


def _unique(names: Iterable[str]) -> list[str]:
    out: list[str] = []
    for name in names:
        if name not in out:
            out.append(name)
    return out


def _config_file() -> str | None:
    """The ansible.cfg Ansible would read here (None when there is none)."""
    try:
        from pyengine.content.ansible_config import current_config
    except ImportError:
        return None
    path = current_config().path
    return str(path) if path is not None else None


def _origins(values: Mapping[str, Any]) -> dict[str, Any]:
    """Key origins of a mapping loaded from YAML (empty for plain dicts)."""
    return dict(getattr(values, "key_origins", {}) or {})
