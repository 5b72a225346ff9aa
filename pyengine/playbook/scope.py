"""What a task inherits from its play, role and enclosing blocks.

The model promises the executor effective values on every Task, so the loader
carries a Scope down the tree: conditions are ANDed outermost first, tags are
united, vars and environment are merged, and the innermost setting of any other
keyword wins.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

from pyengine.playbook.model import Become, RoleRef
from pyengine.yamlload import merged


@dataclass
class Scope:
    when: list[str] = field(default_factory=list)
    tags: set[str] = field(default_factory=set)
    become: Become = field(default_factory=Become)
    environment: dict[str, Any] | str = field(default_factory=dict)
    vars: dict[str, Any] = field(default_factory=dict)
    check_mode: bool | str | None = None  # a template is rendered per host
    diff: bool | str | None = None
    ignore_errors: bool | str | None = None
    ignore_unreachable: bool | None = None
    no_log: bool | str | None = None
    delegate_to: str | None = None
    run_once: bool | None = None
    role: RoleRef | None = None
    collections: list[str] = field(default_factory=list)  # the `collections:` list in force
    notify: list[str] | None = None  # a block's `notify`, for tasks that set none

    def child(self, **own: Any) -> Scope:
        """The scope inside a block/role/task that sets `own` (None = not set)."""
        new = replace(self, when=list(self.when), tags=set(self.tags),
                      vars=merged(self.vars))
        if own.get("when"):
            new.when = self.when + list(own["when"])
        if own.get("tags"):
            new.tags = self.tags | set(own["tags"])
        if own.get("become") is not None:
            new.become = merge_become(self.become, own["become"])
        if own.get("environment"):
            new.environment = merge_environment(self.environment, own["environment"])
        if own.get("vars"):
            new.vars = merged(self.vars, own["vars"])
        for key in ("check_mode", "diff", "ignore_errors", "ignore_unreachable", "no_log",
                    "delegate_to", "run_once", "role", "collections", "notify"):
            if own.get(key) is not None:
                setattr(new, key, own[key])
        return new


def merge_become(outer: Become, inner: Become) -> Become:
    return Become(
        become=inner.become if inner.become is not None else outer.become,
        user=inner.user if inner.user is not None else outer.user,
        method=inner.method if inner.method is not None else outer.method,
        flags=inner.flags if inner.flags is not None else outer.flags,
    )


def merge_environment(outer: dict[str, Any] | str, inner: dict[str, Any] | str
                      ) -> dict[str, Any] | str:
    """Dicts merge; a template string ("{{ proxy_env }}") replaces the outer value whole."""
    if isinstance(outer, dict) and isinstance(inner, dict):
        return {**outer, **inner}
    return inner
