"""What a run leaves behind for a scheduler and a morning reader.

After the hosts are done: the JSON report (with each host's posture `extra`:
client, compliance, patches, drift — see pyengine/report/extra.py), the JUnit file,
a row set in the SQLite history and, when something needs a person, the alerts.
Health results are first compared with the history (trends, new ports, state changes).
Every one of them is built from the same masked report dict, so none can show a
secret the others hide. A failing alert or history write is reported in one line
and never changes the run's exit code: the hosts' outcome is what that code says.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyengine.alerts import AlertConfig, send_alerts
from pyengine.errors import PyengineError
from pyengine.executor.results import RunResult
from pyengine.masking import mask
from pyengine.report.extra import host_extra
from pyengine.report.json_report import report_dict


@dataclass
class RecordOptions:
    """Where the records go (None: not written)."""

    report_json: Path | None = None
    report_junit: Path | None = None
    history_db: str | Path | None = None  # a SQLite file or a postgresql:// URL
    alerts: AlertConfig | None = None
    inventory: str = ""
    playbook_dir: Path | None = None


def client_of(group_names: list[str], host_vars: Mapping[str, Any]) -> str:
    """The client a host belongs to: `pyengine_client`, else its first group."""
    explicit = host_vars.get("pyengine_client")
    if explicit:
        return str(explicit)
    groups = [g for g in group_names if g not in ("all", "ungrouped")]
    return groups[0] if groups else "ungrouped"


def full_report(run: RunResult, exit_code: int, clients: Mapping[str, str],
                waivers: Mapping[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """The JSON report dict plus each host's posture `extra` (masked); `waivers` are each
    host's baseline waivers, judged against the run's start date."""
    from pyengine.report.compliance_waivers import run_date

    data = report_dict(run, exit_code)
    on = run_date(data.get("started"))
    for name, host in data["hosts"].items():
        host["extra"] = host_extra(host, run.check_mode, clients.get(name, ""),
                                   (waivers or {}).get(name), on)
    masked: dict[str, Any] = mask(data)
    return masked


_PREFETCHED: dict[Path, tuple[threading.Thread, list[str]]] = {}


def prefetch_git_revision(folder: Path | None) -> None:
    """Ask git now, in a thread, while the hosts run: asked after the last result, its two
    commands were time the user waited for (issue 17). `git_revision` collects it."""
    if folder is None or folder in _PREFETCHED:
        return
    found: list[str] = []
    thread = threading.Thread(target=lambda: found.append(_ask_git(folder)),
                              name="git-revision", daemon=True)
    thread.start()
    _PREFETCHED[folder] = (thread, found)


def git_revision(folder: Path | None) -> str:
    """The playbook repository's commit (with '+dirty' for local edits), or ''."""
    if folder is None:
        return ""
    prefetched = _PREFETCHED.pop(folder, None)
    if prefetched is not None:
        prefetched[0].join(25)
        if prefetched[1]:
            return prefetched[1][0]
    return _ask_git(folder)


def _ask_git(folder: Path) -> str:
    try:
        rev = subprocess.run(["git", "-C", str(folder), "rev-parse", "HEAD"], capture_output=True,
                             text=True, timeout=10)
        if rev.returncode != 0:
            return ""
        dirty = subprocess.run(["git", "-C", str(folder), "status", "--porcelain"],
                               capture_output=True, text=True, timeout=10)
        return rev.stdout.strip() + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.SubprocessError):
        return ""


def write_records(run: RunResult, exit_code: int, options: RecordOptions,
                  clients: Mapping[str, str], warn: Callable[[str], None],
                  waivers: Mapping[str, list[dict[str, str]]] | None = None) -> dict[str, Any]:
    """Write every configured record; returns the report dict they were made from."""
    from pyengine.history.db import HistoryDB
    from pyengine.report.json_report import write_report_dict

    report = full_report(run, exit_code, clients, waivers)
    if options.history_db and any((h.get("extra") or {}).get("health")
                                  for h in report["hosts"].values()):
        # Trends, new ports and state changes need the nights before this one.
        from pyengine.health.changes import annotate

        try:
            with HistoryDB(options.history_db) as db:
                annotate(report, db)
        except Exception as err:  # as below: a broken history must not hide the run
            warn(f"health history not read from {options.history_db}: {err}")
    if options.report_json:
        write_report_dict(report, options.report_json)
    if options.report_junit:
        from pyengine.report.junit import write_junit  # xml.etree: ~50 ms, only when asked

        write_junit(report, options.report_junit)
    if options.history_db:
        try:
            with HistoryDB(options.history_db) as db:
                db.record_run(report, inventory=options.inventory,
                              git_revision=git_revision(options.playbook_dir))
        except Exception as err:  # sqlite3, disk, schema: a broken history must not hide the run
            warn(f"history not recorded in {options.history_db}: {err}")
    if options.alerts and options.alerts.configured:
        try:
            sent = send_alerts(report, options.alerts)
            if sent:
                warn(f"alert sent by {' and '.join(sent)}")
        except PyengineError as err:
            warn(str(err))
    return report
