"""Print a message or a variable's value (controller only; never touches the host).

As in Ansible, the output shows at the default verbosity (the console prints a debug
task's `msg` or variable even when other ok tasks are quiet); `verbosity: N` hides it
(the task is skipped, "Verbosity threshold not met.") unless the run has -v N or more.
"""

from __future__ import annotations

from typing import Any

ARGS = {
    "msg": {"type": "raw", "help": "The message to print (rendered); default 'Hello world!'."},
    "var": {"type": "str", "help": "A variable name or expression whose value is printed."},
    "verbosity": {"type": "int", "default": 0,
                  "help": "Only print when the run's -v level is at least this."},
}
MUTUALLY_EXCLUSIVE = [["msg", "var"]]
KIND = "local"

NOT_DEFINED = "VARIABLE IS NOT DEFINED!"


def run(ctx: Any) -> dict[str, Any]:
    args = ctx.args
    wanted = int(args.get("verbosity") or 0)
    if wanted > _run_verbosity(ctx.variables):
        return {"changed": False, "skipped": True,
                "skipped_reason": "Verbosity threshold not met."}
    if args.get("var") is not None:
        expr = str(args["var"]).strip()
        source = expr if expr.startswith("{{") else "{{ " + expr + " }}"
        try:
            value = ctx.templar.render(source)
        except Exception:  # noqa: BLE001 - Ansible prints this marker as the value
            value = NOT_DEFINED
        return {"changed": False, expr: value}
    msg = args.get("msg", "Hello world!")
    return {"changed": False, "msg": msg}


def _run_verbosity(variables: Any) -> int:
    try:
        return int(variables.get("ansible_verbosity", 0) or 0)
    except (TypeError, ValueError):
        return 0

