"""Collect the files and command outputs that define a host's configuration.

Runs on the target and only reads: it returns file contents (base64) and command
outputs for the controller's `backup` action to commit into git. Secrets are
refused here, on the host, so they never cross the wire: private keys (by name and
by content), shadow files and anything matching the built-in denylist are reported
in `refused` and never read into the result. `extra_deny` can only add to the
denylist; nothing removes an entry from it.
"""

import base64
import fnmatch
import glob
import os
import re
import stat

ARGS = {
    "default_set": {"type": "bool", "default": True,
                    "help": "Collect the OS family's default configuration set."},
    "paths": {"type": "list", "elements": "str", "default": [],
              "help": "Extra files or globs to collect (recursive for folders)."},
    "commands": {"type": "dict", "default": {},
                 "help": "Extra command outputs to keep: name -> argv list (no shell)."},
    "max_file_size": {"type": "int", "default": 1048576,
                      "help": "Files larger than this (bytes) are listed in `skipped`, not read."},
    "max_files": {"type": "int", "default": 2000,
                  "help": "Stop collecting after this many files (reported)."},
    "extra_deny": {"type": "list", "elements": "str", "default": [],
                   "help": "More globs to refuse (adds to the built-in denylist)."},
}

# Never collected, whatever the user asks for: a backup repository is shared and
# pushed, so these must never enter it.
DENY_GLOBS = [
    "/etc/shadow", "/etc/shadow-", "/etc/gshadow", "/etc/gshadow-",
    "/etc/ssh/ssh_host_*_key", "/etc/ssh/*_key",
    "*/id_rsa", "*/id_dsa", "*/id_ecdsa", "*/id_ed25519", "*/id_ecdsa_sk", "*/id_ed25519_sk",
    "*.key", "*.p12", "*.pfx", "*/private/*", "/etc/ssl/private/*",
    "/etc/sudoers.d/*.pyengine-tmp", "*/.vault_pass*", "*/krb5.keytab", "*.keytab",
]
PRIVATE_KEY_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+ )?PRIVATE KEY-----|PuTTY-User-Key-File")
# A shadow-style line: `name:<crypt hash>:` where the hash is one of crypt(3)'s
# `$id$...` forms or a 13-character DES hash. A copy of /etc/shadow under any name
# (a backup, a chroot's, /root/shadow.bak) is refused by what it holds.
SHADOW_LINE_RE = re.compile(
    rb"^[^:\n]+:(\$[0-9a-z]+\$[^:\n]+|[./0-9A-Za-z]{13}):\d*:", re.MULTILINE)

DEFAULT_PATHS = {
    "Debian": [
        "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/*", "/etc/ssh/ssh_config",
        "/etc/sudoers", "/etc/sudoers.d/*", "/etc/passwd", "/etc/group", "/etc/fstab",
        "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/sysctl.conf",
        "/etc/sysctl.d/*", "/etc/crontab", "/etc/cron.d/*", "/var/spool/cron/crontabs/*",
        "/etc/systemd/system/*.service.d/*", "/etc/systemd/system/*.service",
        "/etc/systemd/system/*.timer", "/etc/apt/sources.list", "/etc/apt/sources.list.d/*",
        "/etc/apt/apt.conf.d/*", "/etc/login.defs", "/etc/pam.d/*", "/etc/security/*.conf",
        "/etc/modprobe.d/*", "/etc/audit/rules.d/*", "/etc/nftables.conf",
        "/etc/default/grub", "/etc/issue", "/etc/issue.net", "/etc/motd",
    ],
    "RedHat": [
        "/etc/ssh/sshd_config", "/etc/ssh/sshd_config.d/*", "/etc/ssh/ssh_config",
        "/etc/sudoers", "/etc/sudoers.d/*", "/etc/passwd", "/etc/group", "/etc/fstab",
        "/etc/hosts", "/etc/hostname", "/etc/resolv.conf", "/etc/sysctl.conf",
        "/etc/sysctl.d/*", "/etc/crontab", "/etc/cron.d/*", "/var/spool/cron/*",
        "/etc/systemd/system/*.service.d/*", "/etc/systemd/system/*.service",
        "/etc/yum.repos.d/*", "/etc/dnf/dnf.conf", "/etc/login.defs", "/etc/pam.d/*",
        "/etc/security/*.conf", "/etc/modprobe.d/*", "/etc/audit/rules.d/*",
        "/etc/sysconfig/selinux", "/etc/selinux/config", "/etc/default/grub", "/etc/issue",
    ],
}

