"""The outcome of a run as plain data: a map host -> HostResult.

Nothing here talks to a host or prints; the console, JSON, JUnit and history
writers are pure functions of these objects (STYLE.md item 6), so a run can be
re-rendered, stored or compared without re-running it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pyengine.errors import EXIT_OK, EXIT_TASK_FAILED, EXIT_UNREACHABLE

OK = "ok"
CHANGED = "changed"
FAILED = "failed"
SKIPPED = "skipped"
UNREACHABLE = "unreachable"


@dataclass
class TaskResult:
    """One task on one host (a loop task is one TaskResult; its items are in result)."""

    name: str
    module: str
    status: str
    changed: bool = False
    duration_s: float = 0.0
    msg: str = ""
    tags: list[str] = field(default_factory=list)
    play: str = ""
    diff: Any = None
    result: dict[str, Any] = field(default_factory=dict)
    ignored: bool = False  # failed, but ignore_errors said carry on (counted as ok)
    rescued: bool = False  # failed inside a block whose rescue ran
    handler: bool = False
    origin: str = ""
    check_mode: bool = False  # ran in check mode: "changed" means "would change"

    @property
    def counts_as(self) -> str:
        """The recap column this task lands in (an ignored failure counts as ok, as Ansible)."""
        if self.status == FAILED and (self.ignored or self.rescued):
            return OK
        return self.status


@dataclass
class HostResult:
    """Everything that happened on one host during a run."""

    name: str
    tasks: list[TaskResult] = field(default_factory=list)
    unreachable: bool = False
    unreachable_msg: str = ""
    round_trips: int = 0
    batches: list[int] = field(default_factory=list)  # items per agent round trip
    interrupted_during: str | None = None  # task name when Ctrl-C hit mid-task
    # Seconds the host's thread waited per phase: connect (TCP + SSH handshake), auth,
    # agent_start, facts, batches (one per round trip), teardown; facts_on_target is the
    # agent's own gathering time (inside `facts`). See hoststate.HostState.close.
    phases: dict[str, Any] = field(default_factory=dict)

    @property
    def ignored(self) -> int:
        """Failures that ignore_errors let pass (Ansible's recap `ignored`)."""
        return sum(1 for t in self.tasks if t.status == FAILED and t.ignored)

    @property
    def rescued(self) -> int:
        """Failures a block's rescue handled (Ansible's recap `rescued`)."""
        return sum(1 for t in self.tasks if t.status == FAILED and t.rescued)

    def count(self, status: str) -> int:
        return sum(1 for t in self.tasks if t.counts_as == status)

    @property
    def ok(self) -> int:
        # As in Ansible's recap, a changed task also counts as ok (it succeeded).
        return self.count(OK) + self.count(CHANGED)

    @property
    def changed(self) -> int:
        return self.count(CHANGED)

    @property
    def failed(self) -> int:
        return self.count(FAILED)

    @property
    def skipped(self) -> int:
        return self.count(SKIPPED)


@dataclass
class RunResult:
    """A whole run: per-host results plus what the run was."""

    playbook: str
    started: str
    finished: str = ""
    check_mode: bool = False
    hosts: dict[str, HostResult] = field(default_factory=dict)
    interrupted: bool = False
    aborted_msg: str = ""  # any_errors_fatal / max_fail_percentage stop
    # Plays whose `hosts:` (with --limit) matched no host: they ran nothing.
    plays_without_hosts: list[str] = field(default_factory=list)
    # The controller's own cost when the hosts were done: process CPU seconds (user +
    # system, imports included) and peak resident memory (MB).
    controller_cpu_s: float = 0.0
    controller_max_rss_mb: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 all good, 2 a task failed, 4 a host was unreachable (4 wins over 2)."""
        if any(h.unreachable for h in self.hosts.values()):
            return EXIT_UNREACHABLE
        if any(h.failed for h in self.hosts.values()) or self.aborted_msg:
            return EXIT_TASK_FAILED
        return EXIT_OK

    def host(self, name: str) -> HostResult:
        if name not in self.hosts:
            self.hosts[name] = HostResult(name)
        return self.hosts[name]
