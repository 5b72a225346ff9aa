"""One way to reach a host (pyengine/reach.py): connection variables that are templates
work the same in `run`, the login check and `patch status`.

`patch status` used to pass the inventory's variables unrendered, so a host whose
`ansible_host` was a template was reachable by `run` and "unreachable" there.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
import yaml
from modtarget import hostvars

pytestmark = pytest.mark.lab


def templated_inventory(lab: Any, tmp_path: Path) -> Path:
    """h1 with its address and login user given only through templates (one of them
    reads the magic variable inventory_hostname)."""
    h1 = hostvars(lab, "h1")
    h1["lab_addresses"] = {"h1": h1["ansible_host"]}
    h1["ansible_host"] = "{{ lab_addresses[inventory_hostname] }}"
    h1["lab_login"] = h1["ansible_user"]
    h1["ansible_user"] = "{{ lab_login }}"
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"all": {"hosts": {"h1": h1}}}))
    return path


def pyengine(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    # cwd: the run history (.pyengine/) lands in the test's folder, not the checkout.
    return subprocess.run([sys.executable, "-m", "pyengine", *args], capture_output=True,
                          text=True, timeout=180, cwd=tmp_path)


def test_patch_status_reaches_a_host_whose_ansible_host_is_a_template(
        lab: Any, tmp_path: Path) -> None:
    inventory = templated_inventory(lab, tmp_path)
    proc = pyengine(tmp_path, "patch", "status", "-i", str(inventory), "-l", "h1", "--json",
                    "--no-refresh")
    row = json.loads(proc.stdout)["hosts"]["h1"]
    assert row["status"] == "ok", row["msg"]
    assert row["pkg_mgr"] == "apt"


def test_run_and_login_check_reach_the_same_templated_host(lab: Any, tmp_path: Path) -> None:
    inventory = templated_inventory(lab, tmp_path)
    book = tmp_path / "play.yml"
    book.write_text(textwrap.dedent("""
        - hosts: h1
          gather_facts: false
          tasks:
            - ping:
            - ssh_login_check: {timeout: 10}
        """))
    report = tmp_path / "report.json"
    proc = pyengine(tmp_path, "run", str(book), "-i", str(inventory), "--no-history",
                    "--report-json", str(report))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    tasks = json.loads(report.read_text())["hosts"]["h1"]["tasks"]
    login = [t for t in tasks if t["module"] == "ssh_login_check"][0]
    assert login["status"] == "ok" and "root" in login["msg"], login
