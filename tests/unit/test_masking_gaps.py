"""Masking gaps closed: the vault password itself, and a secret's common transforms."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from pyengine.masking import MASK, mask_text, register_secret


def test_upper_lower_and_stripped_forms_of_a_secret_are_masked() -> None:
    register_secret("  Tr4nsf0rm-Me  ")
    for shown in ("TR4NSF0RM-ME", "tr4nsf0rm-me", "Tr4nsf0rm-Me"):
        assert mask_text(f"x={shown};") == f"x={MASK};", shown


def test_the_vault_password_from_the_environment_is_masked_in_a_run(tmp_path: Path) -> None:
    password = "env-vault-pass-5521"
    (tmp_path / "inv.ini").write_text("a ansible_connection=local\n")
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - debug: {msg: \"pw={{ lookup('env', 'PYENGINE_VAULT_PASSWORD') }}\"}\n")
    report = tmp_path / "r.json"
    env = dict(os.environ, PYENGINE_VAULT_PASSWORD=password)
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", str(tmp_path / "p.yml"),
                           "-i", str(tmp_path / "inv.ini"), "-v", "--report-json", str(report)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    everything = proc.stdout + proc.stderr + report.read_text()
    assert password not in everything
    assert f"pw={MASK}" in json.dumps(json.loads(report.read_text()))
