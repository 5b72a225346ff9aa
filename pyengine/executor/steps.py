"""What a host worker offers the steps that run outside a batch (alone.py, flow.py).

alone.py (tasks that run by themselves) and flow.py (meta, includes, handlers) are
called by the worker and call back into it through this interface only, so the
three files do not import each other in a circle and the worker keeps its batch
machinery to itself.
"""

from __future__ import annotations

from typing import Any, NoReturn, Protocol

from pyengine.actions.base import ActionContext
from pyengine.executor import program as prg
from pyengine.executor.hoststate import HostState
from pyengine.executor.plan import Planned
from pyengine.executor.play import PlayRun
from pyengine.executor.sync import Position
from pyengine.playbook.model import Task
from pyengine.templating import Templar


class HostSteps(Protocol):
    """One host's worker in one play (executor/host.py's HostWorker)."""

    host: str
    state: HostState
    run: PlayRun
    check_mode: bool
    diff: bool

    def run_program(self, prog: prg.Program, position: Position = ()) -> str:
        """Run `prog` to its end (an include's tasks, handlers); returns how it ended."""

    def record(self, planned: Planned, raw: list[dict[str, Any]],
               duration: float | None = None) -> bool:
        """Store a task's outcome; True when it failed and the failure is not ignored."""

    def after_failure(self, planned: Planned, prog: prg.Program) -> prg.Cursor | str:
        """Where the host goes on after `planned` failed (a cursor, or HOST_FAILED)."""

    def unreachable(self, task: Task | None, reason: str) -> NoReturn:
        """Mark the host unreachable at `task` and end its walk (raises Stop)."""

    def action_context(self, task: Task, args: dict[str, Any], templar: Templar,
                       check_mode: bool, diff: bool) -> ActionContext:
        """The context a controller action runs with on this host."""

    def normalize(self, module: str, args: dict[str, Any], task: Task) -> dict[str, Any]:
        """Rendered module arguments validated and normalised."""
