"""`pyengine run` as a command: input errors before anything connects, -e forms, exit codes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from pyengine.commands.run import parse_extra_vars
from pyengine.errors import PlaybookError


def pyengine(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    # cwd: the run history (.pyengine/) lands in the test's folder, not the checkout.
    return subprocess.run([sys.executable, "-m", "pyengine", *args], capture_output=True,
                          text=True, timeout=120, cwd=cwd)


def test_extra_vars_forms(tmp_path: Path) -> None:
    (tmp_path / "x.yml").write_text("z: [1, 2]\n")
    got = parse_extra_vars(("a=1", 'b="x y" c=yes', '{"j": {"k": 2}}', f"@{tmp_path}/x.yml"))
    assert got == {"a": "1", "b": "x y", "c": "yes", "j": {"k": 2}, "z": [1, 2]}
    with pytest.raises(PlaybookError):
        parse_extra_vars(("[1, 2]",))


def test_every_playbook_problem_is_listed_and_nothing_runs(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text("a ansible_connection=local\n")
    (tmp_path / "bad.yml").write_text(
        "- hosts: all\n  tasks:\n"
        f"    - copy: {{dest: {tmp_path}/never, content: x}}\n"
        "    - copy: {dest: /x, contnt: y}\n"
        "    - lineinfile: {path: /x, lin: y}\n")
    proc = pyengine("run", str(tmp_path / "bad.yml"), "-i", str(tmp_path / "inv.ini"), cwd=tmp_path)
    assert proc.returncode == 3
    assert "bad.yml:4" in proc.stderr and "bad.yml:5" in proc.stderr
    assert "did you mean 'content'" in proc.stderr
    assert not (tmp_path / "never").exists()
    assert "Traceback" not in proc.stderr


def test_limit_matching_nothing_is_a_one_line_error(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text("a ansible_connection=local\n")
    (tmp_path / "p.yml").write_text("- hosts: all\n  tasks:\n    - ping:\n")
    proc = pyengine("run", str(tmp_path / "p.yml"), "-i", str(tmp_path / "inv.ini"),
                    "--limit", "nosuchhost", cwd=tmp_path)
    assert proc.returncode == 1
    assert "nosuchhost" in proc.stderr and proc.stderr.count("\n") == 1


def test_exit_codes_and_report_of_a_local_run(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text("a ansible_connection=local\nb ansible_connection=local\n")
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  tasks:\n"
        "    - command: 'false'\n      when: inventory_hostname == 'b'\n"
        f"    - copy: {{dest: '{tmp_path}/{{{{ inventory_hostname }}}}', content: x}}\n")
    report = tmp_path / "r.json"
    proc = pyengine("run", str(tmp_path / "p.yml"), "-i", str(tmp_path / "inv.ini"),
                    "--report-json", str(report), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    data = json.loads(report.read_text())
    assert data["exit_code"] == 2
    assert data["hosts"]["a"]["changed"] == 1 and data["hosts"]["b"]["failed"] == 1
    assert "PLAY RECAP" in proc.stdout
    proc = pyengine("run", str(tmp_path / "p.yml"), "-i", str(tmp_path / "inv.ini"),
                    "--limit", "a", "--check", cwd=tmp_path)
    assert proc.returncode == 0
