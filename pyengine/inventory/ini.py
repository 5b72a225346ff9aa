"""INI inventories, as Ansible reads them.

    [web]                       hosts, one per line, with inline vars
    web[01:04].example.com ansible_user=deploy
    db1:2222                    host:port sets ansible_port

    [web:vars]                  group variables (strings)
    http_port=80

    [prod:children]             groups in a group
    web

Values are read as Python literals when they parse as one (`port=22` is an int,
`debug=True` a bool, `x=true` the string 'true'), in host lines and `:vars` alike:
that is what ansible-core's ini plugin does (its docs say `:vars` stay strings).
A group named in `[x:children]` or `[x:vars]` must be declared by a section of its
own somewhere, as in Ansible; a typo there is an error, not a silent new group.
"""

from __future__ import annotations

import ast
import re
import shlex
import warnings
from typing import Any

from pyengine.errors import PlaybookError, did_you_mean
from pyengine.inventory.model import Inventory
from pyengine.inventory.ranges import expand_hosts
from pyengine.modspec import split_words
from pyengine.origin import Origin

_SECTION = re.compile(r"^\[([^\]:\s]+)(?::(\w+))?\]\s*$")
_HOSTPORT = re.compile(r"^(.+?):(\d+)$")


def _strip_comment(line: str) -> str:
    """Drop an inline ` # comment` outside quotes."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            if ch == quote:
                quote = None
        elif ch in "\"'":
            quote = ch
        elif ch in "#;" and (i == 0 or line[i - 1].isspace()):
            return line[:i].rstrip()
    return line.rstrip()


def _literal(value: str) -> Any:
    """ansible-core's `_parse_value`: a Python literal when it is one, else the text."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return ast.literal_eval(value)
    except (ValueError, SyntaxError, TypeError, MemoryError, RecursionError):
        return value


def _shell_unquote(word: str) -> str:
    """What shlex makes of one word (`"a b"` -> `a b`), as Ansible tokenises host lines."""
    try:
        return "".join(shlex.split(word)) if word else word
    except ValueError:
        return word


def parse_ini(text: str, source: str, inventory: Inventory) -> None:
    """Add the hosts, groups and variables of an INI inventory to `inventory`."""
    group = "ungrouped"
    kind = "hosts"
    # group -> (where it was referenced, how): groups named before any section declared them
    pending: dict[str, tuple[Origin, str, str]] = {}
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw)
        stripped = line.strip()
        if not stripped:
            continue
        column = len(line) - len(line.lstrip()) + 1
        where = Origin(source, number, column)

        def fail(message: str, at: Origin = where) -> PlaybookError:
            return PlaybookError(message, at.file, at.line, at.column)

        if stripped.startswith("["):
            match = _SECTION.match(stripped)
            if not match:
                raise fail(f"invalid section header {stripped!r} (expected [group], "
                           f"[group:vars] or [group:children])")
            group, kind = match.group(1), match.group(2) or "hosts"
            if kind not in ("hosts", "vars", "children"):
                raise fail(f"unknown section type ':{kind}' (expected :vars or :children)")
            if group not in inventory.groups and kind == "vars":
                pending.setdefault(group, (where, "vars", group))
            elif kind != "vars":
                pending.pop(group, None)
            inventory.add_group(group, where)
            continue
        if kind == "vars":
            if "=" not in stripped:
                raise fail(f"expected 'name=value' in [{group}:vars], got {stripped!r}")
            key, _, value = stripped.partition("=")
            key = key.strip()
            if not key.isidentifier():
                raise fail(f"invalid variable name {key!r}")
            g = inventory.add_group(group)
            g.vars[key] = _literal(value.strip())
            g.var_origins[key] = where
        elif kind == "children":
            if " " in stripped:
                raise fail(f"expected one group name per line in [{group}:children], got "
                           f"{stripped!r}")
            if stripped == group:
                raise fail(f"group '{group}' cannot be its own child")
            if stripped not in inventory.groups:
                pending.setdefault(stripped, (where, "children", group))
            inventory.add_child(group, stripped)
        else:
            try:
                words = split_words(stripped)
            except ValueError as err:
                raise fail(str(err)) from None
            name_pattern, rest = words[0], words[1:]
            variables: dict[str, Any] = {}
            col = column
            for word in rest:
                col = line.find(word, col - 1) + 1 if word in line else column
                if "=" not in word:
                    raise fail(f"expected 'name=value' after the host name, got {word!r}",
                               Origin(source, number, col))
                key, _, value = word.partition("=")
                if not key.isidentifier():
                    raise fail(f"invalid variable name {key!r}", Origin(source, number, col))
                variables[key] = _literal(_shell_unquote(value))
            port = None
            ipv6 = name_pattern.count(":") > 1 and "[" not in name_pattern
            match = None if ipv6 else _HOSTPORT.match(name_pattern)
            if match:
                name_pattern, port = match.group(1), int(match.group(2))
            for name in expand_hosts(name_pattern, where):
                host = inventory.add_host(name, None if group == "all" else group, where)
                if port is not None:
                    host.vars["ansible_port"] = port
                    host.var_origins["ansible_port"] = where
                for key, value in variables.items():
                    host.vars[key] = value
                    host.var_origins[key] = where
    for name, (where, kind, parent) in pending.items():
        if kind == "vars":
            message = f"[{name}:vars] is for a group that is not declared (no [{name}] section)"
        else:
            message = (f"[{parent}:children] names group '{name}', which is not declared "
                       f"(no [{name}] section)")
        known = [g for g in inventory.groups if g not in pending]
        raise PlaybookError(message, where.file, where.line, where.column,
                            did_you_mean(name, known))
