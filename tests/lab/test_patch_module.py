"""The patch module on a real lab host: real apt, real dpkg, a local repository.

v1 of the test packages is installed with dpkg -i; the repository publishes v2 of
`sec` through a `-security` suite labelled Debian-Security and v2 of the others through a
normal suite. The module runs through a real agent session over SSH, with private apt
folders (patch_helpers.LAB_APT_OPTIONS) so Debian's mirror is never involved.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from patch_helpers import (  # noqa: E402
    CONF_FILE,
    LAB_APT_OPTIONS,
    PKG,
    build_lab_repo,
    lab_cleanup,
    lab_prepare,
    lab_versions,
)

from pyengine.inventory import load_inventory  # noqa: E402
from pyengine.patching.remote import open_session, run_patch  # noqa: E402

pytestmark = pytest.mark.lab
HOST = "h1"


@pytest.fixture(scope="module")
def env(lab, tmp_path_factory):
    repo, v1 = build_lab_repo(tmp_path_factory.mktemp("patch-lab"))
    host = lab.host(HOST)
    lab_prepare(host, repo, v1, install=["sec", "normal", "held"], hold=("held",))
    # a locally changed config file: the update must keep it
    host.exec(["sh", "-c", f"echo 'setting = local-change' > {CONF_FILE}"])
    inventory = load_inventory(lab.inventory_path)
    session = open_session(HOST, inventory.host_vars(HOST))
    yield host, session
    session.close()
    lab_cleanup(host)


def patch(session, check_mode=False, **args):
    args.setdefault("apt_options", LAB_APT_OPTIONS)
    result = run_patch(session, args, check_mode=check_mode)
    assert not result.get("failed"), result.get("msg")
    return result


def test_1_list_shows_security_and_normal_updates(env):
    host, session = env
    r = patch(session, state="list")
    pending = {u["name"]: u for u in r["pending"]}
    assert set(pending) == {PKG["sec"], PKG["normal"], PKG["held"]}
    assert pending[PKG["sec"]]["security"] is True
    assert pending[PKG["normal"]]["security"] is False
    assert pending[PKG["held"]]["held"] is True
    assert (r["pending_count"], r["security_count"]) == (3, 1)
    assert r["cache_updated"] is True
    assert r["changed"] is False


def test_1b_patch_status_cli_table_and_json(env, lab, tmp_path):
    argv = [sys.executable, "-m", "pyengine", "patch", "status", "-i", str(lab.inventory_path),
            "-l", HOST] + [x for opt in LAB_APT_OPTIONS for x in ("--apt-option", opt)]
    proc = subprocess.run(argv + ["--json", "--json-file", str(tmp_path / "s.json")],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert data == json.loads((tmp_path / "s.json").read_text())
    row = data["hosts"][HOST]
    assert (row["status"], row["pending"], row["security"], row["held"]) == ("ok", 3, 1, 1)
    assert {u["name"]: u["security"] for u in row["updates"]} == {
        PKG["sec"]: True, PKG["normal"]: False, PKG["held"]: False}
    assert data["totals"]["security"] == 1 and data["totals"]["reboot_required"] == 0
    table = subprocess.run(argv, capture_output=True, text=True, timeout=120)
    assert table.returncode == 0, table.stderr
    line = [ln for ln in table.stdout.splitlines() if f" {HOST} " in ln][0]
    assert [cell.strip() for cell in line.split("│")[2:6]] == ["ok", "3", "1", "1"]


def test_2_check_mode_lists_and_changes_nothing(env):
    host, session = env
    r = patch(session, check_mode=True, state="latest")
    assert {p["name"]: p["to"] for p in r["planned"]} == {PKG["sec"]: "2.0",
                                                         PKG["normal"]: "2.0"}
    assert r["changed"] is True and r["changes"] == []
    assert lab_versions(host) == {"sec": "1.0", "normal": "1.0", "held": "1.0"}


def test_3_security_only_applies_the_security_update(env):
    host, session = env
    r = patch(session, state="security")
    assert r["changes"] == [{"name": PKG["sec"], "from": "1.0", "to": "2.0"}]
    assert r["changed"] is True
    assert lab_versions(host) == {"sec": "2.0", "normal": "1.0", "held": "1.0"}
    # counts are what is still pending afterwards: normal and held, none of them security
    assert (r["pending_count"], r["security_count"]) == (2, 0)


def test_4_full_run_applies_the_rest_keeps_held_and_local_config(env):
    host, session = env
    r = patch(session, state="latest")
    assert r["changes"] == [{"name": PKG["normal"], "from": "1.0", "to": "2.0"}]
    assert lab_versions(host) == {"sec": "2.0", "normal": "2.0", "held": "1.0"}
    assert r["pending_count"] == 1  # the held package
    # the local change survives; the maintainer's version is left beside it and reported
    assert host.exec(["cat", CONF_FILE]).stdout == "setting = local-change\n"
    assert host.exec(["cat", CONF_FILE + ".dpkg-dist"]).stdout == "setting = v2-default\n"
    assert r["config_files_kept"] == [{"package": PKG["normal"], "path": CONF_FILE,
                                       "new_version": CONF_FILE + ".dpkg-dist"}]


def test_5_second_run_changes_nothing(env):
    host, session = env
    r = patch(session, state="latest")
    assert r["changed"] is False and r["changes"] == [] and r["planned"] == []
    assert r["msg"] == "no updates to apply"
    assert r["cache_updated"] is False  # within cache_valid_time
    assert [u["name"] for u in r["pending"]] == [PKG["held"]]


def test_6_held_package_is_never_upgraded_even_when_named_nowhere(env):
    host, session = env
    r = patch(session, state="latest", cache_valid_time=0)
    assert r["cache_updated"] is True and r["changes"] == []
    assert lab_versions(host)["held"] == "1.0"
    assert host.exec(["apt-mark", "showhold"]).stdout.split() == [PKG["held"]]


def test_7_exclude_pattern_keeps_a_package(env):
    host, session = env
    host.exec(["apt-mark", "unhold", PKG["held"]])
    try:
        r = patch(session, state="latest", exclude=["*-held"])
        assert r["changes"] == [] and r["planned"] == []
        assert lab_versions(host)["held"] == "1.0"
        check = patch(session, check_mode=True, state="latest")
        assert [p["name"] for p in check["planned"]] == [PKG["held"]]
    finally:
        host.exec(["apt-mark", "hold", PKG["held"]])


def test_8_held_dpkg_lock_is_a_clear_failure(env):
    host, session = env
    ready = "/run/pe-lock-held"
    host.exec(["rm", "-f", ready])
    holder = host.exec(["sh", "-c", (
        "python3 -c \"import fcntl,time; f=open('/var/lib/dpkg/lock-frontend','r+'); "
        f"fcntl.lockf(f, fcntl.LOCK_EX); open('{ready}','w').close(); time.sleep(20)\" "
        ">/dev/null 2>&1 & echo $!")])
    pid = holder.stdout.strip()
    # Only once the holder has the lock: on a quiet machine the patch would be first.
    deadline = time.monotonic() + 20
    while host.exec(["test", "-e", ready], check=False).returncode != 0:
        assert time.monotonic() < deadline, "the lock holder never took the lock"
        time.sleep(0.1)
    try:
        r = run_patch(session, {"state": "latest", "apt_options": LAB_APT_OPTIONS,
                                "lock_timeout": 2})
        assert r["failed"] is True
        assert "/var/lib/dpkg/lock-frontend" in r["msg"] and f"pid {pid}" in r["msg"]
    finally:
        host.exec(["kill", pid], check=False)

