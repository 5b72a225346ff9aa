"""System modules end to end through `pyengine run`: a small baseline playbook, three runs.

Run 1 converges a lab host (group, user, authorized key, sysctl file, cron job,
service, package, facts); the host's state is then read with independent commands.
Run 2 must change nothing. Run 3 is check mode against a host that no longer
matches a changed playbook: it reports the changes with diffs and moves nothing.
Names carry a per-run suffix; everything is removed afterwards.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

SUF = uuid.uuid4().hex[:6]
USER = f"pyer{SUF}"
SYSCTL = f"/etc/sysctl.d/99-pyetest-{SUF}.conf"
KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtU5Wq0v8wPp3oQ0yY5s1dVh0Wq0dCk3vXz1v6bX0xG "
       "ops@example")

PLAYBOOK = f"""
- hosts: h1
  tasks:
    - name: group
      ansible.builtin.group: {{name: {USER}}}
    - name: user
      user: name={USER} group={USER} shell=SHELL comment="Run test"
    - name: key
      ansible.posix.authorized_key: {{user: {USER}, key: "{KEY}", key_options: no-pty}}
    - name: sysctl
      ansible.posix.sysctl:
        name: kernel.dmesg_restrict
        value: "1"
        sysctl_file: {SYSCTL}
        reload: false
    - name: cron
      cron: {{name: nightly, user: {USER}, hour: "2", minute: "MINUTE", job: /bin/true}}
    - name: service
      ansible.builtin.service: {{name: cron, state: started, enabled: true}}
    - name: package
      package: {{name: [openssh-server], state: present}}
    - name: facts
      package_facts:
    - name: services
      service_facts:
    - name: check what the facts say
      assert:
        that:
          - "'openssh-server' in ansible_facts.packages"
          - "ansible_facts.services['cron.service'].state == 'running'"
"""


def _run(lab: Any, tmp: Path, shell: str, minute: str, *flags: str) -> dict[str, Any]:
    play = tmp / "play.yml"
    play.write_text(PLAYBOOK.replace("SHELL", shell).replace("MINUTE", minute))
    report = tmp / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", "-i",
                           str(lab.inventory_path), str(play), "--report-json", str(report),
                           *flags], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    host: dict[str, Any] = json.loads(report.read_text())["hosts"]["h1"]
    return host


def _changed(host: dict[str, Any]) -> list[str]:
    return [t["name"] for t in host["tasks"] if t["changed"]]


def test_baseline_converges_then_is_idempotent_then_check_mode_moves_nothing(
        lab: Any, tmp_path: Path) -> None:
    h1 = lab.host("h1")

    def sh(script: str) -> str:
        return str(h1.exec(["sh", "-c", script], check=False).stdout)

    try:
        first = _run(lab, tmp_path, "/bin/sh", "7")
        assert _changed(first) == ["group", "user", "key", "sysctl", "cron"], first
        assert first["failed"] == 0
        assert sh(f"getent passwd {USER}").strip().endswith(":Run test:/home/" + USER + ":/bin/sh")
        assert sh(f"cat /home/{USER}/.ssh/authorized_keys") == f"no-pty {KEY}\n"
        assert sh(f"cat {SYSCTL}") == "kernel.dmesg_restrict=1\n"
        assert "#Ansible: nightly\n7 2 * * * /bin/true\n" in sh(f"crontab -l -u {USER}")

        second = _run(lab, tmp_path, "/bin/sh", "7")
        assert _changed(second) == [] and second["changed"] == 0

        dry = _run(lab, tmp_path, "/bin/bash", "30", "--check", "--diff")
        assert _changed(dry) == ["user", "cron"]
        diffs = {t["name"]: t["diff"] for t in dry["tasks"] if t["diff"]}
        assert "+shell: /bin/bash" not in diffs["user"]["before"]
        assert "shell: /bin/bash" in diffs["user"]["after"]
        assert "30 2 * * * /bin/true" in diffs["cron"]["after"]
        assert sh(f"getent passwd {USER}").strip().endswith(":/bin/sh")
        assert "7 2 * * * /bin/true" in sh(f"crontab -l -u {USER}")
    finally:
        sh(f"crontab -r -u {USER} 2>/dev/null; userdel -r {USER} 2>/dev/null; "
           f"groupdel {USER} 2>/dev/null; rm -f {SYSCTL}; true")
