"""The `health` module's arguments for one host, from its `health_*` variables.

The playbook role passes `health_<arg>` for every argument; the role's defaults file
holds each default, so a client's group_vars or a host's host_vars override only what
they name. `pyengine health` reads the same defaults file, so a threshold set in the
inventory means the same on demand as at night.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import lru_cache
from typing import Any

import yaml

from pyengine.modspec import find_module
from pyengine.paths import builtin_playbooks_dir
from pyengine.templating import Templar

PREFIX = "health_"


@lru_cache(maxsize=1)
def role_defaults() -> dict[str, Any]:
    """playbooks/roles/health/defaults/main.yml as a dict."""
    path = builtin_playbooks_dir() / "roles" / "health" / "defaults" / "main.yml"
    data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    return dict(data)


def argument_names() -> list[str]:
    spec = find_module("health")
    if spec is None:
        raise LookupError("the health module is missing from modules/")
    return [name for name in spec.args if not name.startswith("_")]


def host_arguments(hostvars: Mapping[str, Any],
                   overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Arguments for the module: the host's `health_*` variables over the role defaults
    (templates rendered with the host's variables), then `overrides`."""
    merged: dict[str, Any] = dict(role_defaults())
    merged.update(hostvars)
    templar = Templar(merged)
    args = {}
    for name in argument_names():
        key = PREFIX + name
        if key in merged:
            args[name] = templar.render(merged[key])
    args.update(overrides or {})
    return args


def enabled(hostvars: Mapping[str, Any]) -> bool:
    """`health_enabled` of the host (true unless it says otherwise)."""
    from pyengine.booleans import is_true

    value = hostvars.get(PREFIX + "enabled", role_defaults().get(PREFIX + "enabled", True))
    return bool(is_true(Templar(dict(hostvars)).render(value)))
