"""`pyengine report`: the self-contained HTML posture page from the run history."""

from __future__ import annotations

from pathlib import Path

import click

from pyengine.commands.run_options import history_db_option
from pyengine.errors import PyengineError
from pyengine.history.db import HistoryDB, default_history_target
from pyengine.history.dialect import exists as history_exists
from pyengine.report.html import render_html
from pyengine.report.json_report import write_text_atomically
from pyengine.report.posture import client_trends, collect_postures, parse_since


@click.command()
@click.option("--since", default="7d", show_default=True,
              help="Runs started after this: 7d, 24h, 2w or a date.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path),
              default=Path("report.html"), show_default=True, help="Where to write the page.")
@history_db_option
def report(since: str, output: Path, history_db: str | None, db_path: str | None) -> None:
    """Write one HTML page with per-client and per-host posture and trends."""
    path = history_db or db_path or default_history_target()
    if not history_exists(path):
        raise PyengineError(f"no run history at {path}: run a playbook first")
    start = parse_since(since)
    with HistoryDB(path) as db:
        postures = collect_postures(db, start)
        trends = client_trends(db)
    page = render_html(postures, since=start.strftime("%Y-%m-%d %H:%M UTC"), trends=trends)
    write_text_atomically(output, page)
    click.echo(f"wrote {output} ({len(postures)} hosts)")
