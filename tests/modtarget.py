"""Run built-in modules on a lab host through SSH and the agent, as a run does.

Lab tests of modules use this until they go through `pyengine run`: one SSH
connection and one agent per host (`PythonAgentSession`), each call one batch of
one task, the module source read from modules/ like the executor's resolver does.
Independent checks of the host's state go through `LabHost.exec`, never through here.
"""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import yaml

from pyengine.agent.session import PythonAgentSession
from pyengine.connection import connection_for_host

MODULES = Path(__file__).resolve().parents[1] / "modules"


def hostvars(lab: Any, name: str, **extra: Any) -> dict[str, Any]:
    """The host's variables from the lab inventory, with the machine's ~/.ssh left out
    (`extra` on top)."""
    group = yaml.safe_load(Path(lab.inventory_path).read_text())["all"]["children"]["lab"]
    out = dict(group["vars"])
    out.update(group["hosts"][name])
    out.update({"pyengine_user_known_hosts": False, "pyengine_allow_agent": False,
                "pyengine_look_for_keys": False})
    out.update(extra)
    return out


class Target:
    """One lab host reached over SSH with a running agent."""

    def __init__(self, lab: Any, name: str) -> None:
        self.host = lab.host(name)
        self.session = PythonAgentSession(
            connection_for_host(name, hostvars(lab, name)),
            module_source=lambda module: (MODULES / f"{module}.py").read_text())
        self.facts = self.session.start()
        self.environment: dict[str, str] = {}  # every task's `environment:` unless given
        self._ids = itertools.count(1)

    def run(self, module: str, args: dict[str, Any], check: bool = False, diff: bool = True,
            environment: dict[str, str] | None = None) -> dict[str, Any]:
        """Run one task; returns the module's result dict."""
        item = {"id": str(next(self._ids)), "module": module, "args": args,
                "check_mode": check, "diff": diff,
                "environment": self.environment if environment is None else environment,
                "ignore_errors": True, "no_log": False}
        results = self.session.run_all([item])
        assert len(results) == 1, results
        result: dict[str, Any] = results[0]["result"]
        return result

    def ok(self, module: str, args: dict[str, Any], **kw: Any) -> dict[str, Any]:
        """`run` that must not fail."""
        result = self.run(module, args, **kw)
        assert not result.get("failed"), f"{module} failed: {result.get('msg')}\n{result}"
        return result

    def sh(self, script: str, check: bool = True) -> str:
        """An independent check inside the host (nsenter, not SSH); returns stdout."""
        proc = self.host.exec(["sh", "-c", script], check=check)
        return str(proc.stdout)

    def close(self) -> None:
        self.session.close()
