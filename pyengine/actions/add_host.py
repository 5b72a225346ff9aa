"""Add a host (with variables and groups) to the inventory for the following plays."""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "name": {"type": "str", "required": True, "aliases": ["host", "hostname"],
             "help": "The new host's name (host:port sets ansible_port)."},
    "groups": {"type": "list", "elements": "str", "default": [],
               "aliases": ["group", "groupname"], "help": "Groups to put it in."},
}
ANY_ARGS = True  # every other argument is a host variable (ansible_host=..., ...)
KIND = "local"


def run(ctx: ActionContext) -> dict[str, Any]:
    name = str(ctx.args["name"])
    host_vars = {k: v for k, v in ctx.args.items() if k not in ARGS and
                 k not in ("host", "hostname", "group", "groupname")}
    if ":" in name and name.count(":") == 1:
        name, port = name.split(":")
        host_vars.setdefault("ansible_port", int(port))
    return {"changed": True, "add_host": {"host_name": name,
                                          "groups": [str(g) for g in ctx.args.get("groups") or []],
                                          "host_vars": host_vars},
            "msg": f"host {name} added"}
