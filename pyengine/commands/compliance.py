"""`pyengine compliance REPORT_JSON`: the per-host compliance table of a saved run report."""

from __future__ import annotations

import json
from pathlib import Path

import click

from pyengine.errors import PyengineError
from pyengine.report.compliance import print_compliance


@click.command("compliance")
@click.argument("report_json", type=click.Path(exists=True, dir_okay=False))
@click.option("--failing", is_flag=True, help="Show only the failing controls.")
def compliance_cmd(report_json: str, failing: bool) -> None:
    """Show the per-host compliance table of a run's JSON report (--report-json)."""
    try:
        report = json.loads(Path(report_json).read_text())
    except (OSError, ValueError) as err:
        raise PyengineError(f"{report_json}: not a JSON report ({err})") from None
    if not print_compliance(report, failing_only=failing):
        click.echo("no control tasks (tags cis_*/win_*/ctl_*) in this report")
