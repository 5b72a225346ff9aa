"""What makes each host itself: hostname, machine-id, host keys, authorized keys.

The seed is made once at lab creation and copied into the host's empty overlay upper
layer at creation and at every `lab reset`, so a reset host is pristine yet keeps its
identity (known_hosts stays valid). Directories created in the upper layer copy the
image's owner and mode: an overlay shows the upper directory's attributes, and a
/root that turned 0755 would not be pristine.
"""

from __future__ import annotations

import os
import secrets
import shutil
from dataclasses import dataclass
from pathlib import Path

from pyengine.lab.config import LAB_PW_USER, LAB_USER
from pyengine.lab.keys import KeyPair


@dataclass(frozen=True)
class SeedFile:
    path: str  # relative to the host's /
    data: bytes
    mode: int
    owner: str = "root"


def passwd_ids(image: Path) -> dict[str, tuple[int, int, str]]:
    """user -> (uid, gid, home) from the image's /etc/passwd."""
    ids: dict[str, tuple[int, int, str]] = {}
    for line in (image / "etc/passwd").read_text().splitlines():
        parts = line.split(":")
        if len(parts) >= 7:
            ids[parts[0]] = (int(parts[2]), int(parts[3]), parts[5])
    return ids


def host_seed_files(
    host: str, host_keys: list[KeyPair], authorized_key: str, homes: dict[str, str]
) -> list[SeedFile]:
    files = [
        SeedFile("etc/hostname", f"{host}\n".encode(), 0o644),
        SeedFile(
            "etc/hosts",
            f"127.0.0.1\tlocalhost\n127.0.1.1\t{host}\n"
            "::1\tlocalhost ip6-localhost ip6-loopback\n".encode(),
            0o644,
        ),
        SeedFile("etc/machine-id", f"{secrets.token_hex(16)}\n".encode(), 0o444),
    ]
    for key in host_keys:
        base = f"etc/ssh/ssh_host_{key.kind}_key"
        files.append(SeedFile(base, key.private, 0o600))
        files.append(SeedFile(base + ".pub", (key.public + "\n").encode(), 0o644))
    for user in ("root", LAB_USER, LAB_PW_USER):
        home = homes.get(user, "/root" if user == "root" else f"/home/{user}").lstrip("/")
        files.append(SeedFile(f"{home}/.ssh/authorized_keys", (authorized_key + "\n").encode(),
                              0o600, owner=user))
    return files


def write_seed(seed_dir: Path, files: list[SeedFile], image: Path) -> None:
    """Store the seed as a tree whose files and directories carry the final owner/mode."""
    ids = passwd_ids(image)
    if seed_dir.exists():
        shutil.rmtree(seed_dir)
    seed_dir.mkdir(parents=True)
    # The seed's top stands for the host's "/": it must carry the image root's attributes.
    root_st = image.stat()
    os.chown(seed_dir, root_st.st_uid, root_st.st_gid)
    os.chmod(seed_dir, root_st.st_mode & 0o7777)
    for item in files:
        uid, gid, _home = ids.get(item.owner, (0, 0, "/root"))
        target = seed_dir / item.path
        _mkdirs_like(seed_dir, target.parent, image, default_owner=(uid, gid))
        target.write_bytes(item.data)
        os.chown(target, uid, gid)
        os.chmod(target, item.mode)


def _mkdirs_like(top: Path, directory: Path, image: Path,
                 default_owner: tuple[int, int]) -> None:
    """Create `directory` under `top`, each level copying the image's owner and mode
    (a level the image lacks, such as ~/.ssh, gets `default_owner` and 0700)."""
    rel = directory.relative_to(top)
    current = top
    for part in rel.parts:
        current = current / part
        if current.exists():
            continue
        current.mkdir()
        lower = image / current.relative_to(top)
        if lower.is_dir() and not lower.is_symlink():
            st = lower.stat()
            os.chown(current, st.st_uid, st.st_gid)
            os.chmod(current, st.st_mode & 0o7777)
        else:
            os.chown(current, *default_owner)
            os.chmod(current, 0o700)


def apply_seed(seed_dir: Path, upper: Path) -> None:
    """Copy the seed tree into an (empty) upper layer, keeping owners and modes."""
    for dirpath, dirnames, filenames in os.walk(seed_dir):
        src_dir = Path(dirpath)
        dst_dir = upper / src_dir.relative_to(seed_dir)
        if not dst_dir.exists():
            dst_dir.mkdir()
        st = src_dir.stat()
        os.chown(dst_dir, st.st_uid, st.st_gid)
        os.chmod(dst_dir, st.st_mode & 0o7777)
        for name in filenames:
            shutil.copy2(src_dir / name, dst_dir / name)
            fst = (src_dir / name).stat()
            os.chown(dst_dir / name, fst.st_uid, fst.st_gid)
        dirnames.sort()
