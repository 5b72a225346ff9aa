"""The controller side of health checks: trends from the history, new ports, state
changes, the alert only on a change, the morning report's column and attention list."""

from __future__ import annotations

import copy
import re
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pyengine.alerts import alert_reasons, summary
from pyengine.health.changes import annotate, state_changes
from pyengine.health.settings import host_arguments
from pyengine.health.trend import growth, trend_state
from pyengine.history.db import SCHEMA_VERSION, HistoryDB
from pyengine.report.extra import host_extra
from pyengine.report.html import render_html
from pyengine.report.posture import collect_postures

NOW = datetime(2026, 12, 4, 2, 0, tzinfo=timezone.utc)


def _health(taken: datetime, used: float, ports: list[int], units: str = "ok") -> dict[str, Any]:
    """A host entry of a JSON report whose `health` task returned these values."""
    checks = [
        {"check": "disk", "item": "/data", "state": "crit" if used >= 90 else "ok",
         "reason": f"/data {used}% used", "value": used},
        {"check": "units", "item": "", "state": units, "reason": "1 failed: pe-fail.service"
         if units != "ok" else "no failed units"},
        {"check": "ports", "item": "", "state": "ok", "reason": "ports",
         "ports": [{"port": p, "addresses": ["0.0.0.0"], "process": "p"} for p in ports]},
    ]
    result = {"changed": False, "state": "ok", "checks": checks, "summary": {},
              "thresholds": {"trend_days_warn": 14.0, "trend_days_crit": 3.0},
              "taken": taken.isoformat(), "ran": ["disk", "units", "ports"]}
    task = {"name": "Health checks", "module": "health", "status": "ok", "changed": False,
            "tags": ["health"], "result": result}
    host = {"ok": 1, "changed": 0, "failed": 0, "skipped": 0, "unreachable": False,
            "round_trips": 2, "tasks": [task]}
    host["extra"] = host_extra(copy.deepcopy(host), False, "acme")
    return host


def _report(taken: datetime, used: float, ports: list[int], units: str = "ok"
            ) -> dict[str, Any]:
    return {"version": 1, "playbook": "health.yml", "started": taken.isoformat(),
            "finished": taken.isoformat(), "exit_code": 0, "check_mode": False,
            "hosts": {"web1": _health(taken, used, ports, units)}}


def _record(db: HistoryDB, report: dict[str, Any]) -> dict[str, Any]:
    annotate(report, db)
    db.record_run(report, user="test")
    health: dict[str, Any] = report["hosts"]["web1"]["extra"]["health"]
    return health


def test_growth_is_a_least_squares_rate_and_days_until_full() -> None:
    day = 86400.0
    trend = growth([(0, 40.0), (day, 50.0), (2 * day, 60.0)])
    assert trend is not None and trend.rate_per_day == 10.0 and trend.days_until_full == 4.0
    assert growth([(0, 40.0), (day, 50.0)]) is None  # too few samples
    assert growth([(0, 40.0), (60, 50.0), (120, 60.0)]) is None  # two minutes say nothing
    flat = growth([(0, 50.0), (day, 49.0), (2 * day, 50.0)])
    assert flat is not None and flat.days_until_full is None
    assert [trend_state(d, 14, 3) for d in (None, 30, 10, 2)] == ["ok", "ok", "warn", "crit"]


