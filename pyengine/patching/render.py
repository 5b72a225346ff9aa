"""`pyengine patch status` output: a table for people, JSON for tools."""

from __future__ import annotations

import json
import sys
from typing import IO

from rich.console import Console
from rich.table import Table

from pyengine.patching.status import HostPatchStatus


def to_json(rows: list[HostPatchStatus]) -> str:
    """{"hosts": {name: row}, "totals": {...}} — stable keys, masked strings."""
    totals = {
        "hosts": len(rows),
        "hosts_with_updates": len([r for r in rows if r.pending]),
        "pending": sum(r.pending for r in rows),
        "security": sum(r.security for r in rows),
        "reboot_required": len([r for r in rows if r.reboot_required]),
        "failed": len([r for r in rows if r.status == "failed"]),
        "unreachable": len([r for r in rows if r.status == "unreachable"]),
    }
    data = {"version": 1, "hosts": {r.host: r.as_dict() for r in rows}, "totals": totals}
    return json.dumps(data, indent=2, sort_keys=True)


def _console(out: IO[str] | None) -> Console:
    """A terminal gets its own width; a pipe or file gets lines wide enough for versions."""
    stream = out or sys.stdout
    wide = None if stream.isatty() else 160
    return Console(file=stream, highlight=False, soft_wrap=False, width=wide, emoji=False)


def print_details(rows: list[HostPatchStatus], out: IO[str] | None = None) -> None:
    """One line per pending update: host, package, current -> candidate, flags."""
    console = _console(out)
    table = Table(title="Pending updates by package")
    for column in ("host", "package", "current", "candidate", "kind"):
        table.add_column(column)
    for r in rows:
        for u in r.updates:
            flags = ["security" if u.get("security") else "normal"]
            flags += [f for f in ("held", "excluded") if u.get(f)]
            table.add_row(r.host, str(u.get("name")), str(u.get("current")),
                          str(u.get("candidate")), ", ".join(flags))
    console.print(table)


def print_table(rows: list[HostPatchStatus], out: IO[str] | None = None) -> None:
    """One line per host: pending, security, held, reboot, services, or the reason."""
    console = _console(out)
    table = Table(title="Pending updates", show_lines=False)
    for column, justify in (("host", "left"), ("status", "left"), ("pending", "right"),
                            ("security", "right"), ("held", "right"),
                            ("reboot", "left"), ("services to restart", "left")):
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for r in rows:
        if r.status != "ok":
            table.add_row(r.host, f"[red]{r.status}[/red]", "-", "-", "-", "-", r.msg)
            continue
        table.add_row(
            r.host, "ok", str(r.pending),
            f"[bold red]{r.security}[/bold red]" if r.security else "0",
            str(r.held),
            "[yellow]required[/yellow]" if r.reboot_required else "no",
            ", ".join(r.services_need_restart) or "-")
    console.print(table)
