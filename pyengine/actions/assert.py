"""Check conditions on the controller; fail the host when one is false."""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "that": {"type": "list", "required": True, "aliases": ["_raw_params"],
             "help": "Conditions (like `when`) that must all be true."},
    "fail_msg": {"type": "raw", "aliases": ["msg"], "help": "Message when a condition fails."},
    "success_msg": {"type": "raw", "help": "Message when all conditions hold."},
    "quiet": {"type": "bool", "default": False, "help": "Shorter output."},
}
KIND = "local"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions.base import ActionFailed
    from pyengine.errors import PyengineError

    that = ctx.task.args.get("that", ctx.task.args.get("_raw_params"))
    conditions = that if isinstance(that, list) else [that]
    for cond in conditions:
        try:
            ok = ctx.templar.evaluate(cond)
        except PyengineError as err:
            raise ActionFailed(f"error evaluating {cond!r}: {err}", assertion=str(cond)) from None
        if not ok:
            msg = ctx.args.get("fail_msg") or f"Assertion failed: {cond}"
            raise ActionFailed(str(msg), assertion=str(cond), evaluated_to=False)
    return {"changed": False, "msg": str(ctx.args.get("success_msg") or "All assertions passed")}
