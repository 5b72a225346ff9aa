"""When one host's failure stops the others: any_errors_fatal and max_fail_percentage."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyengine.errors import PyengineError
from pyengine.executor.sync import HostGroup
from pyengine.playbook.model import Play
from pyengine.templating import Templar


class FailurePolicy:
    """The play's failure rules over its host group."""

    def __init__(self, play: Play, group: HostGroup, extra_vars: Mapping[str, Any]) -> None:
        self.play = play
        self.group = group
        self.max_fail_percentage = fail_percentage(play, extra_vars)
        # One task per round trip, hosts in step: the only way a failure can stop the
        # other hosts before their next task.
        self.strict = bool(play.any_errors_fatal or self.max_fail_percentage is not None)

    def host_failed(self, host: str) -> None:
        """`host` left the play failed: stop the others when the play's rules say so."""
        failed = self.group.mark_failed(host)
        if self.play.any_errors_fatal:
            self.group.abort(f"any_errors_fatal: {host} failed")
            return
        mfp = self.max_fail_percentage
        if mfp is not None and self.group.total and failed * 100.0 / self.group.total > mfp:
            self.group.abort(f"max_fail_percentage {mfp:g}% exceeded "
                             f"({failed} of {self.group.total} hosts failed)")


def fail_percentage(play: Play, extra_vars: Mapping[str, Any]) -> float | None:
    """`max_fail_percentage` as a number (it may be a template of play and extra vars)."""
    value = play.max_fail_percentage
    if value is None:
        return None
    rendered = Templar({**play.vars, **extra_vars}).render(value)
    try:
        return float(str(rendered).rstrip("%"))
    except ValueError as err:
        raise PyengineError(f"{rendered!r} is not a number") from err
