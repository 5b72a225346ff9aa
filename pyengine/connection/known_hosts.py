"""Host-key verification against known_hosts files, with opt-in trust-on-first-use.

Checked files: the project's file (`known_hosts_file`; also where trust-on-first-use
records keys), then, unless turned off, the user's ~/.ssh/known_hosts and the
system's /etc/ssh/ssh_known_hosts. An unknown key is refused unless the policy is
`tofu`; a key that differs from a recorded one (of the same or another type) is always
refused: that is what a man-in-the-middle looks like, and a rebuilt host is fixed
once with `ssh-keygen -R`. A key marked `@revoked` is refused for every host.
Files follow OpenSSH's format: plain and hashed names, `[host]:port`, `*`/`?` wildcards
and `!` negation; `@cert-authority` lines are ignored (no host certificates).
"""

from __future__ import annotations

import base64
import fcntl
import fnmatch
import hashlib
import hmac
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

from pyengine.connection._paramiko import paramiko
from pyengine.connection.base import HostKeyError
from pyengine.paths import expand_user

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


@dataclass(frozen=True)
class KnownHostEntry:
    """One usable known_hosts line: host patterns, key, and an optional @marker."""

    patterns: tuple[str, ...]
    key: paramiko.PKey
    marker: str | None = None

    def matches(self, name: str) -> bool:
        """OpenSSH's rules: exact names, hashed names (|1|salt|hash), * and ? wildcards,
        and !negation (a negated match excludes the line whatever else matches)."""
        matched = False
        for pattern in self.patterns:
            negate = pattern.startswith("!")
            pattern = pattern[1:] if negate else pattern
            if pattern.startswith("|1|"):
                hit = hmac.compare_digest(paramiko.HostKeys.hash_host(name, pattern), pattern)
            elif "*" in pattern or "?" in pattern:
                hit = fnmatch.fnmatchcase(name, pattern)
            else:
                hit = pattern == name
            if hit and negate:
                return False
            matched = matched or hit
        return matched


_cache: dict[Path, tuple[tuple[int, int, int], list[KnownHostEntry]]] = {}
_cache_lock = threading.Lock()


def read_known_hosts(path: Path) -> list[KnownHostEntry]:
    """The lines of a known_hosts file we can use; comments, @cert-authority lines and
    lines we cannot parse are skipped (one bad line must not hide the others).

    Parsed once per file version (mtime, size, inode): hundreds of hosts connecting in
    one run all check the same big files.
    """
    try:
        st = path.stat()
    except OSError:
        return []
    stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
    with _cache_lock:
        cached = _cache.get(path)
        if cached is not None and cached[0] == stamp:
            return cached[1]
    entries = _parse_known_hosts(path)
    with _cache_lock:
        _cache[path] = (stamp, entries)
    return entries


def _parse_known_hosts(path: Path) -> list[KnownHostEntry]:
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return []
    entries: list[KnownHostEntry] = []
    for line in text.splitlines():
        fields = line.split()
        if not fields or fields[0].startswith("#"):
            continue
        marker = None
        if fields[0].startswith("@"):
            marker, fields = fields[0], fields[1:]
            if marker != "@revoked":
                continue  # @cert-authority: host certificates are not supported
        if len(fields) < 3:
            continue
        try:
            key = paramiko.PKey.from_type_string(fields[1], base64.b64decode(fields[2]))
        except Exception:  # unknown key type or broken base64: skip the line
            continue
        entries.append(KnownHostEntry(tuple(fields[0].split(",")), key, marker))
    return entries


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
        record = expand_user(known_hosts_file) if known_hosts_file else None
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
            for entry in read_known_hosts(path):
                if entry.marker is None and entry.matches(pattern):
                    found.append((path, entry.key.get_name(), entry.key))
        return found

    def _revoked(self, key: paramiko.PKey) -> Path | None:
        for path in self.files:
            for entry in read_known_hosts(path):
                if entry.marker == "@revoked" and entry.key.asbytes() == key.asbytes():
                    return path
        return None

    def verify(self, host: str, address: str, port: int, key: paramiko.PKey) -> None:
        """Accept `key` for address:port, record it (tofu), or raise HostKeyError."""
        pattern = host_pattern(address, port)
        offered = f"{key.get_name()} {fingerprint(key)}"
        revoked_in = self._revoked(key)
        if revoked_in is not None:
            raise HostKeyError(
                host, f"host key for {pattern} ({offered}) is marked @revoked in {revoked_in}"
            )
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
