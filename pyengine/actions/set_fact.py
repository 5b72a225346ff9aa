"""Set host variables for the rest of the run (computed on the controller, no round trip).

Values are rendered when the task is planned; later tasks in the same batch see
them, so a set_fact never costs a round trip of its own.
"""

from __future__ import annotations

from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "cacheable": {"type": "bool", "default": False, "help": "Accepted; facts are not cached."},
}
ANY_ARGS = True
KIND = "local"


def run(ctx: ActionContext) -> dict[str, Any]:
    facts = {k: v for k, v in ctx.args.items() if k not in ARGS}
    if not facts:
        from pyengine.actions.base import ActionFailed

        raise ActionFailed("set_fact needs at least one variable to set")
    return {"changed": False, "ansible_facts": facts}
