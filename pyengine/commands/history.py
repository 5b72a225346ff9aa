"""`pyengine history`: what the last runs did, from the history (SQLite or PostgreSQL);
`--jobs` lists the jobs of distributed submissions (which worker ran each, how often)."""

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
@click.option("--jobs", "submission", default=None, is_flag=False, flag_value="",
              metavar="[SUBMISSION]",
              help="List the jobs of `pyengine submit` runs (of one submission if given).")
@history_db_option
def history(host: str | None, last: int, submission: str | None, history_db: str | None,
            db_path: str | None) -> None:
    """List recent runs; with --host, that host's outcome in each."""
    path = history_db or db_path or default_history_target()
    if not history_exists(path):
        click.echo(f"no history yet ({path})")
        return
    # Off a terminal (cron, CI, pipes) rich would wrap at 80 columns; keep rows whole.
    console = Console(width=None if sys.stdout.isatty() else 200, emoji=False)
    if submission is not None:
        with HistoryDB(path) as db:
            _print_jobs(console, db, submission or None, last)
        return
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


def _print_jobs(console: Console, db: HistoryDB, submission: str | None, last: int) -> None:
    table = Table(title=f"pyengine jobs ({db.location})")
    for column in ("job", "state", "worker", "attempts", "run", "exit", "updated", "hosts",
                   "note"):
        table.add_column(column)
    for job in db.jobs(submission)[-last:]:
        hosts = str(job["hosts"])
        table.add_row(job["id"], job["state"], job["worker"], str(job["attempts"]),
                      str(job["run_id"] or ""), "" if job["exit_code"] is None
                      else str(job["exit_code"]), job["updated"],
                      hosts if len(hosts) < 40 else hosts[:37] + "...", job["note"])
    console.print(table)
