"""A repository made by `pyengine init` runs against lab hosts: the lab hosts take the
place of acme's Linux hosts (keeping acme's group_vars: client, patch window, the
waiver of 5.3.3.2.2), a --check baseline run of two controls changes nothing, and the
summary shows the waived control as waived and the other as failing on every host."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

pytestmark = pytest.mark.lab

HOSTS = ["h1", "h2", "h3"]
WATCHED = ["/etc/security/pwquality.conf", "/etc/modprobe.d"]


def _pyengine(cwd: Path, env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    full = {k: v for k, v in os.environ.items() if not k.startswith("PYENGINE_VAULT")}
    full.update(env)
    return subprocess.run([sys.executable, "-m", "pyengine", *args], cwd=cwd, env=full,
                          capture_output=True, text=True, timeout=600)


def _state(lab: Any) -> list[str]:
    return [lab.hosts[i].exec(["sh", "-c", "ls -l --time-style=+%s " + " ".join(WATCHED)
                                + " 2>&1; cat /etc/security/pwquality.conf 2>&1"],
                              check=False).stdout for i in range(len(HOSTS))]


def test_init_repository_check_run_on_the_lab_shows_waivers(lab: Any, tmp_path: Path) -> None:
    env = {"XDG_CONFIG_HOME": str(tmp_path / "config")}
    made = _pyengine(tmp_path, env, "init", "msp")
    assert made.returncode == 0, made.stderr
    msp = tmp_path / "msp"
    env["PYENGINE_VAULT_PASSWORD_FILE"] = str(tmp_path / "config/pyengine/msp.vault-pass")
    # The lab hosts become acme's Linux hosts, with the lab's connection settings.
    lab_inv = yaml.safe_load(Path(lab.inventory_path).read_text())["all"]["children"]["lab"]
    hosts_path = msp / "inventory/acme/hosts.yml"
    inventory = yaml.safe_load(hosts_path.read_text())
    inventory["all"]["children"]["acme"]["children"]["acme_linux"]["hosts"] = {
        name: {**lab_inv["hosts"][name], **lab_inv["vars"]} for name in HOSTS}
    hosts_path.write_text(yaml.safe_dump(inventory))
    before = _state(lab)
    run = _pyengine(msp, env, "run", "playbooks/baseline-linux.yml", "--check",
                    "-i", "inventory/acme", "--limit", "acme_linux",
                    "-t", "cis_5.3.3.2.2,cis_1.1.1.1", "--report-json", "audit.json",
                    "--history-db", str(tmp_path / "h.sqlite"))
    out = run.stdout + run.stderr
    assert run.returncode == 0, out
    assert _state(lab) == before  # check mode: nothing changed on the hosts
    assert "Compliance: 3 hosts (audit run" in out
    assert "1.1.1.1 cramfs" in out and "fails on 3 of 3 hosts" in out
    assert "Waived (1 control, not counted as failed):" in out
    assert "5.3.3.2.2 pwquality minlen: 3 hosts, until 2027-03-01" in out
    assert "pyengine compliance audit.json --host HOST (or --all)" in out
    report = json.loads((msp / "audit.json").read_text())
    for name in HOSTS:
        extra = report["hosts"][name]["extra"]
        assert extra["client"] == "acme"
        assert extra["compliance"]["waived"] == 1 and extra["compliance"]["failed"] == 1
    full = _pyengine(msp, env, "compliance", "audit.json", "--host", "h2")
    assert full.returncode == 0, full.stderr
    assert "waived until 2027-03-01" in full.stdout
