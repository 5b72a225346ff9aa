"""playbooks/patch.yml on the lab: reboot only where required, rolling batches that stop
at the first failing batch, maintenance windows, post-checks, check mode.

Runs the real `pyengine run` over SSH on up to six lab hosts, with the local repository of
patch_helpers (v1 installed, v2 published) and private apt folders (patch_apt_options).
"""

from __future__ import annotations

import datetime
import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from patch_helpers import (  # noqa: E402
    FAIL_MARKER,
    LAB_APT_OPTIONS,
    build_lab_repo,
    lab_cleanup,
    lab_prepare,
    lab_versions,
)

pytestmark = pytest.mark.lab
ROOT = Path(__file__).resolve().parents[2]
PLAYBOOK = ROOT / "playbooks" / "patch.yml"
PYENGINE = [sys.executable, "-m", "pyengine"]


@pytest.fixture(scope="module")
def six(lab, tmp_path_factory):
    """Up to six lab hosts with the repo; cleaned up at the end."""
    hosts = lab.hosts[:6]
    if len(hosts) < 6:
        pytest.skip("these tests need six lab hosts (PYENGINE_TEST_LAB_HOSTS >= 6)")
    repo, v1 = build_lab_repo(tmp_path_factory.mktemp("patch-pb"))
    yield lab, hosts, repo, v1
    for host in hosts:
        lab_cleanup(host)


def boot_id(host) -> str:
    return host.exec(["cat", "/proc/sys/kernel/random/boot_id"]).stdout.strip()


def run_patch_playbook(lab, tmp_path, limit: str, check: bool = False, playbook=PLAYBOOK,
                       **extra):
    variables = {"patch_apt_options": LAB_APT_OPTIONS, "patch_postcheck_retries": 3}
    variables.update(extra)
    report = tmp_path / "report.json"
    argv = PYENGINE + ["run", str(playbook), "-i", str(lab.inventory_path), "-l", limit,
                       "-e", json.dumps(variables), "--report-json", str(report)]
    if check:
        argv.append("--check")
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=900, cwd=ROOT)
    data = json.loads(report.read_text()) if report.exists() else None
    return proc, data


def task(data, host, name_start):
    for t in data["hosts"][host]["tasks"]:
        if t["name"].startswith(name_start):
            return t
    return None


def test_reboots_only_the_host_that_requires_it(six, tmp_path):
    lab, hosts, repo, v1 = six
    h1, h2, h3 = hosts[:3]
    for host in (h1, h3):
        lab_prepare(host, repo, v1, install=["sec", "normal"])
    lab_prepare(h2, repo, v1, install=["sec", "normal", "reboot"])
    before = {h.name: boot_id(h) for h in (h1, h2, h3)}
    proc, data = run_patch_playbook(lab, tmp_path, "h1,h2,h3", patch_reboot="auto")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    after = {h.name: boot_id(h) for h in (h1, h2, h3)}
    assert after[h2.name] != before[h2.name]  # really rebooted and came back
    assert after[h1.name] == before[h1.name] and after[h3.name] == before[h3.name]
    assert task(data, h2.name, "Reboot where required")["status"] == "changed"
    assert task(data, h1.name, "Reboot where required")["status"] == "skipped"
    assert lab_versions(h2) == {"sec": "2.0", "normal": "2.0", "reboot": "2.0"}
    # after the reboot the flag is gone and the post-check found the services again
    assert task(data, h2.name, "Post-check")["status"] == "ok"
    assert h2.exec(["test", "-e", "/var/run/reboot-required"], check=False).returncode == 1
    # a second run changes nothing and reboots nothing
    proc, data = run_patch_playbook(lab, tmp_path, "h1,h2,h3", patch_reboot="auto")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert all(data["hosts"][h.name]["changed"] == 0 for h in (h1, h2, h3))
    assert boot_id(h2) == after[h2.name]


