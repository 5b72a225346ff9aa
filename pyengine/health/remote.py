"""`pyengine health`: the health checks on demand, one agent exchange per host.

Hosts are asked concurrently (`forks` threads); an unreachable host or a failing module
is a row with its reason, never an exception, so one dead host does not hide the
others. Nothing is written: no history, no alerts (the nightly run does that).
"""

from __future__ import annotations

import concurrent.futures
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pyengine.errors import EXIT_INVALID_INPUT, PyengineError
from pyengine.health.settings import enabled, host_arguments
from pyengine.inventory import Inventory
from pyengine.inventory.patterns import select
from pyengine.masking import mask
from pyengine.modspec import find_module, normalize_args
from pyengine.reach import AgentSession, open_agent_session, open_connection, privilege_from_vars
from pyengine.vars import VariableManager


class NoHostsMatched(PyengineError):
    """The host pattern selects nothing: nothing was asked."""

    exit_code = EXIT_INVALID_INPUT


@dataclass
class HostHealth:
    """One host's answer: its state (ok/warn/crit, or failed/unreachable/skipped), each
    check's worst row, every row."""

    host: str
    state: str
    msg: str = ""
    summary: dict[str, dict[str, str]] = field(default_factory=dict)
    checks: list[dict[str, Any]] = field(default_factory=list)
    seconds: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = mask({"host": self.host, "state": self.state, "msg": self.msg,
                                     "summary": self.summary, "checks": self.checks,
                                     "seconds": round(self.seconds, 3)})
        return data


def module_source(name: str) -> str:
    spec = find_module(name)
    if spec is None or spec.path is None:
        raise LookupError(f"module {name!r} not found")
    return spec.path.read_text()


def run_health(session: AgentSession, args: Mapping[str, Any]) -> dict[str, Any]:
    """One `health` call (arguments validated like a task's)."""
    item = {"id": 1, "module": "health", "args": normalize_args("health", dict(args)),
            "check_mode": False, "diff": False, "environment": {}, "ignore_errors": False,
            "no_log": False}
    for reply in session.run_batch([item]):
        result: dict[str, Any] = reply["result"]
        return result
    return {"failed": True, "msg": "the agent returned no result"}


def from_result(host: str, result: Mapping[str, Any], seconds: float) -> HostHealth:
    if result.get("failed"):
        return HostHealth(host, "failed", msg=str(result.get("msg", "")), seconds=seconds)
    return HostHealth(host, str(result.get("state", "ok")), msg=str(result.get("msg", "")),
                      summary=dict(result.get("summary") or {}),
                      checks=list(result.get("checks") or []), seconds=seconds)


def host_health(inventory: Inventory, host: str, extra_skip: list[str] | None = None,
                trust_new_hosts: bool = False) -> HostHealth:
    """One host's row; connection problems become an `unreachable` row."""
    started = time.monotonic()
    session = None
    try:
        hostvars = VariableManager(inventory).get_vars(host)
        if str(hostvars.get("ansible_connection", "")) in ("winrm", "psrp"):
            return HostHealth(host, "skipped", msg="Windows: no health module twin yet")
        if not enabled(hostvars):
            return HostHealth(host, "skipped", msg="health_enabled is false")
        args = host_arguments(hostvars)
        if extra_skip:
            args["skip"] = [*(args.get("skip") or []), *extra_skip]
        connection = open_connection(host, hostvars, trust_new_hosts=trust_new_hosts)
        session = open_agent_session(connection, hostvars, module_source,
                                     privilege=privilege_from_vars(hostvars))
        session.start()
        return from_result(host, run_health(session, args), time.monotonic() - started)
    except PyengineError as err:
        kind = "unreachable" if err.exit_code == 4 else "failed"
        return HostHealth(host, kind, msg=str(err), seconds=time.monotonic() - started)
    except OSError as err:
        return HostHealth(host, "unreachable", msg=f"{host}: {err}",
                          seconds=time.monotonic() - started)
    finally:
        if session is not None:
            session.close()


def collect(inventory: Inventory, pattern: str = "all",
            extra_skip: list[str] | None = None, forks: int = 20,
            trust_new_hosts: bool = False) -> list[HostHealth]:
    """Rows of the hosts matching `pattern`, in inventory order."""
    hosts = [h.name for h in select(inventory, pattern)]
    if not hosts:
        raise NoHostsMatched(f"no hosts match {pattern!r}")
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, forks)) as pool:
        futures = [pool.submit(host_health, inventory, h, extra_skip, trust_new_hosts)
                   for h in hosts]
        return [f.result() for f in futures]
