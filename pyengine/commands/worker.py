"""`pyengine worker [--site NAME]`: run submitted jobs with the same engine as `run`.

A site's worker consumes only its site's queue, so a runner inside a client's network is
`pyengine worker --site acme` on a machine there; without --site it takes the general
queue. The worker holds its own secrets: vault passwords (--vault-password-file,
$PYENGINE_VAULT_PASSWORD_FILE...) and SSH keys (the inventory's key files on this
machine); a job names a playbook and hosts, nothing more. One job at a time per worker
(the engine already runs a job's hosts in parallel, --forks); run more workers for more.
"""

from __future__ import annotations

import os
import socket
from functools import partial
from pathlib import Path
from typing import Any

import click

from pyengine.commands.run_options import history_db_option
from pyengine.commands.vault_options import vault_from_options, vault_options
from pyengine.errors import EXIT_ERROR, PyengineError


@click.command("worker")
@click.option("--site", default=None, metavar="NAME",
              help="Take only this site's jobs (hosts whose pyengine_site is NAME).")
@click.option("--broker", default=None, metavar="URL",
              help="Broker URL (default: $PYENGINE_BROKER, else redis://127.0.0.1:6379/0).")
@click.option("--project", type=click.Path(file_okay=False, exists=True, path_type=Path),
              default=Path("."), show_default=True,
              help="The project checkout the jobs' playbook and inventory paths are in.")
@click.option("--name", default=None, help="Worker name in the history (default host:pid).")
@click.option("--lease-ttl", default=60.0, show_default=True, type=click.FloatRange(3),
              help="Seconds a host stays leased to a worker that stopped renewing it.")
@history_db_option
@vault_options
def worker(site: str | None, broker: str | None, project: Path, name: str | None,
           lease_ttl: float, history_db: str | None, db_path: str | None,
           **vault_opts: Any) -> None:
    """Run jobs from the queue (Celery) until stopped; results go to the history."""
    from pyengine.distributed.jobs import GENERAL_QUEUE, site_queue
    from pyengine.distributed.queue import broker_url, check_broker, make_app
    from pyengine.history.db import HistoryDB, default_history_target

    if vault_opts.get("ask_vault_pass"):
        raise PyengineError("a worker cannot prompt: give --vault-password-file")
    os.chdir(project)  # jobs name paths inside the checkout; ansible.cfg is read from here
    history = history_db or db_path or default_history_target()
    with HistoryDB(history):
        pass  # reachable and migrated before the first job is taken
    worker_name = name or f"{socket.gethostname()}:{os.getpid()}"
    runner = partial(execute_job, history=history, vault=vault_from_options(**vault_opts),
                     worker=worker_name, ttl=lease_ttl)
    app = make_app(broker_url(broker), runner)
    check_broker(app)
    queue = site_queue(site) if site else GENERAL_QUEUE
    click.echo(f"pyengine worker {worker_name}: queue {queue}, history "
               f"{_shown(history)}", err=True)
    app.Worker(queues=[queue], concurrency=1, pool="solo", loglevel="WARNING",
               hostname=f"{worker_name.replace(':', '-')}@{socket.gethostname()}",
               quiet=True).start()


def _shown(history: str) -> str:
    from pyengine.history.dialect import display

    return display(history)


def execute_job(job_data: dict[str, Any], history: str, vault: Any, worker: str,
                ttl: float) -> dict[str, Any]:
    """Claim the job's hosts, run it, record it; the job's report (masked) is returned to
    the submitter through the result backend."""
    from pyengine.distributed.jobs import Job
    from pyengine.distributed.lease import LeaseKeeper
    from pyengine.distributed.queue import JobBusy
    from pyengine.history.db import HistoryDB

    job = Job.from_dict(job_data)
    with HistoryDB(history) as db:
        claim = db.claim_job(job.id, job.submission, job.hosts, worker, ttl)
    head = {"job": job.id, "label": job.label, "worker": worker, "note": claim.note}
    if claim.outcome == "busy":
        raise JobBusy(claim.holder, wait=max(1.0, min(ttl / 3, 10.0)))
    if claim.outcome == "done":
        # A second delivery of a finished job (its worker died before acknowledging).
        return {**head, **_stored_report(history, claim.run_id), "exit_code": claim.exit_code,
                "note": "already done"}
    try:
        with LeaseKeeper(history, job.id, worker, ttl):
            report = _run(job, vault)
            with HistoryDB(history) as db:
                if any((h.get("extra") or {}).get("health") for h in report["hosts"].values()):
                    from pyengine.health.changes import annotate

                    annotate(report, db)
                run_id = db.record_run(report, inventory=",".join(job.inventories),
                                       git_revision=_revision(job), job=(job.id, worker))
    except PyengineError as err:
        with HistoryDB(history) as db:
            db.finish_job(job.id, worker, "failed", None, err.exit_code, str(err)[:500])
        return {**head, "hosts": {}, "exit_code": err.exit_code, "note": str(err)}
    except Exception as err:
        with HistoryDB(history) as db:
            db.finish_job(job.id, worker, "failed", None, EXIT_ERROR, repr(err)[:500])
        raise
    attempts = ""
    with HistoryDB(history) as db:
        for row in db.jobs(job.submission):
            if row["id"] == job.id:
                attempts = str(row["attempts"])
    return {**head, **report, "run_id": run_id, "attempts": attempts}


def _revision(job: Any) -> str:
    from pyengine.commands.records import git_revision

    return git_revision(Path(job.playbook).resolve().parent)


def _run(job: Any, vault: Any) -> dict[str, Any]:
    """The job through `run`'s own steps: prepare (validate), the executor, the report."""
    from pyengine.commands.ansible_flags import (
        AnsibleFlags,
        apply_to_playbook,
        connection_defaults,
    )
    from pyengine.commands.records import RecordOptions, write_records
    from pyengine.commands.run import host_clients, host_waivers, prepare
    from pyengine.content.ansible_config import current_config
    from pyengine.executor.contracts import RunOptions
    from pyengine.executor.events import Reporter
    from pyengine.executor.run import run_playbook

    config = current_config()
    flags = AnsibleFlags()
    sources, book = prepare((job.playbook,), tuple(job.inventories), job.limit,
                            tuple(job.extra_vars), False, vault,
                            defaults=connection_defaults(flags, config),
                            configured_inventory=config.inventory)
    book = apply_to_playbook(book, flags, config)
    options = RunOptions(check=job.check, tags=set(job.tags), skip_tags=set(job.skip_tags),
                         forks=job.forks or config.forks or 50, limit=job.limit,
                         extra_vars=sources.vm.extra_vars)
    result = run_playbook(book, sources, options, Reporter())

    def warn(text: str) -> None:
        click.echo(f"pyengine worker: {job.label}: {text}", err=True)

    # No file records here: the history is written by the caller with the job's row.
    return write_records(result, result.exit_code, RecordOptions(), host_clients(
        sources, result.hosts), warn, host_waivers(sources, result.hosts, warn))


def _stored_report(history: str, run_id: int | None) -> dict[str, Any]:
    """A finished job's hosts as the history holds them (counts and extra)."""
    from pyengine.history.db import HistoryDB

    if run_id is None:
        return {"hosts": {}}
    with HistoryDB(history) as db:
        rows = db.host_results(run_id)
    return {"run_id": run_id,
            "hosts": {r["host"]: {k: r[k] for k in ("ok", "changed", "failed", "skipped",
                                                     "unreachable", "extra")} for r in rows}}
