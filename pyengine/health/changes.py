"""What the run history adds to a host's health result before it is reported.

The `health` module sees one moment of one host; the controller knows the nights
before. For each host with a health result (`extra.health`, pyengine/report/extra.py)
this adds, before the JSON report, the history row and the alerts are written:

- `trend` rows: days until each filesystem is full at the rate of the last days
  (warn/crit at the module's `trend_days_warn`/`trend_days_crit`);
- a `new_ports` row: listening ports that the host's previous health run did not have;
- `changes`: items of checks (a filesystem, a certificate, ...) whose state differs from
  the previous run. The alerts send only these, so a disk that stays at 93% alerts once,
  not every night. An event check (`new_ports`) going back to ok is not a change worth a
  message.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from datetime import datetime, timezone
from typing import Any

from pyengine.health.trend import growth, parse_time, trend_state
from pyengine.history.db import HealthSample, HistoryDB

RANK = {"ok": 0, "warn": 1, "crit": 2}
EVENT_CHECKS = {"new_ports"}
TREND_WINDOW_DAYS = 7.0


def worst(states: Iterable[str]) -> str:
    found = "ok"
    for state in states:
        if RANK.get(state, 0) > RANK[found]:
            found = state
    return found


def summarize(rows: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """{check: {state, reason}}: each check's worst row (the first of equals)."""
    out: dict[str, dict[str, str]] = {}
    for row in rows:
        state = str(row.get("state", "ok"))
        current = out.get(str(row.get("check")))
        if current is None or RANK.get(state, 0) > RANK.get(current["state"], 0):
            out[str(row.get("check"))] = {"state": state, "reason": str(row.get("reason", ""))}
    return out


def previous_states(samples: list[HealthSample]) -> dict[tuple[str, str], str]:
    """{(check, item): worst state} of a stored run's rows (listening-port rows aside)."""
    states: dict[tuple[str, str], str] = {}
    for sample in samples:
        if sample.check == "listen":
            continue
        key = (sample.check, sample.item)
        states[key] = worst([states.get(key, "ok"), sample.state])
    return states


def current_states(rows: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, str]]:
    """{(check, item): {state, reason}}: the worst row of each item of each check."""
    out: dict[tuple[str, str], dict[str, str]] = {}
    for row in rows:
        if row.get("skipped"):
            continue
        key = (str(row.get("check", "")), str(row.get("item", "")))
        state = str(row.get("state", "ok"))
        if key not in out or RANK.get(state, 0) > RANK.get(out[key]["state"], 0):
            out[key] = {"state": state, "reason": str(row.get("reason", ""))}
    return out


def trend_rows(db: HistoryDB, host: str, health: dict[str, Any],
               window_days: float = TREND_WINDOW_DAYS) -> list[dict[str, Any]]:
    """A `trend` row per filesystem whose usage grows (days until full)."""
    taken = parse_time(str(health.get("taken", ""))) or time.time()
    since = datetime.fromtimestamp(taken - window_days * 86400, timezone.utc).isoformat()
    limits = health.get("thresholds") or {}
    warn_days = float(limits.get("trend_days_warn", 14.0))
    crit_days = float(limits.get("trend_days_crit", 3.0))
    rows = []
    for check in health.get("checks") or []:
        if check.get("check") != "disk" or not isinstance(check.get("value"), (int, float)):
            continue
        mount = str(check.get("item", ""))
        points = [(stamp, float(s.value)) for s in db.health_samples(host, "disk", mount,
                                                                        since=since)
                  if s.value is not None and (stamp := parse_time(s.taken)) is not None
                  and stamp < taken]
        points.append((taken, float(check["value"])))
        found = growth(points)
        if found is None:
            continue
        check["rate_per_day"] = found.rate_per_day
        check["days_until_full"] = found.days_until_full
        if found.days_until_full is None:
            continue
        state = trend_state(found.days_until_full, warn_days, crit_days)
        rows.append({"check": "trend", "item": mount, "state": state,
                     "value": found.days_until_full,
                     "reason": f"{mount} full in ~{found.days_until_full:g} days at "
                               f"{found.rate_per_day:+.2f}%/day ({found.samples} samples)"})
    return rows


def new_port_row(previous: list[HealthSample], health: dict[str, Any]) -> dict[str, Any] | None:
    """A `new_ports` row against the previous health run (None without one, or when this
    run did not list ports)."""
    if "ports" not in (health.get("ran") or []) or not previous:
        return None
    before = {s.item for s in previous if s.check == "listen"}
    if not before and not any(s.check == "ports" for s in previous):
        return None  # the previous run did not look at ports
    new = [p for p in health.get("ports") or [] if str(p.get("port")) not in before]
    if not new:
        return {"check": "new_ports", "item": "", "state": "ok", "value": 0,
                "reason": "no new listening ports since the last run"}
    names = ", ".join(f"{p['port']}" + (f" ({p['process']})" if p.get("process") else "")
                      for p in new)
    return {"check": "new_ports", "item": "", "state": "warn", "value": len(new),
            "reason": f"new listening ports since the last run: {names}",
            "ports": [p.get("port") for p in new]}


def state_changes(previous: dict[tuple[str, str], str],
                  current: dict[tuple[str, str], dict[str, str]],
                  first_run: bool) -> list[dict[str, str]]:
    """Items of checks (a filesystem, a certificate, a job, or the check itself) whose
    state moved since the previous run; on a host's first run, every one not ok. Per item,
    so a second disk filling up alerts while the first is still full. An item that is
    gone (unmounted, a certificate removed) is no change."""
    changes = []
    for (check, item), now in sorted(current.items()):
        before = previous.get((check, item), "ok")
        if now["state"] == before or (first_run and now["state"] == "ok"):
            continue
        if check in EVENT_CHECKS and now["state"] == "ok":
            continue
        changes.append({"check": check, "item": item, "from": before, "to": now["state"],
                        "reason": now["reason"]})
    return changes


def annotate_host(db: HistoryDB, host: str, health: dict[str, Any]) -> None:
    """Add trend and new-port rows, the recomputed summary and state, and `changes`."""
    previous = db.last_health(host)
    rows = list(health.get("checks") or [])
    rows += trend_rows(db, host, health)
    port_row = new_port_row(previous, health)
    if port_row is not None:
        rows.append(port_row)
    summary = summarize(rows)
    health["checks"] = rows
    health["summary"] = summary
    health["state"] = worst(r["state"] for r in summary.values())
    health["changes"] = state_changes(previous_states(previous), current_states(rows),
                                      not previous)


def annotate(report: dict[str, Any], db: HistoryDB) -> None:
    """Annotate every host of a report (before this run is recorded in `db`)."""
    for host, data in sorted((report.get("hosts") or {}).items()):
        health = (data.get("extra") or {}).get("health")
        if isinstance(health, dict):
            annotate_host(db, host, health)
