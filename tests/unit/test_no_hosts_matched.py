"""A play whose hosts match nothing warns (as Ansible does) and the JSON report says so."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path


def test_play_matching_no_host_warns_and_the_report_says_nothing_ran(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text("a ansible_connection=local\n")
    (tmp_path / "p.yml").write_text(
        "- name: web servers\n  hosts: nosuchgroup\n  tasks:\n    - ping:\n"
        "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", "p.yml", "-i", "inv.ini",
                           "--report-json", "r.json"], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout + proc.stderr
    assert "warning: play 'web servers': no hosts matched 'nosuchgroup'" in out
    report = json.loads((tmp_path / "r.json").read_text())
    assert report["plays_without_hosts"] == ["web servers"]
    assert report["hosts"]["a"]["ok"] == 1
