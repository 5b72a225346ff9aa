"""End state of a lab host (files under /etc, /home, /root; modes under /usr), compared.

The walk runs inside the host (python3 there, through `LabHost.exec`, not SSH): for
every entry its type, mode, owner, group, and either the sha256 of its content or its
symlink target. Times are never recorded: the two hosts ran at different moments.
Paths that must differ between two hosts, or that are the tools' own traces, are
dropped by IGNORED below, each with its reason; everything else is compared.
"""

from __future__ import annotations

import difflib
import fnmatch
import json
import re
from dataclasses import dataclass
from typing import Any, Protocol

ROOTS = ("/etc", "/home", "/root")
# Compared by type, mode, owner, group and link target only (not content: the same
# packages are installed on both, and hashing /usr costs minutes). The role changes
# modes there (suid/sgid bits removed, su limited to root).
META_ROOTS = ("/usr",)

# Run by python3 inside the host: one JSON object {path: entry} on stdout.
WALK = r"""
import grp, hashlib, json, os, pwd, re, stat, sys
rules = [(re.compile(p.encode(), re.M), r.encode()) for p, r in json.loads(sys.argv[1])]
def name(fn, i):
    try:
        return fn(i)[0]
    except KeyError:
        return str(i)
out = {}
for root in sys.argv[2:]:
    meta = root.startswith("meta:")
    root = root[5:] if meta else root
    for top, dirs, files in os.walk(root):
        dirs.sort()
        for entry in [top] + [os.path.join(top, f) for f in dirs + files]:
            st = os.lstat(entry)
            item = {"mode": "%04o" % stat.S_IMODE(st.st_mode),
                    "owner": name(pwd.getpwuid, st.st_uid),
                    "group": name(grp.getgrgid, st.st_gid)}
            if stat.S_ISLNK(st.st_mode):
                item.update(type="link", target=os.readlink(entry))
                item.pop("mode")
            elif stat.S_ISDIR(st.st_mode):
                item["type"] = "dir"
            elif stat.S_ISREG(st.st_mode) and meta:
                item["type"] = "file"
            elif stat.S_ISREG(st.st_mode):
                with open(entry, "rb") as fh:
                    data = fh.read()
                for rule, repl in rules:
                    data = rule.sub(repl, data)
                item.update(type="file", sha256=hashlib.sha256(data).hexdigest(),
                            size=st.st_size)
            else:
                item["type"] = "other"
            out[entry] = item
json.dump(out, sys.stdout)
"""

# (glob, reason). A path matching one is not compared. Keep every entry explained.
IGNORED: list[tuple[str, str]] = [
    ("/etc/hostname", "the host's own name (h1, h2): seeded per host by the lab"),
    ("/etc/hosts", "names the host itself (127.0.1.1 h1/h2): seeded per host by the lab"),
    ("/etc/machine-id", "unique per host by definition: seeded per host by the lab"),
    ("/etc/ssh/ssh_host_*_key", "host private keys: unique per host, seeded by the lab"),
    ("/etc/ssh/ssh_host_*_key.pub", "host public keys: unique per host, seeded by the lab"),
    ("/root/.ansible", "ansible-playbook's remote temp folder (root after become)"),
    ("/root/.ansible/*", "ansible-playbook's remote temp files"),
    ("/home/*/.ansible", "ansible-playbook's remote temp folder of the login user"),
    ("/home/*/.ansible/*", "ansible-playbook's remote temp files of the login user"),
    ("/root/.cache", "caches written by whatever ran last (pip, python), not managed state"),
    ("/root/.cache/*", "caches written by whatever ran last, not managed state"),
    ("/home/*/.cache", "caches of the login user, not managed state"),
    ("/home/*/.cache/*", "caches of the login user, not managed state"),
    ("*/__pycache__", "bytecode caches of whatever Python ran on the host"),
    ("*/__pycache__/*", "bytecode caches of whatever Python ran on the host"),
    ("*.pyengine-tmp", "pyengine's atomic-write temp file (only if a run was killed)"),
    ("/etc/ld.so.cache", "binary cache rebuilt by ldconfig after package installs; it "
                         "follows /etc/ld.so.conf.d and the installed libraries, compared there"),
]

