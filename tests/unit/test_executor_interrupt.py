"""Ctrl-C: the run stops cleanly, says which hosts were mid-task, exits 130, and the
JSON report is still written."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_names_the_hosts_that_were_mid_task(tmp_path: Path, sig: signal.Signals) -> None:
    """SIGTERM (how systemd stops the nightly job) is the same clean stop as Ctrl-C."""
    (tmp_path / "inv.ini").write_text("[lab]\na ansible_connection=local\n"
                                      "b ansible_connection=local\n")
    marker = tmp_path / "started"
    (tmp_path / "p.yml").write_text(f"""
- hosts: all
  tasks:
    - name: slow step
      shell: "touch {marker}; sleep 30"
""")
    report = tmp_path / "r.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyengine", "run", str(tmp_path / "p.yml"), "-i",
         str(tmp_path / "inv.ini"), "--report-json", str(report)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=tmp_path)
    deadline = time.monotonic() + 30
    while not marker.exists():
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.1)
    time.sleep(0.3)
    started = time.monotonic()
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, (out, err)
    assert time.monotonic() - started < 20  # did not wait for the 30 s task
    assert "interrupted: hosts mid-task: a (slow step), b (slow step)" in err
    assert "Traceback" not in err
    data = json.loads(report.read_text())
    assert data["exit_code"] == 130 and data["interrupted"] is True
    assert data["hosts"]["a"]["interrupted_during"] == "slow step"
