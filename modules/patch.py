"""Apply OS updates (all or security-only) with holds, exclusions and reboot reporting.

Detects the package manager from the facts (`ansible_pkg_mgr`): apt on Debian/Ubuntu,
dnf or yum on the RHEL family. It reads the pending updates (name, current and candidate
version, whether each is a security update), plans what `state` asks for, and in check
mode stops there. `state: list` only reports. Holds are the system's own (`apt-mark
showhold`, dnf/yum versionlock and `exclude=`) plus the `exclude` glob patterns; a held
or excluded package is never upgraded. Updates run non-interactively and keep locally
changed configuration files (dpkg --force-confold; rpm's .rpmnew): the new maintainer
versions left beside them are reported in `config_files_kept`.

How things are decided (apt):
- security: a version is a security update when one of the archives offering it is a
  security pocket (label, archive or codename containing "security", such as
  `Debian-Security`, `bookworm-security`, `jammy-security`), read from `apt-cache policy`.
  `state: security` installs the highest such version even if a newer non-security one
  exists.
- plan: apt preferences written to a private file pin every package that must not move to
  its installed version and each selected package to its target version; the same
  `apt-get upgrade --with-new-pkgs` (or `dist-upgrade` with `allow_removals`) then runs
  simulated for the plan and for real for the change, so check mode cannot disagree.
- freshness: `apt-get update` runs only when the last successful one (our stamp, or
  Ubuntu's update-success-stamp) is older than `cache_valid_time`. In check mode stale
  lists are fetched into the run's private temp folder, never into the system's.
- reboot_required: /var/run/reboot-required, needrestart's kernel status, or a newer
  kernel in /boot than the running one (only when the running kernel is in /boot, so a
  container is not flagged forever). RHEL: `needs-restarting -r`.
- services to restart: `needrestart -b` when installed; otherwise the systemd services of
  processes that still map deleted files from system folders (needrestart's own idea,
  best effort). RHEL: `needs-restarting -s`.
- dnf/yum: pending from `check-update`, security from `check-update --security` (the
  updateinfo advisories are attached when available), holds from `versionlock list` and
  `exclude=`; the selected packages are upgraded by name with `--exclude` for the
  patterns. Check mode reads the cached metadata (-C) and never refreshes it.
- window: `window: "Sat 02:00-05:00"` is checked against the host's local clock (a
  maintenance window is the client's local time); outside it nothing is done and
  `in_window` is false.
"""

import datetime
import fcntl
import fnmatch
import os
import re
import time

ARGS = {
    "state": {"type": "str", "default": "list", "choices": ["list", "latest", "security"],
              "help": "list: report pending updates only; latest: apply all updates; "
                      "security: apply security updates only."},
    "exclude": {"type": "list", "elements": "str", "default": [],
                "help": "Glob patterns of package names never to upgrade (on top of the "
                        "system's own holds)."},
    "update_cache": {"type": "bool", "default": True,
                     "help": "Refresh the package metadata when older than cache_valid_time."},
    "cache_valid_time": {"type": "int", "default": 3600,
                         "help": "Seconds the package metadata counts as fresh."},
    "lock_timeout": {"type": "int", "default": 120,
                     "help": "Seconds to wait for a package manager lock before failing."},
    "allow_removals": {"type": "bool", "default": False,
                       "help": "Allow an upgrade to remove packages (apt dist-upgrade, dnf "
                               "--allowerasing). Off: such upgrades are kept back."},
    "min_free_mb": {"type": "int", "default": 0,
                    "help": "Fail before changing anything when the package cache folder or / "
                            "has less free space (MiB). 0: no check."},
    "window": {"type": "str",
               "help": "Maintenance window(s) on the host's clock, e.g. 'Sat 02:00-05:00', "
                       "'Mon-Fri 22:00-04:00; Sun 01:00-06:00', 'daily 02:00-04:00'."},
    "apt_options": {"type": "list", "elements": "str", "default": [],
                    "help": "Extra apt configuration as 'Key=Value', passed with -o to every "
                            "apt command (e.g. a private sources list)."},
}

SEC_WORD = re.compile(r"security", re.I)
APT_ENV = {
    "DEBIAN_FRONTEND": "noninteractive",
    "APT_LISTCHANGES_FRONTEND": "none",
    "NEEDRESTART_MODE": "l",  # needrestart's apt hook must only list, never restart
    "NEEDRESTART_SUSPEND": "1",
    "UCF_FORCE_CONFFOLD": "1",
    "LC_ALL": "C",
}
RPM_ENV = {"LC_ALL": "C"}


def main(m):
    p = m.params
    result = {"changed": False, "state": p["state"]}
    window = (p.get("window") or "").strip()
    if window:
        now = datetime.datetime.now()
        try:
            windows = parse_windows(window)
        except ValueError as exc:
            m.fail("window: %s" % exc)
        inside = in_windows(windows, now)
        result.update({"window": window, "in_window": inside,
                       "host_time": now.strftime("%a %Y-%m-%d %H:%M")})
        if not inside:
            result["msg"] = ("outside maintenance window '%s' (host time %s): nothing done"
                             % (window, now.strftime("%a %H:%M")))
            return result
    else:
        result["in_window"] = True
    mgr = str(m.facts.get("ansible_pkg_mgr") or "")
    if mgr in ("", "unknown"):
        mgr = "apt" if m.which("apt-get") else ("dnf" if m.which("dnf") else
                                                  ("yum" if m.which("yum") else ""))
    if mgr == "apt":
        result.update(AptPatcher(m).run())
    elif mgr in ("dnf", "dnf5", "yum"):
        result.update(RpmPatcher(m, "dnf" if mgr == "dnf5" else mgr).run())
    else:
        m.fail("patch supports apt, dnf and yum; this host's package manager is %r"
               % (mgr or "unknown"))
    result["pkg_mgr"] = mgr
    return result