DEFAULT_COMMANDS = {
    "Debian": {
        "packages": ["dpkg-query", "-W", "-f", "${Package} ${Version} ${Architecture}\\n"],
    },
    "RedHat": {
        "packages": ["rpm", "-qa", "--qf", "%{NAME} %{EPOCHNUM}:%{VERSION}-%{RELEASE} %{ARCH}\\n"],
    },
}
COMMON_COMMANDS = {
    "enabled-services": ["systemctl", "list-unit-files", "--state=enabled", "--no-legend",
                         "--no-pager"],
    "nft-ruleset": ["nft", "list", "ruleset"],
    "iptables-save": ["iptables-save"],
}


def is_denied(path, extra):
    """True when the path, however it is spelled (`/etc//shadow`, `/etc/./shadow`,
    `/etc/x/../shadow`) or wherever a symlink on the way leads, matches the built-in
    denylist or a user addition. The globs name canonical paths, so each spelling is
    reduced to its canonical forms before matching."""
    spellings = {path, os.path.normpath(path), os.path.realpath(path)}
    for spelling in spellings:
        if spelling.startswith("//"):
            spelling = "/" + spelling.lstrip("/")  # POSIX keeps a leading '//' in normpath
        for pattern in DENY_GLOBS + list(extra):
            if fnmatch.fnmatch(spelling, pattern):
                return True
    return False


def secret_in(data):
    """Why `data` must not be kept, or None: a private key or shadow-style hashes."""
    if PRIVATE_KEY_RE.search(data):
        return "contains a private key"
    if SHADOW_LINE_RE.search(data):
        return "contains password hashes"
    return None


def expand(patterns):
    """Absolute file paths for the globs, folders walked, sorted, without duplicates."""
    found = []
    seen = set()
    for pattern in patterns:
        for match in sorted(glob.glob(pattern)):
            candidates = [match]
            if os.path.isdir(match) and not os.path.islink(match):
                candidates = []
                for root, dirs, files in os.walk(match):
                    dirs.sort()
                    candidates.extend(os.path.join(root, f) for f in sorted(files))
            for path in candidates:
                path = os.path.normpath(path)
                if path.startswith("//"):
                    path = "/" + path.lstrip("/")
                if path not in seen:
                    seen.add(path)
                    found.append(path)
    return found


def main(m):
    family = m.facts.get("ansible_os_family", "Debian")
    if family not in DEFAULT_PATHS:
        family = "Debian"
    patterns = list(DEFAULT_PATHS[family]) if m.params["default_set"] else []
    patterns += m.params["paths"]
    files, refused, skipped = {}, [], []
    for path in expand(patterns):
        if len(files) >= m.params["max_files"]:
            skipped.append({"path": path, "reason": "max_files reached"})
            continue
        if is_denied(path, m.params["extra_deny"]):
            refused.append({"path": path, "reason": "on the secrets denylist"})
            continue
        try:
            info = os.lstat(path)
        except OSError as exc:
            skipped.append({"path": path, "reason": exc.strerror or str(exc)})
            continue
        if stat.S_ISLNK(info.st_mode):
            files[path] = base64.b64encode(
                ("symlink -> %s\n" % os.readlink(path)).encode()).decode()
            continue
        if not stat.S_ISREG(info.st_mode):
            continue
        if info.st_size > m.params["max_file_size"]:
            skipped.append({"path": path, "reason": "larger than max_file_size (%d bytes)"
                            % info.st_size})
            continue
        try:
            with open(path, "rb") as fh:
                data = fh.read(m.params["max_file_size"] + 1)
        except OSError as exc:
            skipped.append({"path": path, "reason": exc.strerror or str(exc)})
            continue
        reason = secret_in(data)
        if reason:
            refused.append({"path": path, "reason": reason})
            continue
        files[path] = base64.b64encode(data).decode("ascii")

    commands = {}
    wanted = {}
    if m.params["default_set"]:
        wanted.update(DEFAULT_COMMANDS[family])
        wanted.update(COMMON_COMMANDS)
    for name, argv in (m.params["commands"] or {}).items():
        if not isinstance(argv, list) or not argv:
            m.fail("commands.%s must be a non-empty argv list" % name)
        wanted[name] = argv
    for name, argv in sorted(wanted.items()):
        if not m.which(argv[0]):
            continue  # a host without nft simply has no nft ruleset to keep
        rc, out, err = m.run(argv)
        if rc != 0:
            skipped.append({"path": "command:" + name, "reason": (err.strip() or "rc=%d" % rc)
                            .splitlines()[-1]})
            continue
        reason = secret_in(out.encode())
        if reason:
            refused.append({"path": "command:" + name, "reason": "output " + reason})
            continue
        commands[name] = out
    return {
        "changed": False,
        "msg": "collected %d files and %d command outputs (%d refused)"
        % (len(files), len(commands), len(refused)),
        "files": files,
        "commands": commands,
        "refused": refused,
        "skipped": skipped,
    }