def test_serial_two_stops_after_the_first_batch_with_a_failing_host(six, tmp_path):
    lab, hosts, repo, v1 = six
    for host in hosts:
        lab_prepare(host, repo, v1, install=["sec", "fail"])
    bad = hosts[1]
    bad.exec(["touch", FAIL_MARKER])  # its v2 postinst fails: a broken update
    limit = ",".join(h.name for h in hosts)
    # patch_max_fail_percentage defaults to 0 once patch_serial is set
    proc, data = run_patch_playbook(lab, tmp_path, limit, patch_serial=2)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "max_fail_percentage 0% exceeded" in proc.stdout + proc.stderr
    apply = task(data, bad.name, "Apply updates")
    assert apply["status"] == "failed" and "apt-get upgrade failed" in apply["msg"]
    first = hosts[0]
    assert lab_versions(first)["fail"] == "2.0"  # the rest of batch one went through
    for host in hosts[2:]:  # batches two and three never started
        assert lab_versions(host) == {"sec": "1.0", "fail": "1.0"}
        assert not data["hosts"].get(host.name, {}).get("tasks")
    # without patch_serial it is one batch: a failing host fails alone
    hosts[3].exec(["touch", FAIL_MARKER])
    rest = ",".join(h.name for h in hosts[2:])
    proc, data = run_patch_playbook(lab, tmp_path, rest)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert task(data, hosts[3].name, "Apply updates")["status"] == "failed"
    for host in (hosts[2], hosts[4], hosts[5]):
        assert lab_versions(host) == {"sec": "2.0", "fail": "2.0"}
        assert task(data, host.name, "Patch summary")["status"] == "ok"


def test_outside_the_window_skips_the_host_and_says_why(six, tmp_path):
    lab, hosts, repo, v1 = six
    host = hosts[3]
    lab_prepare(host, repo, v1, install=["sec", "normal"])
    host_now = datetime.datetime.strptime(
        host.exec(["date", "+%Y-%m-%d %H:%M"]).stdout.strip(), "%Y-%m-%d %H:%M")
    other_day = (host_now + datetime.timedelta(days=2)).strftime("%a")
    proc, data = run_patch_playbook(lab, tmp_path, host.name,
                                    patch_window=f"{other_day} 02:00-05:00")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = task(data, host.name, "Skipped - outside the maintenance window")
    assert said["status"] == "ok" and "outside maintenance window" in said["msg"]
    assert task(data, host.name, "Apply updates") is None
    assert lab_versions(host) == {"sec": "1.0", "normal": "1.0"}
    today = host_now.strftime("%a")
    proc, data = run_patch_playbook(lab, tmp_path, host.name, patch_mode="security",
                                    patch_window=f"{today} 00:00-23:59")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert lab_versions(host) == {"sec": "2.0", "normal": "1.0"}


def test_check_mode_changes_nothing(six, tmp_path):
    lab, hosts, repo, v1 = six
    host = hosts[4]
    lab_prepare(host, repo, v1, install=["sec", "normal", "reboot"])
    before = boot_id(host)
    proc, data = run_patch_playbook(lab, tmp_path, host.name, check=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    apply = task(data, host.name, "Apply updates")
    assert apply["status"] == "changed" and "would upgrade 3 package(s)" in apply["msg"]
    assert lab_versions(host) == {"sec": "1.0", "normal": "1.0", "reboot": "1.0"}
    assert boot_id(host) == before


def test_postcheck_fails_when_a_running_service_did_not_come_back(six, tmp_path):
    lab, hosts, repo, v1 = six
    host = hosts[5]
    lab_prepare(host, repo, v1, install=["sec"])
    # a transient service runs now and will not survive the reboot
    host.exec(["systemd-run", "--unit=pyengine-test-patch-svc", "sleep", "3600"])
    try:
        proc, data = run_patch_playbook(lab, tmp_path, host.name, patch_reboot="always",
                                        patch_postcheck_retries=1)
        assert proc.returncode == 2, proc.stdout + proc.stderr
        post = task(data, host.name, "Post-check")
        assert post["status"] == "failed", post
        assert post["msg"].startswith("retries exhausted"), post["msg"]
        assert task(data, host.name, "Reboot where required")["status"] == "changed"
    finally:
        host.exec(["systemctl", "stop", "pyengine-test-patch-svc"], check=False)


def test_reboot_never_reports_instead_of_rebooting(six, tmp_path):
    lab, hosts, repo, v1 = six
    host = hosts[2]
    lab_prepare(host, repo, v1, install=["reboot"])
    before = boot_id(host)
    proc, data = run_patch_playbook(lab, tmp_path, host.name, patch_reboot="never")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    said = task(data, host.name, "Reboot required but not allowed")
    assert said["status"] == "ok" and "/var/run/reboot-required exists" in said["msg"]
    assert task(data, host.name, "Reboot where required")["status"] == "skipped"
    assert boot_id(host) == before
    assert host.exec(["test", "-e", "/var/run/reboot-required"], check=False).returncode == 0
