"""Host-key verification against known_hosts files, with opt-in trust-on-first-use.

Checked files: the project's file (`known_hosts_file`; also where trust-on-first-use
records keys), then, unless turned off, the user's ~/.ssh/known_hosts and the
system's /etc/ssh/ssh_known_hosts. An unknown key is refused unless the policy is
`tofu`; a key that differs from a recorded one (of the same or another type) is always
refused: that is what a man-in-the-middle looks like, and a rebuilt host is fixed
once with `ssh-keygen -R`.
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import paramiko

from pyengine.connection.base import HostKeyError

STRICT = "strict"
TOFU = "tofu"
USER_KNOWN_HOSTS = Path("~/.ssh/known_hosts")
SYSTEM_KNOWN_HOSTS = Path("/etc/ssh/ssh_known_hosts")

# Accepted spellings of the policy (ours, OpenSSH's StrictHostKeyChecking, Ansible's bool).
_POLICY_WORDS = {
    "strict": STRICT, "yes": STRICT, "true": STRICT, "1": STRICT, "on": STRICT,
    "tofu": TOFU, "accept-new": TOFU, "accept_new": TOFU, "trust-new": TOFU,
    # "no"/"false" would disable checking in OpenSSH/Ansible; we never accept a changed
    # key, so the closest safe meaning is trust-on-first-use.
    "no": TOFU, "false": TOFU, "0": TOFU, "off": TOFU,
}

_record_lock = threading.Lock()


def parse_policy(value: object) -> str:
    """`strict` or `tofu` from our option, OpenSSH's words or an Ansible boolean."""
    if value is None:
        return STRICT
    if isinstance(value, bool):
        return STRICT if value else TOFU
    word = str(value).strip().lower()
    if word not in _POLICY_WORDS:
        raise ValueError(f"host_key_checking must be strict or tofu, not {value!r}")
    return _POLICY_WORDS[word]


def host_pattern(address: str, port: int) -> str:
    """The name OpenSSH files a key under: `addr` for port 22, `[addr]:port` otherwise."""
    return address if port == 22 else f"[{address}]:{port}"


def fingerprint(key: paramiko.PKey) -> str:
    """OpenSSH's SHA256 fingerprint (`ssh-keygen -l` prints the same)."""
    digest = hashlib.sha256(key.asbytes()).digest()
    return "SHA256:" + base64.b64encode(digest).decode().rstrip("=")


@dataclass
class KnownHosts:
    """The known_hosts files to check, and the one trust-on-first-use appends to."""

    files: list[Path]
    record_file: Path | None = None
    policy: str = STRICT
    recorded: list[str] = field(default_factory=list)

    @classmethod
    def from_options(
        cls, known_hosts_file: str | None, use_user_files: bool = True, policy: object = None
    ) -> KnownHosts:
        files: list[Path] = []
        record = Path(known_hosts_file).expanduser() if known_hosts_file else None
        if record is not None:
            files.append(record)
        if use_user_files:
            files += [USER_KNOWN_HOSTS.expanduser(), SYSTEM_KNOWN_HOSTS]
        if record is None and use_user_files:
            record = USER_KNOWN_HOSTS.expanduser()  # like OpenSSH's accept-new
        return cls(files=files, record_file=record, policy=parse_policy(policy))

    def _entries(self, pattern: str) -> list[tuple[Path, str, paramiko.PKey]]:
        found: list[tuple[Path, str, paramiko.PKey]] = []
        for path in self.files:
            if not path.is_file():
                continue
            keys = paramiko.HostKeys()
            try:
                keys.load(str(path))
            except (OSError, paramiko.SSHException, UnicodeDecodeError):
                continue
            sub = keys.lookup(pattern)
            if sub:
                found += [(path, kind, key) for kind, key in sub.items()]
        return found

    def verify(self, host: str, address: str, port: int, key: paramiko.PKey) -> None:
        """Accept `key` for address:port, record it (tofu), or raise HostKeyError."""
        pattern = host_pattern(address, port)
        offered = f"{key.get_name()} {fingerprint(key)}"
        entries = self._entries(pattern)
        for _path, _kind, known in entries:
            if known.get_name() == key.get_name() and known.asbytes() == key.asbytes():
                return
        if entries:
            path, _kind, old = next(
                ((p, k, o) for p, k, o in entries if o.get_name() == key.get_name()),
                entries[0],
            )
            raise HostKeyError(
                host,
                f"host key for {pattern} has CHANGED: the server offers {offered} but {path}"
                f" has {old.get_name()} {fingerprint(old)} (possible man-in-the-middle; if the"
                f" host was rebuilt, remove the old key: ssh-keygen -R '{pattern}' -f {path})",
            )
        if self.policy == TOFU and self.record_file is not None:
            self.record(pattern, key)
            return
        where = ", ".join(str(p) for p in self.files) or "no known_hosts file"
        target = self.record_file or USER_KNOWN_HOSTS
        raise HostKeyError(
            host,
            f"host key for {pattern} ({offered}) is not known (checked {where}); verify it"
            f" and add it (ssh-keyscan -p {port} {address} >> {target}) or trust new hosts"
            " on first use (--trust-new-hosts / host_key_checking: tofu)",
        )

    def record(self, pattern: str, key: paramiko.PKey) -> None:
        """Append `pattern type key` to the record file (created 0600 with its folder)."""
        assert self.record_file is not None
        line = f"{pattern} {key.get_name()} {key.get_base64()}\n"
        with _record_lock:
            self.record_file.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(self.record_file, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX)  # other pyengine runs append to it too
                os.write(fd, line.encode())
            finally:
                os.close(fd)
        self.recorded.append(line.strip())

    def preferred_key_types(self, address: str, port: int) -> list[str]:
        """Key types already on record, so the server is asked for one we can check."""
        types: list[str] = []
        for _path, _kind, key in self._entries(host_pattern(address, port)):
            if key.get_name() not in types:
                types.append(key.get_name())
        return types
