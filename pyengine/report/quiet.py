"""`--quiet`: the recap and nothing else (for cron mails and logs that must stay short)."""

from __future__ import annotations

from typing import Any

from pyengine.executor.events import Reporter
from pyengine.executor.results import RunResult
from pyengine.report.console import ConsoleReporter


class QuietReporter(Reporter):
    """Silent during the run (the base Reporter's hooks do nothing); the plain recap at
    the end shows failures and unreachable hosts."""

    def __init__(self, **kwargs: Any) -> None:
        self._console = ConsoleReporter(**{**kwargs, "live": False})

    def run_end(self, run: RunResult) -> None:
        self._console.run_end(run)

    def print_recap(self, run: RunResult) -> None:
        self._console.print_recap(run)

    def close(self) -> None:
        self._console.close()