# ------------------------------------------------------------------- versions (dpkg)
def _order(ch):
    if ch == "~":
        return -1
    if ch.isalpha():
        return ord(ch)
    return ord(ch) + 256


def _cmp_fragment(a, b):
    """dpkg's verrevcmp: alternate non-digit runs (with ~ sorting first) and numbers."""
    i = j = 0
    while i < len(a) or j < len(b):
        first_diff = 0
        while (i < len(a) and not a[i].isdigit()) or (j < len(b) and not b[j].isdigit()):
            ac = _order(a[i]) if i < len(a) and not a[i].isdigit() else 0
            bc = _order(b[j]) if j < len(b) and not b[j].isdigit() else 0
            if ac != bc:
                return ac - bc
            i += 1
            j += 1
        while i < len(a) and a[i] == "0":
            i += 1
        while j < len(b) and b[j] == "0":
            j += 1
        while i < len(a) and a[i].isdigit() and j < len(b) and b[j].isdigit():
            if not first_diff:
                first_diff = ord(a[i]) - ord(b[j])
            i += 1
            j += 1
        if i < len(a) and a[i].isdigit():
            return 1
        if j < len(b) and b[j].isdigit():
            return -1
        if first_diff:
            return first_diff
    return 0


def _split_version(v):
    epoch, _, rest = v.partition(":") if ":" in v else ("0", "", v)
    upstream, _, revision = rest.rpartition("-") if "-" in rest else (rest, "", "")
    return int(epoch or 0), upstream, revision


def deb_compare(a, b):
    """Compare two Debian versions like `dpkg --compare-versions`: <0, 0 or >0."""
    ea, ua, ra = _split_version(a)
    eb, ub, rb = _split_version(b)
    if ea != eb:
        return ea - eb
    return _cmp_fragment(ua, ub) or _cmp_fragment(ra, rb)


# ---------------------------------------------------------------- maintenance window
DAYS = ["mon", "tue", "wed", "thu", "fri", "sat", "sun"]


def _parse_days(text):
    text = text.strip().lower()
    if text in ("", "daily", "any", "*", "everyday"):
        return set(range(7))
    days = set()
    for part in text.split(","):
        part = part.strip()[:3] if "-" not in part else part.strip()
        if "-" in part:
            lo, hi = (x.strip()[:3] for x in part.split("-", 1))
            if lo not in DAYS or hi not in DAYS:
                raise ValueError("unknown day in %r (use Mon..Sun)" % part)
            k = DAYS.index(lo)
            while True:
                days.add(k)
                if k == DAYS.index(hi):
                    break
                k = (k + 1) % 7
        elif part in DAYS:
            days.add(DAYS.index(part))
        else:
            raise ValueError("unknown day %r (use Mon..Sun, ranges like Mon-Fri, or daily)"
                             % part)
    return days


def _minutes(hhmm):
    match = re.match(r"^(\d{1,2}):(\d{2})$", hhmm.strip())
    if not match or int(match.group(1)) > 24 or int(match.group(2)) > 59:
        raise ValueError("bad time %r (use HH:MM)" % hhmm)
    return int(match.group(1)) * 60 + int(match.group(2))


def parse_windows(text):
    """'Sat 02:00-05:00; Mon-Fri 22:00-04:00' -> [(days, start_min, end_min)]."""
    windows = []
    for chunk in re.split(r"[;\n]", text):
        chunk = chunk.strip()
        if not chunk:
            continue
        match = re.match(r"^(?:(.*?)\s+)?(\d{1,2}:\d{2})\s*-\s*(\d{1,2}:\d{2})$", chunk)
        if not match:
            raise ValueError("cannot read %r (expected e.g. 'Sat 02:00-05:00')" % chunk)
        start, end = _minutes(match.group(2)), _minutes(match.group(3))
        if start == end:
            raise ValueError("window %r is empty" % chunk)
        windows.append((_parse_days(match.group(1) or ""), start, end))
    if not windows:
        raise ValueError("no window given")
    return windows


def in_windows(windows, now):
    """True when `now` falls in one window; one that ends before it starts runs past
    midnight and belongs to the day it starts on."""
    minute = now.hour * 60 + now.minute
    day = now.weekday()
    for days, start, end in windows:
        if start < end:
            if day in days and start <= minute < end:
                return True
        else:
            if day in days and minute >= start:
                return True
            if (day - 1) % 7 in days and minute < end:
                return True
    return False


# -------------------------------------------------------------------------- locks
def lock_holder(path):
    """None when nobody holds the fcntl lock on `path`, else a description of who does."""
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        try:
            fcntl.lockf(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            pass
        else:
            fcntl.lockf(fd, fcntl.LOCK_UN)
            return None
        return _lock_pid_text(os.fstat(fd))
    finally:
        os.close(fd)


def _lock_pid_text(st):
    try:
        with open("/proc/locks") as fh:
            lines = fh.read().splitlines()
    except OSError:
        return "another process"
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] in ("POSIX", "OFDLCK", "FLOCK"):
            ident = fields[5].split(":")
            if len(ident) == 3 and ident[2] == str(st.st_ino) and fields[4].isdigit():
                pid = fields[4]
                try:
                    with open("/proc/%s/comm" % pid) as fh:
                        return "pid %s (%s)" % (pid, fh.read().strip())
                except OSError:
                    return "pid %s" % pid
    return "another process"


def wait_for_locks(m, paths, timeout):
    """Wait up to `timeout` seconds for every lock in `paths` to be free, else fail."""
    deadline = time.time() + max(0, timeout)
    while True:
        busy = [(path, who) for path, who in ((p, lock_holder(p)) for p in paths) if who]
        if not busy:
            return
        if time.time() >= deadline:
            path, who = busy[0]
            m.fail("package manager lock %s is held by %s; waited %d s (lock_timeout)"
                   % (path, who, timeout), lock=path, lock_holder=who)
        time.sleep(1)


