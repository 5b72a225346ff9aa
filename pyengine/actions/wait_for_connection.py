"""Wait until the host answers again (a fresh connection and agent), for example after
network changes; fails when `timeout` passes."""

from __future__ import annotations

import time
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "delay": {"type": "int", "default": 0, "help": "Seconds to wait before the first try."},
    "sleep": {"type": "int", "default": 1, "help": "Seconds between tries."},
    "timeout": {"type": "int", "default": 600, "help": "Seconds before giving up."},
    "connect_timeout": {"type": "int", "default": 5, "help": "Accepted; per-try timeout."},
}
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions.base import ActionFailed
    from pyengine.errors import HostUnreachable

    started = time.monotonic()
    if ctx.args.get("delay"):
        time.sleep(float(ctx.args["delay"]))
    try:
        ctx.host_ops.reconnect(float(ctx.args.get("timeout") or 600),
                               float(ctx.args.get("sleep") or 1))
    except HostUnreachable as err:
        raise ActionFailed(f"timed out waiting for connection: {err.reason}") from None
    elapsed = round(time.monotonic() - started, 1)
    return {"changed": False, "elapsed": elapsed, "msg": f"host answered after {elapsed:g}s"}
