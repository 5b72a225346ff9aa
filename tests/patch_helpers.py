"""Test helpers for the patch module: the suites of a local apt repository (a normal one and
a `-security` one labelled Debian-Security), v1 packages to install, an apt sandbox on the
controller, and the setup/cleanup of lab hosts.

Packages and repositories are built with tests/aptrepo.py (dpkg-deb, flat repositories with
a Release file whose Origin/Label/Suite the caller chooses), so apt reads origins and labels
exactly as it does from Debian's mirrors. Unlike aptrepo.publish, the source list written
here is private (not in /etc/apt/sources.list.d): the patch module is pointed at it with
apt options, so the hosts' own apt configuration never sees the test repository.
"""

from __future__ import annotations

import io
import os
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aptrepo import PkgSpec, build_repo
from aptrepo import build_deb as _aptrepo_build_deb

PREFIX = "pyengine-test-patch-"


def native_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


@dataclass
class Deb:
    spec: PkgSpec
    path: Path

    @property
    def name(self) -> str:
        return self.spec.name


def pkg_spec(name: str, version: str, postinst: str | None = None,
             conffiles: dict[str, str] | None = None) -> PkgSpec:
    """A package spec; `conffiles` maps path -> content of files dpkg treats as config."""
    return PkgSpec(name, version, postinst=postinst, files=dict(conffiles or {}),
                   conffiles=list(conffiles or {}),
                   description=f"pyengine patch test package {name}")


def build_deb(workdir: Path, name: str, version: str, postinst: str | None = None,
              conffiles: dict[str, str] | None = None) -> Deb:
    """Build one .deb (for dpkg -i of the v1 packages)."""
    spec = pkg_spec(name, version, postinst, conffiles)
    return Deb(spec, _aptrepo_build_deb(spec, workdir))


@dataclass
class Suite:
    name: str
    label: str
    origin: str = "pyengine-test"
    specs: list[PkgSpec] = field(default_factory=list)


class Repo:
    """Suites of a local repository, each a flat aptrepo repository in root/SUITE."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.suites: dict[str, Suite] = {}

    def suite(self, name: str, label: str, origin: str = "pyengine-test") -> Suite:
        return self.suites.setdefault(name, Suite(name, label, origin))

    def add(self, suite: str, deb: Deb) -> None:
        self.suites[suite].specs.append(deb.spec)

    def write(self) -> None:
        for suite in self.suites.values():
            build_repo(self.root / suite.name, suite.specs, suite=suite.name,
                       origin=suite.origin, label=suite.label)

    def sources_list(self, base: str | None = None) -> str:
        base = base or str(self.root)
        return "".join(f"deb [trusted=yes] file:{base}/{s} ./\n" for s in self.suites)

    def tar_bytes(self) -> bytes:
        """The repository as a tar (to ship it to a lab host in one exec)."""
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w:gz") as tar:
            tar.add(str(self.root), arcname=".")
        return buf.getvalue()


def status_entry(name: str, version: str, status: str = "install ok installed") -> str:
    return (f"Package: {name}\nStatus: {status}\nPriority: optional\nSection: misc\n"
            f"Maintainer: pyengine tests <tests@example.invalid>\nArchitecture: all\n"
            f"Version: {version}\nDescription: pyengine patch test package\n")


class AptSandbox:
    """apt and dpkg pointed at private folders (APT_CONFIG + DPKG_ADMINDIR): lists, cache,
    sources and the dpkg status live under `root`, so nothing on the machine is read for
    packages or written at all. Only simulation and listing happen here; real installs
    are for lab hosts."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for sub in ("etc/apt.conf.d", "etc/sources.list.d", "etc/preferences.d",
                    "state/lists/partial", "cache/archives/partial", "log",
                    "dpkg/info", "dpkg/updates"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        (root / "dpkg" / "available").touch()
        self.conf = root / "apt.conf"
        self.conf.write_text(
            f'Dir::Etc "{root}/etc";\nDir::Etc::sourcelist "sources.list";\n'
            f'Dir::Etc::sourceparts "sources.list.d";\nDir::Etc::parts "apt.conf.d";\n'
            f'Dir::Etc::preferencesparts "preferences.d";\n'
            f'Dir::State "{root}/state";\nDir::State::status "{root}/dpkg/status";\n'
            f'Dir::Cache "{root}/cache";\nDir::Log "{root}/log";\n'
            f'APT::Sandbox::User "root";\nDebug::NoLocking "true";\n'
            f'APT::Architecture "{native_arch()}";\n')

    @property
    def env(self) -> dict[str, str]:
        return {"APT_CONFIG": str(self.conf), "DPKG_ADMINDIR": str(self.root / "dpkg")}

    def set_sources(self, text: str) -> None:
        (self.root / "etc" / "sources.list").write_text(text)

    def set_status(self, entries: list[str]) -> None:
        (self.root / "dpkg" / "status").write_text("\n".join(entries))
        for entry in entries:  # dpkg --audit wants each package's file list
            name = entry.split("\n", 1)[0].split(": ", 1)[1]
            for ext in ("list", "md5sums"):
                (self.root / "dpkg" / "info" / f"{name}.{ext}").touch()

    def update(self) -> None:
        env = dict(os.environ, **self.env)
        subprocess.run(["apt-get", "-q", "update"], env=env, check=True, capture_output=True)


# ------------------------------------------------------------------------ lab hosts
LAB_REPO = "/srv/pyengine-test-patch/repo"
LAB_CONF = "/etc/pyengine-test-patch"
LAB_STATE = "/var/lib/pyengine-test-patch"
LAB_CACHE = "/var/cache/pyengine-test-patch"
FAIL_MARKER = f"{LAB_CONF}/fail"
CONF_FILE = f"{LAB_CONF}/normal.conf"

