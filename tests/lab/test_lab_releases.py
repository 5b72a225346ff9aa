"""A mixed lab: one Debian 11, 12 and 13 host each (`lab up --release ...`), every host
booting its own release's image, reachable over SSH, running the agent, getting packages
through the lab's apt proxy, and shown with its release in `lab status` and the inventory.

The module brings up its own lab (PYENGINE_TEST_RELEASES_LAB, default "releases", on octet
PYENGINE_TEST_RELEASES_OCTET, default 23) and takes it down at the end unless it was up
before or PYENGINE_KEEP_LAB=1. Images not cached yet are built on first use (debootstrap, about
1.5 minutes per release).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyengine.errors import LabError
from pyengine.lab import Lab

pytestmark = pytest.mark.lab

RELEASES = ("bullseye", "bookworm", "trixie")
VERSIONS = {"bullseye": "11", "bookworm": "12", "trixie": "13"}
LAB_NAME = os.environ.get("PYENGINE_TEST_RELEASES_LAB", "releases")
OCTET = int(os.environ.get("PYENGINE_TEST_RELEASES_OCTET", "23"))

PLAYBOOK = """\
- hosts: lab
  gather_facts: true
  tasks:
    - name: the release as the agent's facts see it
      copy:
        dest: /root/pe-release.txt
        content: "{{ ansible_distribution_release }} {{ ansible_distribution_major_version }}\\n"
        mode: "0600"
- hosts: release_debian13
  gather_facts: false
  tasks:
    - name: only the release group's hosts
      file: {path: /root/pe-debian13-only, state: touch, modification_time: preserve,
             access_time: preserve}
"""


@pytest.fixture(scope="module")
def mixed_lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (namespaces and overlay mounts); run pytest as root")
    lab = Lab(LAB_NAME, OCTET)
    was_up = lab.is_up()  # tests/lab/test_baseline_releases.py shares this lab
    lab.up(len(RELEASES), releases=RELEASES)
    try:
        yield lab
    finally:
        if not was_up and os.environ.get("PYENGINE_KEEP_LAB") != "1":
            lab.down()


def sh(lab: Lab, host: str, script: str) -> str:
    return str(lab.host(host).exec(["sh", "-c", script]).stdout).strip()


def run(lab: Lab, tmp: Path, playbook: Path) -> tuple[int, dict[str, Any], str]:
    report = tmp / f"report-{uuid.uuid4().hex[:6]}.json"
    cmd = [sys.executable, "-m", "pyengine", "run", str(playbook), "-i",
           str(lab.inventory_path), "--report-json", str(report)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def test_each_host_boots_its_own_release_with_systemd_and_sshd(mixed_lab: Lab) -> None:
    for index, release in enumerate(RELEASES, start=1):
        name = f"h{index}"
        os_release = dict(line.split("=", 1) for line in
                          sh(mixed_lab, name, "cat /etc/os-release").splitlines() if "=" in line)
        assert os_release["VERSION_CODENAME"] == release, name
        assert os_release["VERSION_ID"].strip('"') == VERSIONS[release], name
        assert sh(mixed_lab, name, "cat /proc/1/comm") == "systemd"
        state = mixed_lab.host(name).exec(["systemctl", "is-system-running"], check=False)
        assert state.stdout.strip() in ("running", "degraded"), (name, state.stdout)
        assert sh(mixed_lab, name, "systemctl is-active ssh") == "active"


def test_the_agent_sees_each_release_and_runs_a_task_on_each(mixed_lab: Lab,
                                                             tmp_path: Path) -> None:
    book = tmp_path / "release.yml"
    book.write_text(PLAYBOOK)
    try:
        rc, report, out = run(mixed_lab, tmp_path, book)
        assert rc == 0, out[-2000:]
        for index, release in enumerate(RELEASES, start=1):
            name = f"h{index}"
            assert report["hosts"][name]["failed"] == 0, out[-2000:]
            assert sh(mixed_lab, name, "cat /root/pe-release.txt") == \
                f"{release} {VERSIONS[release]}"
            only = sh(mixed_lab, name, "test -e /root/pe-debian13-only && echo yes || echo no")
            assert only == ("yes" if release == "trixie" else "no"), name
        rc, again, out = run(mixed_lab, tmp_path, book)
        assert rc == 0, out[-2000:]
        assert {n: h["changed"] for n, h in again["hosts"].items()} == \
            {"h1": 0, "h2": 0, "h3": 0}
    finally:
        for index in range(1, len(RELEASES) + 1):
            sh(mixed_lab, f"h{index}", "rm -f /root/pe-release.txt /root/pe-debian13-only")


def test_apt_reaches_each_releases_suites_through_the_lab_proxy(mixed_lab: Lab) -> None:
    for index, release in enumerate(RELEASES, start=1):
        name = f"h{index}"
        proc = mixed_lab.host(name).exec(["apt-get", "update"], check=False, timeout=120)
        assert proc.returncode == 0, (name, proc.stdout[-1000:], proc.stderr[-1000:])
        for suite in (release, f"{release}-updates", f"{release}-security"):
            assert f" {suite} InRelease" in proc.stdout, (name, suite, proc.stdout)
        assert "Err:" not in proc.stdout and "W: " not in proc.stderr, proc.stderr
        # A package download goes through the proxy's cache as well.
        fetched = mixed_lab.host(name).exec(
            ["sh", "-c", "cd /tmp && apt-get download -q hello && ls hello_*.deb && rm -f "
                         "hello_*.deb"], check=False, timeout=120)
        assert fetched.returncode == 0, (name, fetched.stderr[-1000:])


def test_lab_status_and_lab_json_show_each_hosts_release(mixed_lab: Lab) -> None:
    proc = subprocess.run([sys.executable, "-m", "pyengine", "lab", "status", "--name",
                           mixed_lab.name], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    rows = {line.split()[0]: line.split() for line in proc.stdout.splitlines()[1:]}
    for index, release in enumerate(RELEASES, start=1):
        assert release in rows[f"h{index}"], proc.stdout
    saved = json.loads(mixed_lab.paths.config.read_text())
    assert saved["releases"] == list(RELEASES)
    assert sorted(saved["images"]) == sorted(RELEASES)
    assert len(set(saved["images"].values())) == 3


def test_inventory_groups_the_hosts_by_release(mixed_lab: Lab) -> None:
    children = yaml.safe_load(mixed_lab.inventory_path.read_text())["all"]["children"]
    assert list(children["lab"]["hosts"]) == ["h1", "h2", "h3"]
    assert {g: list(children[f"release_{g}"]["hosts"])
            for g in ("debian11", "debian12", "debian13")} == \
        {"debian11": ["h1"], "debian12": ["h2"], "debian13": ["h3"]}


def test_a_running_lab_is_not_silently_given_other_releases(mixed_lab: Lab) -> None:
    with pytest.raises(LabError, match="already up with releases bullseye,bookworm,trixie"):
        mixed_lab.up(3, releases=("trixie", "trixie", "trixie"))
    mixed_lab.up(3, releases=RELEASES)  # the same ask only checks it
