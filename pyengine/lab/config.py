"""Names, addresses and paths of a lab: the pure part every other lab file builds on.

A lab is a named set of hosts h1..hN reached at 127.0.<octet>.N port 22. Its state
lives under /var/lib/pyengine/labs/<name>/ (outside the repository) and the root
filesystem every lab shares is cached under /var/cache/pyengine/.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path

from pyengine.errors import LabError
from pyengine.lab.releases import DEFAULT_RELEASE

STATE_ROOT = Path(os.environ.get("PYENGINE_LAB_STATE_ROOT", "/var/lib/pyengine/labs"))
CACHE_ROOT = Path(os.environ.get("PYENGINE_LAB_CACHE_ROOT", "/var/cache/pyengine"))
# Each host's processes live below this cgroup of the named `systemd` hierarchy.
CGROUP_ROOT = Path("/sys/fs/cgroup/systemd/pyengine")

DEFAULT_NAME = "default"
DEFAULT_OCTET = 1
# Hosts are 127.0.<octet>.1 .. .254 (.0 and .255 are kept out, as on a real /24).
MAX_HOSTS = 254
# systemd: systemd as PID 1, like a server. light: sshd as the only process in the same
# isolated namespaces (no systemd, no inotify instance), for scale tests and benchmarks.
HOST_KINDS = ("systemd", "light")
SSH_PORT = 22
# Inside each host, apt reaches the lab's caching proxy here (see aptproxy.py).
APT_PROXY_PORT = 3142

# Users baked into the image (see image.py); tests use them for `become`.
LAB_USER = "labuser"  # passwordless sudo
LAB_PW_USER = "labpw"  # sudo asks for LAB_PW_PASSWORD
LAB_PW_PASSWORD = "labpw-secret"

# Capabilities whose effect reaches the whole machine (clock, kernel modules, raw I/O,
# kernel log, accounting, audit rules, MAC policy, wake alarms, BPF/perf): no host keeps them.
DROPPED_CAPS = (
    "sys_time",
    "sys_module",
    "sys_rawio",
    "syslog",
    "sys_pacct",
    "audit_control",
    "mac_admin",
    "mac_override",
    "wake_alarm",
    "block_suspend",
    "bpf",
    "perfmon",
)

_NAME_RE = re.compile(r"^[a-z0-9][a-z0-9_-]{0,31}$")


def validate_name(name: str) -> str:
    """A lab name becomes a directory and a cgroup name: keep it short and plain."""
    if not _NAME_RE.match(name):
        raise LabError(
            f"invalid lab name {name!r}: use 1-32 characters a-z 0-9 _ - (starting with a "
            "letter or digit)"
        )
    return name


def validate_octet(octet: int) -> int:
    """127.0.0.x is the machine's own loopback; 255 is broadcast-like: allow 1..254."""
    if not 1 <= octet <= 254:
        raise LabError(f"invalid lab octet {octet}: must be between 1 and 254")
    return octet


def validate_count(count: int) -> int:
    if count < 1:
        raise LabError(f"invalid host count {count}: must be at least 1")
    if count > MAX_HOSTS:
        raise LabError(
            f"invalid host count {count}: a lab's hosts are 127.0.<octet>.1-{MAX_HOSTS}, so at "
            f"most {MAX_HOSTS} per lab (for more, bring up a second lab on another --octet)"
        )
    return count


def validate_kind(kind: str) -> str:
    if kind not in HOST_KINDS:
        raise LabError(f"invalid host kind {kind!r}: must be one of {', '.join(HOST_KINDS)}")
    return kind


def validate_delay(delay_ms: int) -> int:
    if not 0 <= delay_ms <= 10_000:
        raise LabError(f"invalid delay {delay_ms} ms: must be between 0 and 10000")
    return delay_ms


def host_name(index: int) -> str:
    """Host names are h1..hN (index starts at 1)."""
    return f"h{index}"


def host_address(octet: int, index: int) -> str:
    """Host hN of a lab on `octet` is reached at 127.0.<octet>.N."""
    return f"127.0.{octet}.{index}"


def cap_drop_arg() -> str:
    """The `setpriv --bounding-set` argument that drops DROPPED_CAPS."""
    return ",".join(f"-{cap}" for cap in DROPPED_CAPS)


@dataclass(frozen=True)
class LabConfig:
    """What `lab up` was asked for; saved as lab.json so later commands agree with it."""

    name: str
    octet: int
    count: int
    delay_ms: int = 0
    image: str = ""  # the image of hosts without a release of their own (Debian 12)
    # Debian release of h1..hN (empty: all the default, bookworm) and each release's image.
    releases: tuple[str, ...] = ()
    images: dict[str, str] = field(default_factory=dict)
    kind: str = "systemd"  # see HOST_KINDS; labs made before light hosts are systemd

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2, sort_keys=True) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LabConfig:
        data = json.loads(text)
        return cls(
            name=str(data["name"]),
            octet=int(data["octet"]),
            count=int(data["count"]),
            delay_ms=int(data.get("delay_ms", 0)),
            image=str(data.get("image", "")),
            releases=tuple(str(r) for r in data.get("releases", ())),
            images={str(k): str(v) for k, v in data.get("images", {}).items()},
            kind=validate_kind(str(data.get("kind", "systemd"))),
        )

    def host_names(self) -> list[str]:
        return [host_name(i) for i in range(1, self.count + 1)]

    def release_of(self, host: str) -> str:
        """The Debian release host `host` boots (labs made before releases: bookworm)."""
        index = int(host.lstrip("h")) - 1
        return self.releases[index] if index < len(self.releases) else DEFAULT_RELEASE

    def image_of(self, host: str) -> str:
        """The image directory host `host` boots from."""
        return self.images.get(self.release_of(host), self.image)


class LabPaths:
    """Every file of one lab's state directory, named in one place."""

    def __init__(self, name: str, root: Path | None = None) -> None:
        self.name = name
        self.dir = (root or STATE_ROOT) / name

    @property
    def config(self) -> Path:
        return self.dir / "lab.json"

    @property
    def daemon_pid(self) -> Path:
        return self.dir / "daemon.pid"

    @property
    def daemon_log(self) -> Path:
        return self.dir / "daemon.log"

    @property
    def control(self) -> Path:
        return self.dir / "control.sock"

    @property
    def boot_script(self) -> Path:
        return self.dir / "boot.sh"

    @property
    def inventory(self) -> Path:
        return self.dir / "inventory.yml"

    @property
    def known_hosts(self) -> Path:
        return self.dir / "known_hosts"

    @property
    def private_key(self) -> Path:
        return self.dir / "id_ed25519"

    @property
    def public_key(self) -> Path:
        return self.dir / "id_ed25519.pub"

    def host_dir(self, host: str) -> Path:
        return self.dir / "hosts" / host

    def host_pid(self, host: str) -> Path:
        return self.host_dir(host) / "pid"

    def host_seed(self, host: str) -> Path:
        return self.host_dir(host) / "seed"

    def host_upper(self, host: str) -> Path:
        return self.host_dir(host) / "upper"

    def host_work(self, host: str) -> Path:
        return self.host_dir(host) / "work"

    def host_root(self, host: str) -> Path:
        return self.host_dir(host) / "root"

    def host_console(self, host: str) -> Path:
        return self.host_dir(host) / "console.log"

    def cgroup(self, host: str | None = None) -> Path:
        base = CGROUP_ROOT / self.name
        return base / host if host else base
