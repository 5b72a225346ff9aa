"""Host ranges: `web[01:20].example.com`, `db-[a:f]`, `node[0:10:2]`."""

from __future__ import annotations

import re
import string

from pyengine.errors import PlaybookError
from pyengine.origin import Origin

_RANGE = re.compile(r"\[([^\]]*)\]")


def expand_hosts(pattern: str, where: Origin | None = None) -> list[str]:
    """All names a host pattern stands for, in order (a name without brackets is itself)."""
    match = _RANGE.search(pattern)
    if not match:
        return [pattern]
    head, tail = pattern[: match.start()], pattern[match.end():]
    body = match.group(1)
    parts = body.split(":")

    def fail(why: str) -> PlaybookError:
        return PlaybookError(f"invalid host range '[{body}]' in '{pattern}': {why}",
                             where.file if where else None, where.line if where else None,
                             where.column if where else None)

    if len(parts) not in (2, 3):
        raise fail("expected [start:end] or [start:end:step]")
    start, end = parts[0], parts[1]
    step_text = parts[2] if len(parts) == 3 else "1"
    if not step_text.isdigit() or int(step_text) < 1:
        raise fail("the step must be a positive number")
    step = int(step_text)
    if start.isdigit() and end.isdigit() or (start == "" and end.isdigit()):
        start = start or "0"
        if int(start) > int(end):
            raise fail("start is after end")
        width = len(start) if start.startswith("0") and len(start) > 1 else 0
        values = [str(i).zfill(width) for i in range(int(start), int(end) + 1, step)]
    elif len(start) == 1 and len(end) == 1 and start in string.ascii_letters \
            and end in string.ascii_letters:
        if start > end:
            raise fail("start is after end")
        values = [chr(c) for c in range(ord(start), ord(end) + 1, step)]
    else:
        raise fail("use numbers (01:20) or single letters (a:f)")
    out: list[str] = []
    for value in values:
        out.extend(expand_hosts(head + value + tail, where))
    return out
