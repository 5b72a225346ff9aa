"""Where the devsec.hardening collection comes from, and how it lands in a collections path.

The collection is never committed here: the user names its source with
DEVSEC_COLLECTION_SRC (a git directory, a checkout, an installed collection folder or the
tarball `ansible-galaxy collection download devsec.hardening` writes). Without it, a git
mirror beside the checkout (`../.mirror/dev-sec+ansible-collection-hardening/repo`) is
used when it exists. The source is copied into `<dir>/ansible_collections/devsec/hardening`
of a temporary collections path that both tools get through ANSIBLE_COLLECTIONS_PATH.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import yaml

ENV_VAR = "DEVSEC_COLLECTION_SRC"
CHECKOUT = Path(__file__).resolve().parents[2]
# A mirror kept beside the checkout (relative to it, never a machine path).
SIBLING_MIRROR = CHECKOUT.parent / ".mirror" / "dev-sec+ansible-collection-hardening" / "repo"
HOW_TO_GET = (
    f"set {ENV_VAR} to the devsec.hardening collection: a git clone of "
    "https://github.com/dev-sec/ansible-collection-hardening (bare or not), or the .tar.gz "
    "of `ansible-galaxy collection download devsec.hardening==10.6.0`"
)


class SourceMissing(Exception):
    """No collection source was named and none was found."""


def find_source() -> Path:
    """The collection source: $DEVSEC_COLLECTION_SRC, else the mirror beside the checkout."""
    named = os.environ.get(ENV_VAR, "").strip()
    if named:
        path = Path(named).expanduser()
        if not path.exists():
            raise SourceMissing(f"{ENV_VAR}={named} does not exist")
        return path
    if SIBLING_MIRROR.exists():
        return SIBLING_MIRROR
    raise SourceMissing(f"devsec.hardening not found: {HOW_TO_GET}")


def source_for_a_lab_run() -> Path:
    """The collection source for a comparison on a lab (root needed): exits in one line
    when either is missing."""
    if os.geteuid() != 0:
        raise SystemExit("the comparison needs root (it uses a lab)")
    try:
        return find_source()
    except SourceMissing as err:
        raise SystemExit(str(err)) from None


def _is_git_dir(path: Path) -> bool:
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def install(source: Path, collections_dir: Path) -> Path:
    """Copy the collection into `collections_dir`/ansible_collections/devsec/hardening."""
    dest = collections_dir / "ansible_collections" / "devsec" / "hardening"
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    if source.is_file() and tarfile.is_tarfile(source):
        with tarfile.open(source) as tar:
            tar.extractall(dest, filter="data")
    elif _is_git_dir(source) or _is_git_dir(source / ".git"):
        git_dir = source if _is_git_dir(source) else source / ".git"
        archive = subprocess.run(["git", f"--git-dir={git_dir}", "archive", "HEAD"],
                                 capture_output=True, check=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=archive, check=True)
    elif source.is_dir():
        shutil.copytree(source, dest, dirs_exist_ok=True,
                        ignore=shutil.ignore_patterns(".git", ".tox", "tests"))
    else:
        raise SourceMissing(f"{source}: neither a git directory, a folder nor a tarball")
    if not (dest / "roles" / "os_hardening").is_dir():
        raise SourceMissing(f"{source}: no roles/os_hardening inside (not devsec.hardening?)")
    return dest


def version(collection: Path) -> str:
    """The version galaxy.yml (source) or MANIFEST.json (built collection) names."""
    galaxy = collection / "galaxy.yml"
    if galaxy.is_file():
        return str(yaml.safe_load(galaxy.read_text()).get("version", "?"))
    manifest = collection / "MANIFEST.json"
    if manifest.is_file():
        import json

        return str(json.loads(manifest.read_text())["collection_info"]["version"])
    return "?"
