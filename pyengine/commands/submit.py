"""`pyengine submit PLAYBOOK -i INV`: split the hosts into jobs and put them on the queue.

Everything is checked here first, as `run` does (playbook, inventory, variables), then
the broker is asked once: a broker that is down is one line and exit 1, not a hang.
`--split site` sends each `pyengine_site`'s hosts to that site's queue (hosts without one
to the general queue), `--split client` makes a job per client, `--split N` shards of N
hosts. With `--wait` the combined recap is printed and the exit code is `run`'s over
every host (0 ok, 2 a task failed, 4 a host unreachable).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import click

from pyengine.commands.vault_options import vault_from_options, vault_options
from pyengine.errors import EXIT_ERROR, PyengineError


@click.command("submit")
@click.argument("playbook", type=click.Path(dir_okay=False))
@click.option("-i", "--inventory", "inventories", multiple=True, required=True,
              metavar="INVENTORY", help="Inventory file or folder (repeatable).")
@click.option("-l", "--limit", default=None, help="Only hosts matching this pattern.")
@click.option("--split", default="site", show_default=True, metavar="client|site|N",
              help="One job per client, per pyengine_site (its own queue) or per N hosts.")
@click.option("--wait", is_flag=True, help="Wait for every job; print the combined recap.")
@click.option("--timeout", default=6 * 3600, show_default=True, type=click.IntRange(1),
              help="Seconds --wait waits for all jobs.")
@click.option("--broker", default=None, metavar="URL",
              help="Broker URL (default: $PYENGINE_BROKER, else redis://127.0.0.1:6379/0).")
@click.option("-C", "--check", is_flag=True, help="Report what would change; change nothing.")
@click.option("-t", "--tags", multiple=True, help="Only tasks with these tags (comma list).")
@click.option("--skip-tags", multiple=True, help="Skip tasks with these tags (comma list).")
@click.option("-e", "--extra-vars", "extra", multiple=True, metavar="K=V|JSON",
              help="Extra variables (no secrets: they travel through the broker).")
@click.option("-f", "--forks", default=None, type=click.IntRange(1, 1000),
              help="Hosts a worker runs at the same time.")
@click.option("--report-json", type=click.Path(dir_okay=False), default=None,
              help="With --wait: write the combined result as JSON.")
@click.option("--alerts", "alerts_file", type=click.Path(dir_okay=False), default=None,
              help="With --wait: alert settings (YAML), judged on the combined result.")
@click.option("--alert-webhook", default=None, metavar="URL",
              help="With --wait: POST a summary when a host failed, was unreachable or drifted.")
@vault_options
def submit(playbook: str, inventories: tuple[str, ...], limit: str | None, split: str,
           wait: bool, timeout: int, broker: str | None, check: bool, tags: tuple[str, ...],
           skip_tags: tuple[str, ...], extra: tuple[str, ...], forks: int | None,
           report_json: str | None, alerts_file: str | None, alert_webhook: str | None,
           **vault_opts: Any) -> None:
    """Queue PLAYBOOK on the inventory's hosts for `pyengine worker`s."""
    from pyengine.commands.run import host_clients, prepare
    from pyengine.distributed.jobs import (
        SITE_VAR,
        Job,
        new_submission_id,
        reject_secret_extra_vars,
        split_hosts,
    )
    from pyengine.distributed.queue import TASK_NAME, broker_url, check_broker, make_app

    reject_secret_extra_vars(list(extra))
    sources, book = prepare((playbook,), inventories, limit, extra, False,
                            vault_from_options(**vault_opts))
    hosts: list[str] = []
    for play in book.plays:
        hosts += [h for h in sources.play_hosts(play) if h not in hosts]
    if not hosts:
        raise PyengineError(f"{playbook}: no host of the inventory is in its plays")
    clients = host_clients(sources, hosts)
    parts = split_hosts(hosts, split, clients.__getitem__,
                        lambda host: str(sources.inventory_vars(host).get(SITE_VAR) or ""))
    submission = new_submission_id()
    split_tags = [t.strip() for v in tags for t in v.split(",") if t.strip()]
    split_skip = [t.strip() for v in skip_tags for t in v.split(",") if t.strip()]
    jobs = [Job(id=f"{submission}-{index + 1}", submission=submission,
                playbook=_shared_path(playbook), inventories=[_shared_path(p) for p in inventories],
                hosts=members, queue=queue, label=label, check=check, tags=split_tags,
                skip_tags=split_skip, extra_vars=list(extra), forks=forks)
            for index, (label, queue, members) in enumerate(parts)]
    app = make_app(broker_url(broker))
    check_broker(app)
    results = []
    for job in jobs:
        results.append(app.send_task(TASK_NAME, args=[job.to_dict()], queue=job.queue,
                                     task_id=job.id))
        click.echo(f"queued {job.id}: {job.label} -> {job.queue} ({len(job.hosts)} hosts)")
    click.echo(f"submission {submission}: {len(jobs)} jobs, {len(hosts)} hosts")
    if not wait:
        return
    from pyengine.commands.run_options import alert_config

    alerts = alert_config({"alerts_file": alerts_file, "alert_webhook": alert_webhook})
    sys.exit(_wait(submission, playbook, jobs, results, timeout, report_json, alerts))


def _shared_path(path: str) -> str:
    """Relative to the checkout (the current folder) when inside it: the workers' checkout
    is elsewhere on their machines."""
    full = Path(path).resolve()
    try:
        return str(full.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(full)


def _wait(submission: str, playbook: str, jobs: list[Any], results: list[Any], timeout: int,
          report_json: str | None, alerts: Any) -> int:
    import time

    from pyengine.distributed.recap import combine, recap_lines

    deadline = time.monotonic() + timeout
    reports = []
    for job, result in zip(jobs, results, strict=True):
        try:
            value = result.get(timeout=max(1.0, deadline - time.monotonic()),
                               propagate=False)
        except Exception as err:  # the backend's timeout or connection error
            value = err
        if isinstance(value, dict):
            reports.append({**value, "label": job.label})
        else:
            reports.append({"job": job.id, "label": job.label, "hosts": {},
                            "exit_code": EXIT_ERROR, "note": f"no result: {value}"})
    combined = combine(submission, playbook, reports)
    for line in recap_lines(combined):
        click.echo(line)
    if report_json:
        Path(report_json).write_text(json.dumps(combined, indent=2, default=str) + "\n")
    if alerts is not None and alerts.configured:
        from pyengine.alerts import send_alerts

        try:
            sent = send_alerts(combined, alerts)
            if sent:
                click.echo(f"pyengine: alert sent by {' and '.join(sent)}", err=True)
        except PyengineError as err:
            click.echo(f"pyengine: alert not sent: {err}", err=True)
    return int(combined["exit_code"])
