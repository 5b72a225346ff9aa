"""Run the `patch` module on one inventory host through its own agent session.

`pyengine patch status` needs one read-only module call per host and nothing of a
playbook (no templating, handlers or batches), so it talks to the agent directly, the
same way the executor does (pyengine/reach.py): connection from the host's `ansible_*`
variables, one agent session, one batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyengine.modspec import find_module, normalize_args
from pyengine.reach import AgentSession, open_agent_session, open_connection, privilege_from_vars


def module_source(name: str) -> str:
    """Source text of a built-in module (the agent ships it once)."""
    spec = find_module(name)
    if spec is None or spec.path is None:
        raise LookupError(f"module {name!r} not found")
    return spec.path.read_text()


def open_session(name: str, hostvars: Mapping[str, Any], trust_new_hosts: bool = False
                 ) -> AgentSession:
    """A started agent session on `name` (become as the host's variables say).

    `hostvars` are the host's variables as a play sees them (templates unrendered):
    pyengine/reach.py renders the connection settings, exactly as `run` does.
    """
    connection = open_connection(name, hostvars, trust_new_hosts=trust_new_hosts)
    session = open_agent_session(connection, hostvars, module_source,
                                 privilege=privilege_from_vars(hostvars))
    session.start()
    return session


def run_patch(session: AgentSession, args: Mapping[str, Any], check_mode: bool = False
              ) -> dict[str, Any]:
    """Run `patch` with `args` (validated like a task's) and return its result dict."""
    normal = normalize_args("patch", dict(args))
    item = {"id": 1, "module": "patch", "args": normal, "check_mode": check_mode,
            "diff": False, "environment": {}, "ignore_errors": False, "no_log": False}
    for reply in session.run_batch([item]):
        result: dict[str, Any] = reply["result"]
        return result
    return {"failed": True, "msg": "the agent returned no result"}
