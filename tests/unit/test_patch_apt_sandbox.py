"""The patch module's apt path with real apt-get/apt-cache/dpkg against a local repository.

apt and dpkg run in a private sandbox (APT_CONFIG + DPKG_ADMINDIR under tmp_path), so the
machine's package state is neither read for the results nor written. Real installs happen
on lab hosts (tests/lab/test_patch*.py); here the plan is checked: which packages would
move, to which version, and what is refused.
"""

from __future__ import annotations

import datetime
import subprocess
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from patch_helpers import PREFIX, AptSandbox, Repo, build_deb, status_entry  # noqa: E402

from pyengine.agent.runtime import run_module  # noqa: E402

MODULE = (Path(__file__).resolve().parents[2] / "modules" / "patch.py").read_text()
SEC, NORMAL, HELD, MULTI = (PREFIX + n for n in ("sec", "normal", "held", "multi"))


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory):
    t = tmp_path_factory.mktemp("patch-apt")
    build = t / "build"
    build.mkdir()
    repo = Repo(t / "repo")
    repo.suite("pyetest", "pyengine-test")
    repo.suite("pyetest-security", "Debian-Security")
    repo.add("pyetest-security", build_deb(build, SEC, "2.0"))
    repo.add("pyetest", build_deb(build, NORMAL, "2.0"))
    repo.add("pyetest", build_deb(build, HELD, "2.0"))
    # MULTI: a security fix 1.1 and a newer non-security 3.0
    repo.add("pyetest-security", build_deb(build, MULTI, "1.1"))
    repo.add("pyetest", build_deb(build, MULTI, "3.0"))
    repo.write()
    sb = AptSandbox(t / "sandbox")
    sb.set_sources(repo.sources_list())
    sb.set_status([status_entry(SEC, "1.0"), status_entry(NORMAL, "1.0"),
                   status_entry(HELD, "1.0", "hold ok installed"), status_entry(MULTI, "1.0")])
    sb.update()
    return sb


def run(sb, check_mode=False, **args):
    args.setdefault("update_cache", False)
    return run_module(MODULE, args, check_mode=check_mode, facts={"ansible_pkg_mgr": "apt"},
                      environment=sb.env, name="patch")


def planned(result):
    return {p["name"]: p["to"] for p in result["planned"]}


def test_list_reports_pending_with_security_and_holds(sandbox):
    r = run(sandbox, state="list")
    assert not r["failed"], r["msg"]
    pending = {u["name"]: u for u in r["pending"]}
    assert set(pending) == {SEC, NORMAL, HELD, MULTI}
    assert pending[SEC]["security"] and pending[SEC]["origins"] == [
        "Debian-Security:pyetest-security"]
    assert not pending[NORMAL]["security"]
    assert pending[HELD]["held"] and r["held"] == [HELD]
    assert pending[MULTI]["candidate"] == "3.0" and pending[MULTI]["security_version"] == "1.1"
    assert r["pending_count"] == 4 and r["security_count"] == 2
    assert r["changed"] is False and r["planned"] == []


def test_security_plans_only_security_versions(sandbox):
    r = run(sandbox, check_mode=True, state="security")
    assert not r["failed"], r["msg"]
    # the security fix of MULTI is 1.1 even though 3.0 is newer
    assert planned(r) == {SEC: "2.0", MULTI: "1.1"}
    assert r["changed"] is True and r["msg"] == "would upgrade 2 package(s)"
    assert r["changes"] == []


def test_latest_plans_everything_but_held(sandbox):
    r = run(sandbox, check_mode=True, state="latest")
    assert planned(r) == {SEC: "2.0", NORMAL: "2.0", MULTI: "3.0"}


def test_exclude_patterns_keep_packages(sandbox):
    r = run(sandbox, check_mode=True, state="latest", exclude=["*-normal", "*multi"])
    assert planned(r) == {SEC: "2.0"}
    excluded = sorted(u["name"] for u in r["pending"] if u["excluded"])
    assert excluded == [MULTI, NORMAL]


def test_outside_window_does_nothing(sandbox):
    tomorrow = (datetime.datetime.now() + datetime.timedelta(days=1)).strftime("%a")
    r = run(sandbox, check_mode=True, state="latest", window=f"{tomorrow} 00:00-00:01")
    assert r["in_window"] is False and "pending" not in r
    assert r["msg"].startswith("outside maintenance window")


