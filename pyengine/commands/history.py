"""`pyengine history`: what the last runs did, from the SQLite history."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.table import Table

from pyengine.commands.run_options import history_db_option
from pyengine.history.db import HistoryDB, default_history_target
from pyengine.history.dialect import exists as history_exists


@click.command()
@click.option("--host", "host", default=None, help="Only runs that touched this host.")
@click.option("--last", "last", default=20, show_default=True, help="How many runs to list.")
@history_db_option
def history(host: str | None, last: int, history_db: str | None, db_path: str | None) -> None:
    """List recent runs; with --host, that host's outcome in each."""
    path = history_db or db_path or default_history_target()
    if not history_exists(path):
        click.echo(f"no history yet ({path})")
        return
    # Off a terminal (cron, CI, pipes) rich would wrap at 80 columns; keep rows whole.
    console = Console(width=None if sys.stdout.isatty() else 200)
    with HistoryDB(path) as db:
        table = Table(title=f"pyengine runs ({db.location})")
        for column in ("run", "started", "playbook", "user", "exit"):
            table.add_column(column)
        if host:
            for column in ("ok", "changed", "failed", "unreachable"):
                table.add_column(column, justify="right")
        for run in db.runs(host=host, last=last):
            row = [str(run.id), run.started, run.playbook, run.user, str(run.exit_code)]
            if host:
                hr = next(h for h in db.host_results(run.id) if h["host"] == host)
                row += [str(hr["ok"]), str(hr["changed"]), str(hr["failed"]),
                        "yes" if hr["unreachable"] else ""]
            table.add_row(*row)
        console.print(table)
