"""Run the `patch` module on one inventory host through its own agent session.

`pyengine patch status` needs one read-only module call per host and nothing of a
playbook (no templating, handlers or batches), so it talks to the agent directly, the
same way the executor does: connection from the host's `ansible_*` variables, one
`PythonAgentSession`, one batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyengine.agent.session import PythonAgentSession
from pyengine.connection import connection_for_host
from pyengine.modspec import find_module, normalize_args


def module_source(name: str) -> str:
    """Source text of a built-in module (the agent ships it once)."""
    spec = find_module(name)
    if spec is None or spec.path is None:
        raise LookupError(f"module {name!r} not found")
    return spec.path.read_text()


def open_session(name: str, hostvars: Mapping[str, Any], trust_new_hosts: bool = False
                 ) -> PythonAgentSession:
    """A started agent session on `name` (become as the host's variables say)."""
    connection = connection_for_host(name, hostvars, trust_new_hosts=trust_new_hosts)
    become = str(hostvars.get("ansible_become", "")).lower() in ("1", "true", "yes", "on")
    session = PythonAgentSession(
        connection,
        module_source=module_source,
        become=become,
        become_user=hostvars.get("ansible_become_user"),
        become_password=hostvars.get("ansible_become_password")
        or hostvars.get("ansible_become_pass"),
        python=str(hostvars.get("ansible_python_interpreter") or "python3"),
    )
    session.start()
    return session


def run_patch(session: PythonAgentSession, args: Mapping[str, Any], check_mode: bool = False
              ) -> dict[str, Any]:
    """Run `patch` with `args` (validated like a task's) and return its result dict."""
    normal = normalize_args("patch", dict(args))
    item = {"id": 1, "module": "patch", "args": normal, "check_mode": check_mode,
            "diff": False, "environment": {}, "ignore_errors": False, "no_log": False}
    for reply in session.run_batch([item]):
        result: dict[str, Any] = reply["result"]
        return result
    return {"failed": True, "msg": "the agent returned no result"}
