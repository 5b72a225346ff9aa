"""Beyond Level 1 (playbooks/roles/baseline_linux, `baseline_level: 2`) on a real lab host.

One host, pristine (`Lab.reset_host`) before and after: the audit (check mode) at Level 2
with SSH restricted to a management network changes nothing; the enforcing run applies
the Level 2 controls (sshd DisableForwarding, overlayfs and the wider module blacklist,
faillock for root, auditd halting when full, privileged-command audit rules with the
immutable flag last, the audit rules 0600), the Level 1 additions (password ageing of
existing accounts with a grace period, log files 0640 including wtmp, cron.allow
root:root, sshd drop-ins agreeing with the baseline) and the nftables rule that allows
SSH only from the management network; a second run changes nothing, and root and the
sudo user still log in. The lab's connections reach sshd over the host's loopback, which
the ruleset always accepts, so the management-network rule is checked in the live
ruleset, not by a refused connection.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_baseline_linux import run  # one runner for the baseline's lab tests

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "playbooks" / "baseline-linux.yml"
# /var/log's sizes change with every login: only its modes and owners count here.
FINGERPRINT = ("find /etc /home -xdev -printf '%p %m %u %g %s\\n' 2>/dev/null | sort | md5sum; "
               "find /var/log -maxdepth 1 -printf '%p %m %u %g\\n' | sort | md5sum; "
               "dpkg-query -W | md5sum; getent shadow | md5sum")
WHO = ("- hosts: all\n  gather_facts: false\n  tasks:\n"
       "    - command: id -un\n      changed_when: false\n"
       "    - command: id -un\n      become: true\n      register: root\n"
       "      changed_when: false\n"
       "    - assert:\n        that: root.stdout == 'root'\n")
LEVEL2 = {"baseline_level": 2, "baseline_firewall_ssh_sources": ["10.9.9.0/24", "fd00:9::/64"],
          "baseline_ssh_login_check_users": ["labuser"]}


@pytest.fixture(scope="module")
def host(lab: Any) -> Iterator[Any]:
    if not hasattr(lab, "reset_host"):
        pytest.skip("the Level 2 test puts its host back with Lab.reset_host")
    chosen = lab.hosts[-1]
    lab.reset_host(chosen.name)
    yield chosen
    lab.reset_host(chosen.name)


def sh(host: Any, script: str) -> str:
    return str(host.exec(["/bin/sh", "-c", script], check=False).stdout)


def test_level2_audit_changes_nothing_then_enforced_twice_and_ssh_still_works(
        lab: Any, host: Any, tmp_path: Path) -> None:
    extra = ["-e", json.dumps(LEVEL2)]
    # labpw has a password: ageing applies to it; make it older than PASS_MAX_DAYS first
    host.exec(["chage", "--lastday", "2020-01-01", "labpw"])
    before = sh(host, FINGERPRINT)
    rc, report, out = run(lab, tmp_path, BASELINE, "--check", "-l", host.name, *extra)
    assert rc == 0, out[-3000:]
    assert sh(host, FINGERPRINT) == before
    tasks = {t["name"]: t for t in report["hosts"][host.name]["tasks"]}
    assert tasks["Level 2 kernel modules a server does not load (bluetooth, firewire, "
                 "thunderbolt, ...)"]["status"] == "changed"

    rc, report, out = run(lab, tmp_path, BASELINE, "-l", host.name, *extra)
    assert rc == 0, out[-5000:]
    got = sh(host, "sshd -T | grep -iE '^(disableforwarding|maxstartups|permitrootlogin) '")
    assert "disableforwarding yes" in got and "maxstartups 10:30:60" in got, got
    # the lab's drop-in now agrees with the baseline (its value was dead already)
    dropin = sh(host, "cat /etc/ssh/sshd_config.d/*.conf")
    assert "MaxStartups 10:30:60" in dropin and "MaxStartups 200" not in dropin, dropin
    assert "install overlayfs /bin/false" in sh(host, "cat /etc/modprobe.d/cis-overlayfs.conf")
    assert "install btusb /bin/false" in sh(host, "cat /etc/modprobe.d/pyengine-bluetooth.conf")
    faillock = sh(host, "cat /etc/security/faillock.conf")
    assert "even_deny_root" in faillock and "root_unlock_time = 900" in faillock
    auditd = sh(host, "grep -E '^(admin_space_left_action|disk_full_action|disk_error_action)' "
                      "/etc/audit/auditd.conf")
    assert "admin_space_left_action = halt" in auditd and "disk_error_action = syslog" in auditd
    rules = sh(host, "cat /etc/audit/rules.d/50-pyengine-cis.rules").strip().splitlines()
    assert rules[-1] == "-e 2", rules[-3:]
    assert any("path=/usr/bin/sudo -F perm=x" in r and "privileged" in r for r in rules)
    assert sh(host, "stat -c %a /etc/audit/rules.d/*.rules").split() == ["600", "600"]
    # password ageing with a grace period: expires in 14 days, not at once
    ageing = sh(host, "chage -l labpw")
    assert "Maximum number of days between password change\t\t: 365" in ageing, ageing
    assert "Password expires\t\t\t\t\t: never" not in ageing
    assert sh(host, "passwd -S labpw").split()[1] == "P"  # usable, not expired
    expires = sh(host, "echo $(( ($(date -d \"$(chage -l labpw | sed -n "
                       "'s/^Password expires[^:]*: //p')\" +%s) - $(date +%s)) / 86400 ))")
    assert 12 <= int(expires) <= 14, expires
    assert sh(host, "stat -c '%a %U %G' /var/log/wtmp /etc/cron.allow").split() == \
        ["640", "root", "utmp", "640", "root", "root"]
    ruleset = sh(host, "nft list chain inet filter input")
    assert "ip saddr 10.9.9.0/24 tcp dport 22 accept" in ruleset, ruleset
    assert "ip6 saddr fd00:9::/64 tcp dport 22 accept" in ruleset, ruleset
    assert "policy drop" in ruleset

    rc, report, out = run(lab, tmp_path, BASELINE, "-l", host.name, *extra)
    assert rc == 0, out[-3000:]
    changed = [t["name"] for t in report["hosts"][host.name]["tasks"]
               if t["status"] == "changed"]
    assert changed == [], changed

    play = tmp_path / "who.yml"
    play.write_text(WHO)
    for user in ("root", "labuser"):
        rc, _, out = run(lab, tmp_path, play, "-l", host.name, "-e", f"ansible_user={user}")
        assert rc == 0, (user, out[-2000:])
