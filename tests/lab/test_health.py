"""Health checks on lab hosts: each condition made for real, found with its reason.

On h1 the test mounts a small tmpfs and fills it, starts a unit that fails, installs a
certificate that expires in 5 days and names it in an nginx site, and starts a web
server on a new port. The run history is seeded with three earlier nights of the
tmpfs's usage, so the trend (days until full) has something to go on. Three runs of
playbooks/health.yml follow: before the conditions (no alert), with them (one alert
naming each change), and unchanged (no alert). Everything made on h1 is removed.
The nightly step is measured too: no round trip of its own while the baseline runs
(it joins the baseline's first batch), one without the baseline.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from pyengine.history.db import HistoryDB
from pyengine.paths import builtin_playbooks_dir

pytestmark = pytest.mark.lab

MOUNT = "/mnt/pe-health"
CERT_DIR = "/etc/pe-health"
SITE = "/etc/nginx/sites-enabled/pe-health"
PORT = 18765
# The lab's clock is the machine's and no time service runs there: the time check is
# covered by recorded outputs (tests/unit/test_health_module.py), not here.
EXTRA = json.dumps({"health_skip": ["time"]})


def _pyengine(cwd: Path, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyengine", *args], cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def _health_run(lab: Any, cwd: Path, url: str, *more: str) -> dict[str, Any]:
    proc = _pyengine(cwd, "run", str(builtin_playbooks_dir() / "health.yml"),
                     "-i", str(lab.inventory_path), "--limit", "h1,h2", "-e", EXTRA,
                     "--report-json", "health.json", "--history-db", "history.sqlite",
                     "--alert-webhook", url, *more)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report: dict[str, Any] = json.loads((cwd / "health.json").read_text())
    return report


def _rows(report: dict[str, Any], host: str, check: str) -> list[dict[str, Any]]:
    return [r for r in report["hosts"][host]["extra"]["health"]["checks"]
            if r["check"] == check]


def _seed_usage(db_path: Path, host: str) -> None:
    """Three earlier nights of the tmpfs at 30, 50 and 70% (what the history would hold)."""
    now = datetime.now(timezone.utc)
    with HistoryDB(db_path) as db:
        for days_ago, used in ((3, 30.0), (2, 50.0), (1, 70.0)):
            taken = (now - timedelta(days=days_ago)).isoformat()
            row = {"check": "disk", "item": MOUNT, "state": "ok", "value": used,
                   "reason": f"{MOUNT} {used}% used"}
            db.record_run({"playbook": "health.yml", "started": taken, "finished": taken,
                           "exit_code": 0, "hosts": {host: {
                               "ok": 1, "extra": {"health": {"taken": taken, "state": "ok",
                                                             "checks": [row]}}}}}, user="seed")


def _make_conditions(h1: Any) -> None:
    h1.exec(["mkdir", "-p", MOUNT])
    h1.exec(["mount", "-t", "tmpfs", "-o", "size=4m", "pe-health", MOUNT])
    h1.exec(["dd", "if=/dev/zero", f"of={MOUNT}/fill", "bs=64k", "count=60"])  # 3.75 of 4 MiB
    h1.exec(["systemd-run", "--unit=pe-health-fail", "--no-block", "false"])
    h1.exec(["mkdir", "-p", CERT_DIR])
    h1.exec(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "5",
             "-subj", "/CN=pe-health.test", "-keyout", f"{CERT_DIR}/site.key",
             "-out", f"{CERT_DIR}/site.pem"])
    h1.exec(["mkdir", "-p", os.path.dirname(SITE)])
    h1.exec(["sh", "-c", f"printf 'server {{\\n  listen 443 ssl;\\n  ssl_certificate "
                         f"{CERT_DIR}/site.pem;\\n}}\\n' > {SITE}"])
    h1.exec(["systemd-run", "--unit=pe-health-http", "python3", "-m", "http.server",
             str(PORT), "--bind", "127.0.0.1"])
    for _ in range(100):  # the unit fails and the server listens within a moment
        failed = h1.exec(["systemctl", "is-failed", "pe-health-fail.service"], check=False)
        listening = h1.exec(["sh", "-c", f"ss -ltnH | grep -q ':{PORT} '"], check=False)
        if failed.stdout.strip() == "failed" and listening.returncode == 0:
            return
        time.sleep(0.1)
    raise AssertionError("pe-health-fail did not fail or the web server did not listen")


def _remove_conditions(h1: Any, nginx_existed: bool) -> None:
    h1.exec(["systemctl", "stop", "pe-health-http.service"], check=False)
    h1.exec(["systemctl", "reset-failed", "pe-health-fail.service", "pe-health-http.service"],
            check=False)
    h1.exec(["umount", MOUNT], check=False)
    h1.exec(["rmdir", MOUNT], check=False)
    h1.exec(["rm", "-rf", CERT_DIR, SITE], check=False)
    if not nginx_existed:
        h1.exec(["rm", "-rf", "/etc/nginx"], check=False)


def test_conditions_found_with_reasons_trend_and_one_alert_per_change(
        lab: Any, tmp_path: Path, webhook: tuple[str, list[dict]]) -> None:
    url, alerts = webhook
    h1 = lab.host("h1")
    nginx_existed = h1.exec(["test", "-e", "/etc/nginx"], check=False).returncode == 0
    _seed_usage(tmp_path / "history.sqlite", "h1")
    try:
        before = _health_run(lab, tmp_path, url)
        assert before["hosts"]["h1"]["extra"]["health"]["state"] == "ok", \
            before["hosts"]["h1"]["extra"]["health"]["summary"]
        assert alerts == []  # nothing changed for the worse: no message

        _make_conditions(h1)
        report = _health_run(lab, tmp_path, url)
        health = report["hosts"]["h1"]["extra"]["health"]
        task = report["hosts"]["h1"]["tasks"][0]
        assert task["module"] == "health" and task["changed"] is False
        assert health["state"] == "crit"

        disk = [r for r in _rows(report, "h1", "disk") if r["item"] == MOUNT]
        assert disk and disk[0]["state"] == "crit" and disk[0]["value"] >= 90
        assert disk[0]["reason"].startswith(f"{MOUNT} 9") and "% used" in disk[0]["reason"]

        units = _rows(report, "h1", "units")[0]
        assert units["state"] == "warn" and "pe-health-fail.service" in units["reason"]

        cert = [r for r in _rows(report, "h1", "certs") if r["item"] == f"{CERT_DIR}/site.pem"]
        assert cert and cert[0]["state"] == "crit" and cert[0]["source"] == SITE
        assert "(pe-health.test) expires in 4 days" in cert[0]["reason"] or \
            "(pe-health.test) expires in 5 days" in cert[0]["reason"]

        new_ports = _rows(report, "h1", "new_ports")[0]
        assert new_ports["state"] == "warn" and new_ports["ports"] == [PORT]
        assert f"{PORT} (python3)" in new_ports["reason"]

        trend = [r for r in _rows(report, "h1", "trend") if r["item"] == MOUNT]
        assert trend and trend[0]["state"] == "crit", _rows(report, "h1", "trend")
        assert trend[0]["reason"].startswith(f"{MOUNT} full in ~")
        assert trend[0]["value"] < 3 and "(4 samples)" in trend[0]["reason"]

        assert report["hosts"]["h2"]["extra"]["health"]["changes"] == []
        assert len(alerts) == 1 and alerts[0]["reasons"] == {"health": ["h1"]}
        changed = {c["check"]: (c["from"], c["to"]) for c in alerts[0]["hosts"]["h1"]["health"]}
        assert changed == {"disk": ("ok", "crit"), "units": ("ok", "warn"),
                           "certs": ("ok", "crit"), "new_ports": ("ok", "warn"),
                           "trend": ("ok", "crit")}

        again = _health_run(lab, tmp_path, url)
        assert again["hosts"]["h1"]["extra"]["health"]["changes"] == []
        assert _rows(again, "h1", "new_ports")[0]["state"] == "ok"
        assert len(alerts) == 1  # the unchanged night sends nothing

        with HistoryDB(tmp_path / "history.sqlite") as db:
            stored = {(s.check, s.item): s.state for s in db.last_health("h1")}
        assert stored[("disk", MOUNT)] == "crit" and stored[("listen", str(PORT))] == "ok"

        page = tmp_path / "report.html"
        made = _pyengine(tmp_path, "report", "--db", "history.sqlite", "-o", str(page))
        assert made.returncode == 0, made.stderr
        html = page.read_text()
        assert 'data-health="crit"' in html and "Needs attention this week" in html
        assert html.index(f"{MOUNT} full in ~") < html.index("pe-health-fail.service")
    finally:
        _remove_conditions(h1, nginx_existed)
    assert h1.exec(["test", "-e", MOUNT], check=False).returncode != 0


def test_runs_twice_unchanged_and_check_mode_touches_nothing(
        lab: Any, tmp_path: Path, webhook: tuple[str, list[dict]]) -> None:
    url, _alerts = webhook
    h2 = lab.host("h2")
    marker = "/root/.pe-health-marker"
    h2.exec(["touch", marker])
    try:
        time.sleep(1.1)  # mtimes have one-second steps on some filesystems
        for extra in ((), (), ("--check",)):
            report = _health_run(lab, tmp_path, url, *extra)
            host = report["hosts"]["h2"]
            assert host["changed"] == 0 and host["failed"] == 0
            assert host["tasks"][0]["status"] == "ok"
        newer = h2.exec(["find", "/etc", "/root", "/usr", "/var/lib", "-xdev", "-newer",
                         marker, "-not", "-path", "/var/lib/systemd/*"], check=False)
        assert newer.stdout.strip() == "", newer.stdout
    finally:
        h2.exec(["rm", "-f", marker])


def _nightly_trips(lab: Any, cwd: Path, baseline: bool, health: bool) -> int:
    cwd.mkdir()
    extra = json.dumps({"nightly_baseline": baseline, "nightly_patch": False,
                        "nightly_health": health, "health_skip": ["time"]})
    proc = _pyengine(cwd, "run", str(builtin_playbooks_dir() / "nightly.yml"),
                     "-i", str(lab.inventory_path), "--limit", "h3", "-e", extra, "--quiet",
                     "--report-json", "nightly.json", "--no-history")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    report = json.loads((cwd / "nightly.json").read_text())["hosts"]["h3"]
    assert ("health" in report["extra"]) == health
    trips: int = report["round_trips"]
    return trips


def test_nightly_health_step_joins_the_baseline_batch_and_costs_one_trip_alone(
        lab: Any, tmp_path: Path) -> None:
    with_baseline = {h: _nightly_trips(lab, tmp_path / f"b-{h}", True, h) for h in (False, True)}
    assert with_baseline[True] == with_baseline[False], with_baseline
    alone = {h: _nightly_trips(lab, tmp_path / f"a-{h}", False, h) for h in (False, True)}
    assert alone[True] == alone[False] + 1, alone


def test_health_command_prints_a_table_for_the_lab(lab: Any, tmp_path: Path) -> None:
    started = time.monotonic()
    proc = _pyengine(tmp_path, "health", "-i", str(lab.inventory_path), "--skip", "time")
    seconds = time.monotonic() - started
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0].split()[:3] == ["HOST", "STATE", "TIME"]
    states = {line.split()[0]: line.split()[1] for line in lines[1:] if line[:1].strip()}
    assert set(states) == {h.name for h in lab.hosts} and set(states.values()) == {"ok"}
    assert seconds < 60, seconds  # 2 shared cores; measured a few seconds for 3 hosts
    listed = _pyengine(tmp_path, "health", "-i", str(lab.inventory_path), "-l", "h1",
                       "--json")
    data = json.loads(listed.stdout)
    assert [d["host"] for d in data] == ["h1"] and "disk" in data[0]["summary"]


JOB_UNITS = {
    "pe-health-ok.service": "[Service]\nType=oneshot\nExecStart=/bin/true\n",
    "pe-health-ok.timer": "[Timer]\nOnActiveSec=1s\nAccuracySec=1s\n",
    "pe-health-bad.service": "[Service]\nType=oneshot\nExecStart=/bin/false\n",
    "pe-health-bad.timer": "[Timer]\nOnActiveSec=1s\nAccuracySec=1s\n",
}


def test_jobs_by_timer_and_log_line_and_services_that_should_run(
        lab: Any, tmp_path: Path) -> None:
    h2 = lab.host("h2")
    stamp = datetime.now(timezone.utc) - timedelta(hours=30)
    log = "/var/tmp/pe-health-dump.log"
    try:
        for name, text in JOB_UNITS.items():
            h2.exec(["sh", "-c", f"cat > /etc/systemd/system/{name}"], input=text)
        h2.exec(["systemctl", "daemon-reload"])
        h2.exec(["systemctl", "start", "pe-health-ok.timer", "pe-health-bad.timer"])
        h2.exec(["sh", "-c", f"cat > {log}"], input=(
            f"{stamp:%Y-%m-%dT%H:%M:%SZ} dump finished OK\n"
            f"{datetime.now(timezone.utc):%Y-%m-%dT%H:%M:%SZ} dump FAILED\n"))
        for _ in range(100):  # both timers fire after a second
            shown = h2.exec(["systemctl", "show", "-p", "Result", "pe-health-bad.service"])
            if "exit-code" in shown.stdout:
                break
            time.sleep(0.1)
        extra = json.dumps({"health_checks": ["jobs", "services"], "health_jobs": [
            {"name": "nightly-ok", "timer": "pe-health-ok"},
            {"name": "nightly-bad", "timer": "pe-health-bad.timer"},
            {"name": "dump", "log": log, "pattern": "dump finished OK"},
            {"name": "gone", "timer": "pe-health-none"}],
            "health_services": ["cron", "ssh", "pe-health-missing"]})
        proc = _pyengine(tmp_path, "run", str(builtin_playbooks_dir() / "health.yml"),
                         "-i", str(lab.inventory_path), "--limit", "h2", "-e", extra,
                         "--report-json", "r.json", "--no-history")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        report = json.loads((tmp_path / "r.json").read_text())
        jobs = {r["item"]: r for r in _rows(report, "h2", "jobs")}
        assert jobs["nightly-ok"]["state"] == "ok", jobs["nightly-ok"]
        assert jobs["nightly-ok"]["reason"].startswith("nightly-ok: last success 0.0 h ago")
        assert jobs["nightly-bad"]["state"] == "crit"
        assert "failed (exit-code, status 1)" in jobs["nightly-bad"]["reason"]
        assert jobs["dump"]["state"] == "warn" and jobs["dump"]["value"] == pytest.approx(
            30, abs=0.1)
        assert jobs["gone"]["state"] == "crit" and "not found" in jobs["gone"]["reason"]
        services = _rows(report, "h2", "services")[0]
        assert services["state"] == "crit" and services["down"] == ["pe-health-missing"]
        assert services["reason"] == "not running: pe-health-missing (inactive)"
        assert report["hosts"]["h2"]["extra"]["health"]["ran"] == ["services", "jobs"]
    finally:
        h2.exec(["systemctl", "stop", "pe-health-ok.timer", "pe-health-bad.timer"],
                check=False)
        h2.exec(["rm", "-f", log, *[f"/etc/systemd/system/{n}" for n in JOB_UNITS]])
        h2.exec(["systemctl", "daemon-reload"])
        h2.exec(["systemctl", "reset-failed", "pe-health-bad.service"], check=False)
