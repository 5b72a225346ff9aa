"""The full compliance table of a host: every control, pass, fail or waived, what would
change, and the host's score (`pyengine compliance REPORT --host H` or `--all`; after a
run the fleet summary of report/compliance_summary.py is printed instead).

`pyengine.report.extra` decides each control's pass or fail (`control_rows`) and the
score (`compliance`) for the history, the HTML page and this table; this module adds the
OpenSCAP scan of the same run and renders the rows with rich after the recap.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from pyengine.report.compliance_waivers import run_date
from pyengine.report.extra import compliance, control_ids, control_rows


def scap_summary(tasks: list[Mapping[str, Any]]) -> dict[str, Any] | None:
    """The last OpenSCAP scan (module scap_eval) of the host in this run, if any."""
    for task in reversed(tasks):
        result = task.get("result") or {}
        if task.get("module") == "scap_eval" and task.get("status") == "ok" and result:
            return {"score": result.get("score"), "counts": result.get("counts") or {},
                    "failed_rules": list(result.get("failed_rules") or [])}
    return None


def host_compliance(host: Mapping[str, Any], check_mode: bool,
                    started: str | None = None) -> dict[str, Any] | None:
    """Score (from report.extra) plus every control's row and the OpenSCAP scan of the
    same run when there was one; None without controls. The host's waivers (kept in its
    `extra`) are judged against the run's start date."""
    tasks = list(host.get("tasks") or [])
    waivers = list((host.get("extra") or {}).get("waivers") or [])
    on = run_date(started)
    summary = compliance(tasks, check_mode, waivers, on)
    if summary is None:
        return None
    return dict(summary, controls=control_rows(tasks, check_mode, waivers, on),
                scap=scap_summary(tasks))


def compliance_tables(report: Mapping[str, Any], failing_only: bool = False,
                      hosts: list[str] | None = None) -> list[Table]:
    """One rich table per host (all, or those named) of a JSON report that ran controls."""
    run_check = bool(report.get("check_mode"))
    tables = []
    for name, host in sorted((report.get("hosts") or {}).items()):
        if hosts is not None and name not in hosts:
            continue
        data = host_compliance(host, run_check, report.get("started"))
        if data is None:
            continue
        tasks = list(host.get("tasks") or [])
        check_mode = run_check or any(
            t.get("check_mode") for t in tasks if control_ids(list(t.get("tags") or [])))
        verb = "would change" if check_mode else "failed"
        scap = data["scap"]
        judge = ""
        if scap is not None:
            counts = scap["counts"]
            judge = (f"; OpenSCAP {scap['score']} ({counts.get('pass', 0)} pass, "
                     f"{counts.get('fail', 0)} fail)")
        waived = f", {data['waived']} waived" if data.get("waived") else ""
        table = Table(title=f"{name}: compliance {data['score']:g}% "
                            f"({data['passed']} pass, {data['failed']} fail"
                            f"{waived}"
                            f"{', audit only' if check_mode else ''}){judge}",
                      title_justify="left", show_lines=False)
        table.add_column("control", no_wrap=True)
        table.add_column("title")
        table.add_column("state", no_wrap=True)
        table.add_column(verb)
        rows = [r for r in data["controls"] if not (failing_only and r["passed"])]
        if not rows:
            table.add_row("", "no failing control", "", "")
        for row in rows:
            state = ("[green]pass[/green]" if row["passed"] else
                     "[yellow]waived[/yellow]" if row["waived"] else "[red]FAIL[/red]")
            number = row["id"].split("_", 1)[-1]
            title = row["title"]
            if title.startswith(number + " "):  # task names often start with the id
                title = title[len(number) + 1:]
            detail = row["detail"]
            if row["waived"]:
                detail = (f"waived until {row['waiver']['expires']}: {row['waiver']['reason']}"
                          + (f"; {detail}" if detail else ""))
            table.add_row(number, escape(title), state, escape(detail))
        tables.append(table)
    return tables


def print_compliance(report: Mapping[str, Any], console: Console | None = None,
                     failing_only: bool = False, hosts: list[str] | None = None) -> int:
    """Print the tables; returns how many hosts had controls (0: printed nothing)."""
    tables = compliance_tables(report, failing_only=failing_only, hosts=hosts)
    out = console or Console(emoji=False)
    for table in tables:
        out.print(table)
    return len(tables)
