"""include_tasks / include_role at run time: the tasks to run, the role's handlers kept.

Host threads include at the same time; a role's handlers join the play's handler
list once (by name and origin), under a lock.
"""

from __future__ import annotations

import threading
from typing import Any

from pyengine.executor.contracts import Sources
from pyengine.playbook.model import Play, Task, TaskOrBlock

ROLE_INCLUDES = ("include_role", "import_role")


class PlayIncludes:
    """Loads what a play's include tasks name (for every host of the play)."""

    def __init__(self, play: Play, sources: Sources) -> None:
        self.play = play
        self.sources = sources
        self._lock = threading.Lock()

    def load(self, task: Task, args: dict[str, Any]) -> list[TaskOrBlock]:
        """The included tasks (raises PyengineError when the file or role is bad)."""
        if task.action not in ROLE_INCLUDES:
            return self.sources.load_include(task, args, self.play)
        tasks, handlers = self.sources.load_include_role(task, args, self.play)
        with self._lock:
            known = {(h.name, str(h.origin)) for h in self.play.handlers}
            for handler in handlers:
                if (handler.name, str(handler.origin)) not in known:
                    self.play.handlers.append(handler)
        return tasks
