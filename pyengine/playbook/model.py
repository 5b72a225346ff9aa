"""The loaded, validated playbook: what the executor runs.

The loader (`pyengine.playbook.loader`) builds these objects from YAML; the
executor only reads them. Values that may hold templates stay unrendered here
(strings with `{{ }}`), because they are rendered per host at run time.

Inheritance is resolved by the loader, so the executor never walks parents:
each Task carries the effective `when` list (block and role conditions first),
the union of tags, and become/environment/check_mode/diff inherited from its
block, role and play. Blocks stay blocks, because rescue/always change control
flow at run time.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from pyengine.origin import Origin


@dataclass
class Become:
    """Privilege escalation settings; None means 'not set here, inherit'."""

    become: bool | None = None
    user: str | None = None
    method: str | None = None
    flags: str | None = None


@dataclass
class RoleRef:
    """The role a task came from: its folder (for templates/ and files/) and its variables."""

    name: str
    path: Path
    defaults: dict[str, Any] = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    params: dict[str, Any] = field(default_factory=dict)  # `roles: - role: x, var: 1`
    collection: str | None = None  # 'devsec.hardening' for a role found in a collection

    @property
    def fqcn(self) -> str:
        """'devsec.hardening.os_hardening' for a collection role, else the name."""
        return f"{self.collection}.{self.name}" if self.collection else self.name


@dataclass
class Task:
    """One task (or handler). `action` is the canonical module name ('copy', not
    'ansible.builtin.copy'); `args` are the module arguments as written (templates
    unrendered; inline `k=v` already split into a dict; aliases not yet mapped:
    `pyengine.modspec.normalize_args` does that after rendering).

    Free-form text goes to the module's FREE_FORM argument (`_raw_params` for
    command/shell). Flow actions: `include_tasks` args {"file": ...} (load with
    `pyengine.playbook.load_include`), `include_role` args {"name", "tasks_from", ...}
    (`pyengine.playbook.load_include_role`), `meta` args {"_raw_params": "flush_handlers"}.
    """

    action: str
    args: dict[str, Any]
    origin: Origin
    name: str | None = None
    when: list[str] = field(default_factory=list)  # ANDed; inherited conditions first
    loop: Any = None  # list, or a template string; with_items is normalised to loop
    loop_control: dict[str, Any] = field(default_factory=dict)
    register: str | None = None
    notify: list[str] = field(default_factory=list)
    listen: list[str] = field(default_factory=list)  # handlers only
    changed_when: list[str] | None = None
    failed_when: list[str] | None = None
    ignore_errors: bool | str = False
    ignore_unreachable: bool = False
    retries: int | str | None = None
    delay: int | str | None = None
    until: list[str] | None = None
    no_log: bool | str = False
    tags: set[str] = field(default_factory=set)  # effective: own + inherited
    become: Become = field(default_factory=Become)  # effective
    # Effective. A template string ("{{ proxy_env }}") when a level set it that way.
    environment: dict[str, Any] | str = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)  # task + enclosing block vars
    check_mode: bool | str | None = None  # a template is rendered per host
    diff: bool | str | None = None
    delegate_to: str | None = None
    run_once: bool = False
    role: RoleRef | None = None
    is_handler: bool = False
    # The `collections:` search list in force (play, block, task, or the role's own
    # collection and meta/main.yml): short module and role names resolve through it,
    # also for what an include loads at run time.
    collections: list[str] = field(default_factory=list)

    @property
    def display_name(self) -> str:
        """What the console shows: the name, or the module and its first argument."""
        if self.name:
            return self.name
        first = next(iter(self.args.items()), None)
        return f"{self.action} {first[0]}={first[1]}" if first else self.action


@dataclass
class Block:
    """`block` with optional `rescue` and `always`; children are already effective."""

    block: list[TaskOrBlock]
    origin: Origin
    rescue: list[TaskOrBlock] = field(default_factory=list)
    always: list[TaskOrBlock] = field(default_factory=list)
    name: str | None = None


TaskOrBlock = Union[Task, Block]  # noqa: UP007 - a runtime alias


@dataclass
class Play:
    """One play. `tasks` already contains role tasks in Ansible's order:
    pre_tasks, (handlers flush), roles, tasks, (flush), post_tasks, (flush) —
    kept as separate lists because handlers flush between them."""

    hosts: str  # host pattern, unrendered
    origin: Origin
    basedir: Path  # folder of the playbook file: templates/, files/, vars_files are relative to it
    name: str | None = None
    vars: dict[str, Any] = field(default_factory=dict)
    # As written; resolved at run time. An item may be a list: the first file that exists.
    vars_files: list[str | list[str]] = field(default_factory=list)
    pre_tasks: list[TaskOrBlock] = field(default_factory=list)
    roles: list[TaskOrBlock] = field(default_factory=list)  # role tasks, each with .role set
    tasks: list[TaskOrBlock] = field(default_factory=list)
    post_tasks: list[TaskOrBlock] = field(default_factory=list)
    handlers: list[Task] = field(default_factory=list)  # play handlers + role handlers
    become: Become = field(default_factory=Become)
    # [] = all at once; "30%" allowed; an item may be a template ("{{ batch }}").
    serial: list[int | str] = field(default_factory=list)
    max_fail_percentage: float | str | None = None  # str: a template, rendered at run time
    any_errors_fatal: bool = False
    gather_facts: bool = True
    tags: set[str] = field(default_factory=set)
    environment: dict[str, Any] | str = field(default_factory=dict)
    check_mode: bool | str | None = None  # a template is rendered per host
    diff: bool | str | None = None
    remote_user: str | None = None
    connection: str | None = None
    force_handlers: bool = False
    # Added by the loader (additive): every role of the play in load order (dependencies
    # first), including roles without tasks, because all role defaults/vars of a play
    # are visible to its tasks in Ansible.
    role_refs: list[RoleRef] = field(default_factory=list)


@dataclass
class Playbook:
    """A playbook file after import_playbook expansion: plays in order."""

    path: Path
    plays: list[Play] = field(default_factory=list)
    # Added by the loader (additive): "file:line:col: ..." for accepted-but-ignored
    # keywords (async, strategy, ...), shown by check-syntax and worth showing on a run.
    warnings: list[str] = field(default_factory=list)
