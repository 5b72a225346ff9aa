"""Put the host in a group named from its variables (`key: os_{{ ansible_distribution }}`).

The group exists for the following plays of the run (`hosts: os_Debian`); the host
is added when the current play ends, so the play's own host list does not change
under it.
"""

from __future__ import annotations

import re
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "key": {"type": "str", "required": True, "help": "The group name (rendered)."},
    "parents": {"type": "list", "elements": "str", "default": ["all"],
                "help": "Parent groups of the new group."},
}
KIND = "local"


def run(ctx: ActionContext) -> dict[str, Any]:
    # Ansible turns characters that are invalid in group names into underscores.
    name = re.sub(r"[^A-Za-z0-9_]", "_", str(ctx.args["key"]))
    parents = [str(p) for p in ctx.args.get("parents") or ["all"]]
    return {"changed": False, "add_group": name, "parent_groups": parents,
            "msg": f"host added to group {name}"}
