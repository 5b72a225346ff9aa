"""Wait a number of seconds or minutes (never prompts: runs are unattended)."""

from __future__ import annotations

import time
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "seconds": {"type": "float", "help": "Seconds to wait."},
    "minutes": {"type": "float", "help": "Minutes to wait."},
    "prompt": {"type": "str", "help": "Accepted for compatibility; printed, never waited on."},
    "echo": {"type": "bool", "default": True, "help": "Accepted for compatibility."},
}
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    seconds = float(ctx.args.get("seconds") or 0) + 60.0 * float(ctx.args.get("minutes") or 0)
    started = time.monotonic()
    if seconds > 0:
        time.sleep(seconds)
    elapsed = round(time.monotonic() - started, 2)
    return {"changed": False, "delta": elapsed, "msg": f"paused for {elapsed:g}s",
            "user_input": ""}
