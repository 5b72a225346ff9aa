"""`--quiet`: the recap and nothing else (for cron mails and logs that must stay short)."""

from __future__ import annotations

from typing import Any

from pyengine.executor.results import HostResult, TaskResult
from pyengine.report.console import ConsoleReporter


class QuietReporter(ConsoleReporter):
    """Prints only the recap at the end; unreachable hosts and failures show there."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["live"] = False
        super().__init__(**kwargs)

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
