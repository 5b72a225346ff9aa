"""Build a small local apt repository for tests, and publish it into a lab host.

Packages are made with `dpkg-deb --build` from a `PkgSpec` (name, version, depends,
maintainer scripts, files); the repository is *flat* (`deb [trusted=yes]
file:/srv/repo/NAME ./`): the .debs, `Packages`, `Packages.gz` and a `Release` whose
Origin/Label/Suite/Codename are chosen by the caller, so a second repository can
pass for a security archive (`origin="Debian", label="Debian-Security",
suite="bookworm-security"`) the way apt pinning and unattended-upgrades see one.
No network and no dpkg-dev needed: index files are written here.

    repo = build_repo(tmp / "main", [PkgSpec("pyetest-a", "1.0"),
                                     PkgSpec("pyetest-b", "2.0", depends=["pyetest-a"])])
    publish(host, repo, "main")          # /srv/repo/main + sources.list.d/pyengine-main.list
    refresh(host, "main")                # apt-get update of that source only
    unpublish(host, "main")

`publish` also writes /srv/repo/NAME.apt.conf. With `APT_CONFIG` pointing at it
(`isolated_env(NAME)` as a task's `environment:`) apt sees only this repository, with
its own package lists under /srv/repo/NAME.lists: `update_cache` does not refresh the
host's Debian mirrors and `upgrade: dist` can only move the test's packages. Without
it, `refresh(host, NAME)` adds the repository to the host's regular lists.
"""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import io
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

REPO_ROOT = "/srv/repo"


@dataclass
class PkgSpec:
    """One binary package. `files` maps absolute install paths to their content."""

    name: str
    version: str
    depends: Sequence[str] = ()
    recommends: Sequence[str] = ()
    postinst: str | None = None
    prerm: str | None = None
    files: dict[str, str] = field(default_factory=dict)
    conffiles: Sequence[str] = ()  # paths among `files` that dpkg treats as configuration
    architecture: str = "all"
    section: str = "misc"
    priority: str = "optional"
    description: str = "pyengine test package"


class _Host(Protocol):
    def exec(self, argv: list[str], input: Any = None, check: bool = True,
             timeout: float = 60) -> subprocess.CompletedProcess[Any]: ...


def build_deb(spec: PkgSpec, outdir: Path) -> Path:
    """Build `NAME_VERSION_ARCH.deb` in outdir with dpkg-deb and return its path."""
    outdir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pyengine-deb-") as tmp:
        root = Path(tmp) / "root"
        debian = root / "DEBIAN"
        debian.mkdir(parents=True)
        for path, content in spec.files.items():
            target = root / path.lstrip("/")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(content)
        control = [f"Package: {spec.name}", f"Version: {spec.version}",
                   f"Architecture: {spec.architecture}",
                   "Maintainer: pyengine tests <tests@pyengine.invalid>",
                   f"Section: {spec.section}", f"Priority: {spec.priority}"]
        if spec.depends:
            control.append("Depends: " + ", ".join(spec.depends))
        if spec.recommends:
            control.append("Recommends: " + ", ".join(spec.recommends))
        control.append(f"Description: {spec.description}")
        (debian / "control").write_text("\n".join(control) + "\n")
        if spec.conffiles:
            (debian / "conffiles").write_text("".join(f"{c}\n" for c in spec.conffiles))
        for script, body in (("postinst", spec.postinst), ("prerm", spec.prerm)):
            if body is not None:
                text = body if body.startswith("#!") else "#!/bin/sh\nset -e\n" + body + "\n"
                (debian / script).write_text(text)
                (debian / script).chmod(0o755)
        deb = outdir / f"{spec.name}_{spec.version.replace(':', '%3a')}_{spec.architecture}.deb"
        subprocess.run(["dpkg-deb", "--root-owner-group", "-Zgzip", "--build", str(root),
                        str(deb)], check=True, capture_output=True)
    return deb


def _control_fields(deb: Path) -> str:
    out = subprocess.run(["dpkg-deb", "-f", str(deb)], check=True, capture_output=True,
                         text=True).stdout
    return out.rstrip("\n")


def _hashes(data: bytes) -> dict[str, str]:
    return {"MD5Sum": hashlib.md5(data).hexdigest(), "SHA256": hashlib.sha256(data).hexdigest()}


