"""Print a message or a variable's value (controller only; never touches the host)."""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "msg": {"type": "raw", "help": "The message to print (rendered); default 'Hello world!'."},
    "var": {"type": "str", "help": "A variable name or expression whose value is printed."},
    "verbosity": {"type": "int", "default": 0,
                  "help": "Only print at this -v level or above (accepted; always recorded)."},
}
MUTUALLY_EXCLUSIVE = [["msg", "var"]]
KIND = "local"


def run(ctx: ActionContext) -> dict[str, Any]:
    args = ctx.args
    if args.get("var") is not None:
        expr = str(args["var"]).strip()
        if expr.startswith("{{"):
            value = ctx.templar.render(expr)
        else:
            try:
                value = ctx.templar.render("{{ " + expr + " }}")
            except Exception as err:  # noqa: BLE001 - Ansible prints the error as the value
                value = f"VARIABLE IS NOT DEFINED! ({err})"
        return {"changed": False, expr: value, "msg": _text(value)}
    msg = args.get("msg", "Hello world!")
    return {"changed": False, "msg": msg if isinstance(msg, str) else _text(msg)}


def _text(value: Any) -> str:
    import json

    if isinstance(value, str):
        return value
    try:
        return json.dumps(value, sort_keys=True, default=str)
    except (TypeError, ValueError):
        return str(value)