# (regex, replacement, reason): applied to every file's content before it is hashed, for
# text that states the moment of the run and nothing else.
NORMALISED: list[tuple[str, str, str]] = [
    (r"^(# Updated by Ansible - )\d{4}-\d\d-\d\dT[\d:.]+$", r"\1<time>",
     "community.general.pamd stamps the time of its edit into the file (/etc/pam.d/sshd)"),
]

# Timestamped backup names (community.general.pamd `backup: true`, Ansible's backup_local):
# NAME.<pid>.<YYYY-MM-DD@HH:MM:SS>~ is compared as NAME.<backup>~.
_BACKUP = re.compile(r"\.\d+\.\d{4}-\d\d-\d\d@\d\d:\d\d:\d\d~$")


class Host(Protocol):
    name: str

    def exec(self, argv: list[str], input: str | bytes | None = None, check: bool = True,
             timeout: float = 60) -> Any: ...


def ignored_reason(path: str) -> str | None:
    for pattern, reason in IGNORED:
        if fnmatch.fnmatchcase(path, pattern):
            return reason
    return None


def normalise(path: str) -> str:
    return _BACKUP.sub(".<backup>~", path)


def capture(host: Host) -> dict[str, dict[str, Any]]:
    """{path: entry} of every file, folder and link under ROOTS on `host`."""
    rules = json.dumps([[pattern, repl] for pattern, repl, _why in NORMALISED])
    roots = [*ROOTS, *(f"meta:{root}" for root in META_ROOTS)]
    proc = host.exec(["python3", "-c", WALK, rules, *roots], timeout=300)
    raw: dict[str, dict[str, Any]] = json.loads(proc.stdout)
    return {normalise(path): entry for path, entry in raw.items()
            if ignored_reason(path) is None}


@dataclass
class Difference:
    path: str
    kind: str  # only-left, only-right, type, content, mode, owner, group, target
    left: Any
    right: Any

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "left": self.left, "right": self.right}


def compare(left: dict[str, dict[str, Any]],
            right: dict[str, dict[str, Any]]) -> list[Difference]:
    """Every way the two states differ, one Difference per (path, attribute)."""
    out: list[Difference] = []
    for path in sorted(set(left) | set(right)):
        a, b = left.get(path), right.get(path)
        if a is None or b is None:
            kind = "only-right" if a is None else "only-left"
            out.append(Difference(path, kind, a and a["type"], b and b["type"]))
            continue
        if a["type"] != b["type"]:
            out.append(Difference(path, "type", a["type"], b["type"]))
            continue
        for attr, kind in (("sha256", "content"), ("target", "target"), ("mode", "mode"),
                           ("owner", "owner"), ("group", "group")):
            if a.get(attr) != b.get(attr):
                out.append(Difference(path, kind, a.get(attr), b.get(attr)))
    return out


def read_text(host: Host, path: str, limit: int = 200_000) -> str | None:
    """A file's text from the host (None when binary or too large to show)."""
    proc = host.exec(["cat", "--", path], check=False, input=b"")
    data: bytes = proc.stdout if isinstance(proc.stdout, bytes) else proc.stdout.encode()
    if proc.returncode != 0 or len(data) > limit or b"\0" in data:
        return None
    return data.decode(errors="replace")


def content_diff(left_host: Host, right_host: Host, path: str) -> str:
    """Unified diff of one file as it is on the two hosts ('' when not text)."""
    a, b = read_text(left_host, path), read_text(right_host, path)
    if a is None or b is None:
        return ""
    return "".join(difflib.unified_diff(a.splitlines(True), b.splitlines(True),
                                        f"{left_host.name}:{path}", f"{right_host.name}:{path}"))
