"""A host pattern with a broken regular expression is a one-line error, not a traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def _pyengine(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyengine", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


@pytest.mark.parametrize("where", ["hosts", "limit", "check-syntax"])
def test_broken_regex_pattern_is_a_one_line_error(tmp_path: Path, where: str) -> None:
    (tmp_path / "inv.ini").write_text("h1 ansible_connection=local\n")
    hosts = "~h[1" if where != "limit" else "all"
    (tmp_path / "p.yml").write_text(f"- hosts: '{hosts}'\n  tasks:\n    - ping:\n")
    args = ["run", "p.yml", "-i", "inv.ini"]
    if where == "limit":
        args += ["-l", "~h[1"]
    if where == "check-syntax":
        args = ["check-syntax", "p.yml", "-i", "inv.ini"]
    proc = _pyengine(*args, cwd=tmp_path)
    assert "Traceback" not in proc.stderr
    assert "not a valid regular expression" in proc.stderr
    assert proc.returncode in (1, 3)
    assert len(proc.stderr.strip().splitlines()) <= 2, proc.stderr
