"""A backup run that does not load the vault must not commit secrets rendered from it.

The baseline renders a vaulted password into a host file; the nightly backup playbook
never loads that vault file. Before: the file went into the repository in clear. Now
every run opens the project's vault files (group_vars/, host_vars/, vars/) so their
values are masked; without the password the backup refuses, naming the file.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from pyengine.vault import VaultLib, VaultSecret

pytestmark = pytest.mark.lab

SECRET = "db-Pa55-" + "7f3e9c"


def _project(tmp_path: Path, lab: Any, workdir: str) -> Path:
    project = tmp_path / "project"
    # The baseline playbook loads vars/secrets.yml with vars_files; backup.yml does not.
    (project / "vars").mkdir(parents=True)
    vault = VaultLib([VaultSecret("default", b"backup-vault-pass")])
    (project / "vars" / "secrets.yml").write_bytes(
        vault.encrypt(f"db_password: {SECRET}\n".encode()))
    (project / "pw").write_text("backup-vault-pass\n")
    (project / "backup.yml").write_text(f"""
- hosts: h1
  gather_facts: false
  vars_files: []
  tasks:
    - backup: {{repo: {project}/repo, default_set: false, paths: ["{workdir}/app.conf"]}}
    - backup_commit: {{repo: {project}/repo}}
""")
    return project


def _run(project: Path, inventory: str, *extra: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYENGINE_VAULT")}
    return subprocess.run([sys.executable, "-m", "pyengine", "run", "backup.yml", "-i",
                           inventory, *extra], capture_output=True, text=True,
                          timeout=300, cwd=project, env=env)


def test_backup_without_the_vault_masks_or_refuses(lab: Any, tmp_path: Path) -> None:
    host = lab.host("h1")
    workdir = f"/root/pe-bv-{uuid.uuid4().hex[:6]}"
    host.exec(["mkdir", "-p", workdir])
    host.exec(["sh", "-c", f"printf 'password={SECRET}\\n' > {workdir}/app.conf"])
    project = _project(tmp_path, lab, workdir)
    inventory = str(lab.inventory_path)
    try:
        refused = _run(project, inventory)
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "secrets.yml could not be opened" in refused.stdout + refused.stderr
        assert not (project / "repo" / "backups").exists()

        done = _run(project, inventory, "--vault-password-file", "pw")
        assert done.returncode == 0, done.stdout + done.stderr
        stored = subprocess.run(["git", "-C", str(project / "repo"), "grep", "-r", "password=",
                                 "HEAD"], capture_output=True, text=True).stdout
        assert "password=********" in stored and SECRET not in stored
    finally:
        host.exec(["rm", "-rf", workdir])
