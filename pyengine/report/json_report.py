"""The JSON report (`--report-json FILE`): the whole run, documented and stable.

Schema in docs/ARCHITECTURE.md ("JSON report"); version 1. Every string passes
through `pyengine.masking.mask` here, whatever the executor already masked.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from pyengine.executor.results import HostResult, RunResult, TaskResult
from pyengine.masking import mask

VERSION = 1


def task_dict(task: TaskResult) -> dict[str, Any]:
    return {
        "name": task.name, "module": task.module, "status": task.status,
        "changed": task.changed, "duration_s": task.duration_s, "msg": task.msg,
        "tags": list(task.tags), "play": task.play, "diff": task.diff,
        "result": task.result, "ignored": task.ignored, "rescued": task.rescued,
        "handler": task.handler, "check_mode": task.check_mode,
    }


def host_dict(host: HostResult) -> dict[str, Any]:
    return {
        "ok": host.ok, "changed": host.changed, "failed": host.failed,
        "skipped": host.skipped, "rescued": host.rescued, "ignored": host.ignored,
        "unreachable": host.unreachable,
        "unreachable_msg": host.unreachable_msg, "round_trips": host.round_trips,
        "batches": list(host.batches), "interrupted_during": host.interrupted_during,
        "phases": dict(host.phases),
        "tasks": [task_dict(t) for t in host.tasks],
    }


def report_dict(run: RunResult, exit_code: int | None = None) -> dict[str, Any]:
    """The report as a JSON-ready dict (masked)."""
    data = {
        "version": VERSION, "playbook": run.playbook, "started": run.started,
        "finished": run.finished,
        "exit_code": run.exit_code if exit_code is None else exit_code,
        "check_mode": run.check_mode, "interrupted": run.interrupted,
        "aborted": run.aborted_msg or None,
        "plays_without_hosts": list(run.plays_without_hosts),
        "controller": {"cpu_s": run.controller_cpu_s, "max_rss_mb": run.controller_max_rss_mb},
        "hosts": {name: host_dict(h) for name, h in run.hosts.items()},
    }
    masked: dict[str, Any] = mask(data)
    return masked


def write_text_atomically(path: Path | str, text: str) -> Path:
    """Write a report file so a reader (a scheduler, a dashboard) never sees half of it."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, target)
    return target


def write_report_dict(data: dict[str, Any], path: Path | str) -> Path:
    """Write an already built (and masked) report dict as the JSON report."""
    return write_text_atomically(path, json.dumps(data, indent=2, default=str) + "\n")


def write_report(run: RunResult, path: Path | str, exit_code: int | None = None) -> Path:
    """Write the report of `run`."""
    return write_report_dict(report_dict(run, exit_code), path)
