"""Test helpers for the patch module: .deb packages built with dpkg-deb, a signed-less local
apt repository with a normal and a security suite, and an apt sandbox on the controller.

The repository layout is a real one (dists/SUITE/Release with Origin/Label/Suite and
SHA256 sums, main/binary-ARCH/Packages, pool/), so apt reads origins and labels exactly
as it does from Debian's mirrors: `Label: Debian-Security` / `Suite: bookworm-security`
is what marks a security update.
"""

from __future__ import annotations

import email.utils
import hashlib
import io
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass, field
from pathlib import Path

PREFIX = "pyengine-test-patch-"


def native_arch() -> str:
    return subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                          check=True).stdout.strip()


@dataclass
class Deb:
    name: str
    version: str
    path: Path
    control: str


def build_deb(workdir: Path, name: str, version: str, postinst: str | None = None,
              conffiles: dict[str, str] | None = None, depends: str | None = None,
              files: dict[str, str] | None = None) -> Deb:
    """Build an Architecture: all package with dpkg-deb (no fakeroot needed: --root-owner-group)."""
    stage = workdir / f"stage-{name}-{version}"
    if stage.exists():
        shutil.rmtree(stage)
    (stage / "DEBIAN").mkdir(parents=True)
    all_files = dict(files or {})
    all_files.update(conffiles or {})
    for rel, content in all_files.items():
        target = stage / rel.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(content)
    control = (f"Package: {name}\nVersion: {version}\nArchitecture: all\n"
               f"Maintainer: pyengine tests <tests@example.invalid>\nSection: misc\n"
               f"Priority: optional\n")
    if depends:
        control += f"Depends: {depends}\n"
    control += f"Description: pyengine patch test package {name}\n"
    (stage / "DEBIAN" / "control").write_text(control)
    if conffiles:
        (stage / "DEBIAN" / "conffiles").write_text(
            "".join("/" + p.lstrip("/") + "\n" for p in conffiles))
    if postinst:
        script = stage / "DEBIAN" / "postinst"
        script.write_text(postinst)
        script.chmod(0o755)
    out = workdir / f"{name}_{version}_all.deb"
    subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(stage),
                    str(out)], check=True, capture_output=True)
    shutil.rmtree(stage)
    return Deb(name, version, out, control)


@dataclass
class Suite:
    name: str
    label: str
    origin: str = "pyengine-test"
    debs: list[Deb] = field(default_factory=list)


class Repo:
    """A local apt repository: add suites and packages, then `write()` the indexes."""

    def __init__(self, root: Path, arch: str | None = None) -> None:
        self.root = root
        self.arch = arch or native_arch()
        self.suites: dict[str, Suite] = {}

    def suite(self, name: str, label: str, origin: str = "pyengine-test") -> Suite:
        return self.suites.setdefault(name, Suite(name, label, origin))

    def add(self, suite: str, deb: Deb) -> None:
        self.suites[suite].debs.append(deb)

    def write(self) -> None:
        pool = self.root / "pool" / "main"
        pool.mkdir(parents=True, exist_ok=True)
        for suite in self.suites.values():
            comp = self.root / "dists" / suite.name / "main" / f"binary-{self.arch}"
            comp.mkdir(parents=True, exist_ok=True)
            entries = []
            for deb in suite.debs:
                target = pool / deb.path.name
                shutil.copy2(deb.path, target)
                data = target.read_bytes()
                entries.append(
                    deb.control.rstrip("\n") + "\n"
                    + f"Filename: pool/main/{deb.path.name}\nSize: {len(data)}\n"
                    + f"MD5sum: {hashlib.md5(data).hexdigest()}\n"
                    + f"SHA256: {hashlib.sha256(data).hexdigest()}\n")
            packages = "\n".join(entries).encode()
            (comp / "Packages").write_bytes(packages)
            rel_path = f"main/binary-{self.arch}/Packages"
            release = (
                f"Origin: {suite.origin}\nLabel: {suite.label}\nSuite: {suite.name}\n"
                f"Codename: {suite.name}\n"
                f"Date: {email.utils.formatdate(usegmt=True)}\n"
                f"Architectures: {self.arch}\nComponents: main\n"
                f"Description: pyengine patch test suite {suite.name}\n"
                f"MD5Sum:\n {hashlib.md5(packages).hexdigest()} {len(packages)} {rel_path}\n"
                f"SHA256:\n {hashlib.sha256(packages).hexdigest()} {len(packages)} {rel_path}\n")
            (self.root / "dists" / suite.name / "Release").write_text(release)

    def sources_list(self, uri: str | None = None) -> str:
        uri = uri or f"file:{self.root}"
        return "".join(f"deb [trusted=yes] {uri} {s} main\n" for s in self.suites)

    def tar_bytes(self) -> bytes:
        """The repository as a tar (to ship it to a lab host in one put)."""
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
