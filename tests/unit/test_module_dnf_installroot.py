"""The dnf module with real dnf and rpm, confined to a temporary install root.

Debian ships dnf, rpm (with rpmbuild) and createrepo_c, so the module's whole path
runs here: packages built with rpmbuild, a repository made with createrepo_c (plus
an updateinfo.xml marking one update as a security fix), and dnf told to install
into `installroot` under tmp_path with its own configuration, cache and rpm
database. Nothing outside tmp_path is written. Skipped where the tools are missing.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

from pyengine.agent.runtime import run_module

SOURCE = (Path(__file__).resolve().parents[2] / "modules" / "dnf.py").read_text()
A, B = "pyetest-rpm-a", "pyetest-rpm-b"

pytestmark = [
    pytest.mark.skipif(any(shutil.which(t) is None for t in
                           ("dnf", "rpm", "rpmbuild", "createrepo_c", "modifyrepo_c")),
                       reason="needs dnf, rpm, rpmbuild and createrepo_c (apt: dnf rpm "
                              "createrepo-c)"),
]

SPEC = """Name: {name}
Version: {version}
Release: 1
Summary: pyengine test package
License: MIT
BuildArch: noarch
{requires}
%description
pyengine test package
%install
mkdir -p %{{buildroot}}/usr/share/{name}
echo {version} > %{{buildroot}}/usr/share/{name}/version
%files
/usr/share/{name}/version
"""

UPDATEINFO = """<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update from="tests@pyengine.invalid" status="stable" type="security" version="1.0">
    <id>PYETEST-2026:0001</id>
    <title>{name} security fix</title>
    <issued date="2026-11-01 00:00:00"/>
    <severity>Important</severity>
    <description>A security fix.</description>
    <pkglist><collection short="t"><name>t</name>
      <package name="{name}" version="2.0" release="1" epoch="0" arch="noarch">
        <filename>{name}-2.0-1.noarch.rpm</filename>
      </package>
    </collection></pkglist>
  </update>
