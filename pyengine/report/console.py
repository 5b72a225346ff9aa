"""The live view of a run: progress per host and a line per changed or failed task.

On a terminal: a rich progress bar per host, with changed/failed lines printed
above it. Otherwise (a pipe, a log file, cron): one plain line per event, so
logs stay greppable. `-v` adds every task's result, `-vv` each batch (round trip).
With more than FEW_HOSTS hosts and no -v the per-task lines give way (failures and
unreachable hosts still print): a terminal shows one fleet display redrawn in place
(report/fleet_view.py), a log gets one line per host as it finishes.
Every string shown has passed through `pyengine.masking.mask`.
"""

from __future__ import annotations

import difflib
import json
import threading
from typing import Any

from rich.console import Console
from rich.live import Live
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from pyengine.executor.events import Reporter
from pyengine.executor.results import HostResult, RunResult, TaskResult
from pyengine.masking import mask, mask_text
from pyengine.report.fleet_view import FEW_HOSTS, FleetView
from pyengine.report.recap import controller_text, phase_text, recap_lines, recap_table

_STYLE = {"changed": "yellow", "failed": "bold red", "ok": "green", "skipped": "cyan",
          "unreachable": "bold red"}


def diff_text(diff: Any) -> str:
    """Unified diff text of an Ansible diff dict (or a list of them)."""
    if not diff:
        return ""
    if isinstance(diff, list):
        return "\n".join(t for t in (diff_text(d) for d in diff) if t)
    if not isinstance(diff, dict):
        return str(diff)
    if "prepared" in diff:
        return str(diff["prepared"])
    before, after = diff.get("before", ""), diff.get("after", "")
    if not isinstance(before, str) or not isinstance(after, str):
        before = json.dumps(before, indent=2, sort_keys=True, default=str)
        after = json.dumps(after, indent=2, sort_keys=True, default=str)
    lines = difflib.unified_diff(
        before.splitlines(keepends=True), after.splitlines(keepends=True),
        fromfile=str(diff.get("before_header", "before")),
        tofile=str(diff.get("after_header", "after")))
    return "".join(lines).rstrip("\n")


