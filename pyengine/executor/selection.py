"""--tags / --skip-tags: which tasks run, with Ansible's `always` and `never`."""

from __future__ import annotations

from pyengine.playbook.model import Task


def task_selected(task: Task, tags: set[str], skip_tags: set[str]) -> bool:
    """True when `task` runs under these --tags and --skip-tags (handlers always do)."""
    if task.is_handler:
        return True
    own = set(task.tags)
    if skip_tags and own & skip_tags:
        return False
    if "always" in own and "always" not in skip_tags:
        return True
    if not tags or "all" in tags:
        return "never" not in own
    if "tagged" in tags and own - {"never"}:
        return True
    if "untagged" in tags and not own:
        return True
    return bool(own & tags)
