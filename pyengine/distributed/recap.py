"""The reports of a submission's jobs as one: a combined JSON and the recap `run` prints."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from pyengine.errors import EXIT_OK, EXIT_TASK_FAILED, EXIT_UNREACHABLE

COUNTS = ("ok", "changed", "unreachable", "failed", "skipped")


def combine(submission: str, playbook: str, reports: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """One report over every job: each host once, each job's worker and run id kept."""
    hosts: dict[str, Any] = {}
    jobs = []
    started, finished = [], []
    for report in reports:
        hosts.update(report.get("hosts", {}))
        jobs.append({key: report.get(key) for key in
                     ("job", "label", "worker", "run_id", "exit_code", "attempts", "note")})
        if report.get("started"):
            started.append(str(report["started"]))
        if report.get("finished"):
            finished.append(str(report["finished"]))
    return {"submission": submission, "playbook": playbook,
            "started": min(started, default=""), "finished": max(finished, default=""),
            "exit_code": exit_code(hosts, jobs), "jobs": jobs, "hosts": hosts}


def exit_code(hosts: dict[str, Any], jobs: list[dict[str, Any]]) -> int:
    """`run`'s rule over all hosts: 4 a host was unreachable, 2 a task failed, else 0; a job
    that ended without hosts (a worker error) counts as failed."""
    if any(h.get("unreachable") for h in hosts.values()):
        return EXIT_UNREACHABLE
    if any(h.get("failed") for h in hosts.values()):
        return EXIT_TASK_FAILED
    if any(int(j.get("exit_code") or 0) not in (EXIT_OK, EXIT_TASK_FAILED, EXIT_UNREACHABLE)
           for j in jobs):
        return EXIT_TASK_FAILED
    return EXIT_OK


def recap_lines(report: dict[str, Any]) -> list[str]:
    """PLAY RECAP style lines, one per host, then one per job."""
    hosts = report.get("hosts", {})
    lines = ["PLAY RECAP (all jobs)"]
    for name in sorted(hosts):
        data = hosts[name]
        counts = " ".join(f"{key}={_count(data.get(key))}" for key in COUNTS)
        lines.append(f"{name} : {counts}")
    for job in report.get("jobs", []):
        extra = f", {job['note']}" if job.get("note") else ""
        lines.append(f"job {job.get('label')}: worker {job.get('worker')}, run "
                     f"{job.get('run_id')}, exit {job.get('exit_code')}{extra}")
    return lines


def _count(value: Any) -> int:
    return int(value) if isinstance(value, (int, float)) else int(bool(value))