def test_inside_window_plans(sandbox):
    today = datetime.datetime.now().strftime("%a")
    r = run(sandbox, check_mode=True, state="security", window=f"{today} 00:00-23:59")
    assert r["in_window"] is True and planned(r)


def test_held_dpkg_lock_fails_after_lock_timeout(sandbox):
    lock = sandbox.root / "dpkg" / "lock-frontend"
    lock.touch()
    holder = subprocess.Popen([sys.executable, "-c", (
        "import fcntl,sys,time\n"
        f"f=open({str(lock)!r},'r+'); fcntl.lockf(f, fcntl.LOCK_EX)\n"
        "print('locked', flush=True); time.sleep(30)")], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        r = run(sandbox, state="list", lock_timeout=2)
        waited = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert r["failed"] and str(lock) in r["msg"]
    assert f"pid {holder.pid}" in r["msg"]
    assert 2 <= waited < 10
    r = run(sandbox, state="list", lock_timeout=2)  # lock released: works again
    assert not r["failed"], r["msg"]


def test_broken_dpkg_state_fails_clearly(tmp_path, sandbox):
    broken = AptSandbox(tmp_path / "broken")
    broken.set_sources((sandbox.root / "etc" / "sources.list").read_text())
    broken.set_status([status_entry(SEC, "1.0", "install ok half-configured")])
    r = run(broken, state="list")
    assert r["failed"] and "dpkg is in a broken state" in r["msg"]
    assert SEC in r["msg"]


def test_cache_refresh_respects_cache_valid_time(tmp_path, sandbox):
    fresh = AptSandbox(tmp_path / "fresh")
    fresh.set_sources((sandbox.root / "etc" / "sources.list").read_text())
    fresh.set_status([status_entry(SEC, "1.0")])
    first = run(fresh, state="list", update_cache=True, cache_valid_time=600)
    assert not first["failed"], first["msg"]
    assert first["cache_updated"] is True and first["pending_count"] == 1
    second = run(fresh, state="list", update_cache=True, cache_valid_time=600)
    assert second["cache_updated"] is False and second["cache_age_s"] < 600
    stamps = list((tmp_path / "fresh" / "state").glob("pyengine-update-stamp.*"))
    assert len(stamps) == 1
    third = run(fresh, state="list", update_cache=True, cache_valid_time=0)
    assert third["cache_updated"] is True


def test_check_mode_refreshes_privately_and_leaves_system_lists_alone(tmp_path, sandbox):
    cold = AptSandbox(tmp_path / "cold")
    cold.set_sources((sandbox.root / "etc" / "sources.list").read_text())
    cold.set_status([status_entry(SEC, "1.0")])
    lists = tmp_path / "cold" / "state" / "lists"
    before = sorted(p.name for p in lists.rglob("*"))
    r = run(cold, check_mode=True, state="latest", update_cache=True)
    assert not r["failed"], r["msg"]
    assert r["cache_updated"] is False and r["cache_refreshed_privately"] is True
    assert planned(r) == {SEC: "2.0"}  # accurate although the system lists were empty
    assert sorted(p.name for p in lists.rglob("*")) == before
    assert not list((tmp_path / "cold" / "state").glob("pyengine-update-stamp.*"))
    r = run(cold, check_mode=True, state="latest", update_cache=False)
    assert r["pending"] == [] and "cache_refreshed_privately" not in r


def test_unknown_package_manager_fails():
    r = run_module(MODULE, {"state": "list"}, facts={"ansible_pkg_mgr": "zypper"},
                   name="patch")
    assert r["failed"] and "zypper" in r["msg"]


def test_min_free_mb_reports_and_refuses(sandbox):
    r = run(sandbox, state="list")
    assert set(r["disk_free_mb"]) == {str(sandbox.root / "cache"), "/"}
    assert all(isinstance(v, int) and v > 0 for v in r["disk_free_mb"].values())
    r = run(sandbox, state="latest", min_free_mb=10 ** 9)
    assert r["failed"] and r["msg"].startswith("not enough free disk space")
    assert "pending" not in r
