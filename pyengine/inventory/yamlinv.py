"""YAML inventories, as Ansible's yaml plugin reads them:

    all:
      vars: {ntp_server: 10.0.0.1}
      children:
        web:
          hosts:
            web[01:03].example.com:
              ansible_user: deploy
"""

from __future__ import annotations

import re
from typing import Any

from pyengine.errors import PlaybookError, did_you_mean
from pyengine.inventory.model import Inventory
from pyengine.inventory.ranges import expand_hosts
from pyengine.origin import Origin
from pyengine.yamlload import key_origin, origin_of, value_origin

GROUP_KEYS = ("hosts", "vars", "children")
_HOSTPORT = re.compile(r"^([^:\[\]]+(?:\[[^\]]*\][^:\[\]]*)*):(\d+)$")


def _fail(message: str, where: Origin | None, hint: str = "") -> PlaybookError:
    return PlaybookError(message, where.file if where else None,
                         where.line if where and where.line else None,
                         where.column if where and where.column else None, hint)


def parse_yaml_inventory(data: Any, source: str, inventory: Inventory) -> None:
    """Add the groups of a loaded YAML inventory document to `inventory`."""
    if data is None:
        return
    top = origin_of(data, Origin(source))
    if not isinstance(data, dict):
        raise _fail("a YAML inventory must be a mapping of group names (usually 'all:')", top)
    for name, body in data.items():
        _group(str(name), body, inventory, key_origin(data, name, top), None)


def _group(name: str, body: Any, inventory: Inventory, where: Origin | None,
           parent: str | None) -> None:
    group = inventory.add_group(name, where)
    if parent is not None and name != "all":
        if name == parent:
            raise _fail(f"group '{name}' cannot be its own child", where)
        inventory.add_child(parent, name)
    if body is None:
        return
    if not isinstance(body, dict):
        raise _fail(f"group '{name}' must be a mapping with hosts/vars/children, got "
                    f"{type(body).__name__}", origin_of(body, where))
    for key in body:
        if key not in GROUP_KEYS:
            raise _fail(f"unknown key '{key}' in group '{name}' (expected hosts, vars or "
                        f"children)", key_origin(body, key, where),
                        did_you_mean(str(key), GROUP_KEYS))
    variables = body.get("vars")
    if variables is not None:
        at = value_origin(body, "vars", where)
        if not isinstance(variables, dict):
            raise _fail(f"vars of group '{name}' must be a mapping", at)
        for key, value in variables.items():
            group.vars[str(key)] = value
            o = key_origin(variables, key, at)
            if o:
                group.var_origins[str(key)] = o
    hosts = body.get("hosts")
    if hosts is not None:
        at = value_origin(body, "hosts", where)
        if isinstance(hosts, list):
            raise _fail(f"hosts of group '{name}' must be a mapping (write 'host:' on each "
                        f"line, not '- host')", at)
        if not isinstance(hosts, dict):
            raise _fail(f"hosts of group '{name}' must be a mapping", at)
        for host_pattern, host_vars in hosts.items():
            host_at = key_origin(hosts, host_pattern, at)
            if host_vars is not None and not isinstance(host_vars, dict):
                raise _fail(f"variables of host '{host_pattern}' must be a mapping, got "
                            f"{type(host_vars).__name__}", value_origin(hosts, host_pattern, at))
            pattern, port = str(host_pattern), None
            match = _HOSTPORT.match(pattern)
            if match:
                pattern, port = match.group(1), int(match.group(2))
            for host_name in expand_hosts(pattern, host_at):
                host = inventory.add_host(host_name, None if name == "all" else name, host_at)
                if port is not None:
                    host.vars["ansible_port"] = port
                    if host_at:
                        host.var_origins["ansible_port"] = host_at
                for key, value in (host_vars or {}).items():
                    host.vars[str(key)] = value
                    o = key_origin(host_vars, key, host_at)
                    if o:
                        host.var_origins[str(key)] = o
    children = body.get("children")
    if children is not None:
        at = value_origin(body, "children", where)
        if not isinstance(children, dict):
            raise _fail(f"children of group '{name}' must be a mapping of group names", at)
        for child, child_body in children.items():
            _group(str(child), child_body, inventory, key_origin(children, child, at), name)
