"""One play over one serial batch of hosts: the pieces its host threads share.

Each host of a serial batch runs in its own thread (at most `forks` at once)
through the whole play (executor/hostrun.py); they meet only where a point concerns
several hosts (`sync.HostGroup`). A PlayRun holds what the threads share, one piece
per job: variables (playvars.py), connections and sessions (connections.py),
includes (includes.py), inventory changes (inventory_changes.py) and the failure
policy (failpolicy.py). It runs nothing itself.
"""

from __future__ import annotations

from pyengine.executor import program as prg
from pyengine.executor.connections import PlayConnections
from pyengine.executor.contracts import RunOptions, Sources
from pyengine.executor.events import Reporter
from pyengine.executor.failpolicy import FailurePolicy
from pyengine.executor.hoststate import HostState
from pyengine.executor.includes import PlayIncludes
from pyengine.executor.inventory_changes import InventoryChanges
from pyengine.executor.playvars import PlayVariables
from pyengine.executor.results import RunResult
from pyengine.executor.selection import task_selected
from pyengine.executor.sync import HostGroup
from pyengine.playbook.model import Play, Task


class PlayRun:
    """One play on one serial batch of hosts: shared by the host threads."""

    def __init__(self, play: Play, hosts: list[str], all_hosts: list[str], sources: Sources,
                 options: RunOptions, reporter: Reporter, states: dict[str, HostState]) -> None:
        self.vars = PlayVariables(play, hosts, all_hosts, sources, options, states)
        self.play = play
        self.play_name = self.vars.play_name
        self.hosts = hosts
        self.options = options
        self.reporter = reporter
        self.states = states
        self.group = HostGroup(hosts)
        self.ended = False  # meta: end_play
        self.connections = PlayConnections(play, sources, options, self.vars)
        self.includes = PlayIncludes(play, sources)
        self.inventory_changes = InventoryChanges(sources)
        self.policy = FailurePolicy(play, self.group, options.extra_vars)
        self.normalize = sources.normalize

    def selected(self, task: Task) -> bool:
        """--tags / --skip-tags."""
        return task_selected(task, self.options.tags, self.options.skip_tags)

    def end_play(self) -> None:
        """meta: end_play — every host of the play stops at its next step, quietly."""
        self.ended = True
        self.group.end()

    def finish(self) -> None:
        """After the batch's hosts are done (main thread): delegates closed."""
        self.connections.close_delegates()


def play_program(play: Play) -> prg.Program:
    """pre_tasks, roles + tasks, post_tasks, each followed by a handler flush."""
    return prg.compile_sections([play.pre_tasks, list(play.roles) + list(play.tasks),
                                 play.post_tasks])


def new_run_result(playbook: str, started: str, check: bool) -> RunResult:
    return RunResult(playbook=playbook, started=started, check_mode=check)
