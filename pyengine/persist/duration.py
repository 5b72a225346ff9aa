"""`--persist` durations: `5m`, `90s`, `1h30m`, a bare number of seconds, or off."""

from __future__ import annotations

import re

from pyengine.errors import PyengineError

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd]?)")
OFF_WORDS = ("", "0", "no", "off", "false", "none")
# A warm agent is a process on someone's server: a day is the longest we keep one.
MAX_SECONDS = 86400.0


def parse_duration(text: str, origin: str = "--persist") -> float:
    """Seconds for `text` (0 means off); a bad value is a one-line PyengineError."""
    raw = str(text).strip().lower()
    if raw in OFF_WORDS:
        return 0.0
    pos = 0
    total = 0.0
    while pos < len(raw):
        match = _PART.match(raw, pos)
        if match is None:
            raise PyengineError(f"{origin}: {text!r} is not a duration (examples: 90s, 5m, 1h30m)")
        total += float(match.group(1)) * _UNITS[match.group(2) or "s"]
        pos = match.end()
    if total > MAX_SECONDS:
        raise PyengineError(f"{origin}: {text!r} is longer than the 24h a warm agent may live")
    return total


def format_duration(seconds: float) -> str:
    """`4m05s`, `12s`: the time left, for `pyengine persist status`."""
    seconds = max(0, int(round(seconds)))
    if seconds >= 3600:
        return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
    if seconds >= 60:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds}s"