def build_repo(directory: Path, packages: Sequence[PkgSpec], suite: str = "pyengine",
               codename: str | None = None, origin: str = "pyengine-test",
               label: str = "pyengine-test") -> Path:
    """Write a flat apt repository with `packages` into directory and return it."""
    directory = Path(directory)
    directory.mkdir(parents=True, exist_ok=True)
    stanzas = []
    for spec in packages:
        deb = build_deb(spec, directory)
        data = deb.read_bytes()
        h = _hashes(data)
        stanzas.append(f"{_control_fields(deb)}\nFilename: ./{deb.name}\nSize: {len(data)}\n"
                       f"MD5sum: {h['MD5Sum']}\nSHA256: {h['SHA256']}\n")
    packages_text = "\n".join(stanzas).encode()
    (directory / "Packages").write_bytes(packages_text)
    packages_gz = gzip.compress(packages_text, mtime=0)
    (directory / "Packages.gz").write_bytes(packages_gz)
    release = [f"Origin: {origin}", f"Label: {label}", f"Suite: {suite}",
               f"Codename: {codename or suite}",
               f"Date: {email.utils.formatdate(usegmt=True)}",
               "Architectures: all amd64 arm64", "Description: pyengine test repository"]
    for algo in ("MD5Sum", "SHA256"):
        release.append(f"{algo}:")
        for name, blob in (("Packages", packages_text), ("Packages.gz", packages_gz)):
            release.append(f" {_hashes(blob)[algo]} {len(blob):>8} {name}")
    (directory / "Release").write_text("\n".join(release) + "\n")
    return directory


def _tar(directory: Path) -> bytes:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for path in sorted(directory.iterdir()):
            tar.add(path, arcname=path.name)
    return buf.getvalue()


def source_list_path(name: str) -> str:
    return f"/etc/apt/sources.list.d/pyengine-{name}.list"


def publish(host: _Host, directory: Path, name: str) -> str:
    """Copy the repository into the host under /srv/repo/NAME (replacing an older copy)
    and add its apt source; returns the folder inside the host."""
    target = f"{REPO_ROOT}/{name}"
    host.exec(["sh", "-c", 'rm -rf "$1" && mkdir -p "$1" && tar -x -C "$1"', "sh", target],
              input=_tar(directory))
    line = f"deb [trusted=yes] file:{target} ./\n"
    host.exec(["sh", "-c", 'cat > "$1"', "sh", source_list_path(name)], input=line)
    lists = f"{REPO_ROOT}/{name}.lists"
    conf = (f'Dir::Etc::sourcelist "{source_list_path(name)}";\n'
            f'Dir::Etc::sourceparts "-";\nDir::State::Lists "{lists}/";\n')
    host.exec(["sh", "-c", 'mkdir -p "$1/partial" && cat > "$2"', "sh", lists,
               only_source_conf(name)], input=conf)
    return target


def only_source_conf(name: str) -> str:
    """An APT_CONFIG file (inside the host): only this repository, with private lists."""
    return f"{REPO_ROOT}/{name}.apt.conf"


def isolated_env(name: str) -> dict[str, str]:
    """A task environment that makes apt see only this repository."""
    return {"APT_CONFIG": only_source_conf(name)}


def refresh(host: _Host, name: str, isolated: bool = False) -> None:
    """apt-get update of this one source: into its private lists (isolated), or into the
    host's regular lists (the host's other sources are left as they are)."""
    if isolated:
        argv = ["env", f"APT_CONFIG={only_source_conf(name)}", "apt-get", "update", "-qq"]
    else:
        argv = ["apt-get", "update", "-qq", "-o",
                f"Dir::Etc::sourcelist={source_list_path(name)}", "-o",
                "Dir::Etc::sourceparts=-", "-o", "APT::Get::List-Cleanup=0"]
    host.exec(argv, timeout=120)


def unpublish(host: _Host, name: str) -> None:
    """Remove the repository and its source from the host (packages stay installed)."""
    host.exec(["rm", "-rf", f"{REPO_ROOT}/{name}", f"{REPO_ROOT}/{name}.lists",
               source_list_path(name), only_source_conf(name)])
    host.exec(["sh", "-c", f"rm -f /var/lib/apt/lists/_srv_repo_{name}_*"])


def copy_into(host: _Host, path: Path, target: str) -> None:
    """Put one local file (a .deb for the `deb` argument, say) into the host."""
    host.exec(["sh", "-c", 'cat > "$1"', "sh", target], input=path.read_bytes())


def have_dpkg_deb() -> bool:
    return shutil.which("dpkg-deb") is not None
