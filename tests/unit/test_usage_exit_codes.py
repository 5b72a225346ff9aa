"""Usage errors exit 1 (README: internal or usage error), never 2 (a task failed)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("args", [
    ["run", "p.yml", "--no-such-option"],
    ["run", "p.yml", "-f", "0"],
    ["run", "."],
    ["no-such-command"],
])
def test_usage_errors_exit_1(tmp_path: Path, args: list[str]) -> None:
    (tmp_path / "p.yml").write_text("- hosts: all\n  tasks: []\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", *args], capture_output=True,
                          text=True, timeout=60, cwd=tmp_path)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "Traceback" not in proc.stderr
