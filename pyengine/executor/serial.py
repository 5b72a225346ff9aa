"""`serial:`: the play's hosts split into batches that run the whole play in turn."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from pyengine.errors import PyengineError
from pyengine.playbook.model import Play
from pyengine.templating import Templar


def render_serial(play: Play, extra_vars: Mapping[str, Any]) -> list[int | str]:
    """serial items may be templates ("{{ batch }}"), rendered with play and extra vars."""
    templar = Templar({**play.vars, **extra_vars})
    out: list[int | str] = []
    for item in play.serial:
        value = templar.render(item)
        out.extend(value if isinstance(value, list) else [value])
    return out


def serial_batches(hosts: list[str], serial: list[int | str]) -> list[list[str]]:
    """Split hosts as `serial:` says: ints, percentages, or a list (the last one repeats)."""
    if not serial:
        return [hosts] if hosts else []
    out: list[list[str]] = []
    i = 0
    step = 0
    total = len(hosts)
    while i < total:
        spec = serial[min(step, len(serial) - 1)]
        size = _serial_size(spec, total)
        out.append(hosts[i:i + size])
        i += size
        step += 1
    return out


def _serial_size(spec: int | str, total: int) -> int:
    text = str(spec).strip()
    try:
        if text.endswith("%"):
            size = int(math.floor(total * float(text[:-1]) / 100.0))
        else:
            size = int(text)
    except ValueError as err:
        raise PyengineError(f"serial: {spec!r} is neither a number nor a percentage") from err
    return max(size, 1)
