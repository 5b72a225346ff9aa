"""`--start-at-task NAME`: the loaded playbook cut so the run begins at that task.

Ansible's rule (its play iterator): plays are searched in order; in each, tasks are
walked as a run without failures walks them (block, then always); the first task whose
name or "role : name" equals NAME or matches it as a shell pattern starts the run. The
plays before it do nothing (no facts either), the play holding it runs from that task
(facts are gathered), and later plays run whole. Tasks that `include_tasks` loads at
run time cannot be the start, as in Ansible ("can only follow static includes").
"""

from __future__ import annotations

import fnmatch
from dataclasses import replace

from pyengine.playbook.model import Play, Playbook, Task, TaskOrBlock


def task_label(task: Task) -> str:
    """Ansible's task name: 'role : name' for a named role task (role by its FQCN), the
    name, or else the module."""
    if task.name and task.role is not None:
        return f"{task.role.fqcn} : {task.name}"
    return task.name or task.action


def _matches(task: Task, pattern: str) -> bool:
    label = task_label(task)
    names = [n for n in (task.name, label) if n]
    return any(n == pattern or fnmatch.fnmatch(n, pattern) for n in names)


def _cut(items: list[TaskOrBlock], pattern: str) -> list[TaskOrBlock] | None:
    """The items from the first match on (blocks cut inside), or None without a match."""
    for i, item in enumerate(items):
        if isinstance(item, Task):
            if _matches(item, pattern):
                return items[i:]
            continue
        inner = _cut(item.block, pattern)
        if inner is not None:
            return [replace(item, block=inner), *items[i + 1:]]
        always = _cut(item.always, pattern)
        if always is not None:
            return [replace(item, block=[], rescue=[], always=always), *items[i + 1:]]
    return None


def start_at_task(book: Playbook, pattern: str) -> Playbook:
    """`book` starting at the first task matching `pattern`; raises LookupError when no
    statically loaded task matches."""
    plays: list[Play] = []
    for index, play in enumerate(book.plays):
        sections = ("pre_tasks", "roles", "tasks", "post_tasks")
        for n, section in enumerate(sections):
            rest = _cut(getattr(play, section), pattern)
            if rest is None:
                continue
            changes: dict[str, list[TaskOrBlock]] = {s: [] for s in sections[:n]}
            changes[section] = rest
            plays.append(replace(play, **changes))  # type: ignore[arg-type]
            plays.extend(book.plays[index + 1:])
            return replace(book, plays=plays)
    raise LookupError(f"no task matches --start-at-task {pattern!r} (it can only name "
                      f"tasks that load with the playbook, not ones include_tasks loads)")
