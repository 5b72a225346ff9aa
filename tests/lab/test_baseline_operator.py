"""Root login off without a lockout (playbooks/roles/baseline_linux/tasks/operator.yml).

The run connects as root with an operator configured: the operator account is created,
a new SSH login with it must get root through sudo, the run switches its connection to
it, and only then does sshd get `PermitRootLogin no`. With a wrong key the proof fails:
what the run added for the operator is removed, root login stays as it was, the host is
still reachable as root, and the run fails at its end with the reason.

Uses the last two hosts of the session lab (as test_baseline_linux.py does), pristine
(`Lab.reset_host`) before and after. Only the `ssh` area runs (tags), so a
test takes seconds; the full baseline with an operator is in test_baseline_linux.py.
Checks go through `LabHost.exec` (nsenter) and new SSH logins, never the run's own.
"""

from __future__ import annotations

import json
import subprocess
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_baseline_linux import run  # one runner for the baseline's lab tests

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "playbooks" / "baseline-linux.yml"
OPERATOR = "opsadmin"
FINGERPRINT = ("find /etc /home -xdev -printf '%p %m %u %g %s %T@\\n' 2>/dev/null | sort "
               "| md5sum")
WHO = ("- hosts: all\n  gather_facts: false\n  tasks:\n"
       "    - command: id -un\n      register: me\n      changed_when: false\n"
       "    - command: id -un\n      become: true\n      register: root\n"
       "      changed_when: false\n"
       "    - assert:\n        that: root.stdout == 'root'\n")


def operator_vars(tmp: Path, key: str, **more: Any) -> list[str]:
    path = tmp / f"op-{uuid.uuid4().hex[:6]}.json"
    path.write_text(json.dumps({"baseline_operator_user": OPERATOR, "baseline_operator_key": key,
                                "baseline_operator_sudo_nopasswd": True,
                                "baseline_operator_login_timeout": 4, **more}))
    return ["-e", f"@{path}"]


def logs_in(lab: Any, tmp: Path, host: Any, user: str) -> bool:
    """A new SSH login as `user` (with the inventory's key) that becomes root."""
    play = tmp / "who.yml"
    play.write_text(WHO)
    rc, report, _ = run(lab, tmp, play, "-l", host.name, "-e", f"ansible_user={user}",
                        timeout=120)
    return rc == 0 and report["hosts"][host.name]["failed"] == 0


def root_login(host: Any) -> str:
    out = host.exec(["/bin/sh", "-c", "sshd -T | grep -i '^permitrootlogin'"]).stdout
    return out.split()[1]


@pytest.fixture(scope="module")
def hosts(lab: Any) -> Iterator[list[Any]]:
    if len(lab.hosts) < 3:
        pytest.skip("the operator tests need a lab of 3+ hosts (they use the last two)")
    if not hasattr(lab, "reset_host"):
        pytest.skip("the operator tests put hosts back with Lab.reset_host")
    chosen = list(lab.hosts[-2:])
    for host in chosen:  # pristine first: an earlier run may have turned root login off
        lab.reset_host(host.name)
    yield chosen
    for host in chosen:
        lab.reset_host(host.name)


def test_check_mode_plans_the_switch_and_changes_nothing(
        lab: Any, hosts: list[Any], tmp_path: Path) -> None:
    host = hosts[0]
    key = lab.private_key_path.with_suffix(".pub").read_text().strip()
    before = host.exec(["/bin/sh", "-c", FINGERPRINT]).stdout
    rc, report, out = run(lab, tmp_path, BASELINE, "--check", "-l", host.name,
                          "--tags", "ssh", *operator_vars(tmp_path, key))
    assert rc == 0, out[-3000:]
    assert host.exec(["/bin/sh", "-c", FINGERPRINT]).stdout == before
    tasks = {t["name"]: t for t in report["hosts"][host.name]["tasks"]}
    assert tasks[f"5.1.20 operator account {OPERATOR}"]["status"] == "changed"
    # the audit shows root login as a control that would change (to "no")
    assert tasks["5.1.20 sshd root login restricted (PermitRootLogin)"]["status"] == "changed"
    assert root_login(host) == "without-password"