def test_history_v3_stores_health_rows_and_ports(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        assert db.schema_version == SCHEMA_VERSION >= 3  # v3 added health_samples
        _record(db, _report(NOW, 50.0, [22]))
        rows = db.last_health("web1")
        assert {(r.check, r.item, r.state) for r in rows} >= {
            ("disk", "/data", "ok"), ("units", "", "ok"), ("listen", "22", "ok")}
        assert [r.value for r in db.health_samples("web1", "disk", "/data")] == [50.0]


def test_days_until_full_after_several_recorded_runs(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        for days_ago, used in ((3, 40.0), (2, 50.0), (1, 60.0)):
            _record(db, _report(NOW - timedelta(days=days_ago), used, [22]))
        health = _record(db, _report(NOW, 70.0, [22]))
    trend = [c for c in health["checks"] if c["check"] == "trend"]
    assert trend == [{"check": "trend", "item": "/data", "state": "crit", "value": 3.0,
                      "reason": "/data full in ~3 days at +10.00%/day (4 samples)"}]
    disk = next(c for c in health["checks"] if c["check"] == "disk")
    assert disk["days_until_full"] == 3.0 and disk["rate_per_day"] == 10.0
    assert health["summary"]["trend"]["state"] == "crit" and health["state"] == "crit"


def test_a_new_listening_port_is_warn_once(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        first = _record(db, _report(NOW - timedelta(days=1), 50.0, [22]))
        assert "new_ports" not in first["summary"]  # nothing to compare with
        second = _record(db, _report(NOW, 50.0, [22, 8000]))
        third = _record(db, _report(NOW + timedelta(days=1), 50.0, [22, 8000]))
    assert second["summary"]["new_ports"] == {
        "state": "warn", "reason": "new listening ports since the last run: 8000 (p)"}
    assert third["summary"]["new_ports"]["state"] == "ok"
    assert [c["check"] for c in second["changes"]] == ["new_ports"]
    assert third["changes"] == []  # an event check going back to ok sends nothing


def test_alert_only_on_a_state_change(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        reports = []
        for day, units in ((0, "ok"), (1, "warn"), (2, "warn"), (3, "ok")):
            report = _report(NOW + timedelta(days=day), 50.0, [22], units)
            _record(db, report)
            reports.append(report)
    assert [alert_reasons(r).get("health") for r in reports] == [None, ["web1"], None,
                                                                  ["web1"]]
    change = reports[1]["hosts"]["web1"]["extra"]["health"]["changes"]
    assert change == [{"check": "units", "item": "", "from": "ok", "to": "warn",
                       "reason": "1 failed: pe-fail.service"}]
    payload = summary(reports[1], alert_reasons(reports[1]))
    assert payload["hosts"]["web1"]["health"] == change
    assert reports[3]["hosts"]["web1"]["extra"]["health"]["changes"][0]["to"] == "ok"


def test_changes_are_per_item_and_a_first_run_reports_what_is_not_ok() -> None:
    current = {("disk", "/a"): {"state": "crit", "reason": "/a 95%"},
               ("disk", "/b"): {"state": "crit", "reason": "/b 97%"},
               ("units", ""): {"state": "ok", "reason": "fine"}}
    assert [c["item"] for c in state_changes({}, current, True)] == ["/a", "/b"]
    # /a was already full: only /b filling up is news; a gone item is no change
    before = {("disk", "/a"): "crit", ("disk", "/old"): "warn"}
    assert state_changes(before, current, False) == [
        {"check": "disk", "item": "/b", "from": "ok", "to": "crit", "reason": "/b 97%"}]


def test_thresholds_come_from_host_variables_over_the_role_defaults() -> None:
    args = host_arguments({"health_disk_warn": "{{ limit }}", "limit": 70,
                           "health_services": ["nginx"]})
    assert args["disk_warn"] == 70 and args["disk_crit"] == 90.0
    assert args["services"] == ["nginx"] and args["checks"] == ["all"]


def test_morning_report_health_column_and_attention_list_worst_first(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        for days_ago, used in ((3, 60.0), (2, 70.0), (1, 80.0)):
            _record(db, _report(NOW - timedelta(days=days_ago), used, [22]))
        _record(db, _report(NOW, 91.0, [22], "warn"))
        postures = collect_postures(db, NOW - timedelta(days=7))
    page = render_html(postures, since="7d")
    # the host's summary line carries the state; its expandable details list the issues
    cell = re.search(r'<span class="cell health" data-health="(\w+)">', page)
    assert cell and cell.group(1) == "crit"
    details = re.search(r'<details class="host" id="host-web1".*?</details>', page, re.S)
    assert details and "pe-fail.service" in details.group(0)
    attention = re.search(r'<ol class="attention" data-client="acme">(.*?)</ol>', page, re.S)
    assert attention
    states = re.findall(r'<li data-state="(\w+)">.*?<b>web1</b> (\w+):', attention.group(1))
    assert states == [("crit", "trend"), ("crit", "disk"), ("warn", "units")]


@pytest.mark.parametrize("status", ["skipped", "failed"])
def test_a_health_task_that_did_not_run_adds_nothing(status: str) -> None:
    host = _health(NOW, 50.0, [22])
    host["tasks"][0]["status"] = status
    assert "health" not in host_extra(host, False)