# -------------------------------------------------------------------- apt parsing
def parse_policy_sources(text):
    """`apt-cache policy` (no arguments) -> {source line: release attributes}.

    The source line ('file:/srv/repo bookworm-security/main amd64 Packages') is the same
    text the per-package version tables use, so it links a version to its archive.
    """
    sources = {}
    current = None
    for line in text.splitlines():
        stripped = line.strip()
        match = re.match(r"^(-?\d+)\s+(\S.*)$", stripped)
        if match and not stripped.startswith(("release", "origin")):
            current = match.group(2).strip()
            sources[current] = {}
            continue
        if current is not None and stripped.startswith("release "):
            for item in stripped[len("release "):].split(","):
                key, sep, value = item.partition("=")
                if sep:
                    sources[current][key.strip()] = value.strip()
        elif current is not None and stripped.startswith("origin "):
            sources[current]["origin_host"] = stripped[len("origin "):].strip()
        elif stripped.endswith(":") and not line.startswith(" "):
            current = None  # "Pinned packages:" and other headings
    return sources


def parse_policy_packages(text):
    """`apt-cache policy PKG...` -> {name: {installed, candidate, versions: [(v, [src])]}}."""
    packages = {}
    cur = None
    version = None
    for line in text.splitlines():
        if not line.strip():
            continue
        indent = len(line) - len(line.lstrip())
        stripped = line.strip()
        if indent == 0 and stripped.endswith(":"):
            cur = {"installed": None, "candidate": None, "versions": []}
            packages[stripped[:-1]] = cur
            version = None
            continue
        if cur is None:
            continue
        if stripped.startswith("Installed:"):
            value = stripped.split(":", 1)[1].strip()
            cur["installed"] = None if value == "(none)" else value
        elif stripped.startswith("Candidate:"):
            value = stripped.split(":", 1)[1].strip()
            cur["candidate"] = None if value == "(none)" else value
        elif stripped.startswith("Version table:"):
            continue
        elif indent < 7:
            match = re.match(r"^(?:\*\*\*\s+)?(\S+)\s+(-?\d+)$", stripped)
            if match:
                version = (match.group(1), [])
                cur["versions"].append(version)
        elif version is not None:
            match = re.match(r"^(-?\d+)\s+(\S.*)$", stripped)
            if match:
                version[1].append(match.group(2).strip())
    return packages


def source_is_security(source, sources):
    """A source line is a security archive by its release label/archive/codename, or
    (without Release data) by the suite named in the line itself."""
    attrs = sources.get(source, {})
    words = [attrs.get("l", ""), attrs.get("a", ""), attrs.get("n", "")]
    fields = source.split()
    if len(fields) >= 2:
        words.append(fields[1])
    return any(SEC_WORD.search(w) for w in words if w)


def source_label(source, sources):
    attrs = sources.get(source, {})
    if attrs:
        return "%s:%s" % (attrs.get("l") or attrs.get("o") or "?",
                          attrs.get("a") or attrs.get("n") or "?")
    fields = source.split()
    return fields[1] if len(fields) > 1 else source


def parse_sim(text):
    """`apt-get -s` output -> {"install": [(name, from|None, to, origins)], "remove": [...],
    "kept_back": [names]}."""
    plan = {"install": [], "remove": [], "kept_back": []}
    in_kept = False
    for line in text.splitlines():
        match = re.match(r"^Inst (\S+) (?:\[(\S+)\] )?\((\S+) ?(.*?)\)(?: \[[^\]]*\])?\s*$", line)
        if match:
            name, cur, new, origins = match.groups()
            plan["install"].append((name, cur, new, origins.strip()))
            in_kept = False
            continue
        match = re.match(r"^Remv (\S+)(?: \[(\S+)\])?", line)
        if match:
            plan["remove"].append((match.group(1), match.group(2)))
            in_kept = False
            continue
        if line.startswith("The following packages have been kept back"):
            in_kept = True
            continue
        if in_kept:
            if line.startswith("  "):
                plan["kept_back"].extend(line.split())
            else:
                in_kept = False
    return plan


def parse_needrestart(text):
    """`needrestart -b` -> (kernel status int or None, [services])."""
    ksta = None
    services = []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        value = value.strip()
        if key == "NEEDRESTART-KSTA" and value.isdigit():
            ksta = int(value)
        elif key == "NEEDRESTART-SVC" and value:
            services.append(value)
    return ksta, services


def parse_conffiles(text):
    """'PKG name' lines followed by dpkg's ' /path md5 [obsolete]' lines -> {name: [paths]}."""
    out = {}
    cur = None
    for line in text.splitlines():
        if line.startswith("PKG "):
            cur = line[4:].strip()
            out.setdefault(cur, [])
        elif cur is not None and line.strip().startswith("/"):
            out[cur].append(line.split()[0])
    return out


# -------------------------------------------------------------- host inspection
def deleted_mapping_services(proc="/proc"):
    """Systemd services whose processes map deleted files from system folders, i.e. still
    run code an update replaced (what needrestart looks for, without needrestart)."""
    services = set()
    prefixes = ("/usr/", "/lib", "/bin/", "/sbin/", "/opt/")
    try:
        pids = [d for d in os.listdir(proc) if d.isdigit()]
    except OSError:
        return []
    me = str(os.getpid())
    for pid in pids:
        if pid == me:
            continue
        try:
            with open(os.path.join(proc, pid, "maps")) as fh:
                stale = any(
                    line.rstrip().endswith("(deleted)") and line.split(None, 5)[-1].startswith(
                        prefixes)
                    for line in fh if len(line.split(None, 5)) == 6)
            if not stale:
                continue
            with open(os.path.join(proc, pid, "cgroup")) as fh:
                cgroup = fh.read()
        except (OSError, UnicodeDecodeError):
            continue
        unit = unit_from_cgroup(cgroup)
        if unit:
            services.add(unit)
    return sorted(services)


