"""Drift, from the host to the morning report: a line appended to a file on a lab host
shows in the next backup's `drift_diffs` (a unified diff), in the run history and,
rendered, in report.html under that host; a host without drift has none."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyengine.paths import builtin_playbooks_dir

pytestmark = pytest.mark.lab

MARK = "# pe-morning-drift"


def _backup(lab: Any, tmp: Path, name: str, *extra: str) -> tuple[dict, str]:
    report = tmp / f"{name}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pyengine", "run", str(builtin_playbooks_dir() / "backup.yml"),
         "-i", str(lab.inventory_path), "--limit", "h1,h2", "-e",
         f"backup_repo={tmp / 'repo'}", "--report-json", str(report), "--history-db",
         str(tmp / "history.sqlite"), *extra], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return json.loads(report.read_text()), proc.stdout


def test_drift_diff_reaches_the_morning_report(lab: Any, tmp_path: Path) -> None:
    h1 = next(h for h in lab.hosts if h.name == "h1")
    _backup(lab, tmp_path, "first")
    h1.exec(["sh", "-c", f"echo '{MARK} setting=42' >> /etc/hosts"])
    try:
        report, _ = _backup(lab, tmp_path, "second")
    finally:
        h1.exec(["sed", "-i", f"/{MARK}/d", "/etc/hosts"])
    extra = report["hosts"]["h1"]["extra"]
    assert extra["drift"] == ["/etc/hosts"]
    diff = extra["drift_diffs"]["/etc/hosts"]
    assert f"+{MARK} setting=42" in diff
    assert "drift_diffs" not in report["hosts"]["h2"]["extra"]
    page = tmp_path / "report.html"
    made = subprocess.run([sys.executable, "-m", "pyengine", "report", "--history-db",
                           str(tmp_path / "history.sqlite"), "-o", str(page)],
                          capture_output=True, text=True, timeout=120)
    assert made.returncode == 0, made.stderr
    html = page.read_text()
    section = html[html.index('id="host-h1"'):]
    section = section[:section.index("</details>")]
    assert '<pre class="diff" data-path="/etc/hosts">' in section
    assert f'<span class="add">+{MARK} setting=42</span>' in section
