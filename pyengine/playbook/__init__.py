"""Playbooks: loading and validating Ansible-style YAML into `model` objects."""

from __future__ import annotations

from pyengine.playbook.loader import (
    handler_names,
    load_include,
    load_include_role,
    load_playbook,
    load_tasks_file,
    resolve_include,
    walk,
)

__all__ = ["load_playbook", "load_tasks_file", "load_include", "load_include_role",
           "resolve_include", "walk", "handler_names"]