</updates>
"""


def build_rpm(top: Path, name: str, version: str, requires: str = "") -> Path:
    spec = top / f"{name}-{version}.spec"
    spec.write_text(SPEC.format(name=name, version=version,
                                requires=f"Requires: {requires}" if requires else ""))
    subprocess.run(["rpmbuild", "-bb", "--nodeps", "--define", f"_topdir {top}", str(spec)],
                   check=True, capture_output=True)
    return top / "RPMS" / "noarch" / f"{name}-{version}-1.noarch.rpm"


@pytest.fixture
def world(tmp_path: Path) -> dict[str, Any]:
    """A repository, an empty install root and the module arguments that tie them."""
    top, repo, root = tmp_path / "build", tmp_path / "repo", tmp_path / "root"
    for d in (top, repo, root, tmp_path / "repos.d"):
        d.mkdir()
    for name, version, requires in ((A, "1.0", B), (B, "1.0", "")):
        shutil.copy(build_rpm(top, name, version, requires), repo)
    subprocess.run(["createrepo_c", "-q", str(repo)], check=True)
    conf = tmp_path / "dnf.conf"
    conf.write_text(
        f"[main]\nreposdir={tmp_path}/repos.d\ngpgcheck=0\ncachedir={tmp_path}/cache\n"
        f"logdir={tmp_path}/log\npersistdir={tmp_path}/persist\n\n"
        f"[pyetest]\nname=pyetest\nbaseurl=file://{repo}\ngpgcheck=0\nmetadata_expire=0\n")
    return {"top": top, "repo": repo, "root": root,
            "args": {"conf_file": str(conf), "installroot": str(root), "releasever": "1"}}


def dnf(world: dict[str, Any], check: bool = False, **args: Any) -> dict[str, Any]:
    result = run_module(SOURCE, dict(world["args"], **args), check_mode=check, diff_mode=True,
                        name="dnf")
    assert not result["failed"], result
    return result


def installed(world: dict[str, Any]) -> dict[str, str]:
    out = subprocess.run(["rpm", "--root", str(world["root"]), "-qa", "--qf",
                          "%{NAME} %{VERSION}-%{RELEASE}\n"], capture_output=True, text=True,
                         check=True).stdout
    return dict(line.split() for line in out.splitlines() if line.startswith("pyetest"))


def publish(world: dict[str, Any], name: str, version: str, security: bool = False) -> None:
    shutil.copy(build_rpm(world["top"], name, version), world["repo"])
    subprocess.run(["createrepo_c", "-q", "--update", str(world["repo"])], check=True)
    if security:
        info = world["top"] / "updateinfo.xml"
        info.write_text(UPDATEINFO.format(name=name))
        subprocess.run(["modifyrepo_c", str(info), str(world["repo"] / "repodata")],
                       check=True, capture_output=True)


def test_install_with_dependency_then_idempotent_then_check_mode(world: dict[str, Any]) -> None:
    dry = dnf(world, check=True, name=[A])
    assert dry["changed"] and installed(world) == {}
    assert dry["packages"] == {A: {"before": None, "after": "1.0-1"},
                               B: {"before": None, "after": "1.0-1"}}

    first = dnf(world, name=[A])
    assert first["changed"] and first["backend"] == "dnf"
    assert first["packages"] == dry["packages"]
    assert installed(world) == {A: "1.0-1", B: "1.0-1"}
    assert first["diff"]["after"] == f"{A} (none) -> 1.0-1\n{B} (none) -> 1.0-1\n"

    again = dnf(world, name=[A], state="installed")
    assert not again["changed"] and again["msg"] == "packages already installed"

    removal = dnf(world, check=True, name=[B], state="absent")
    assert removal["changed"] and set(removal["packages"]) == {A, B}
    assert installed(world) == {A: "1.0-1", B: "1.0-1"}


def test_missing_package_fails_with_dnfs_reason(world: dict[str, Any]) -> None:
    result = run_module(SOURCE, dict(world["args"], name=["pyetest-rpm-none"]), name="dnf")
    assert result["failed"] and "pyetest-rpm-none" in result["msg"]
    assert installed(world) == {}


def test_latest_security_only_takes_the_security_update(world: dict[str, Any]) -> None:
    dnf(world, name=[A])
    publish(world, A, "1.1")
    publish(world, B, "2.0", security=True)

    dry = dnf(world, check=True, name=["*"], state="latest", security=True, update_cache=True)
    assert dry["changed"] and dry["packages"] == {B: {"before": "1.0-1", "after": "2.0-1"}}
    sec = dnf(world, name=["*"], state="latest", security=True, update_cache=True)
    assert sec["packages"] == {B: {"before": "1.0-1", "after": "2.0-1"}}
    assert installed(world) == {A: "1.0-1", B: "2.0-1"}
    assert not dnf(world, name=["*"], state="latest", security=True)["changed"]

    rest = dnf(world, name=[A], state="latest")
    assert rest["packages"] == {A: {"before": "1.0-1", "after": "1.1-1"}}
    assert not dnf(world, name=[A], state="latest")["changed"]


def test_local_rpm_file_is_installed_once(world: dict[str, Any], tmp_path: Path) -> None:
    rpm = build_rpm(world["top"], "pyetest-rpm-c", "3.0")
    first = dnf(world, name=[str(rpm)], disable_gpg_check=True)
    assert first["packages"] == {"pyetest-rpm-c": {"before": None, "after": "3.0-1"}}
    assert not dnf(world, name=[str(rpm)], disable_gpg_check=True)["changed"]


def test_autoremove_takes_unneeded_dependencies(world: dict[str, Any]) -> None:
    dnf(world, name=[A])
    gone = dnf(world, name=[A], state="absent", autoremove=True)
    assert set(gone["packages"]) == {A, B} and installed(world) == {}
