"""`run --scap-datastream/--scap-profile` reach the playbook as the variables it reads."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from pyengine.commands.run_options import scap_extra_vars


def test_options_become_baseline_and_scan_variables(tmp_path: Path) -> None:
    stream = tmp_path / "ds.xml"
    stream.write_text("<x/>")
    values = json.loads(scap_extra_vars({"scap_datastream": str(stream),
                                         "scap_profile": "xccdf_p"})[0])
    assert values == {"baseline_scap_datastream": str(stream.resolve()),
                      "scap_datastream": str(stream.resolve()),
                      "baseline_scap_profile": "xccdf_p", "scap_profile": "xccdf_p"}
    assert scap_extra_vars({}) == ()


def test_run_passes_them_and_user_extra_vars_still_win(tmp_path: Path) -> None:
    stream = tmp_path / "ds.xml"
    stream.write_text("<x/>")
    book = tmp_path / "play.yml"
    book.write_text("- hosts: localhost\n  gather_facts: false\n  tasks:\n"
                    "    - debug:\n"
                    "        msg: 'ds={{ baseline_scap_datastream }} p={{ scap_profile }}'\n")
    proc = subprocess.run(
        [sys.executable, "-m", "pyengine", "run", str(book), "-i", "localhost,", "-v",
         "--no-history", "--scap-datastream", str(stream), "--scap-profile", "from-flag",
         "-e", "scap_profile=from-e", "-e", "ansible_connection=local"],
        capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"ds={stream.resolve()} p=from-e" in proc.stdout
