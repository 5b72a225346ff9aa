"""Role argument specs: the validation task Ansible puts first in a role, and its checks
compared with ansible-core's own validator on the same specs and values."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyengine.actions.validate_argument_spec import validate
from pyengine.playbook import load_playbook, walk

SPEC = {
    "name": {"type": "str"},
    "count": {"type": "int"},
    "ratio": {"type": "float"},
    "enabled": {"type": "bool"},
    "paths": {"type": "list", "elements": "str"},
    "ports": {"type": "list", "elements": "int"},
    "settings": {"type": "dict"},
    "mode": {"type": "str", "choices": ["audit", "enforce"]},
    "anything": {"type": "raw"},
    "needed": {"type": "str", "required": True},
    "users": {"type": "list", "elements": "dict",
              "options": {"login": {"type": "str", "required": True},
                          "uid": {"type": "int"}}},
    "untyped": {},
}

CASES: list[dict[str, Any]] = [
    {"needed": "x"},
    {},
    {"needed": "x", "name": 5},
    {"needed": "x", "name": ["a"]},
    {"needed": "x", "name": None},
    {"needed": "x", "count": "12"},
    {"needed": "x", "count": "twelve"},
    {"needed": "x", "count": 1.0},
    {"needed": "x", "count": 1.5},
    {"needed": "x", "ratio": "0.5"},
    {"needed": "x", "ratio": "half"},
    {"needed": "x", "enabled": "yes"},
    {"needed": "x", "enabled": "perhaps"},
    {"needed": "x", "enabled": 1},
    {"needed": "x", "paths": "/a,/b"},
    {"needed": "x", "paths": {"a": 1}},
    {"needed": "x", "ports": ["22", 80]},
    {"needed": "x", "ports": ["ssh"]},
    {"needed": "x", "settings": "a=1 b=2"},
    {"needed": "x", "settings": '{"a": 1}'},
    {"needed": "x", "settings": ["a"]},
    {"needed": "x", "mode": "audit"},
    {"needed": "x", "mode": "loose"},
    {"needed": "x", "anything": [1, {"a": None}]},
    {"needed": "x", "users": [{"login": "a", "uid": "5"}]},
    {"needed": "x", "users": [{"uid": 5}]},
    {"needed": "x", "users": [{"login": "a", "shell": "/bin/sh"}]},
    {"needed": "x", "untyped": 42},
]


@pytest.mark.parametrize("values", CASES, ids=[str(i) for i in range(len(CASES))])
def test_same_verdict_as_ansible_core(values: dict[str, Any]) -> None:
    arg_spec = pytest.importorskip("ansible.module_utils.common.arg_spec")
    theirs = arg_spec.ArgumentSpecValidator(SPEC).validate(dict(values)).error_messages
    ours = validate(SPEC, values, refuse_unknown=False)
    assert bool(ours) == bool(theirs), (ours, theirs)


def test_devsec_style_role_gets_its_validation_task_first(tmp_path: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOME", str(tmp_path))
    role = tmp_path / "roles" / "hard"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "tasks" / "main.yml").write_text("- name: work\n  ping:\n")
    (role / "tasks" / "other.yml").write_text("- name: other\n  ping:\n")
    (role / "meta" / "argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: Harden it.\n    options:\n"
        "      level: {type: int, description: 'how much {{ not a template }}'}\n")
    (tmp_path / "site.yml").write_text(
        "- hosts: all\n  roles:\n    - role: hard\n      level: 3\n      tags: [h]\n"
        "  tasks:\n    - import_role: {name: hard, tasks_from: other}\n")
    play = load_playbook(tmp_path / "site.yml").plays[0]
    first, work = walk(play.roles)
    assert first.name == "Validating arguments against arg spec 'main' - Harden it."
    assert first.action == "validate_argument_spec" and first.tags == {"always", "h"}
    assert first.args["provided_arguments"] == {"level": 3}
    assert first.args["argument_spec"]["level"]["type"] == "int"
    assert work.name == "work"
    # `other` has no spec of its own: no validation task there (as in Ansible).
    assert [t.name for t in walk(play.tasks)] == ["other"]
