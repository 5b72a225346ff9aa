"""Hosts, groups and where each inventory variable came from.

`Inventory.host_vars(name)` merges a host's inventory variables in Ansible's order
(see docs/VARIABLES.md); `host_var_layers(name)` returns the same as ordered layers
so `pyengine inventory host NAME` can say which file set each value.
"""

from __future__ import annotations

import sys
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengine.origin import Origin

LOCALHOST = ("localhost", "127.0.0.1", "::1")


@dataclass
class VarLayer:
    """One source of variables: a label for humans, the values, each value's origin."""

    label: str
    values: dict[str, Any]
    origins: dict[str, Origin] = field(default_factory=dict)

    def origin(self, key: str) -> str:
        found = self.origins.get(key)
        return str(found) if found else self.label


@dataclass
class Host:
    name: str
    vars: dict[str, Any] = field(default_factory=dict)  # set in the inventory file itself
    var_origins: dict[str, Origin] = field(default_factory=dict)
    groups: list[str] = field(default_factory=list)  # direct groups, in definition order
    origin: Origin | None = None
    implicit: bool = False  # the implicit localhost


@dataclass
class Group:
    name: str
    hosts: list[str] = field(default_factory=list)
    children: list[str] = field(default_factory=list)
    parents: list[str] = field(default_factory=list)
    vars: dict[str, Any] = field(default_factory=dict)
    var_origins: dict[str, Origin] = field(default_factory=dict)
    origin: Origin | None = None

    @property
    def priority(self) -> int:
        try:
            return int(self.vars.get("ansible_group_priority", 1))
        except (TypeError, ValueError):
            return 1


