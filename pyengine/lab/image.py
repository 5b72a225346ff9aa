"""The Debian root filesystems lab hosts boot from (11, 12, 13), each built once and cached.

Two cached stages per release under /var/cache/pyengine/: the raw debootstrap tree (slow, depends
only on the package list) and the customised image (users, sshd and apt settings,
masked units; fast to redo when the customisation changes). Hosts never write here:
each one gets an overlay whose lower layer is the image.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from pyengine.errors import LabError
from pyengine.lab.config import (
    APT_PROXY_PORT,
    CACHE_ROOT,
    LAB_PW_PASSWORD,
    LAB_PW_USER,
    LAB_USER,
    STATE_ROOT,
)
from pyengine.lab.releases import DEFAULT_RELEASE, RELEASES

SUITE = DEFAULT_RELEASE
MIRROR = "http://deb.debian.org/debian"
# minbase + what a small real server has and what the tests touch (systemd as init, sshd,
# sudo, python3 for the agent, cron/logrotate, python3-apt, acl, ...). The same names exist
# in Debian 11, 12 and 13.
PACKAGES = (
    "systemd,systemd-sysv,dbus,iproute2,openssh-server,python3,sudo,procps,ca-certificates,"
    "cron,logrotate,less,nano,vim-tiny,iputils-ping,netbase,kmod,psmisc,python3-apt,tzdata,"
    "adduser,acl"
)
# Bump when customise() changes so every machine rebuilds the image (not the debootstrap).
CUSTOMISE_VERSION = "6"

# Units that only make noise or grab the dpkg lock behind the tests' back, and units that
# hold inotify instances: those are limited per user for the whole machine
# (fs.inotify.max_user_instances, often 128) and every host's root shares that budget.
MASKED_UNITS = (
    "systemd-ask-password-console.path",
    "systemd-ask-password-wall.path",
    "systemd-logind.service",
    "apt-daily.service",
    "apt-daily.timer",
    "apt-daily-upgrade.service",
    "apt-daily-upgrade.timer",
    "e2scrub_all.timer",
    "e2scrub_reap.service",
    "fstrim.timer",
    "console-getty.service",
    "getty@tty1.service",
)

MARKER = ".pyengine-image"
# Debian 11 is the first release whose security suite is named <codename>-security.
SOURCES_TEMPLATE = """\
deb {mirror} {suite} main
deb {mirror} {suite}-updates main
deb http://deb.debian.org/debian-security {suite}-security main
"""
SOURCES_LIST = SOURCES_TEMPLATE.format(mirror=MIRROR, suite=SUITE)
APT_PROXY_CONF = f"""\
// Lab hosts have no network: apt goes through the lab's caching proxy (pyengine lab).
Acquire::http::Proxy "http://127.0.0.1:{APT_PROXY_PORT}";
Acquire::https::Proxy "http://127.0.0.1:{APT_PROXY_PORT}";
// A repository served inside the host itself is reached directly.
Acquire::http::Proxy::localhost "DIRECT";
Acquire::http::Proxy::127.0.0.1 "DIRECT";
"""
SSHD_CONF = """\
# pyengine lab: host keys are made per host at lab creation.
HostKey /etc/ssh/ssh_host_ed25519_key
HostKey /etc/ssh/ssh_host_ecdsa_key
PermitRootLogin prohibit-password
UseDNS no
MaxStartups 200:30:400
MaxSessions 100
"""
SUDOERS = f"""\
# pyengine lab users: {LAB_USER} needs no password, {LAB_PW_USER} needs its own.
{LAB_USER} ALL=(ALL:ALL) NOPASSWD: ALL
{LAB_PW_USER} ALL=(ALL:ALL) ALL
"""

Log = Callable[[str], None]


def _digest(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:12]


def check_release(release: str) -> str:
    if release not in RELEASES:
        raise LabError(f"no lab image for Debian release {release!r}: "
                       f"use one of {', '.join(RELEASES)}")
    return release


def sources_list(release: str = SUITE) -> str:
    return SOURCES_TEMPLATE.format(mirror=MIRROR, suite=check_release(release))


def debootstrap_dir(release: str = SUITE) -> Path:
    suite = check_release(release)
    return CACHE_ROOT / "debootstrap" / f"{suite}-{_digest(suite, MIRROR, PACKAGES)}"


def image_dir(release: str = SUITE) -> Path:
    """Named <release>-<digest of everything that goes into it>. The default release's
    digest is what it was before other releases existed: caches and labs stay valid."""
    suite = check_release(release)
    digest = _digest(suite, MIRROR, PACKAGES, CUSTOMISE_VERSION, SSHD_CONF, SUDOERS,
                     APT_PROXY_CONF, sources_list(suite), *MASKED_UNITS)
    return CACHE_ROOT / "rootfs" / f"{suite}-{digest}"


def image_ready(release: str = SUITE) -> bool:
    return (image_dir(release) / MARKER).exists()


def require_debootstrap() -> None:
    if shutil.which("debootstrap") is None:
        raise LabError(
            "the lab needs debootstrap to build its Debian image: apt-get install debootstrap"
        )


@contextmanager
def _build_lock() -> Iterator[None]:
    """Two `lab up` (other octets, other engineers) may start at once: build only once."""
    CACHE_ROOT.mkdir(parents=True, exist_ok=True)
    with open(CACHE_ROOT / "build.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(argv: list[str], log: Log, what: str) -> None:
    proc = subprocess.run(argv, capture_output=True, text=True)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise LabError(f"{what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    log(f"{what}: done")


def ensure_image(log: Log = lambda _msg: None, release: str = SUITE) -> Path:
    """The release's customised image directory, building whatever stage is missing."""
    final = image_dir(release)
    if (final / MARKER).exists():
        return final
    with _build_lock():
        if (final / MARKER).exists():
            return final
        raw = _ensure_debootstrap(log, release)
        tmp = final.with_name(f".{final.name}.tmp")
        if tmp.exists():
            shutil.rmtree(tmp)
        tmp.parent.mkdir(parents=True, exist_ok=True)
        log(f"copying the debootstrap tree into {tmp}")
        _run(["cp", "-a", "--reflink=auto", str(raw), str(tmp)], log, "copy debootstrap tree")
        customise(tmp, log, release)
        (tmp / MARKER).write_text(f"{release} {CUSTOMISE_VERSION}\n")
        os.replace(tmp, final)
        _remove_unused_images(final, log)
    return final