class ConsoleReporter(Reporter):
    """Thread-safe; the executor calls it from every host thread."""

    def __init__(self, console: Console | None = None, verbosity: int = 0,
                 show_diff: bool = False, live: bool | None = None) -> None:
        self.console = console or Console(highlight=False, emoji=False)
        self.verbosity = verbosity
        self.show_diff = show_diff
        self.live = self.console.is_terminal if live is None else live
        self._lock = threading.Lock()
        self._progress: Progress | None = None
        self._bars: dict[str, Any] = {}
        self._fleet: FleetView | None = None  # many hosts: one display, no per-task lines
        self._live: Live | None = None

    # -- output helpers --------------------------------------------------------------
    def _print(self, text: str, markup: bool = True) -> None:
        target = (self._progress.console if self._progress is not None else
                  self._live.console if self._live is not None else self.console)
        if self.live:
            target.print(text, markup=markup, highlight=False, soft_wrap=True)
        else:
            target.print(text, markup=False, highlight=False, soft_wrap=True)

    def _line(self, status: str, host: str, text: str) -> str:
        if not self.live:
            return f"{status:<11} {host} | {text}"
        style = _STYLE.get(status, "")
        return f"[{style}]{status:<11}[/{style}] {escape(host)} | {escape(text)}"

    # -- events ----------------------------------------------------------------------
    def run_start(self, playbook: str, hosts: list[str]) -> None:
        with self._lock:
            self._print(f"pyengine run {playbook} on {len(hosts)} host(s)", markup=False)
            if len(hosts) > FEW_HOSTS and self.verbosity == 0:
                self._fleet = FleetView(list(hosts))

    def play_start(self, name: str, hosts: list[str], total_tasks: int) -> None:
        with self._lock:
            self._stop_progress()
            self._print(self._heading(f"PLAY [{mask_text(name)}] {len(hosts)} host(s)"))
            if self._fleet is not None:
                self._fleet.play_start(name, hosts, total_tasks)
                if self.live and self._live is None:
                    view = self._fleet
                    self._live = Live(get_renderable=view.render, console=self.console,
                                      refresh_per_second=4, transient=True)
                    self._live.start()
            elif self.live and hosts:
                self._progress = Progress(
                    TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[state]}"), console=self.console,
                    transient=True)
                self._progress.start()
                self._bars = {h: self._progress.add_task(h, total=total_tasks or 1,
                                                         state="") for h in hosts}

    def _heading(self, text: str) -> str:
        return f"[bold]{escape(text)}[/bold]" if self.live else text

    def batch_sent(self, host: str, items: int, round_trip: int) -> None:
        with self._lock:
            if self._fleet is not None:
                self._fleet.activity(host, note=f"round trip {round_trip}: {items} task(s)")
            if self._progress is not None and host in self._bars:
                self._progress.update(self._bars[host], state=f"round trip {round_trip}")
            if self.verbosity >= 2:
                self._print(self._line("batch", host, f"{items} task(s) in round trip "
                                                      f"{round_trip}"))

    def task_done(self, host: str, task: TaskResult, raw: dict[str, Any]) -> None:
        with self._lock:
            if self._progress is not None and host in self._bars:
                self._progress.advance(self._bars[host])
            if self._fleet is not None:
                self._fleet.activity(host, mask_text(task.name))
            status = task.status
            said = _debug_output(task, raw)
            shown = (status == "failed" or (status == "changed" and self._fleet is None)
                     or self.verbosity >= 1 or said is not None)
            if not shown:
                return
            label = "handler " + task.name if task.handler else task.name
            text = label
            if status == "failed":
                text += f": {task.msg}"
                if task.ignored:
                    text += " (ignored)"
                elif task.rescued:
                    text += " (rescued)"
            elif task.msg and self.verbosity >= 1:
                text += f" ({task.msg})"
            self._print(self._line(status, host, mask_text(text)))
            if self.show_diff and task.diff and status == "changed":
                body = mask_text(diff_text(task.diff))
                if body:
                    self._print(body if not self.live else escape(body))
            if self.verbosity >= 1:
                body = json.dumps(mask(task.result), indent=2, sort_keys=True, default=str)
                self._print(body if not self.live else escape(body))
            elif said is not None:
                body = json.dumps(mask(said), indent=4, default=str, ensure_ascii=False)
                self._print(body if not self.live else escape(body))

    def host_unreachable(self, host: str, msg: str) -> None:
        with self._lock:
            if self._fleet is not None:
                self._fleet.host_done(host, "unreachable")
            self._print(self._line("unreachable", host, mask_text(msg)))

    def host_done(self, host: str, result: HostResult) -> None:
        with self._lock:
            if self._progress is not None and host in self._bars:
                state = "unreachable" if result.unreachable else (
                    "failed" if result.failed else "done")
                self._progress.update(self._bars[host], state=state)
            if self._fleet is not None:
                state = "unreachable" if result.unreachable else (
                    "failed" if result.failed else "done")
                self._fleet.host_done(host, state)
                if not self.live and not result.unreachable:  # a log: one line per host
                    self._print(self._line("host done", host,
                                           f"ok={result.ok} changed={result.changed} "
                                           f"failed={result.failed} · "
                                           f"{self._fleet.summary_text()}"))

    def message(self, text: str) -> None:
        with self._lock:
            self._print(mask_text(text), markup=False)

    def run_end(self, run: RunResult) -> None:
        with self._lock:
            self._stop_progress()
            if self.verbosity >= 2:  # where each host's time went (connect, auth, ...)
                for name, host in run.hosts.items():
                    if host.phases:
                        self._print(self._line("phases", name, phase_text(host.phases)))
        self.print_recap(run)

    def print_recap(self, run: RunResult) -> None:
        if self.live:
            self.console.print()
            self.console.print(recap_table(run))
        else:
            self.console.print("PLAY RECAP", markup=False, highlight=False)
            for line in recap_lines(run):
                # soft_wrap: a log line stays one line whatever the (assumed) width.
                self.console.print(mask_text(line), markup=False, highlight=False,
                                   soft_wrap=True)
        if run.check_mode:  # an audit: its "changed" counts are what would change
            self.console.print("check mode: nothing was changed; changed= counts what would "
                               "change", markup=False, highlight=False, soft_wrap=True)
        if self.verbosity >= 1 and run.controller_cpu_s:
            self.console.print(controller_text(run), markup=False, highlight=False,
                               soft_wrap=True)

    def _stop_progress(self) -> None:
        if self._live is not None:
            self._live.stop()
            self._live = None
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
            self._bars = {}

    def close(self) -> None:
        with self._lock:
            self._stop_progress()


def _debug_output(task: TaskResult, raw: dict[str, Any]) -> dict[str, Any] | None:
    """What a `debug` task prints at every verbosity, as in Ansible (`ok: [h] => {"msg":
    ...}`): its message, or the variable it names; None for other tasks."""
    if task.module != "debug" or task.status != "ok":
        return None
    body = {k: v for k, v in raw.items()
            if k not in ("changed", "failed", "skipped", "msg") and not k.startswith("_")}
    if body:
        return body
    return {"msg": raw["msg"]} if "msg" in raw else None