def unit_from_cgroup(text):
    """The systemd service a process belongs to, from /proc/PID/cgroup (v1 or v2)."""
    for line in text.splitlines():
        path = line.split(":", 2)[-1]
        if "/system.slice/" not in path:
            continue
        for part in reversed(path.split("/")):
            if part.endswith(".service"):
                return part
    return None


def kernel_reboot_reason(release, boot="/boot"):
    """A newer vmlinuz in /boot than the running kernel -> reason text, else None."""
    try:
        names = os.listdir(boot)
    except OSError:
        return None
    kernels = [n[len("vmlinuz-"):] for n in names if n.startswith("vmlinuz-")]
    if release not in kernels:
        return None  # running kernel not managed here (container, custom boot): no signal
    newest = kernels[0]
    for k in kernels[1:]:
        if deb_compare(k, newest) > 0:
            newest = k
    if newest != release and deb_compare(newest, release) > 0:
        return "kernel %s is installed, %s is running" % (newest, release)
    return None


def check_disk(m, folders, min_free_mb, result):
    """Free MiB of each folder (the nearest existing parent); fail below `min_free_mb`."""
    free = {}
    for folder in folders:
        path = folder
        while path and not os.path.isdir(path):
            path = os.path.dirname(path)
        try:
            st = os.statvfs(path or "/")
        except OSError:
            continue
        free[folder] = int(st.f_bavail * st.f_frsize // (1024 * 1024))
    result["disk_free_mb"] = free
    short = sorted(f for f, mb in free.items() if min_free_mb and mb < min_free_mb)
    if short:
        m.fail("not enough free disk space: %s (need %d MiB)" % (
            ", ".join("%s has %d MiB" % (f, free[f]) for f in short), min_free_mb),
            disk_free_mb=free)


def running_services(m):
    if not m.which("systemctl"):
        return None
    rc, out, _err = m.run(["systemctl", "list-units", "--type=service", "--state=running",
                           "--no-legend", "--plain", "--no-pager"])
    if rc != 0:
        return None
    return sorted(line.split()[0] for line in out.splitlines() if line.strip())


def matches_any(name, patterns):
    base = name.split(":")[0]
    return any(fnmatch.fnmatchcase(name, p) or fnmatch.fnmatchcase(base, p) for p in patterns)


def _tail(text, lines=8):
    return "\n".join([ln for ln in text.strip().splitlines() if ln.strip()][-lines:])


def _kept_config_files(m, paths_by_pkg, suffixes, before):
    """New or rewritten '<conffile><suffix>' files (the maintainer's version left beside a
    locally changed file), compared with the `before` snapshot of their mtimes."""
    kept = []
    for pkg, paths in sorted(paths_by_pkg.items()):
        for path in paths:
            for suffix in suffixes:
                candidate = path + suffix
                try:
                    mtime = os.stat(candidate).st_mtime
                except OSError:
                    continue
                if before.get(candidate) != mtime:
                    kept.append({"package": pkg, "path": path, "new_version": candidate})
    return kept


def _snapshot(paths_by_pkg, suffixes):
    snap = {}
    for paths in paths_by_pkg.values():
        for path in paths:
            for suffix in suffixes:
                try:
                    snap[path + suffix] = os.stat(path + suffix).st_mtime
                except OSError:
                    pass
    return snap


def _finish(m, result, planned, changes, reboot, services):
    """Common result fields and the one-line message."""
    result["changes"] = changes
    result["changed"] = bool(changes)
    result["reboot_required"] = bool(reboot["required"])
    result["reboot_reasons"] = reboot["reasons"]
    result["services_need_restart"] = services["services"]
    result["services_method"] = services["method"]
    # `pending` is what this run found; the counts are what is still pending when it ends
    # (reports read them): an applied update no longer counts.
    done = set(c["name"] for c in changes if c.get("to"))

    def key(u):  # apt: 'name' or 'name:arch'; rpm: 'name.arch', as in the changes
        return "%s.%s" % (u["name"], u["arch"]) if u.get("arch") else u["name"]

    left = [u for u in result.get("pending", []) if key(u) not in done]
    result["pending_count"] = len(left)
    result["security_count"] = len([u for u in left if u.get("security")])
    state = m.params["state"]
    if state == "list":
        result["msg"] = "%d pending update(s), %d security%s" % (
            result["pending_count"], result["security_count"],
            ", reboot required" if result["reboot_required"] else "")
    elif m.check_mode:
        result["changed"] = bool(planned)
        result["msg"] = ("would upgrade %d package(s)" % len(planned)) if planned else \
            "no %supdates to apply" % ("security " if state == "security" else "")
    elif changes:
        result["msg"] = "upgraded %d package(s)%s" % (
            len(changes), ", reboot required" if result["reboot_required"] else "")
    else:
        result["msg"] = "no %supdates to apply" % (
            "security " if state == "security" else "")
    return result


# ---------------------------------------------------------------------------- apt
class AptPatcher(object):
    """The apt path: real apt-get/apt-cache/dpkg commands, python-apt free."""

    def __init__(self, m):
        self.m = m
        self.p = m.params
        self.opts = []
        for item in self.p.get("apt_options") or []:
            if "=" not in item:
                m.fail("apt_options: %r is not 'Key=Value'" % item)
            self.opts += ["-o", item]
        self.started = time.time()

    # -- commands
    def apt(self, tool, args, check=True, env=None):
        run_env = dict(APT_ENV)
        run_env.update(env or {})
        rc, out, err = self.m.run([tool] + self.opts + list(args), env=run_env)
        if check and rc != 0:
            self.m.fail("%s %s failed (rc=%d): %s" % (tool, " ".join(args[-2:]), rc,
                                                      _tail(err or out, 4)),
                        rc=rc, stdout=out, stderr=err)
        return rc, out, err

    def config_dirs(self):
        _rc, out, _err = self.apt("apt-config", [
            "shell", "STATUS", "Dir::State::status/f", "LISTS", "Dir::State::Lists/d",
            "CACHE", "Dir::Cache/d", "STATE", "Dir::State/d"])
        values = dict(re.findall(r"^(\w+)='(.*)'$", out, re.M))
        self.status_file = values.get("STATUS") or "/var/lib/dpkg/status"
        self.lists_dir = (values.get("LISTS") or "/var/lib/apt/lists/").rstrip("/")
        self.cache_dir = (values.get("CACHE") or "/var/cache/apt/").rstrip("/")
        self.state_dir = (values.get("STATE") or "/var/lib/apt/").rstrip("/")
        admin = os.path.dirname(self.status_file)
        self.dpkg_locks = [os.path.join(admin, "lock-frontend"), os.path.join(admin, "lock")]
        self.lists_lock = os.path.join(self.lists_dir, "lock")

    def installed(self):
        _rc, out, _err = self.m.run(
            ["dpkg-query", "-W", "-f", "${Package}\t${Architecture}\t${Version}\t"
             "${db:Status-Status}\n"], env={"LC_ALL": "C"}, check=True)
        arch_rc, native, _e = self.m.run(["dpkg", "--print-architecture"])
        native = native.strip() if arch_rc == 0 else ""
        installed = {}
        for line in out.splitlines():
            fields = line.split("\t")
            if len(fields) < 4 or fields[3].strip() != "installed":
                continue
            name = fields[0] if fields[1] in (native, "all", "") else "%s:%s" % (
                fields[0], fields[1])
            installed[name] = fields[2]
        return installed

    # -- health and freshness
    def check_health(self):
        wait_for_locks(self.m, self.dpkg_locks, self.p["lock_timeout"])
        rc, out, err = self.m.run(["dpkg", "--audit"], env={"LC_ALL": "C"})
        if out.strip() or rc not in (0,):
            lines = [ln.strip() for ln in (out or err).splitlines() if ln.strip()]
            self.m.fail("dpkg is in a broken state (dpkg --audit: %s); repair it (dpkg "
                        "--configure -a) before patching" % " / ".join(lines[:4]),
                        dpkg_audit=out)
        rc, out, err = self.apt("apt-get", ["-o", "Debug::NoLocking=1", "check"], check=False)
        if rc != 0:
            self.m.fail("apt-get check failed: %s" % _tail(err or out, 4), stdout=out,
                        stderr=err)

    def stamp_path(self):
        # Next to apt's own state, named after the lists folder it vouches for (a run with a
        # private lists folder must not count as fresh for the system's one).
        key = re.sub(r"[^A-Za-z0-9]+", "_", self.lists_dir).strip("_")
        return os.path.join(self.state_dir, "pyengine-update-stamp.%s" % key)

    def cache_age(self):
        stamps = [self.stamp_path()]
        if self.lists_dir == "/var/lib/apt/lists":
            stamps.append("/var/lib/apt/periodic/update-success-stamp")
        newest = 0.0
        for path in stamps:
            try:
                newest = max(newest, os.stat(path).st_mtime)
            except OSError:
                pass
        return None if not newest else max(0, int(time.time() - newest))

    def refresh(self, result):
        age = self.cache_age()
        result["cache_age_s"] = age
        result["cache_updated"] = False
        if not self.p["update_cache"]:
            return
        if age is not None and age < self.p["cache_valid_time"]:
            return
        if self.m.check_mode:
            # Stale metadata would make check mode report nothing to do. Fetch fresh lists
            # into the run's private temp folder instead of the system's, so check mode
            # is accurate and still changes nothing on the host.
            private = os.path.join(self.m.tmpdir, "patch-apt")
            for sub in ("lists/partial", "cache/archives/partial"):
                if not os.path.isdir(os.path.join(private, sub)):
                    os.makedirs(os.path.join(private, sub))
            self.opts += ["-o", "Dir::State::Lists=%s/lists" % private,
                          "-o", "Dir::Cache=%s/cache" % private]
            self.apt("apt-get", ["-q", "-o", "APT::Sandbox::User=root", "update"])
            result["cache_refreshed_privately"] = True
            return
        wait_for_locks(self.m, [self.lists_lock], self.p["lock_timeout"])
        self.apt("apt-get", ["-q", "-o", "DPkg::Lock::Timeout=%d" % self.p["lock_timeout"],
                             "update"])
        with open(self.stamp_path(), "w") as fh:
            fh.write("%d\n" % time.time())
        result["cache_updated"] = True
        result["cache_age_s"] = 0

    # -- what is pending
    def pending(self, installed, holds):
        _rc, sources_text, _err = self.apt("apt-cache", ["policy"])
        sources = parse_policy_sources(sources_text)
        names = sorted(installed)
        policies = {}
        for i in range(0, len(names), 500):
            _rc, out, _err = self.apt("apt-cache", ["policy"] + names[i:i + 500])
            policies.update(parse_policy_packages(out))
        pending = []
        for name in names:
            pol = policies.get(name) or policies.get(name.split(":")[0])
            cur = installed[name]
            if not pol or not pol["candidate"] or deb_compare(pol["candidate"], cur) <= 0:
                continue
            security_version = None
            origins = []
            for version, srcs in pol["versions"]:
                if deb_compare(version, cur) <= 0:
                    continue
                real = [s for s in srcs if not s.startswith("/")]
                if version == pol["candidate"]:
                    origins = [source_label(s, sources) for s in real]
                if any(source_is_security(s, sources) for s in real):
                    if security_version is None or deb_compare(version, security_version) > 0:
                        security_version = version
            pending.append({
                "name": name, "current": cur, "candidate": pol["candidate"],
                "security": security_version is not None,
                "security_version": security_version,
                "origins": origins,
                "held": name in holds or name.split(":")[0] in holds,
                "excluded": matches_any(name, self.p["exclude"]),
            })
        return pending

    def holds(self):
        rc, out, _err = self.m.run(["apt-mark", "showhold"], env={"LC_ALL": "C"})
        return set(out.split()) if rc == 0 else set()

    # -- plan and change
    def preferences(self, pending, selected):
        """A private preferences file: our pins first, then the system's own file."""
        targets = dict((u["name"], u) for u in selected)
        blocks = []
        for u in pending:
            name = u["name"]
            if name in targets:
                want = u["security_version"] if self.p["state"] == "security" else u["candidate"]
                blocks.append("Package: %s\nPin: version %s\nPin-Priority: 990\n"
                              % (name, want))
            else:
                blocks.append("Package: %s\nPin: version %s\nPin-Priority: 1001\n"
                              % (name, u["current"]))
        _rc, out, _err = self.apt("apt-config", ["shell", "PREF", "Dir::Etc::Preferences/f"])
        found = re.search(r"^PREF='(.*)'$", out, re.M)
        system_prefs = found.group(1) if found else "/etc/apt/preferences"
        own = self.m.read_bytes(system_prefs) if os.path.isfile(system_prefs) else None
        text = "\n".join(blocks)
        if own:
            text += "\n" + own.decode("utf-8", "replace")
        path = os.path.join(self.m.tmpdir, "patch-preferences")
        with open(path, "w") as fh:
            fh.write(text)
        return path

    def upgrade_args(self, prefs):
        verb = ["dist-upgrade"] if self.p["allow_removals"] else ["upgrade", "--with-new-pkgs"]
        return ["-o", "Dir::Etc::Preferences=%s" % prefs] + verb

    def conffiles(self, names):
        if not names:
            return {}
        _rc, out, _err = self.m.run(["dpkg-query", "-W", "-f", "PKG ${Package}\n${Conffiles}\n"]
                                    + sorted(set(n.split(":")[0] for n in names)),
                                    env={"LC_ALL": "C"})
        return parse_conffiles(out)

    def run(self):
        m = self.m
        result = {}
        self.config_dirs()
        check_disk(m, [self.cache_dir, "/"], self.p["min_free_mb"], result)
        self.check_health()
        self.refresh(result)
        installed = self.installed()
        holds = self.holds()
        pending = self.pending(installed, holds)
        result["pending"] = pending
        result["held"] = sorted(holds)
        result["services_running"] = running_services(m)
        selected = []
        if self.p["state"] != "list":
            for u in pending:
                if u["held"] or u["excluded"]:
                    continue
                if self.p["state"] == "security" and not u["security"]:
                    continue
                selected.append(u)
        planned = []
        if selected:
            prefs = self.preferences(pending, selected)
            _rc, sim, _err = self.apt("apt-get", ["-s", "-q", "-o", "Debug::NoLocking=1"]
                                      + self.upgrade_args(prefs))
            plan = parse_sim(sim)
            planned = [{"name": n, "from": f, "to": t, "origin": o}
                       for n, f, t, o in plan["install"]]
            result["planned_removals"] = [n for n, _v in plan["remove"]]
            moving = set(n for n, _f, _t, _o in plan["install"])
            result["kept_back"] = sorted(u["name"] for u in selected
                                         if u["name"] not in moving
                                         and u["name"].split(":")[0] not in moving)
            if result["kept_back"]:
                m.warn("kept back (would need removals or a held/excluded dependency): %s"
                       % ", ".join(result["kept_back"]))
        result["planned"] = planned
        changes = []
        if planned and not m.check_mode:
            changes = self.apply(prefs, planned, installed, result)
        reboot = self.reboot_state()
        services = self.services(bool(changes))
        return _finish(m, result, planned, changes, reboot, services)

    def apply(self, prefs, planned, before, result):
        m = self.m
        names = [x["name"] for x in planned]
        conf_before = self.conffiles(names)
        snap = _snapshot(conf_before, (".dpkg-dist", ".ucf-dist"))
        wait_for_locks(m, self.dpkg_locks, self.p["lock_timeout"])
        rc, out, err = self.apt("apt-get", [
            "-y", "-q", "-o", "DPkg::Lock::Timeout=%d" % self.p["lock_timeout"],
            "-o", "Dpkg::Options::=--force-confdef", "-o", "Dpkg::Options::=--force-confold",
            "-o", "Dpkg::Use-Pty=0"] + self.upgrade_args(prefs), check=False)
        after = self.installed()
        changes = []
        for name in sorted(set(before) | set(after)):
            if before.get(name) != after.get(name):
                changes.append({"name": name, "from": before.get(name), "to": after.get(name)})
        result["config_files_kept"] = _kept_config_files(
            m, self.conffiles([c["name"] for c in changes if c["to"]]),
            (".dpkg-dist", ".ucf-dist"), snap)
        if rc != 0:
            m.fail("apt-get upgrade failed (rc=%d): %s" % (rc, _tail(err or out, 6)),
                   changes=changes, changed=bool(changes), stdout=out, stderr=err,
                   pending=result.get("pending"))
        return changes

    def reboot_state(self):
        reasons = []
        pkgs = []
        if os.path.exists("/var/run/reboot-required"):
            reasons.append("/var/run/reboot-required exists")
            raw = self.m.read_bytes("/var/run/reboot-required.pkgs") or b""
            pkgs = sorted(set(raw.decode("utf-8", "replace").split()))
            if pkgs:
                reasons[-1] += " (%s)" % ", ".join(pkgs)
        kernel = kernel_reboot_reason(os.uname()[2])
        if kernel:
            reasons.append(kernel)
        self.ksta = None
        if self.m.which("needrestart"):
            _rc, out, _err = self.m.run(["needrestart", "-b", "-r", "l"], env=APT_ENV)
            self.ksta, self.nr_services = parse_needrestart(out)
            if self.ksta in (2, 3):  # 2: ABI-compatible rebuild, 3: new kernel version
                reasons.append("needrestart: a newer kernel is installed (status %d)"
                               % self.ksta)
        return {"required": bool(reasons), "reasons": reasons, "pkgs": pkgs}

    def services(self, changed):
        if self.ksta is not None or self.m.which("needrestart"):
            return {"method": "needrestart", "services": getattr(self, "nr_services", [])}
        return {"method": "deleted-mappings", "services": deleted_mapping_services()}


# ------------------------------------------------------------------ dnf/yum parsing
def parse_check_update(text):
    """`dnf/yum check-update` -> [{"name", "arch", "version", "repo"}].

    Skips the noise around the table (plugin banners, mirror lists, the metadata
    expiration line) and the 'Obsoleting Packages' section, whose indented lines name
    what is replaced rather than an update.
    """
    updates = []
    in_obsoletes = False
    pending_name = None
    for raw in text.splitlines():
        line = raw.rstrip()
        if not line.strip():
            continue
        if line.strip().lower().startswith("obsoleting packages"):
            in_obsoletes = True
            continue
        if in_obsoletes:
            continue
        if line.startswith((" ", "\t")):
            if pending_name:  # yum wraps long names: the rest comes on the next line
                fields = line.split()
                if len(fields) == 2:
                    line = pending_name + " " + line.strip()
                    pending_name = None
                else:
                    continue
            else:
                continue
        fields = line.split()
        if len(fields) == 1 and re.match(r"^\S+\.\w+$", fields[0]):
            pending_name = fields[0]
            continue
        if len(fields) != 3 or "." not in fields[0]:
            continue
        name, _, arch = fields[0].rpartition(".")
        if not re.match(r"^[\w.+-]+$", arch) or not re.match(r"^(\d+:)?[\w.+~^]+-[\w.+~^]+$",
                                                            fields[1]):
            continue
        updates.append({"name": name, "arch": arch, "version": fields[1], "repo": fields[2]})
    return updates


def split_nevra(text):
    """'dbus-1:1.10.24-14.el7_8.x86_64' -> (name, 'epoch:version-release', arch)."""
    text = text.strip()
    base, _, arch = text.rpartition(".")
    name_ver, _, release = base.rpartition("-")
    name, _, version = name_ver.rpartition("-")
    epoch = "0"
    if ":" in version:
        epoch, _, version = version.partition(":")
    return name, "%s:%s-%s" % (epoch, version, release), arch


def parse_updateinfo(text):
    """`yum updateinfo list security` / `dnf updateinfo list --security` (advisory,
    severity/type, NEVRA per line) and dnf5 `advisory list` (with a header row and an
    issued date) -> [{"advisory", "severity", "name", "version", "arch"}]."""
    rows = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 3 or not re.match(r"^[A-Z][A-Za-z0-9]*-[\w:.-]+$", fields[0]):
            continue
        if "/" in fields[1] and len(fields) >= 3:  # dnf4/yum: 'Important/Sec.'
            severity, _, kind = fields[1].partition("/")
            nevra = fields[2]
        elif len(fields) >= 4:  # dnf5: name type severity package [issued]
            kind, severity, nevra = fields[1], fields[2], fields[3]
        else:
            continue
        if "." not in nevra or "-" not in nevra:
            continue
        name, version, arch = split_nevra(nevra)
        rows.append({"advisory": fields[0], "severity": severity, "type": kind,
                     "name": name, "version": version, "arch": arch})
    return rows


def parse_versionlock(text):
    """`dnf versionlock list` ('name-epoch:version-release.*') and yum's
    ('epoch:name-version-release.*') -> set of package names."""
    names = set()
    for line in text.splitlines():
        entry = line.strip()
        if not entry or entry.startswith(("Last metadata", "Loaded plugins", "#")) \
                or " " in entry:
            continue
        if entry.startswith("!"):  # an exclude entry also keeps the package where it is
            entry = entry[1:]
        entry = re.sub(r"\.\*$", "", entry)
        entry = re.sub(r"^\d+:", "", entry)  # yum puts the epoch first
        parts = entry.rsplit("-", 2)
        if len(parts) == 3:
            names.add(parts[0])
        elif entry:
            names.add(entry)
    return names


def parse_needs_restarting_r(rc, text):
    """`needs-restarting -r`: rc 1 = reboot needed; the '  * pkg' lines say why."""
    pkgs = [ln.strip()[2:].strip() for ln in text.splitlines() if ln.strip().startswith("* ")]
    return rc == 1, pkgs


def parse_conf_excludes(text):
    """`exclude=` / `excludepkgs=` of the [main] section of dnf.conf / yum.conf."""
    patterns = []
    section = None
    for line in text.splitlines():
        stripped = line.strip()
        if stripped.startswith("["):
            section = stripped.strip("[]").strip()
            continue
        if section != "main" or "=" not in stripped or stripped.startswith("#"):
            continue
        key, _, value = stripped.partition("=")
        if key.strip() in ("exclude", "excludepkgs"):
            patterns += [v for v in re.split(r"[\s,]+", value.strip()) if v]
    return patterns


# ------------------------------------------------------------------------ dnf/yum
class RpmPatcher(object):
    """The dnf/yum path: check-update for pending, check-update --security for security."""

    def __init__(self, m, tool):
        self.m = m
        self.p = m.params
        self.tool = tool

    def cmd(self, args, check=True, ok=(0,)):
        base = [self.tool, "-q", "-y"]
        if self.p["update_cache"] and not self.m.check_mode:
            # dnf/yum refresh metadata older than metadata_expire by themselves
            base.append("--setopt=metadata_expire=%d" % self.p["cache_valid_time"])
        else:
            base.append("-C")  # check mode reads the cached metadata as it is
        rc, out, err = self.m.run(base + list(args), env=RPM_ENV)
        if check and rc not in ok:
            self.m.fail("%s %s failed (rc=%d): %s" % (self.tool, " ".join(args), rc,
                                                      _tail(err or out, 4)),
                        rc=rc, stdout=out, stderr=err)
        return rc, out, err

    def installed(self):
        _rc, out, _err = self.m.run(
            ["rpm", "-qa", "--qf", "%{NAME}.%{ARCH}\t%|EPOCH?{%{EPOCH}}:{0}|:%{VERSION}-"
             "%{RELEASE}\n"], env=RPM_ENV, check=True)
        installed = {}
        for line in out.splitlines():
            key, _, ver = line.partition("\t")
            if key.startswith("gpg-pubkey."):
                continue
            installed.setdefault(key, []).append(ver)
        # install-only packages (kernel) keep several versions side by side
        return dict((k, ",".join(sorted(v))) for k, v in installed.items())

    def holds(self):
        names = set()
        rc, out, _err = self.cmd(["versionlock", "list"], check=False)
        if rc == 0:
            names |= parse_versionlock(out)
        patterns = []
        for conf in ("/etc/dnf/dnf.conf", "/etc/yum.conf"):
            raw = self.m.read_bytes(conf)
            if raw:
                patterns += parse_conf_excludes(raw.decode("utf-8", "replace"))
        return names, patterns

    def run(self):
        m = self.m
        result = {"cache_updated": None}
        check_disk(m, ["/var/cache/%s" % self.tool, "/"], self.p["min_free_mb"], result)
        wait_for_locks(m, ["/var/lib/rpm/.rpm.lock"], self.p["lock_timeout"])
        installed = self.installed()
        locked, conf_excludes = self.holds()
        _rc, out, _err = self.cmd(["check-update"], ok=(0, 100))
        updates = parse_check_update(out)
        rc, sec_out, sec_err = self.cmd(["check-update", "--security"], check=False)
        if rc not in (0, 100):
            m.warn("%s check-update --security failed; no update is counted as security: %s"
                   % (self.tool, _tail(sec_err or sec_out, 2)))
            security = set()
        else:
            security = set((u["name"], u["arch"]) for u in parse_check_update(sec_out))
        advisories = {}
        rc, adv_out, _e = self.cmd(["updateinfo", "list", "--security"], check=False)
        if rc == 0:
            for row in parse_updateinfo(adv_out):
                advisories.setdefault(row["name"], set()).add(row["advisory"])
        pending = []
        for u in updates:
            key = "%s.%s" % (u["name"], u["arch"])
            pending.append({
                "name": u["name"], "arch": u["arch"], "current": installed.get(key),
                "candidate": u["version"], "repo": u["repo"],
                "security": (u["name"], u["arch"]) in security,
                "advisories": sorted(advisories.get(u["name"], [])),
                "held": u["name"] in locked,
                "excluded": matches_any(u["name"], self.p["exclude"]),
            })
        result["pending"] = pending
        result["held"] = sorted(locked)
        result["held_patterns"] = conf_excludes
        result["services_running"] = running_services(m)
        selected = []
        if self.p["state"] != "list":
            selected = [u for u in pending if not u["held"] and not u["excluded"]
                        and (self.p["state"] == "latest" or u["security"])]
        planned = [{"name": u["name"], "from": u["current"], "to": u["candidate"]}
                   for u in selected]
        result["planned"] = planned
        changes = []
        if planned and not m.check_mode:
            changes = self.apply(selected, installed, result)
        reboot = self.reboot_state()
        services = self.services()
        return _finish(m, result, planned, changes, reboot, services)

    def apply(self, selected, before, result):
        m = self.m
        args = ["upgrade"] + ["%s.%s" % (u["name"], u["arch"]) for u in selected]
        for pattern in self.p["exclude"]:
            args.append("--exclude=%s" % pattern)
        if self.p["allow_removals"]:
            args.append("--allowerasing")
        names = [u["name"] for u in selected]
        conf_before = self.config_files(names)
        snap = _snapshot(conf_before, (".rpmnew",))
        rc, out, err = self.cmd(args, check=False)
        after = self.installed()
        changes = [{"name": k, "from": before.get(k), "to": after.get(k)}
                   for k in sorted(set(before) | set(after)) if before.get(k) != after.get(k)]
        result["config_files_kept"] = _kept_config_files(
            m, self.config_files([c["name"].rpartition(".")[0] for c in changes if c["to"]]),
            (".rpmnew",), snap)
        if rc != 0:
            m.fail("%s upgrade failed (rc=%d): %s" % (self.tool, rc, _tail(err or out, 6)),
                   changes=changes, changed=bool(changes), stdout=out, stderr=err)
        return changes

    def config_files(self, names):
        out_map = {}
        for name in sorted(set(names)):
            rc, out, _err = self.m.run(["rpm", "-qc", name], env=RPM_ENV)
            if rc == 0:
                out_map[name] = [ln.strip() for ln in out.splitlines() if ln.startswith("/")]
        return out_map

    def needs_restarting(self, flag):
        """yum-utils/dnf-utils' needs-restarting, else the dnf plugin command."""
        rc, out, err = self.m.run(["needs-restarting", flag], env=RPM_ENV)
        if rc == 127:
            rc, out, err = self.m.run([self.tool, "-q", "needs-restarting", flag], env=RPM_ENV)
        return rc, out, err

    def reboot_state(self):
        reasons = []
        rc, out, _err = self.needs_restarting("-r")
        required, pkgs = parse_needs_restarting_r(rc, out)
        if required:
            reasons.append("needs-restarting -r: %s" % (", ".join(pkgs) or "reboot required"))
        kernel = kernel_reboot_reason(os.uname()[2])
        if kernel:
            reasons.append(kernel)
        return {"required": bool(reasons), "reasons": reasons, "pkgs": pkgs}

    def services(self):
        rc, out, _err = self.needs_restarting("-s")
        if rc == 0:
            return {"method": "needs-restarting",
                    "services": sorted(ln.strip() for ln in out.splitlines()
                                       if ln.strip().endswith(".service"))}
        return {"method": "deleted-mappings", "services": deleted_mapping_services()}


