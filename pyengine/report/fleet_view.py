"""The live view of a run over many hosts: one display for the fleet, not a bar per host.

Fifty progress bars and a line per changed task scroll past faster than anyone reads.
With more than FEW_HOSTS hosts (and no -v) the terminal shows one display, redrawn in
place: hosts done / running / failed / unreachable / waiting, elapsed time, and for each
running host how far it is and the task it last finished (the agent runs a batch of
tasks per round trip, so "the task running now" is not known on the controller; the
last finished one is). The recap follows when the run ends. State only; the console
reporter feeds it under its lock.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from rich.console import Group, RenderableType
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from pyengine.masking import mask_text

FEW_HOSTS = 5  # up to this many hosts, the per-host bars and per-task lines stay
RUNNING_ROWS = 8  # running hosts listed; the rest are counted


@dataclass
class HostProgress:
    tasks_done: int = 0
    last_task: str = ""
    note: str = ""  # what the host runs now, when no task of its batch has finished yet
    started: float = 0.0
    state: str = "waiting"  # waiting | running | done | failed | unreachable


@dataclass
class FleetView:
    """What the display shows; `render()` builds it (rich's Live calls it)."""

    hosts: list[str]
    play: str = ""
    tasks_per_host: int = 0
    started: float = field(default_factory=time.monotonic)
    progress: dict[str, HostProgress] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for host in self.hosts:
            self.progress.setdefault(host, HostProgress())

    def play_start(self, name: str, hosts: list[str], total_tasks: int) -> None:
        self.play = name
        self.tasks_per_host = total_tasks
        for host in hosts:
            entry = self.progress.setdefault(host, HostProgress())
            if entry.state in ("done", "running"):  # a new play starts each host again
                entry.state, entry.tasks_done, entry.last_task = "waiting", 0, ""

    def activity(self, host: str, task_name: str | None = None, note: str = "") -> None:
        """The host sent a batch (`note` says what runs now) or finished a task."""
        entry = self.progress.setdefault(host, HostProgress())
        if entry.state == "waiting":
            entry.state, entry.started = "running", time.monotonic()
        if task_name is not None:
            entry.tasks_done += 1
            entry.last_task = task_name
            entry.note = ""
        elif note:
            entry.note = note

    def host_done(self, host: str, state: str) -> None:
        entry = self.progress.setdefault(host, HostProgress())
        # a failure in an earlier play stays a failure
        if entry.state not in ("failed", "unreachable") or state in ("failed", "unreachable"):
            entry.state = state

    def counts(self) -> dict[str, int]:
        out = {"done": 0, "running": 0, "failed": 0, "unreachable": 0, "waiting": 0}
        for entry in list(self.progress.values()):
            out[entry.state] += 1
        return out

    def elapsed(self) -> str:
        seconds = int(time.monotonic() - self.started)
        return f"{seconds // 60}:{seconds % 60:02d}"

    def summary_text(self) -> str:
        c = self.counts()
        total = len(self.progress)
        finished = c["done"] + c["failed"] + c["unreachable"]
        return (f"{finished}/{total} hosts finished · {c['running']} running · "
                f"{c['failed']} failed · {c['unreachable']} unreachable · "
                f"{c['waiting']} waiting · {self.elapsed()}")

    def render(self) -> RenderableType:
        c = self.counts()
        total = max(1, len(self.progress))
        finished = c["done"] + c["failed"] + c["unreachable"]
        # Two short lines, so an 80-column terminal does not wrap them.
        head = Table.grid(padding=(0, 1))
        head.add_row(Text(mask_text(self.play)[:40], style="bold"),
                     ProgressBar(total=total, completed=finished, width=20),
                     Text(f"{finished}/{total} hosts", style="bold"),
                     Text(self.elapsed(), style="dim"))
        states = Text.assemble(
            (f"running {c['running']}", "cyan"), " · ",
            (f"failed {c['failed']}", "bold red" if c["failed"] else ""), " · ",
            (f"unreachable {c['unreachable']}", "bold red" if c["unreachable"] else ""),
            " · ", (f"waiting {c['waiting']}", "dim"))
        running = sorted((e.started, h) for h, e in list(self.progress.items())
                         if e.state == "running")
        rows = Table.grid(padding=(0, 2))
        for _, host in running[:RUNNING_ROWS]:
            entry = self.progress[host]
            rows.add_row(Text(host, style="cyan"),
                         Text(f"{entry.tasks_done}/{self.tasks_per_host or '?'}"),
                         Text(entry.note or mask_text(entry.last_task)[:70] or "connecting",
                              style="dim"))
        parts: list[RenderableType] = [head, states]
        if running:
            parts.append(rows)
        if len(running) > RUNNING_ROWS:
            parts.append(Text(f"… {len(running) - RUNNING_ROWS} more running", style="dim"))
        return Group(*parts)
