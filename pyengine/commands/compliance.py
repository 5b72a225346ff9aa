"""`pyengine compliance REPORT_JSON`: the fleet summary of a saved run report, or the full
per-host table of every control (--host H, --all)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from pyengine.errors import PyengineError
from pyengine.report.compliance import print_compliance
from pyengine.report.compliance_summary import print_summary


@click.command("compliance")
@click.argument("report_json", type=click.Path(exists=True, dir_okay=False))
@click.option("--host", "hosts", multiple=True, metavar="HOST",
              help="Every control of this host (repeatable).")
@click.option("--all", "all_hosts", is_flag=True, help="Every control of every host.")
@click.option("--failing", is_flag=True, help="In the tables, only the failing controls.")
def compliance_cmd(report_json: str, hosts: tuple[str, ...], all_hosts: bool,
                   failing: bool) -> None:
    """The compliance of a run's JSON report (--report-json): by default the summary
    (scores, failing controls over the hosts, waivers); --host H or --all for the
    per-host tables of every control."""
    try:
        report = json.loads(Path(report_json).read_text())
    except (OSError, ValueError) as err:
        raise PyengineError(f"{report_json}: not a JSON report ({err})") from None
    if not isinstance(report, dict):
        raise PyengineError(f"{report_json}: not a JSON report (not an object)")
    known = set(report.get("hosts") or {})
    unknown = [h for h in hosts if h not in known]
    if unknown:
        raise PyengineError(f"{report_json}: no host {', '.join(unknown)} in this report "
                            f"(hosts: {', '.join(sorted(known)[:10]) or 'none'})")
    # Off a terminal (cron mail, a pipe) keep rows whole instead of wrapping at 80 columns.
    console = Console(width=None if sys.stdout.isatty() else 160, emoji=False)
    if hosts or all_hosts:
        shown = print_compliance(report, console, failing_only=failing,
                                 hosts=list(hosts) if hosts else None)
    else:
        shown = print_summary(report, console, report_path=report_json)
    if not shown:
        click.echo("no control tasks (tags cis_*/win_*/ctl_*) in this report")
