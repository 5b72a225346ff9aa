"""The baseline, patch and backup playbooks on Debian 11, 12 and 13 (one lab host each).

The module uses the mixed lab of tests/lab/test_lab_releases.py (PYENGINE_TEST_RELEASES_LAB,
default "releases", on octet PYENGINE_TEST_RELEASES_OCTET, default 23; h1 bullseye, h2
bookworm, h3 trixie), pristine before and after (`Lab.reset_host`).

The baseline runs with the tags of the controls that differ between releases (sshd's
options, the PAM stack and faillock, sudo with noexec, login.defs, coredump.conf) plus
cron, banners and shell: the whole baseline on three releases costs minutes on a cold apt
proxy (AIDE's first database, auditd, rsyslog), so the complete run per release, twice,
with its OpenSCAP scores, is bench/scap_bench.py --releases (bench/SCAP.md).
Checks go through `LabHost.exec` (nsenter) and new SSH logins (a new `pyengine run`).
Tests build on each other in file order (check mode on the fresh hosts first).
"""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from test_baseline_linux import FINGERPRINT, run  # one runner for the baseline's lab tests

from pyengine.lab import Lab

pytestmark = pytest.mark.lab

ROOT = Path(__file__).resolve().parents[2]
BASELINE = ROOT / "playbooks" / "baseline-linux.yml"
RELEASES = ("bullseye", "bookworm", "trixie")
LAB_NAME = os.environ.get("PYENGINE_TEST_RELEASES_LAB", "releases")
OCTET = int(os.environ.get("PYENGINE_TEST_RELEASES_OCTET", "23"))
TAGS = "ssh,pam,sudo,logindefs,coredumps,cron,banners,shell"
# What each release must end up with (the controls chosen by the host's facts).
KEX_FIRST = {"bullseye": "curve25519-sha256", "bookworm": "sntrup761x25519-sha512@openssh.com",
             "trixie": "mlkem768x25519-sha256"}
ENCRYPT = {"bullseye": "SHA512", "bookworm": "YESCRYPT", "trixie": "YESCRYPT"}
# A pam_tally2 line left from Debian 10 (the module no longer exists on any of the three).
TALLY = "auth\trequired\tpam_tally2.so onerr=fail deny=5 unlock_time=900"
WHO = ("- hosts: all\n  gather_facts: false\n  tasks:\n"
       "    - command: id -un\n      become: true\n      register: root\n"
       "      changed_when: false\n"
       "    - shell: env id -un; apt-get -s -q install ed >/dev/null && echo spawned\n"
       "      become: true\n      register: kids\n      changed_when: false\n"
       "    - assert:\n        that: root.stdout == 'root' and kids.stdout_lines == "
       "['root', 'spawned']\n")


@pytest.fixture(scope="module")
def fleet() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (namespaces and overlay mounts); run pytest as root")
    lab = Lab(LAB_NAME, OCTET)
    was_up = lab.is_up()
    lab.up(len(RELEASES), releases=RELEASES)
    for host in lab.hosts:
        lab.reset_host(host.name)
    try:
        yield lab
    finally:
        for host in lab.hosts:
            lab.reset_host(host.name)
        if not was_up and os.environ.get("PYENGINE_KEEP_LAB") != "1":
            lab.down()


@pytest.fixture(scope="module")
def state() -> dict[str, Any]:
    return {}


def sh(lab: Lab, host: str, script: str, check: bool = True) -> str:
    return str(lab.host(host).exec(["sh", "-c", script], check=check, timeout=120).stdout)


def who(lab: Lab, tmp: Path, user: str, limit: str = "all") -> tuple[int, str]:
    """A new SSH login per host as `user`; sudo gives root and the agent spawns programs."""
    play = tmp / "who.yml"
    play.write_text(WHO)
    rc, report, out = run(lab, tmp, play, "-l", limit, "-e", f"ansible_user={user}",
                          timeout=300)
    failed = [n for n, h in report.get("hosts", {}).items() if h["failed"]]
    return (rc if not failed else 2), out


def test_check_mode_on_each_fresh_release_changes_nothing(fleet: Lab, tmp_path: Path) -> None:
    before = {h.name: sh(fleet, h.name, FINGERPRINT) for h in fleet.hosts}
    rc, report, out = run(fleet, tmp_path, BASELINE, "--check", "--tags", TAGS)
    assert rc == 0, out[-3000:]
    for host in fleet.hosts:
        assert sh(fleet, host.name, FINGERPRINT) == before[host.name], host.name
        changed = {t["name"] for t in report["hosts"][host.name]["tasks"]
                   if t["status"] == "changed"}
        assert "5.1.16 sshd authentication attempts limited (MaxAuthTries)" in changed
        assert "sudo NOEXEC (escapes)" in changed, host.name