def _release_of_image(image: Path) -> str:
    return image.name.split("-", 1)[0]


def _remove_unused_images(current: Path, log: Log) -> None:
    """Older images of the same release that no lab boots from any more (the customisation
    changed) are removed; other releases' images are not this build's business."""
    in_use = {current.resolve()}
    for config in STATE_ROOT.glob("*/lab.json"):
        try:
            data = json.loads(config.read_text())
            in_use.add(Path(data["image"]).resolve())
            in_use.update(Path(str(path)).resolve() for path in data.get("images", {}).values())
        except (OSError, ValueError, KeyError, AttributeError):
            return  # unsure what is in use: keep everything
    release = _release_of_image(current)
    for image in current.parent.iterdir():
        if (image.is_dir() and not image.name.startswith(".") and image.resolve() not in in_use
                and _release_of_image(image) == release):
            log(f"removing unused image {image}")
            shutil.rmtree(image, ignore_errors=True)


def _ensure_debootstrap(log: Log, release: str) -> Path:
    raw = debootstrap_dir(release)
    if (raw / MARKER).exists():
        return raw
    require_debootstrap()
    tmp = raw.with_name(f".{raw.name}.tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.parent.mkdir(parents=True, exist_ok=True)
    log(f"debootstrap {release} into {tmp} (a minute or two, once per machine)")
    _run(
        ["debootstrap", "--variant=minbase", f"--include={PACKAGES}", release, str(tmp), MIRROR],
        log,
        f"debootstrap {release}",
    )
    (tmp / MARKER).write_text(f"{release} {PACKAGES}\n")
    os.replace(tmp, raw)
    return raw


def _write(root: Path, rel: str, text: str, mode: int = 0o644) -> None:
    path = root / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    os.chmod(path, mode)


def _chroot(root: Path, argv: list[str], log: Log, what: str, stdin: str | None = None) -> None:
    env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin", "LANG": "C.UTF-8", "HOME": "/root",
           "DEBIAN_FRONTEND": "noninteractive"}
    proc = subprocess.run(["chroot", str(root), *argv], input=stdin, capture_output=True,
                          text=True, env=env)
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise LabError(f"image: {what} failed (exit {proc.returncode}): {' | '.join(tail)}")
    log(f"image: {what}")


def customise(root: Path, log: Log, release: str = SUITE) -> None:
    """Turn the debootstrap tree into a lab server image (no per-host data: see seed.py)."""
    _write(root, "etc/hostname", "debian\n")
    _write(root, "etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n")
    _write(root, "etc/apt/sources.list", sources_list(release))
    # Package lists like a real server's; apt-get update inside a host refreshes them.
    _chroot(root, ["apt-get", "update", "-qq"], log, "apt-get update")
    _write(root, "etc/apt/apt.conf.d/01pyengine-lab-proxy", APT_PROXY_CONF)
    _write(root, "etc/resolv.conf", "# pyengine lab host: no DNS (apt uses the lab proxy)\n")
    _write(root, "etc/ssh/sshd_config.d/pyengine-lab.conf", SSHD_CONF)
    _write(root, "etc/sudoers.d/pyengine-lab", SUDOERS, 0o440)
    for key in (root / "etc/ssh").glob("ssh_host_*"):
        key.unlink()
    # Empty machine-id: each host gets its own in its seed.
    _write(root, "etc/machine-id", "", 0o444)
    dbus_id = root / "var/lib/dbus/machine-id"
    if dbus_id.exists() or dbus_id.is_symlink():
        dbus_id.unlink()
    dbus_id.parent.mkdir(parents=True, exist_ok=True)
    dbus_id.symlink_to("/etc/machine-id")
    for user in (LAB_USER, LAB_PW_USER):
        _chroot(root, ["useradd", "--create-home", "--shell", "/bin/bash",
                       "--comment", "pyengine lab user", user], log, f"useradd {user}")
    _chroot(root, ["chpasswd"], log, "set passwords", stdin=f"{LAB_PW_USER}:{LAB_PW_PASSWORD}\n")
    system_dir = root / "etc/systemd/system"
    for unit in MASKED_UNITS:
        link = system_dir / unit
        if link.exists() or link.is_symlink():
            link.unlink()
        link.symlink_to("/dev/null")
    for cache in (root / "var/cache/apt/archives").glob("*.deb"):
        cache.unlink()
    for rel in ("var/cache/apt/pkgcache.bin", "var/cache/apt/srcpkgcache.bin"):
        (root / rel).unlink(missing_ok=True)
