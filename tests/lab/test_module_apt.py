"""The apt module on a real Debian host against a local repository built in the test.

Packages are made with dpkg-deb (tests/aptrepo.py) and published into the host as a
flat `file:` repository, so nothing comes from the internet. Every package name
carries a per-run suffix and everything installed is purged at the end; apt's view
of the host's Debian mirrors is never refreshed (APT_CONFIG limits updates to the
test's own source and lists, see tests/aptrepo.py), so apt only ever sees the
test's packages: even `upgrade: dist` cannot move anything else.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aptrepo import (  # noqa: E402
    PkgSpec,
    build_deb,
    build_repo,
    copy_into,
    isolated_env,
    publish,
    refresh,
    unpublish,
)
from modtarget import Target  # noqa: E402

pytestmark = pytest.mark.lab

SUF = uuid.uuid4().hex[:6]
REPO = f"apt{SUF}"
A, B, C = (f"pyetest-{SUF}-{x}" for x in "abc")
MARK = f"/var/lib/{A}.postinst"


def pkg_a(version: str) -> PkgSpec:
    return PkgSpec(A, version, files={f"/usr/share/{A}/version": version + "\n"},
                   postinst=f"echo {version} > {MARK}")


def version_of(t: Target, name: str) -> str:
    """The installed version by dpkg's own account, '' when not installed."""
    out = t.sh(f"dpkg-query -W -f '${{db:Status-Abbrev}}|${{Version}}' {name} 2>/dev/null",
               check=False)
    status, _, version = out.partition("|")
    return version if status.startswith("ii") else ""