# Private apt settings for our operations only: our sources list, our package lists and
# cache. The host's own sources (Debian's archive through the lab proxy) are not read, so
# nothing is downloaded from a mirror and the host's own apt state is not touched.
LAB_APT_OPTIONS = [
    f"Dir::Etc::sourcelist={LAB_CONF}/sources.list",
    f"Dir::Etc::sourceparts={LAB_CONF}/sources.list.d",
    f"Dir::State::Lists={LAB_STATE}/lists",
    f"Dir::Cache={LAB_CACHE}",
]

PKG = {n: PREFIX + n for n in ("sec", "normal", "held", "reboot", "fail")}


def build_lab_repo(workdir: Path) -> tuple[Repo, dict[str, Deb]]:
    """v1 of every test package (installed with dpkg -i) and a repo publishing v2:
    `sec` in a Debian-Security labelled `-security` suite, the others in a normal one."""
    build = workdir / "build"
    build.mkdir(parents=True, exist_ok=True)
    v1: dict[str, Deb] = {}
    repo = Repo(workdir / "repo")
    repo.suite("pyetest", "pyengine-test")
    repo.suite("pyetest-security", "Debian-Security")
    for key, name in PKG.items():
        conf = {CONF_FILE: "setting = v1-default\n"} if key == "normal" else None
        v1[key] = build_deb(build, name, "1.0", conffiles=conf)
    reboot_postinst = (
        "#!/bin/sh\nset -e\n"
        "if [ \"$1\" = configure ]; then\n"
        "  touch /var/run/reboot-required\n"
        f"  echo {PKG['reboot']} >> /var/run/reboot-required.pkgs\n"
        "fi\n")
    fail_postinst = (
        "#!/bin/sh\nset -e\n"
        f"if [ \"$1\" = configure ] && [ -e {FAIL_MARKER} ]; then\n"
        "  echo 'pyengine test: simulated broken update' >&2; exit 1\nfi\n")
    repo.add("pyetest-security", build_deb(build, PKG["sec"], "2.0"))
    repo.add("pyetest", build_deb(build, PKG["normal"], "2.0",
                                  conffiles={CONF_FILE: "setting = v2-default\n"}))
    repo.add("pyetest", build_deb(build, PKG["held"], "2.0"))
    repo.add("pyetest", build_deb(build, PKG["reboot"], "2.0", postinst=reboot_postinst))
    repo.add("pyetest", build_deb(build, PKG["fail"], "2.0", postinst=fail_postinst))
    repo.write()
    return repo, v1


def lab_prepare(host: Any, repo: Repo, v1: dict[str, Deb], install: list[str],
                hold: tuple[str, ...] = ()) -> None:
    """Put the repo and our private apt folders on a lab host, reset our packages and
    install v1 of `install` (keys of PKG)."""
    lab_cleanup(host)
    host.exec(["mkdir", "-p", LAB_REPO, f"{LAB_CONF}/sources.list.d", f"{LAB_STATE}/lists/partial",
               f"{LAB_CACHE}/archives/partial", "/tmp/pyengine-test-patch-v1"])
    host.exec(["tar", "-xzf", "-", "-C", LAB_REPO], input=repo.tar_bytes())
    host.exec(["tee", f"{LAB_CONF}/sources.list"], input=repo.sources_list(LAB_REPO))
    debs = []
    for key in install:
        target = f"/tmp/pyengine-test-patch-v1/{v1[key].path.name}"
        host.exec(["sh", "-c", 'cat > "$1"', "sh", target], input=v1[key].path.read_bytes())
        debs.append(target)
    if debs:
        host.exec(["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "-i", *debs])
    for key in hold:
        host.exec(["apt-mark", "hold", PKG[key]])
    host.exec(["rm", "-rf", "/tmp/pyengine-test-patch-v1"])


def lab_versions(host: Any) -> dict[str, str]:
    """Installed versions of our packages on a host, read with dpkg-query inside it."""
    proc = host.exec(["dpkg-query", "-W", "-f", "${Package} ${Version} ${db:Status-Abbrev}\n",
                      *PKG.values()], check=False)
    out = {}
    for line in proc.stdout.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[2].startswith(("ii", "hi", "iF", "hF", "iU")):
            out[fields[0][len(PREFIX):]] = fields[1]
    return out


def lab_cleanup(host: Any) -> None:
    """Remove everything the patch tests put on a host (packages, holds, folders, flags)."""
    host.exec(["rm", "-f", FAIL_MARKER], check=False)
    host.exec(["apt-mark", "unhold", *PKG.values()], check=False)
    host.exec(["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "--configure", "-a"],
              check=False)
    host.exec(["env", "DEBIAN_FRONTEND=noninteractive", "dpkg", "--purge", *PKG.values()],
              check=False)
    pkgs = host.exec(["cat", "/var/run/reboot-required.pkgs"], check=False).stdout.split()
    if pkgs and all(p.startswith(PREFIX) for p in pkgs):
        host.exec(["rm", "-f", "/var/run/reboot-required", "/var/run/reboot-required.pkgs"])
    host.exec(["rm", "-rf", "/srv/pyengine-test-patch", LAB_CONF, LAB_STATE, LAB_CACHE],
              check=False)
    host.exec(["sh", "-c", "rm -f /var/lib/apt/pyengine-update-stamp.*pyengine_test_patch*"],
              check=False)