class Inventory:
    """The loaded inventory. Hosts keep definition order (Ansible's `order: inventory`)."""

    def __init__(self) -> None:
        self.hosts: dict[str, Host] = {}
        self.groups: dict[str, Group] = {"all": Group("all"), "ungrouped": Group("ungrouped")}
        self.groups["all"].children.append("ungrouped")
        self.groups["ungrouped"].parents.append("all")
        self.sources: list[Path] = []
        # group/host name -> layers from group_vars/ and host_vars/ folders
        self.inventory_group_files: dict[str, list[VarLayer]] = {}
        self.inventory_host_files: dict[str, list[VarLayer]] = {}
        self.playbook_group_files: dict[str, list[VarLayer]] = {}
        self.playbook_host_files: dict[str, list[VarLayer]] = {}
        self.playbook_dirs: list[Path] = []
        # Derived data, computed on first use: a run asks for it per host and per task.
        self._cache: dict[Any, Any] = {}
        # Playbook paths whose group_vars/host_vars were looked for (asked once per task).
        self.seen_playbook_paths: set[str] = set()

    def invalidate(self) -> None:
        """Forget derived data (call after changing hosts, groups or variables)."""
        self._cache.clear()

    # -- building ------------------------------------------------------------------
    def add_group(self, name: str, origin: Origin | None = None) -> Group:
        self._cache.clear()
        group = self.groups.get(name)
        if group is None:
            group = Group(name, origin=origin)
            self.groups[name] = group
        return group

    def add_host(self, name: str, group: str | None = None, origin: Origin | None = None
                 ) -> Host:
        self._cache.clear()
        host = self.hosts.get(name)
        if host is None:
            host = Host(name, origin=origin)
            self.hosts[name] = host
        if group and group != "all":
            g = self.add_group(group)
            if name not in g.hosts:
                g.hosts.append(name)
            if group not in host.groups:
                host.groups.append(group)
        return host

    def add_child(self, parent: str, child: str) -> None:
        self._cache.clear()
        p = self.add_group(parent)
        c = self.add_group(child)
        if child not in p.children:
            p.children.append(child)
        if parent not in c.parents:
            c.parents.append(parent)

    def reconcile(self) -> None:
        """Every group without a parent hangs under 'all'; hosts in no group are 'ungrouped'."""
        self._cache.clear()
        for name, group in self.groups.items():
            if name != "all" and not group.parents:
                self.add_child("all", name)
        ungrouped = self.groups["ungrouped"]
        for name, host in self.hosts.items():
            real = [g for g in host.groups if g not in ("all", "ungrouped")]
            if not real and name not in ungrouped.hosts:
                ungrouped.hosts.append(name)
                host.groups.append("ungrouped")
            elif real and name in ungrouped.hosts:
                ungrouped.hosts.remove(name)
                host.groups.remove("ungrouped")

    # -- queries -------------------------------------------------------------------
    def get_host(self, name: str) -> Host | None:
        """The host, or the implicit localhost (connection local) when asked for by name."""
        if name in self.hosts:
            return self.hosts[name]
        if name in LOCALHOST:
            return Host(name, vars={"ansible_connection": "local",
                                    "ansible_python_interpreter": sys.executable},
                        implicit=True)
        return None

    def depth(self, name: str) -> int:
        """Distance from 'all' along the longest parent chain (Ansible's group depth)."""
        key = ("depth", name)
        if key not in self._cache:
            self._cache[key] = self._depth(name)
        return int(self._cache[key])

    def _depth(self, name: str) -> int:
        seen: set[str] = set()

        def walk(group: str) -> int:
            if group == "all" or group in seen:
                return 0
            seen.add(group)
            parents = self.groups[group].parents if group in self.groups else []
            result = 1 + max((walk(p) for p in parents), default=0)
            seen.discard(group)
            return result

        return walk(name)

    def ancestors(self, groups: list[str]) -> set[str]:
        out: set[str] = set()
        todo = list(groups)
        while todo:
            g = todo.pop()
            if g in out or g not in self.groups:
                continue
            out.add(g)
            todo.extend(self.groups[g].parents)
        return out

    def host_groups(self, name: str) -> list[str]:
        """All groups of a host (with ancestors, with 'all') in variable precedence order:
        by depth, then ansible_group_priority, then name."""
        key = ("host_groups", name)
        if key not in self._cache:
            host = self.get_host(name)
            direct = host.groups if host and not host.implicit else []
            groups = self.ancestors(direct) | {"all"}
            self._cache[key] = sorted(
                groups, key=lambda g: (self.depth(g), self.groups[g].priority, g))
        return list(self._cache[key])

    def group_names(self, name: str) -> list[str]:
        """The `group_names` magic variable: sorted, without 'all' and 'ungrouped'."""
        return sorted(g for g in self.host_groups(name) if g not in ("all", "ungrouped"))

    def group_hosts(self, name: str) -> list[str]:
        """Hosts of a group and of its descendants (breadth first, deduplicated)."""
        if name == "all":
            return list(self.hosts)
        key = ("group_hosts", name)
        if key not in self._cache:
            out: list[str] = []
            seen: set[str] = set()
            seen_groups: set[str] = set()
            queue: deque[str] = deque([name])
            while queue:
                g = queue.popleft()
                if g in seen_groups or g not in self.groups:
                    continue
                seen_groups.add(g)
                for h in self.groups[g].hosts:
                    if h not in seen:
                        seen.add(h)
                        out.append(h)
                queue.extend(self.groups[g].children)
            self._cache[key] = out
        return list(self._cache[key])

    def groups_mapping(self) -> dict[str, list[str]]:
        """The `groups` magic variable: every group -> its hosts (shared; do not modify)."""
        if "groups_mapping" not in self._cache:
            self._cache["groups_mapping"] = {name: self.group_hosts(name) for name in self.groups}
        return self._cache["groups_mapping"]  # type: ignore[no-any-return]

    def host_var_layers(self, name: str) -> list[VarLayer]:
        """The inventory variable sources of a host, lowest precedence first."""
        key = ("layers", name)
        if key not in self._cache:
            self._cache[key] = self._host_var_layers(name)
        return list(self._cache[key])

    def _host_var_layers(self, name: str) -> list[VarLayer]:
        host = self.get_host(name)
        if host is None:
            return []
        groups = self.host_groups(name)
        others = [g for g in groups if g != "all"]
        layers: list[VarLayer] = []
        for g in ["all", *others]:  # inventory file group vars
            group = self.groups[g]
            if group.vars:
                layers.append(VarLayer(f"inventory group '{g}'", group.vars, group.var_origins))
        layers += self.inventory_group_files.get("all", [])
        layers += self.playbook_group_files.get("all", [])
        for g in others:
            layers += self.inventory_group_files.get(g, [])
        for g in others:
            layers += self.playbook_group_files.get(g, [])
        if host.vars:
            layers.append(VarLayer(f"inventory host '{name}'", host.vars, host.var_origins))
        layers += self.inventory_host_files.get(name, [])
        layers += self.playbook_host_files.get(name, [])
        return layers

    def host_vars(self, name: str) -> dict[str, Any]:
        """A host's inventory variables merged (top-level keys replaced, as Ansible does)."""
        merged: dict[str, Any] = {}
        for layer in self.host_var_layers(name):
            merged.update(layer.values)
        return merged

    def host_vars_with_origins(self, name: str) -> dict[str, tuple[Any, str]]:
        """name -> (value, where it was set) for each inventory variable of a host."""
        out: dict[str, tuple[Any, str]] = {}
        for layer in self.host_var_layers(name):
            for key, value in layer.values.items():
                out[key] = (value, layer.origin(key))
        return out

    def add_playbook_layers(self, folder: Path, groups: dict[str, list[VarLayer]],
                            hosts: dict[str, list[VarLayer]]) -> None:
        """Record the variable layers read beside a playbook (`varsdirs.add_playbook_dir`)."""
        self.playbook_dirs.append(folder)
        self._cache.clear()
        for k, v in groups.items():
            self.playbook_group_files.setdefault(k, []).extend(v)
        for k, v in hosts.items():
            self.playbook_host_files.setdefault(k, []).extend(v)