def test_baseline_on_each_release_twice_second_run_changes_nothing_and_ssh_works(
        fleet: Lab, tmp_path: Path, state: dict[str, Any]) -> None:
    # Debian 11 host upgraded from 10: a pam_tally2 line is still in its stack.
    sh(fleet, "h1", f"printf '{TALLY}\\n' >> /etc/pam.d/common-auth")
    extra = ["-e", json.dumps({"baseline_ssh_login_check_users": ["labuser"]})]
    rc, report, out = run(fleet, tmp_path, BASELINE, "--tags", TAGS, *extra)
    assert rc == 0, out[-5000:]
    for index, release in enumerate(RELEASES, start=1):
        name = f"h{index}"
        entry = report["hosts"][name]
        assert entry["failed"] == 0 and entry["changed"] > 40, (name, entry["changed"])
        kex = sh(fleet, name, "sshd -T | awk '$1 == \"kexalgorithms\" {print $2}'").strip()
        assert kex.split(",")[0] == KEX_FIRST[release], (release, kex)
        assert ("sntrup761" in kex) == (release != "bullseye"), (release, kex)
        assert sh(fleet, name, "grep -c '^[^#]*pam_faillock' /etc/pam.d/common-auth").strip() \
            == "3", release
        assert "pam_pwquality.so" in sh(fleet, name, "cat /etc/pam.d/common-password")
        method = sh(fleet, name, "awk '$1 == \"ENCRYPT_METHOD\" {print $2}' /etc/login.defs")
        assert method.strip() == ENCRYPT[release], release
        assert sh(fleet, name, "head -1 /etc/systemd/coredump.conf").strip() == "[Coredump]"
        assert "Defaults!PYENGINE_NOEXEC noexec" in sh(
            fleet, name, "cat /etc/sudoers.d/61-pyengine-noexec"), release
    tally = sh(fleet, "h1", "grep pam_tally2 /etc/pam.d/common-auth")
    assert tally.startswith("# pyengine baseline: pam_tally is gone"), tally
    state["enforced"] = True
    rc, report, out = run(fleet, tmp_path, BASELINE, "--tags", TAGS, *extra)
    assert rc == 0, out[-3000:]
    changed = {name: [t["name"] for t in h["tasks"] if t["status"] == "changed"]
               for name, h in report["hosts"].items()}
    assert all(not names for names in changed.values()), changed
    # a new SSH login per host, as root and as the sudo user: sudo gives root
    for user in ("root", "labuser"):
        rc, out = who(fleet, tmp_path, user)
        assert rc == 0, (user, out[-3000:])


def test_sudo_noexec_blocks_an_editors_shell_escape_and_not_admin_work(
        fleet: Lab, tmp_path: Path, state: dict[str, Any]) -> None:
    if not state.get("enforced"):
        pytest.skip("the baseline run failed")
    escape = ("rm -f /tmp/pe-escape; su labuser -c \"sudo -n vim.tiny -Es "
              "-c '!touch /tmp/pe-escape' -c 'qa!'\"; test -e /tmp/pe-escape && echo ESCAPED")
    spawn = ("su labuser -c 'sudo -n python3 -c \"import subprocess; "
             "print(subprocess.run([\\\"id\\\", \\\"-un\\\"], capture_output=True, "
             "text=True).stdout)\"'")
    for host in fleet.hosts:  # escapes (the default): pagers and editors only
        assert "ESCAPED" not in sh(fleet, host.name, escape, check=False), host.name
        assert sh(fleet, host.name, spawn).strip() == "root", host.name
        assert sh(fleet, host.name, "su labuser -c 'sudo -n env id -un'").strip() == "root"
    # all: every command but the exempted ones; pyengine's become (sudo python3) still works
    rc, _, out = run(fleet, tmp_path, BASELINE, "--tags", "sudo",
                     "-e", "baseline_sudo_noexec=all")
    assert rc == 0, out[-3000:]
    for host in fleet.hosts:
        refused = fleet.host(host.name).exec(
            ["su", "labuser", "-c", "sudo -n env id -un"], check=False)
        assert refused.returncode != 0 and "Permission denied" in refused.stderr, host.name
        assert sh(fleet, host.name, "su labuser -c 'sudo -n sh -c \"env id -un\"'").strip() \
            == "root", host.name
        assert "ESCAPED" not in sh(fleet, host.name, escape, check=False), host.name
    rc, out = who(fleet, tmp_path, "labuser")
    assert rc == 0, out[-3000:]
    rc, _, out = run(fleet, tmp_path, BASELINE, "--tags", "sudo",
                     "-e", "baseline_sudo_noexec=off")
    assert rc == 0, out[-3000:]
    for host in fleet.hosts:
        assert sh(fleet, host.name, "test -e /etc/sudoers.d/61-pyengine-noexec || echo gone",
                  check=False).strip() == "gone"


def test_patch_and_backup_run_on_each_release(fleet: Lab, tmp_path: Path) -> None:
    rc, report, out = run(fleet, tmp_path, ROOT / "playbooks" / "patch.yml",
                          "-e", "patch_reboot=never", timeout=900)
    assert rc == 0, out[-3000:]
    for host in fleet.hosts:
        summary = next(t for t in report["hosts"][host.name]["tasks"]
                       if t["name"] == "Patch summary")
        assert summary["status"] == "ok", summary
        pending = fleet.host(host.name).exec(
            ["sh", "-c", "apt-get -s -q upgrade | grep -c '^Inst ' || true"])
        assert pending.stdout.strip() == "0", (host.name, pending.stdout)
    repo = tmp_path / "config-backup"
    rc, report, out = run(fleet, tmp_path, ROOT / "playbooks" / "backup.yml",
                          "-e", f"backup_repo={repo}")
    assert rc == 0, out[-3000:]
    for host in fleet.hosts:  # `lab` is each host's first group (the release groups sort after)
        saved = repo / "backups" / "lab" / host.name / "etc" / "ssh" / "sshd_config"
        assert saved.is_file(), sorted(p.name for p in (repo / "backups").iterdir())
    log = subprocess.run(["git", "-C", str(repo), "log", "--oneline"], capture_output=True,
                         text=True, check=True).stdout
    assert len(log.splitlines()) == 1, log
