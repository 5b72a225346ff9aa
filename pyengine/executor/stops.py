"""How a host's walk through a program ended, and the exception that ends it early."""

from __future__ import annotations

DONE_OK = "ok"
HOST_FAILED = "failed"
END_HOST = "end_host"
END_PLAY = "end_play"
UNREACHED = "unreachable"
STOPPED = "stopped"  # any_errors_fatal / max_fail_percentage / Ctrl-C


class Stop(Exception):
    """Raised inside a host's walk to end it at once with `how`."""

    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how