@pytest.fixture(scope="module")
def h2(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    target = Target(lab, "h2")
    repo = build_repo(tmp_path_factory.mktemp("repo") / "v1",
                      [pkg_a("1.0"), PkgSpec(B, "1.0", depends=[f"{A} (>= 1.0)"])])
    publish(target.host, repo, REPO)
    refresh(target.host, REPO, isolated=True)
    target.environment = isolated_env(REPO)
    yield target
    target.sh(f"dpkg --purge {A} {B} {C} >/dev/null 2>&1; rm -f {MARK} /tmp/{C}.deb; true")
    unpublish(target.host, REPO)
    target.close()


def test_install_pulls_dependency_then_changes_nothing(h2: Target) -> None:
    first = h2.ok("apt", {"name": [B]})
    assert first["changed"]
    assert first["packages"] == {A: {"before": None, "after": "1.0"},
                                 B: {"before": None, "after": "1.0"}}
    assert version_of(h2, A) == "1.0" and version_of(h2, B) == "1.0"
    assert h2.sh(f"cat {MARK}") == "1.0\n"  # the maintainer script ran, non-interactively
    assert first["diff"]["after"] == f"installed {A} 1.0\ninstalled {B} 1.0\n"

    again = h2.ok("apt", {"name": [B], "state": "present"})
    assert not again["changed"] and again["msg"] == "packages already present"

    dry = h2.ok("apt", {"name": [B], "state": "absent"}, check=True)
    assert dry["changed"] and dry["packages"] == {B: {"before": "1.0", "after": None}}
    assert version_of(h2, B) == "1.0"


def test_unknown_package_fails_clearly(h2: Target) -> None:
    result = h2.run("apt", {"name": [f"pyetest-{SUF}-missing"]})
    assert result["failed"]
    assert result["msg"] == f"No package matching 'pyetest-{SUF}-missing' is available"


def test_latest_after_cache_update_then_pinned_downgrade(
        h2: Target, tmp_path_factory: pytest.TempPathFactory) -> None:
    h2.ok("apt", {"name": [A]})
    repo = build_repo(tmp_path_factory.mktemp("repo") / "v2",
                      [pkg_a("1.0"), pkg_a("2.0"), PkgSpec(B, "1.0", depends=[A])])
    publish(h2.host, repo, REPO)

    # Check mode never refreshes the cache (as in Ansible): it plans from the lists it has.
    stale = h2.ok("apt", {"name": [A], "state": "latest", "update_cache": True}, check=True)
    assert not stale["changed"] and version_of(h2, A) == "1.0"

    up = h2.ok("apt", {"name": [A], "state": "latest", "update_cache": True})
    assert up["cache_updated"] and up["changed"]
    assert up["packages"] == {A: {"before": "1.0", "after": "2.0"}}
    assert version_of(h2, A) == "2.0" and h2.sh(f"cat {MARK}") == "2.0\n"

    steady = h2.ok("apt", {"name": [A], "state": "latest", "update_cache": True,
                           "cache_valid_time": 3600})
    assert not steady["changed"] and not steady["cache_updated"]

    pin = {"name": [f"{A}=1.0"], "allow_downgrade": True}
    dry = h2.ok("apt", pin, check=True)
    assert dry["changed"] and dry["packages"][A] == {"before": "2.0", "after": "1.0"}
    assert version_of(h2, A) == "2.0"
    down = h2.ok("apt", pin)
    assert down["packages"] == {A: {"before": "2.0", "after": "1.0"}}
    assert version_of(h2, A) == "1.0"
    assert not h2.ok("apt", pin)["changed"]

    # The host is behind again: check mode reports apt's own plan and moves nothing.
    dry = h2.ok("apt", {"name": [A], "state": "latest"}, check=True)
    assert dry["changed"] and dry["packages"] == {A: {"before": "1.0", "after": "2.0"}}
    assert dry["diff"]["after"] == f"upgraded {A} 1.0 -> 2.0\n"
    assert version_of(h2, A) == "1.0"


def test_remove_with_purge_and_auto_remove(h2: Target) -> None:
    h2.ok("apt", {"name": [B]})
    # Guard for the shared lab: --auto-remove must only take our dependency with it.
    unused = h2.sh("apt-get -s autoremove | grep -c '^Remv' || true").strip()
    if unused != "0":
        pytest.skip(f"host has {unused} unrelated auto-removable packages")
    h2.sh(f"apt-mark auto {A} >/dev/null")
    args = {"name": [B], "state": "absent", "purge": True, "autoremove": True}
    gone = h2.ok("apt", args)
    assert gone["changed"]
    assert set(gone["packages"]) == {A, B}
    assert version_of(h2, A) == "" and version_of(h2, B) == ""
    assert h2.sh(f"dpkg-query -W -f '${{db:Status-Abbrev}}' {B} 2>/dev/null || true")[:2] \
        in ("", "un", "pn")
    assert not h2.ok("apt", args)["changed"]


def test_deb_file_on_the_host(h2: Target, tmp_path: Path) -> None:
    deb = build_deb(PkgSpec(C, "3.1-1", files={f"/etc/{C}.conf": "x=1\n"},
                            conffiles=[f"/etc/{C}.conf"]), tmp_path)
    copy_into(h2.host, deb, f"/tmp/{C}.deb")
    dry = h2.ok("apt", {"deb": f"/tmp/{C}.deb"}, check=True)
    assert dry["changed"] and version_of(h2, C) == ""
    first = h2.ok("apt", {"deb": f"/tmp/{C}.deb"})
    assert first["changed"] and first["packages"] == {C: {"before": None, "after": "3.1-1"}}
    assert version_of(h2, C) == "3.1-1" and h2.sh(f"cat /etc/{C}.conf") == "x=1\n"
    assert not h2.ok("apt", {"deb": f"/tmp/{C}.deb"})["changed"]


def test_policy_rc_d_only_while_apt_runs(h2: Target, tmp_path: Path) -> None:
    name = f"pyetest-{SUF}-d"
    seen = f"/var/lib/{name}.policy"
    deb = build_deb(PkgSpec(name, "1.0", postinst=f"cat /usr/sbin/policy-rc.d > {seen}"),
                    tmp_path)
    copy_into(h2.host, deb, f"/tmp/{name}.deb")
    had_policy = h2.sh("test -e /usr/sbin/policy-rc.d && echo yes || echo no").strip()
    try:
        h2.ok("apt", {"deb": f"/tmp/{name}.deb", "policy_rc_d": 101})
        assert h2.sh(f"cat {seen}") == "#!/bin/sh\nexit 101\n"
        assert h2.sh("test -e /usr/sbin/policy-rc.d && echo yes || echo no").strip() == had_policy
    finally:
        h2.sh(f"dpkg --purge {name} >/dev/null 2>&1; rm -f {seen} /tmp/{name}.deb; true")


def test_dist_upgrade_moves_only_what_apt_can_see(h2: Target,
                                                  tmp_path_factory: pytest.TempPathFactory) -> None:
    h2.ok("apt", {"name": [f"{A}=1.0"], "allow_downgrade": True})
    repo = build_repo(tmp_path_factory.mktemp("repo") / "v3", [pkg_a("1.0"), pkg_a("3.0")])
    publish(h2.host, repo, REPO)
    refresh(h2.host, REPO, isolated=True)
    dry = h2.ok("apt", {"upgrade": "dist"}, check=True)
    assert dry["changed"] and dry["packages"] == {A: {"before": "1.0", "after": "3.0"}}
    assert version_of(h2, A) == "1.0"
    done = h2.ok("apt", {"upgrade": "dist"})
    assert done["packages"] == {A: {"before": "1.0", "after": "3.0"}}
    assert version_of(h2, A) == "3.0"
    again = h2.ok("apt", {"upgrade": "dist"})
    assert not again["changed"] and again["msg"] == "nothing to do"
