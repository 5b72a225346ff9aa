"""Ask every selected host what is pending (`patch state=list`) and summarise it.

Hosts are asked concurrently (`forks` threads); an unreachable or failing host is a row
with its reason, never an exception, so one dead host does not hide the others.
"""

from __future__ import annotations

import concurrent.futures
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from pyengine.errors import EXIT_INVALID_INPUT, PyengineError
from pyengine.inventory import Inventory
from pyengine.inventory.patterns import select
from pyengine.masking import mask
from pyengine.patching.remote import open_session, run_patch
from pyengine.templating import Templar
from pyengine.vars import VariableManager


class NoHostsMatched(PyengineError):
    """The host pattern selects nothing: nothing was asked."""

    exit_code = EXIT_INVALID_INPUT


@dataclass
class HostPatchStatus:
    """One host's answer: counts for the table, the full list for JSON."""

    host: str
    status: str  # ok | failed | unreachable
    pkg_mgr: str = ""
    pending: int = 0
    security: int = 0
    held: int = 0
    reboot_required: bool = False
    reboot_reasons: list[str] = field(default_factory=list)
    services_need_restart: list[str] = field(default_factory=list)
    updates: list[dict[str, Any]] = field(default_factory=list)
    msg: str = ""

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = mask(asdict(self))
        return data


def from_result(host: str, result: dict[str, Any]) -> HostPatchStatus:
    """The module's result dict -> a status row."""
    if result.get("failed"):
        return HostPatchStatus(host, "failed", msg=str(result.get("msg", "")))
    pending = result.get("pending") or []
    return HostPatchStatus(
        host=host,
        status="ok",
        pkg_mgr=str(result.get("pkg_mgr", "")),
        pending=len(pending),
        security=len([u for u in pending if u.get("security")]),
        held=len([u for u in pending if u.get("held") or u.get("excluded")]),
        reboot_required=bool(result.get("reboot_required")),
        reboot_reasons=list(result.get("reboot_reasons") or []),
        services_need_restart=list(result.get("services_need_restart") or []),
        updates=[{k: u.get(k) for k in ("name", "current", "candidate", "security", "held",
                                        "excluded")} for u in pending],
        msg=str(result.get("msg", "")),
    )


def host_args(hostvars: Mapping[str, Any], args: dict[str, Any]) -> dict[str, Any]:
    """The module arguments for one host: the playbook's variables `patch_exclude` and
    `patch_apt_options` from the inventory, extended by what the command line gave."""
    merged = dict(args)
    templar = Templar(hostvars)
    for var, arg in (("patch_exclude", "exclude"), ("patch_apt_options", "apt_options")):
        value = templar.render(hostvars.get(var))
        if isinstance(value, str):
            value = [value]
        if isinstance(value, list):
            merged[arg] = [str(v) for v in value] + list(merged.get(arg) or [])
    return merged


def host_status(inventory: Inventory, host: str, args: dict[str, Any],
                trust_new_hosts: bool = False) -> HostPatchStatus:
    """One host's row; connection problems become an `unreachable` row."""
    session = None
    try:
        # The variables a play would see (inventory + magic such as inventory_hostname),
        # templates unrendered: reach.py renders what connecting needs, as in `run`.
        hostvars = VariableManager(inventory).get_vars(host)
        session = open_session(host, hostvars, trust_new_hosts)
        return from_result(host, run_patch(session, host_args(hostvars, args)))
    except PyengineError as err:
        kind = "unreachable" if err.exit_code == 4 else "failed"
        return HostPatchStatus(host, kind, msg=str(err))
    except OSError as err:
        return HostPatchStatus(host, "unreachable", msg=f"{host}: {err}")
    finally:
        if session is not None:
            session.close()


def collect(inventory: Inventory, pattern: str = "all", args: dict[str, Any] | None = None,
            forks: int = 10, trust_new_hosts: bool = False) -> list[HostPatchStatus]:
    """Status rows of the hosts matching `pattern`, in inventory order."""
    hosts = [h.name for h in select(inventory, pattern)]
    if not hosts:
        raise NoHostsMatched(f"no hosts match {pattern!r}")
    call_args = {"state": "list"}
    call_args.update(args or {})
    with concurrent.futures.ThreadPoolExecutor(max_workers=max(1, forks)) as pool:
        futures = [pool.submit(host_status, inventory, h, call_args, trust_new_hosts)
                   for h in hosts]
        return [f.result() for f in futures]