def test_operator_takes_over_then_root_login_is_off_and_a_second_run_changes_nothing(
        lab: Any, hosts: list[Any], tmp_path: Path) -> None:
    host = hosts[0]
    key = lab.private_key_path.with_suffix(".pub").read_text().strip()
    rc, report, out = run(lab, tmp_path, BASELINE, "-l", host.name, "--tags", "ssh",
                          *operator_vars(tmp_path, key))
    assert rc == 0, out[-4000:]
    tasks = {t["name"]: t for t in report["hosts"][host.name]["tasks"]}
    proof = tasks["5.1.20 a new SSH login as the operator works and sudo gives root"]
    assert proof["status"] == "ok" and "sudo gives root" in proof["msg"], proof
    whoami = tasks["The run now logs in as the operator (id -un over the new connection)"]
    assert whoami["result"]["stdout"] == OPERATOR, whoami
    assert root_login(host) == "no"
    sudoers = host.exec(["cat", "/etc/sudoers.d/50-pyengine-operator"]).stdout
    assert f"{OPERATOR} ALL=(ALL:ALL) NOPASSWD: ALL" in sudoers
    # root's new logins are refused now; the operator's work and get root
    assert not logs_in(lab, tmp_path, host, "root")
    assert logs_in(lab, tmp_path, host, OPERATOR)
    # later runs connect as the operator: nothing left to change
    rc, report, out = run(lab, tmp_path, BASELINE, "-l", host.name, "--tags", "ssh",
                          *operator_vars(tmp_path, key), "-e", f"ansible_user={OPERATOR}")
    assert rc == 0, out[-3000:]
    changed = [t["name"] for t in report["hosts"][host.name]["tasks"]
               if t["status"] == "changed"]
    assert changed == [], changed
    assert logs_in(lab, tmp_path, host, OPERATOR)


def test_a_wrong_key_leaves_root_login_as_it_was_and_the_host_reachable(
        lab: Any, hosts: list[Any], tmp_path: Path) -> None:
    host = hosts[1]
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                    str(tmp_path / "other")], check=True)
    wrong = (tmp_path / "other.pub").read_text().strip()
    before = root_login(host)
    rc, report, out = run(lab, tmp_path, BASELINE, "-l", host.name, "--tags", "ssh",
                          *operator_vars(tmp_path, wrong))
    assert rc == 2, out[-4000:]
    tasks = report["hosts"][host.name]["tasks"]
    proof = next(t for t in tasks if t["module"] == "ssh_login_check"
                 and "operator" in t["name"])
    assert proof["status"] == "failed" and f"login as {OPERATOR} failed" in proof["msg"]
    last = tasks[-1]
    assert last["status"] == "failed" and "root login was not switched off" in last["msg"]
    # every other sshd control still applied, root login as it was, rollback done
    assert root_login(host) == before == "without-password"
    assert host.exec(["/bin/sh", "-c", "sshd -T | grep -i '^maxauthtries'"]).stdout.split() \
        == ["maxauthtries", "4"]
    assert host.exec(["test", "-e", "/etc/sudoers.d/50-pyengine-operator"],
                     check=False).returncode != 0
    assert host.exec(["getent", "passwd", OPERATOR], check=False).returncode != 0
    assert logs_in(lab, tmp_path, host, "root")


def test_an_operator_with_a_sudo_password_takes_over_and_the_run_uses_the_password(
        lab: Any, hosts: list[Any], tmp_path: Path) -> None:
    host = hosts[1]  # still as it was: root logs in (the wrong-key run changed nothing)
    key = lab.private_key_path.with_suffix(".pub").read_text().strip()
    user, password = "opspw", "Op3rator-Sudo-Pass!"
    extra = operator_vars(tmp_path, key, baseline_operator_user=user,
                          baseline_operator_sudo_nopasswd=False,
                          baseline_operator_password=password)
    rc, report, out = run(lab, tmp_path, BASELINE, "-l", host.name, "--tags", "ssh", *extra)
    assert rc == 0, out[-4000:]
    assert password not in out  # the sudo password stays masked
    assert root_login(host) == "no"
    sudoers = host.exec(["cat", "/etc/sudoers.d/50-pyengine-operator"]).stdout
    assert f"{user} ALL=(ALL:ALL) ALL" in sudoers and "NOPASSWD" not in sudoers
    play = tmp_path / "who.yml"
    play.write_text(WHO)
    rc, _, out = run(lab, tmp_path, play, "-l", host.name, "-e", f"ansible_user={user}",
                     "-e", f"ansible_become_password={password}")
    assert rc == 0, out[-2000:]
    rc, _, _ = run(lab, tmp_path, play, "-l", host.name, "-e", f"ansible_user={user}")
    assert rc != 0  # without the password, sudo refuses
