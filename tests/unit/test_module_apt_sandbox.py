"""The apt module's planning and check mode with real apt-get and dpkg-query, in a sandbox.

apt and dpkg are pointed at private folders under tmp_path (APT_CONFIG and
DPKG_ADMINDIR, passed as the task's environment), with a repository built by
tests/aptrepo.py and a hand-written dpkg status. Only check mode runs here: the
module asks apt for a simulation, so nothing is installed and the machine's own
package state is neither read for the answers nor written. Real installs are in
tests/lab/test_module_apt.py.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from aptrepo import PkgSpec, build_repo, have_dpkg_deb  # noqa: E402

from pyengine.agent.runtime import run_module  # noqa: E402

SOURCE = (Path(__file__).resolve().parents[2] / "modules" / "apt.py").read_text()
A, B = "pyetest-sandbox-a", "pyetest-sandbox-b"

pytestmark = pytest.mark.skipif(not have_dpkg_deb(), reason="needs dpkg-deb and apt")


def _status_entry(name: str, version: str) -> str:
    return (f"Package: {name}\nStatus: install ok installed\nPriority: optional\n"
            f"Section: misc\nMaintainer: t <t@t.invalid>\nArchitecture: all\n"
            f"Version: {version}\nDescription: installed for the test\n")


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    root = tmp_path_factory.mktemp("apt-sandbox")
    repo = build_repo(root / "repo", [PkgSpec(A, "1.0"), PkgSpec(A, "2.0"),
                                      PkgSpec(B, "1.0", depends=[A])])
    for sub in ("etc/apt.conf.d", "etc/preferences.d", "etc/sources.list.d",
                "state/lists/partial", "cache/archives/partial", "dpkg/info", "dpkg/updates"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / "etc/sources.list").write_text(f"deb [trusted=yes] file:{repo} ./\n")
    (root / "dpkg/status").write_text(_status_entry(A, "1.0"))
    (root / "dpkg/available").touch()
    arch = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()
    conf = root / "apt.conf"
    conf.write_text(
        f'Dir::Etc "{root}/etc";\nDir::Etc::sourcelist "sources.list";\n'
        f'Dir::Etc::sourceparts "sources.list.d";\nDir::Etc::parts "apt.conf.d";\n'
        f'Dir::Etc::preferencesparts "preferences.d";\nDir::State "{root}/state";\n'
        f'Dir::State::status "{root}/dpkg/status";\nDir::Cache "{root}/cache";\n'
        f'APT::Sandbox::User "root";\nDebug::NoLocking "true";\nAPT::Architecture "{arch}";\n')
    env = {"APT_CONFIG": str(conf), "DPKG_ADMINDIR": str(root / "dpkg")}
    subprocess.run(["apt-get", "-q", "update"], env=env, check=True, capture_output=True)
    return env


def plan(sandbox: dict[str, str], **args: Any) -> dict[str, Any]:
    """The module in check mode (the only mode allowed on this machine)."""
    return run_module(SOURCE, args, check_mode=True, diff_mode=True, environment=sandbox,
                      name="apt")


def test_missing_package_would_come_with_nothing_else(sandbox: dict[str, str]) -> None:
    result = plan(sandbox, name=[B])
    assert result["changed"] and not result["failed"]
    assert result["packages"] == {B: {"before": None, "after": "1.0"}}
    assert result["diff"]["after"] == f"installed {B} 1.0\n"
    assert result["msg"] == f"would: installed {B} 1.0"


def test_installed_package_is_left_alone(sandbox: dict[str, str]) -> None:
    result = plan(sandbox, name=[A])
    assert not result["changed"] and result["msg"] == "packages already present"


def test_latest_would_upgrade_to_the_candidate(sandbox: dict[str, str]) -> None:
    result = plan(sandbox, name=[A], state="latest")
    assert result["packages"] == {A: {"before": "1.0", "after": "2.0"}}


def test_pinned_version_already_installed(sandbox: dict[str, str]) -> None:
    assert not plan(sandbox, name=[f"{A}=1.*"])["changed"]
    assert plan(sandbox, name=[f"{A}=2.0"])["packages"][A]["after"] == "2.0"


def test_absent_would_remove_and_purge(sandbox: dict[str, str]) -> None:
    removed = plan(sandbox, name=[A, B], state="absent", purge=True)
    assert removed["packages"] == {A: {"before": "1.0", "after": None}}
    assert not plan(sandbox, name=[B], state="absent")["changed"]


def test_unknown_package_fails_before_apt_runs(sandbox: dict[str, str]) -> None:
    result = plan(sandbox, name=["pyetest-sandbox-nope"])
    assert result["failed"]
    assert result["msg"] == "No package matching 'pyetest-sandbox-nope' is available"


def test_upgrade_yes_simulates_a_safe_upgrade(sandbox: dict[str, str]) -> None:
    result = plan(sandbox, upgrade="yes")
    assert result["packages"] == {A: {"before": "1.0", "after": "2.0"}}
