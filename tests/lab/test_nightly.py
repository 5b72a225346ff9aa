"""The nightly job end to end on 5 lab hosts, and the run lock.

One run of playbooks/nightly.yml (backup, baseline audit, security patching with an
empty apt source list so nothing is downloaded, backup again) where one host demands
more free disk space than it has, so its patch pre-check fails for real. That failure
must show in the exit code, the JSON report, the JUnit file, the history database, the
HTML page (rendered by headless Chromium) and the webhook alert; the other hosts must
read ok everywhere.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyengine.history.db import HistoryDB
from pyengine.paths import builtin_playbooks_dir

pytestmark = pytest.mark.lab

FIVE = ["h1", "h2", "h3", "h4", "h5"]
EMPTY_APT = ["Dir::Etc::sourcelist=/dev/null", "Dir::Etc::sourceparts=/nonexistent"]


def _pyengine(cwd: Path, *args: str, timeout: float = 900) -> subprocess.CompletedProcess:
    # The project's own history (cwd/.pyengine), not the test session's override.
    env = {k: v for k, v in os.environ.items() if k != "PYENGINE_HISTORY_DB"}
    return subprocess.run([sys.executable, "-m", "pyengine", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=timeout)


def test_nightly_over_five_hosts_reports_a_forced_failure_everywhere(
        lab: Any, tmp_path: Path, webhook: tuple[str, list[dict]]) -> None:
    url, alerts = webhook
    # h3 demands more free disk space than it has: its patch pre-check fails for real.
    inventory = yaml.safe_load(Path(lab.inventory_path).read_text())
    _hosts_of(inventory)["h3"]["patch_min_free_mb"] = 10**9
    inventory_path = tmp_path / "inventory.yml"
    inventory_path.write_text(yaml.safe_dump(inventory))
    extra = json.dumps({"patch_apt_options": EMPTY_APT})
    proc = _pyengine(tmp_path, "run", str(builtin_playbooks_dir() / "nightly.yml"),
                     "-i", str(inventory_path), "--limit", ",".join(FIVE),
                     "-e", extra, "--quiet", "--report-json", "nightly.json",
                     "--report-junit", "nightly.xml", "--alert-webhook", url)
    out = proc.stdout + proc.stderr
    assert proc.returncode == 2, out
    assert "PLAY RECAP" in proc.stdout and "changed     h1" not in proc.stdout  # --quiet

    report = json.loads((tmp_path / "nightly.json").read_text())
    assert sorted(report["hosts"]) == FIVE and report["exit_code"] == 2
    for name, host in report["hosts"].items():
        assert host["unreachable"] is False
        assert (host["failed"] > 0) == (name == "h3"), (name, host["failed"])
        compliance = host["extra"]["compliance"]
        assert 0 < compliance["score"] < 100 and compliance["failing"]
    failed = [t for t in report["hosts"]["h3"]["tasks"] if t["status"] == "failed"]
    assert failed and "free" in failed[0]["msg"].lower(), failed
    # The baseline only audited: what would change was not changed (read-only probes run
    # for real with check_mode: false, and change nothing).
    controls = [t for t in report["hosts"]["h1"]["tasks"]
                if any(tag.startswith("cis_") for tag in t["tags"])]
    assert controls and any(t["check_mode"] and t["changed"] for t in controls)
    assert not [t["name"] for t in controls if t["changed"] and not t["check_mode"]]
    assert lab.host("h1").exec(["test", "-e", "/etc/modprobe.d/cis-cramfs.conf"],
                               check=False).returncode != 0
    assert report["hosts"]["h1"]["extra"]["patches"]["pending"] == 0
    assert (tmp_path / "config-backup" / "backups" / "lab" / "h5" / "etc" / "passwd").exists()

    junit = ET.parse(tmp_path / "nightly.xml").getroot()
    suites = {s.get("name"): s for s in junit.findall("testsuite")}
    assert suites["h3"].get("failures") != "0" and suites["h1"].get("failures") == "0"

    with HistoryDB(tmp_path / ".pyengine" / "history.sqlite") as db:
        run = db.runs()[0]
        assert run.exit_code == 2 and run.playbook.endswith("nightly.yml")
        rows = {h["host"]: h for h in db.host_results(run.id)}
        assert rows["h3"]["failed"] > 0 and rows["h2"]["failed"] == 0
        assert rows["h1"]["extra"]["compliance"]["score"] == \
            report["hosts"]["h1"]["extra"]["compliance"]["score"]

    assert len(alerts) == 1 and alerts[0]["reasons"]["failed"] == ["h3"]
    assert alerts[0]["hosts"]["h3"]["failed_tasks"]

    page = tmp_path / "report.html"
    made = _pyengine(tmp_path, "report", "-o", str(page), "--since", "1d")
    assert made.returncode == 0, made.stdout + made.stderr
    html = page.read_text()
    for name, host in report["hosts"].items():
        row = re.search(rf'<details class="host" id="host-{name}" data-status="([\w ]+)">'
                        r'(.*?)</details>', html, re.S)
        assert row, name
        assert (row.group(1) == "failed") == (name == "h3")
        counts = re.search(r'data-counts="(\d+)/(\d+)/(\d+)"', row.group(2))
        assert counts and tuple(map(int, counts.groups())) == (
            host["ok"], host["changed"], host["failed"]), name
    chromium = shutil.which("chromium")
    if chromium:
        shot = tmp_path / "report.png"
        subprocess.run([chromium, "--headless", "--no-sandbox", "--disable-gpu",
                        "--disable-background-networking", "--disable-component-update",
                        "--no-first-run", f"--user-data-dir={tmp_path / 'chrome'}",
                        f"--screenshot={shot}", "--window-size=1400,900", page.as_uri()],
                       capture_output=True, timeout=120)
        assert shot.read_bytes()[:4] == b"\x89PNG"


def test_second_locked_run_exits_at_once_and_changes_nothing(lab: Any, tmp_path: Path) -> None:
    host = lab.host("h1")
    marker = f"/tmp/pe-lock-{tmp_path.name}"
    book = tmp_path / "slow.yml"
    book.write_text(
        "- hosts: h1\n  gather_facts: false\n  tasks:\n"
        "    - pause: {seconds: 8}\n"
        f"    - file: {{path: '{marker}-{{{{ who }}}}', state: touch}}\n")
    args = ["run", str(book), "-i", str(lab.inventory_path), "--lock"]
    env = {k: v for k, v in os.environ.items() if k != "PYENGINE_HISTORY_DB"}
    first = subprocess.Popen([sys.executable, "-m", "pyengine", *args, "-e", "who=first"],
                             cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.monotonic() + 30
        lock = tmp_path / ".pyengine" / "run.lock"
        while not (lock.exists() and lock.read_text().strip()) and time.monotonic() < deadline:
            time.sleep(0.2)
        started = time.monotonic()
        second = _pyengine(tmp_path, *args, "-e", "who=second", timeout=60)
        assert time.monotonic() - started < 8, "the second run must not wait for the first"
        assert second.returncode == 5, second.stdout + second.stderr
        assert "another pyengine run holds" in second.stderr
        assert len(second.stderr.strip().splitlines()) == 1
        out, err = first.communicate(timeout=120)
        assert first.returncode == 0, out + err
        listing = host.exec(["sh", "-c", f"ls {marker}-* 2>/dev/null || true"]).stdout.split()
        assert listing == [f"{marker}-first"]
    finally:
        if first.poll() is None:
            first.kill()
        host.exec(["sh", "-c", f"rm -f {marker}-*"], check=False)


def _hosts_of(inventory: dict) -> dict:
    """The lab group's hosts mapping (the release groups only name the hosts again)."""
    hosts: dict = inventory["all"]["children"]["lab"]["hosts"]
    return hosts
