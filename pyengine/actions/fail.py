"""Fail the host with a message (usually under a `when`)."""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "msg": {"type": "raw", "default": "Failed as requested from task",
            "help": "The failure message."},
}
KIND = "local"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions.base import ActionFailed

    raise ActionFailed(str(ctx.args.get("msg") or "Failed as requested from task"))
