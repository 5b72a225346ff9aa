"""The compliance summary printed after a run: the fleet on one screen.

A per-host table of every control is ~110 rows a host: unreadable past a few hosts.
After a run a person wants the score (per host, or per client when there are many
hosts), the controls that fail aggregated over the hosts ("5.3.3.2.2 pwquality minlen:
fails on 37 of 40 hosts") and the waivers in force. `pyengine compliance REPORT --host H`
or `--all` prints the full tables (report/compliance.py). Pure function of the JSON
report dict, like the other writers.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from rich.console import Console
from rich.markup import escape

from pyengine.report.compliance_waivers import control_number, run_date
from pyengine.report.extra import _natural, control_ids, control_rows

PER_HOST_UP_TO = 10  # more hosts than this: one line per client instead of per host
MAX_LINES = 40


@dataclass
class HostScore:
    host: str
    client: str
    score: float
    passed: int
    failed: int
    waived: int


@dataclass
class ControlFailures:
    """One control over the fleet: the hosts it fails on, of those that checked it."""

    id: str
    title: str
    failing: list[str] = field(default_factory=list)
    waived: list[str] = field(default_factory=list)
    checked: int = 0


@dataclass
class FleetCompliance:
    check_mode: bool
    hosts: list[HostScore]
    controls: list[ControlFailures]
    unreachable: list[str]
    waivers: dict[str, dict[str, Any]]  # control id -> {reason, expires, hosts}
    on: date | None = None  # the run's date (waiver expiry is judged against it)


def fleet_compliance(report: Mapping[str, Any]) -> FleetCompliance:
    """Scores and per-control failures of every host of the report that ran controls."""
    check_mode = bool(report.get("check_mode"))
    on = run_date(report.get("started"))
    hosts: list[HostScore] = []
    controls: dict[str, ControlFailures] = {}
    waivers: dict[str, dict[str, Any]] = {}
    unreachable: list[str] = []
    for name, host in sorted((report.get("hosts") or {}).items()):
        extra = host.get("extra") or {}
        if host.get("unreachable"):
            unreachable.append(name)
        rows = control_rows(list(host.get("tasks") or []), check_mode,
                            list(extra.get("waivers") or []), on)
        if not rows:
            continue
        passed = sum(1 for r in rows if r["passed"])
        failed = sum(1 for r in rows if not r["passed"] and not r["waived"])
        waived = sum(1 for r in rows if r["waived"])
        judged = passed + failed
        hosts.append(HostScore(name, str(extra.get("client") or ""),
                               round(100.0 * passed / judged, 1) if judged else 100.0,
                               passed, failed, waived))
        for row in rows:
            entry = controls.setdefault(row["id"], ControlFailures(row["id"], row["title"]))
            entry.checked += 1
            if row["waived"]:
                entry.waived.append(name)
                waiver = waivers.setdefault(row["id"], {
                    "title": row["title"], "reason": row["waiver"]["reason"],
                    "expires": row["waiver"]["expires"], "hosts": []})
                waiver["hosts"].append(name)
            elif not row["passed"]:
                entry.failing.append(name)
    failing = sorted((c for c in controls.values() if c.failing),
                     key=lambda c: (-len(c.failing), _natural(c.id)))
    # An audit is a run whose controls ran in check mode: `--check`, or a play's own
    # `check_mode:` (the nightly audits the baseline inside a real run).
    audit = check_mode or _controls_all_checked(report)
    return FleetCompliance(audit, hosts, failing, unreachable, waivers, on)


def _controls_all_checked(report: Mapping[str, Any]) -> bool:
    """Controls ran in check mode and none changed a host for real (read-only probes,
    which run outside check mode to see the state, change nothing)."""
    tasks = [task for host in (report.get("hosts") or {}).values()
             for task in host.get("tasks") or []
             if control_ids(list(task.get("tags") or []))]
    return any(t.get("check_mode") for t in tasks) and not any(
        t.get("changed") and not t.get("check_mode") for t in tasks)


def print_summary(report: Mapping[str, Any], console: Console | None = None,
                  report_path: str | None = None, max_lines: int = MAX_LINES) -> int:
    """Print the summary; returns the number of lines (0: the run had no controls)."""
    lines = summary_lines(report, report_path, max_lines)
    # Off a terminal (a nightly log) rich assumes 80 columns; keep the lines whole.
    out = console or Console(width=None if sys.stdout.isatty() else 160, emoji=False)
    for line in lines:
        out.print(line, overflow="ellipsis", no_wrap=True, highlight=False)
    return len(lines)


def summary_lines(report: Mapping[str, Any], report_path: str | None = None,
                  max_lines: int = MAX_LINES) -> list[str]:
    """The summary as rich-markup lines, never more than `max_lines` (empty: no controls)."""
    fleet = fleet_compliance(report)
    if not fleet.hosts:
        return []
    clients = sorted({h.client for h in fleet.hosts})
    mode = ("audit run: a control fails where it would change" if fleet.check_mode
            else "enforcing run: a control fails where its task failed")
    lines = [f"[bold]Compliance[/bold]: {_count(len(fleet.hosts), 'host')}"
             + (f", {len(clients)} clients" if len(clients) > 1 else "") + f" ({mode})"]
    lines += _score_lines(fleet, clients)
    if fleet.unreachable:
        lines.append(f"  [red]unreachable[/red] ({len(fleet.unreachable)}): "
                     + _names(fleet.unreachable, 8))
    tail = _waiver_lines(fleet)
    where = report_path or "REPORT.json"
    footer = [f"Every control of a host: pyengine compliance {where} --host HOST (or --all)"
              + ("" if report_path else "; keep the report with --report-json FILE")]
    room = max_lines - len(lines) - len(tail) - len(footer) - 1
    if fleet.controls:
        lines.append(f"[bold]Failing controls[/bold] ({len(fleet.controls)}, most hosts first):")
        shown = fleet.controls if len(fleet.controls) <= room else fleet.controls[:room - 1]
        for control in shown:
            lines.append(f"  {_label(control.id, control.title)}: "
                         f"fails on [red]{len(control.failing)}[/red] of {control.checked} "
                         f"hosts" + (f" ({_names(control.failing, 3)})"
                                     if len(control.failing) <= 3
                                     and len(control.failing) < control.checked else ""))
        if len(shown) < len(fleet.controls):
            lines.append(f"  … and {len(fleet.controls) - len(shown)} more controls")
    else:
        lines.append("[green]No failing control[/green]")
    return (lines + tail + footer)[:max_lines]


def _score_lines(fleet: FleetCompliance, clients: list[str]) -> list[str]:
    """One line per host when few, else one per client (its average and worst host)."""
    if len(fleet.hosts) <= PER_HOST_UP_TO:
        width = max(len(h.host) for h in fleet.hosts)
        return [f"  {escape(h.host):<{width}}  {_score(h.score)}  {h.passed} pass, {h.failed} fail"
                + (f", {h.waived} waived" if h.waived else "")
                + (f"  [dim]{escape(h.client)}[/dim]" if h.client and len(clients) > 1 else "")
                for h in sorted(fleet.hosts, key=lambda h: (h.score, h.host))]
    out = []
    width = max(len(c) for c in clients) or 1
    by_client = {c: [h for h in fleet.hosts if h.client == c] for c in clients}
    ranked = sorted(by_client.items(), key=lambda kv: min(h.score for h in kv[1]))
    limit = 10
    for client, members in ranked[:limit if len(ranked) <= limit else limit - 1]:
        worst = min(members, key=lambda h: (h.score, h.host))
        average = sum(h.score for h in members) / len(members)
        out.append(f"  {escape(client or 'ungrouped'):<{width}}  {len(members):>3} hosts  "
                   f"score {_score(average)}  worst {_score(worst.score)} ({escape(worst.host)})")
    if len(ranked) > limit:
        rest = ranked[limit - 1:]
        out.append(f"  … {len(rest)} more clients "
                   f"({sum(len(m) for _, m in rest)} hosts), all at or above "
                   f"{min(h.score for _, m in rest for h in m):g}%")
    return out


def _waiver_lines(fleet: FleetCompliance) -> list[str]:
    if not fleet.waivers:
        return []
    lines = [f"[bold]Waived[/bold] ({_count(len(fleet.waivers), 'control')}, not counted as "
             f"failed):"]
    items = sorted(fleet.waivers.items(), key=lambda kv: _natural(kv[0]))
    for cid, waiver in items[:3]:
        lines.append(f"  {_label(cid, waiver['title'])}: {_count(len(waiver['hosts']), 'host')}, "
                     f"until {waiver['expires']}{_soon(waiver['expires'], fleet.on)} "
                     f"({escape(waiver['reason'][:60])})")
    if len(items) > 3:
        lines.append(f"  … and {len(items) - 3} more waived controls")
    return lines


_LEADING_NUMBER = re.compile(r"^\d+(\.[0-9x]+)+\s+")


def _soon(expires: str, on: date | None, days: int = 30) -> str:
    """' (expires in N days)' when a waiver runs out within `days` of the run."""
    try:
        left = (date.fromisoformat(str(expires)) - (on or date.today())).days
    except ValueError:
        return ""
    return f" [yellow](expires in {left} days)[/yellow]" if left <= days else ""


def _label(control_id: str, title: str) -> str:
    """`<number> <title>`: task names often start with a control number, this one's or
    (a task tagged with several controls) another's; the line shows this one's."""
    number = control_number(control_id)
    title = _LEADING_NUMBER.sub("", title)
    text = f"{number} {title}".strip()
    return escape(text if len(text) <= 70 else text[:69] + "…")


def _score(value: float) -> str:
    colour = "green" if value >= 90 else "yellow" if value >= 70 else "red"
    return f"[{colour}]{value:5.1f}%[/{colour}]"


def _count(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _names(names: list[str], limit: int) -> str:
    shown = escape(", ".join(names[:limit]))
    return shown + (f" +{len(names) - limit}" if len(names) > limit else "")
