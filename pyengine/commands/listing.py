"""`run --list-hosts/--list-tasks/--list-tags/--syntax-check`: ansible-playbook's listings.

The text is ansible-playbook's (`playbook: FILE`, `play #N (pattern): name<TAB>TAGS:
[...]`, hosts, tasks with their tags, TASK TAGS) so scripts and eyes used to it read
it the same way. As in Ansible: tasks are listed from their blocks (not rescue/always
nor handlers), unnamed tasks show the module, named role tasks show "role : name",
tasks the tags deselect are left out, and --list-tags without --tags lists every tag
(`never` included). Hosts are sorted (Ansible prints them in set order).
"""

from __future__ import annotations

from collections.abc import Callable

from pyengine.playbook.model import Block, Play, Playbook, Task, TaskOrBlock
from pyengine.playbook.start_at import task_label


def _block_tasks(items: list[TaskOrBlock]) -> list[Task]:
    out: list[Task] = []
    for item in items:
        if isinstance(item, Block):
            out.extend(_block_tasks(item.block))
        else:
            out.append(item)
    return out


def play_tasks(play: Play) -> list[Task]:
    """The tasks Ansible lists for a play, in run order."""
    return [task for part in (play.pre_tasks, play.roles, play.tasks, play.post_tasks)
            for task in _block_tasks(part)]


def render(book: Playbook, hosts_of: Callable[[Play], list[str]], *, hosts: bool,
           tasks: bool, tags: bool, selected: Callable[[Task], bool]) -> str:
    """One playbook's listing (several playbooks: one call each, in order)."""
    lines = ["", f"playbook: {book.path}"]
    for number, play in enumerate(book.plays, 1):
        play_tags = sorted(play.tags)
        lines.append("")
        lines.append(f"  play #{number} ({play.hosts}): {play.name or play.hosts}"
                     f"\tTAGS: [{','.join(play_tags)}]")
        if hosts:
            names = sorted(hosts_of(play))
            lines.append(f"    pattern: {[play.hosts]!r}")
            lines.append(f"    hosts ({len(names)}):")
            lines.extend(f"      {name}" for name in names)
        if not (tasks or tags):
            continue
        all_tags: set[str] = set()
        if tasks:
            lines.append("    tasks:")
        for task in play_tasks(play):
            if not selected(task):
                continue
            all_tags.update(task.tags)
            if tasks:
                shown = task_label(task)
                lines.append(f"      {shown}\tTAGS: [{', '.join(sorted(task.tags))}]")
        if tags:
            lines.append(f"      TASK TAGS: [{', '.join(sorted(all_tags | set(play.tags)))}]")
    return "\n".join(lines)
