"""Playbooks: loading and validating Ansible-style YAML into `model` objects.

The loader's names are resolved on first use: `pyengine.yamlload` needs
`pyengine.playbook.model` (for `Origin`) and the loader needs `yamlload`, so importing
the loader eagerly here would make the two modules import each other half-initialised.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["load_playbook", "load_tasks_file", "load_include", "load_include_role",
           "resolve_include", "walk", "handler_names"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("pyengine.playbook.loader"), name)
    raise AttributeError(f"module 'pyengine.playbook' has no attribute {name!r}")
