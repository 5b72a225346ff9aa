"""Which agent session a task runs in: become or not, and as whom.

Task keywords win over play keywords, which win over the host's `ansible_become*`
variables (Ansible's order). Each answer is one agent session on the host.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyengine.booleans import is_true
from pyengine.playbook.model import Play, Task
from pyengine.reach import Privilege
from pyengine.templating import Templar

NO_BECOME: Privilege = (False, None)


def privilege_for(play: Play, task: Task | None, variables: Mapping[str, Any]) -> Privilege:
    """The session for `task` (None: the host's first session, before any task).

    A variable that does not render raises (PyengineError): running without sudo
    because `ansible_become` was unreadable would be running something else.
    """
    templar = Templar(variables)
    become = task.become.become if task is not None else None
    if become is None:
        become = play.become.become
    if become is None:
        become = is_true(templar.render(variables.get("ansible_become", False)))
    if not become:
        return NO_BECOME
    user = (task.become.user if task is not None else None) or play.become.user
    if user is None:
        user = variables.get("ansible_become_user")
    if user is not None:
        user = str(templar.render(user))
    return (True, user or "root")
