"""What the executor tells the live view while a run goes on.

The executor calls these hooks from its host threads; a reporter must be
thread-safe. They carry no decisions: the final picture is the RunResult.
"""

from __future__ import annotations

from typing import Any

from pyengine.executor.results import HostResult, RunResult, TaskResult


class Reporter:
    """Does nothing; the console reporter overrides what it shows."""

    def run_start(self, playbook: str, hosts: list[str]) -> None:
        pass

    def play_start(self, name: str, hosts: list[str], total_tasks: int) -> None:
        pass

    def batch_sent(self, host: str, items: int, round_trip: int) -> None:
        pass

    def task_done(self, host: str, task: TaskResult, raw: dict[str, Any]) -> None:
        pass

    def host_unreachable(self, host: str, msg: str) -> None:
        pass

    def host_done(self, host: str, result: HostResult) -> None:
        pass

    def message(self, text: str) -> None:
        pass

    def run_end(self, run: RunResult) -> None:
        pass
