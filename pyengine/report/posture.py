"""Build each host's posture from the run history, for the HTML report and alerts.

The newest run of each host inside the window decides its status; the per-host
`extra` data stored with each run (compliance, patches, drift, health — see
docs/ARCHITECTURE.md) fills the other columns; older runs give the trend.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any

from pyengine.errors import PyengineError
from pyengine.history.db import HistoryDB
from pyengine.report.html import HostPosture, host_status

_SINCE_RE = re.compile(r"^(\d+)\s*([mhdw])$")
_UNITS = {"m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_since(text: str, now: datetime | None = None) -> datetime:
    """'7d', '24h', '2w', '30m' or an ISO date/time → an aware UTC datetime."""
    now = now or datetime.now(timezone.utc)
    match = _SINCE_RE.match(text.strip())
    if match:
        return now - timedelta(**{_UNITS[match.group(2)]: int(match.group(1))})
    try:
        parsed = datetime.fromisoformat(text.strip())
    except ValueError:
        raise PyengineError(
            f"--since {text!r}: expected a duration like 7d, 24h, 2w or a date like 2026-11-01"
        ) from None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def _started(value: str) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=timezone.utc)


def collect_postures(db: HistoryDB, since: datetime, max_runs: int = 500) -> list[HostPosture]:
    """One HostPosture per host seen in a run started at or after `since`."""
    runs = [r for r in db.runs(last=max_runs) if (_started(r.started) or since) >= since]
    runs.sort(key=lambda r: r.id)  # oldest first, so the last one seen wins
    postures: dict[str, HostPosture] = {}
    for run in runs:
        for hr in db.host_results(run.id):
            extra = hr.get("extra") or {}
            compliance = extra.get("compliance") or {}
            patches = extra.get("patches") or {}
            previous = postures.get(hr["host"])
            posture = HostPosture(
                host=hr["host"],
                client=str(extra.get("client") or (previous.client if previous else "ungrouped")),
                last_run=run.id,
                last_started=run.started,
                status=_status(hr, run.check_mode),
                check_mode=run.check_mode,
                ok=hr["ok"],
                changed=hr["changed"],
                failed=hr["failed"],
                unreachable=hr["unreachable"],
                failed_tasks=[
                    f"{t['name']}: {t['error']}"[:200]
                    for t in db.task_results(run.id, hr["host"])
                    if t["status"] in ("failed", "unreachable")
                ],
            )
            if previous:  # carry the last known facts when this run did not measure them
                posture.compliance_score = previous.compliance_score
                posture.failing_controls = previous.failing_controls
                posture.waived_controls = previous.waived_controls
                posture.pending_patches = previous.pending_patches
                posture.security_patches = previous.security_patches
                posture.reboot_required = previous.reboot_required
                posture.trend_score = previous.trend_score
                posture.trend_changed = previous.trend_changed
                posture.health_state = previous.health_state
                posture.health_issues = previous.health_issues
            if "score" in compliance:
                posture.compliance_score = float(compliance["score"])
                posture.failing_controls = [_short_title(c) for c in compliance.get("failing", [])]
                posture.waived_controls = [_short_title(c)
                                           for c in compliance.get("waived_controls", [])]
                posture.trend_score = [*posture.trend_score, posture.compliance_score]
            if patches:
                posture.pending_patches = patches.get("pending")
                posture.security_patches = patches.get("security")
                posture.applied_patches = list(patches.get("applied", []))
                posture.reboot_required = bool(patches.get("reboot_required", False))
            health = extra.get("health")
            if isinstance(health, dict) and "state" in health:
                posture.health_state = str(health["state"])
                posture.health_issues = health_issues(health)
            posture.drift = list(extra.get("drift", []))
            posture.drift_diffs = dict(extra.get("drift_diffs") or {})
            posture.trend_changed = [*posture.trend_changed, hr["changed"]]
            postures[hr["host"]] = posture
    return list(postures.values())


def _short_title(control: dict[str, str]) -> dict[str, str]:
    """Task names often start with the control number; the page shows the id already."""
    number = str(control.get("id", "")).split("_", 1)[-1]
    title = str(control.get("title", ""))
    if number and title.startswith(number + " "):
        title = title[len(number) + 1:]
    return {**control, "title": title}


def health_issues(health: dict[str, Any]) -> list[dict[str, str]]:
    """The rows of a stored health result that are not ok: check, item, state, reason,
    value (as text; the days of a trend or a certificate sort the attention list)."""
    issues = []
    for row in health.get("checks") or []:
        if isinstance(row, dict) and row.get("state") in ("warn", "crit"):
            issues.append({"check": str(row.get("check", "")), "item": str(row.get("item", "")),
                           "state": str(row["state"]), "reason": str(row.get("reason", "")),
                           "value": str(row.get("value", ""))})
    issues.sort(key=lambda i: (i["state"] != "crit", i["check"], i["item"]))
    return issues


def _status(counts: dict[str, Any], check_mode: bool) -> str:
    """An audit run changes nothing: its "changed" is "would change"."""
    status = host_status(counts)
    return "would change" if check_mode and status == "changed" else status


TREND_RUNS = 30


def client_trends(db: HistoryDB, runs: int = TREND_RUNS, max_runs: int = 1000
                  ) -> dict[str, list[dict[str, Any]]]:
    """Per client, its last `runs` runs (oldest first, whatever --since says): the average
    compliance score of the hosts that measured one (None if none did), and how many hosts
    failed and were unreachable. A run that did not touch a client is no point of it."""
    points: dict[str, list[dict[str, Any]]] = {}
    for run in db.runs(last=max_runs):  # newest first
        per_client: dict[str, list[dict[str, Any]]] = {}
        for hr in db.host_results(run.id):
            client = str((hr.get("extra") or {}).get("client") or "ungrouped")
            per_client.setdefault(client, []).append(hr)
        for client, rows in per_client.items():
            series = points.setdefault(client, [])
            if len(series) >= runs:
                continue
            scores = [float(r["extra"]["compliance"]["score"]) for r in rows
                      if "score" in ((r.get("extra") or {}).get("compliance") or {})]
            series.append({
                "run": run.id, "started": run.started,
                "score": round(sum(scores) / len(scores), 1) if scores else None,
                "failed": sum(1 for r in rows if r["failed"] and not r["unreachable"]),
                "unreachable": sum(1 for r in rows if r["unreachable"]),
            })
        if points and all(len(s) >= runs for s in points.values()):
            break
    return {client: list(reversed(series)) for client, series in points.items()}
