"""Read the host's health: disks, units, services, reboot, time, certificates, jobs, ...

Changes nothing (changed is always false; check mode runs the same reads). Every check
gives rows of `{check, item, state: ok|warn|crit, reason, value}`; the worst row of a
check is its state, the worst check the host's. `value` is the number a trend is drawn
from (percent used, days to expiry, offset in ms). Thresholds are arguments with
defaults; `checks`/`skip` switch checks on and off. The controller adds what needs the
run history (days until full, new listening ports, alerts on a change): see
pyengine/health/. Certificates are read by a small built-in DER reader (no openssl
call, no third-party library): PEM and DER files, the earliest expiry in a file counts.
"""

import base64
import datetime
import fnmatch
import glob
import ipaddress
import os
import re
import threading
import time

CHECKS = ["disk", "inodes", "units", "services", "reboot", "time", "certs", "jobs", "smart",
          "memory", "taint", "oom", "uid0", "ports"]

ARGS = {
    "checks": {"type": "list", "elements": "str", "default": ["all"],
               "help": "Checks to run: all, or some of disk, inodes, units, services, reboot, "
                       "time, certs, jobs, smart, memory, taint, oom, uid0, ports."},
    "skip": {"type": "list", "elements": "str", "default": [],
             "help": "Checks switched off (wins over `checks`)."},
    "disk_warn": {"type": "float", "default": 80.0, "help": "Filesystem % used for warn."},
    "disk_crit": {"type": "float", "default": 90.0, "help": "Filesystem % used for crit."},
    "inode_warn": {"type": "float", "default": 80.0, "help": "Inodes % used for warn."},
    "inode_crit": {"type": "float", "default": 90.0, "help": "Inodes % used for crit."},
    "fs_types_exclude": {
        "type": "list", "elements": "str",
        "default": ["proc", "sysfs", "devpts", "devtmpfs", "cgroup", "cgroup2", "mqueue",
                    "debugfs", "tracefs", "securityfs", "pstore", "bpf", "autofs", "configfs",
                    "fusectl", "hugetlbfs", "binfmt_misc", "squashfs", "nsfs", "efivarfs",
                    "rpc_pipefs", "iso9660", "ramfs", "overlay.ro", "fuse.lxcfs",
                    "fuse.gvfsd-fuse", "fuse.portal"],
        "help": "Filesystem types not checked (pseudo and read-only image filesystems)."},
    "mounts_exclude": {"type": "list", "elements": "str",
                       "default": ["/var/lib/docker/*", "/var/lib/containers/*",
                                   "/run/containerd/*", "/var/lib/kubelet/*", "/snap/*",
                                   "/run/credentials/*"],
                       "help": "Mount point globs not checked (container layers, snaps)."},
    "statvfs_timeout": {"type": "float", "default": 5.0,
                        "help": "Seconds a mount may take to answer (a hung NFS is crit)."},
    "units_ignore": {"type": "list", "elements": "str", "default": [],
                     "help": "Failed unit globs that do not count."},
    "units_crit": {"type": "int", "default": 3, "help": "Failed units for crit (1 is warn)."},
    "services": {"type": "list", "elements": "str", "default": [],
                 "help": "Services that should run; one that does not is crit."},
    "reboot_crit_days": {"type": "float", "default": 7.0,
                         "help": "A reboot pending this many days is crit (else warn)."},
    "time_offset_warn_ms": {"type": "float", "default": 100.0, "help": "Clock offset for warn."},
    "time_offset_crit_ms": {"type": "float", "default": 1000.0, "help": "Clock offset for crit."},
    "time_unsynced": {"type": "str", "default": "warn", "choices": ["ok", "warn", "crit"],
                      "help": "State of a clock that no time service keeps in sync."},
    "cert_paths": {"type": "list", "elements": "str", "default": [],
                   "help": "Certificate files, folders or globs to check."},
    "cert_scan_configs": {"type": "bool", "default": True,
                          "help": "Also check the certificates nginx, apache and postfix use."},
    "cert_warn_days": {"type": "float", "default": 30.0, "help": "Days to expiry for warn."},
    "cert_crit_days": {"type": "float", "default": 7.0, "help": "Days to expiry for crit."},
    "jobs": {"type": "list", "elements": "raw", "default": [],
             "help": "Jobs whose last success is checked: {name, timer} or {name, log, "
                     "pattern}; optional warn_hours, crit_hours."},
    "job_warn_hours": {"type": "float", "default": 26.0,
                       "help": "Hours since the last success for warn."},
    "job_crit_hours": {"type": "float", "default": 50.0,
                       "help": "Hours since the last success for crit."},
    "mem_warn": {"type": "float", "default": 90.0, "help": "Memory % used for warn."},
    "mem_crit": {"type": "float", "default": 97.0, "help": "Memory % used for crit."},
    "swap_warn": {"type": "float", "default": 50.0, "help": "Swap % used for warn."},
    "swap_crit": {"type": "float", "default": 80.0, "help": "Swap % used for crit."},
    "psi_warn": {"type": "float", "default": 10.0,
                 "help": "Memory pressure (some, avg60, %) for warn."},
    "psi_crit": {"type": "float", "default": 30.0, "help": "Memory pressure for crit."},
    "taint_ignore": {"type": "list", "elements": "str", "default": ["P", "O", "E"],
                     "help": "Taint letters that are ok (proprietary, out-of-tree, unsigned)."},
    "oom_since": {"type": "str", "default": "",
                  "help": "Count OOM kills after this time (epoch seconds or ISO-8601)."},
    "oom_hours": {"type": "float", "default": 24.0,
                  "help": "Without oom_since: count OOM kills of the last hours."},
    "oom_crit": {"type": "int", "default": 5, "help": "OOM kills for crit (1 is warn)."},
    "uid0_allow": {"type": "list", "elements": "str", "default": ["root"],
                   "help": "Users allowed to have uid 0."},
    "ports_expected": {"type": "list", "elements": "int", "default": [],
                       "help": "When set, a listening TCP port not in it is warn."},
    "trend_days_warn": {"type": "float", "default": 14.0,
                        "help": "Controller: a filesystem full within these days is warn."},
    "trend_days_crit": {"type": "float", "default": 3.0,
                        "help": "Controller: a filesystem full within these days is crit."},
}

RANK = {"ok": 0, "warn": 1, "crit": 2}


def worst(states):
    """The worst of some states ('ok' for none)."""
    best = "ok"
    for state in states:
        if RANK.get(state, 0) > RANK[best]:
            best = state
    return best


def level(value, warn, crit, higher_is_worse=True):
    """ok/warn/crit of a number against two thresholds."""
    if higher_is_worse:
        return "crit" if value >= crit else ("warn" if value >= warn else "ok")
    return "crit" if value <= crit else ("warn" if value <= warn else "ok")


def row(check, state, reason, item="", value=None, **data):
    out = {"check": check, "item": item, "state": state, "reason": reason}
    if value is not None:
        out["value"] = value
    out.update(data)
    return out


def run_cmd(m, argv, seconds=20):
    """m.run with a time limit (coreutils `timeout` when the host has it): a health read
    must never hang the night's run on a stuck daemon."""
    limit = m.which("timeout")
    if limit:
        argv = [limit, str(int(seconds))] + list(argv)
    return m.run(argv)


def read_text(path, limit=None):
    try:
        with open(path, "rb") as fh:
            if limit:
                size = os.fstat(fh.fileno()).st_size
                if size > limit:
                    fh.seek(size - limit)
            return fh.read().decode("utf-8", "replace")
    except OSError:
        return None


# ---------------------------------------------------------------- filesystems
def parse_mounts(text):
    """[(mount point, fs type, device)] from /proc/mounts, the last mount of a point wins."""
    seen = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 3:
            continue
        point = re.sub(r"\\([0-7]{3})", lambda mt: chr(int(mt.group(1), 8)), parts[1])
        seen[point] = (point, parts[2], parts[0])
    return list(seen.values())


def usage(st):
    """(block % used, inode % used or None) of an os.statvfs result, as df counts."""
    used = st.f_blocks - st.f_bfree
    avail = used + st.f_bavail
    block_pct = round(100.0 * used / avail, 1) if avail > 0 else 0.0
    inode_pct = None
    if st.f_files > 0:
        inode_pct = round(100.0 * (st.f_files - st.f_ffree) / st.f_files, 1)
    return block_pct, inode_pct


def _statvfs(point, seconds):
    """os.statvfs in a daemon thread: a hung network mount is reported, not waited on."""
    box = {}

    def target():
        try:
            box["st"] = os.statvfs(point)
        except OSError as exc:
            box["err"] = exc.strerror or str(exc)

    worker = threading.Thread(target=target)
    worker.daemon = True
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        return None, "did not answer within %gs (hung mount?)" % seconds
    return box.get("st"), box.get("err")


def check_filesystems(p, mounts_text, want_disk, want_inodes, stat=None):
    rows = []
    seen = set()
    for point, fstype, device in parse_mounts(mounts_text):
        if fstype in p["fs_types_exclude"]:
            continue
        if any(fnmatch.fnmatch(point, g) for g in p["mounts_exclude"]):
            continue
        st, err = (stat or _statvfs)(point, p["statvfs_timeout"])
        if st is None:
            if err and "hung" in err:
                rows.append(row("disk", "crit", "%s %s" % (point, err), item=point))
            continue
        if st.f_blocks == 0:
            continue
        # A bind mount shows the same filesystem again: one row (the first mount point).
        same = (device, fstype, getattr(st, "f_fsid", None), st.f_blocks, st.f_files)
        if same in seen:
            continue
        seen.add(same)
        block_pct, inode_pct = usage(st)
        free_mb = st.f_bavail * st.f_frsize // (1024 * 1024)
        size_mb = st.f_blocks * st.f_frsize // (1024 * 1024)
        if want_disk:
            state = level(block_pct, p["disk_warn"], p["disk_crit"])
            rows.append(row("disk", state, "%s %.1f%% used (%d MiB free of %d MiB)" % (
                point, block_pct, free_mb, size_mb), item=point, value=block_pct,
                fstype=fstype, device=device, size_mb=size_mb, free_mb=free_mb))
        if want_inodes and inode_pct is not None:
            state = level(inode_pct, p["inode_warn"], p["inode_crit"])
            rows.append(row("inodes", state, "%s %.1f%% of inodes used" % (point, inode_pct),
                            item=point, value=inode_pct))
    return rows


# ---------------------------------------------------------------- systemd
def parse_failed_units(text):
    """Unit names from `systemctl list-units --state=failed --no-legend --plain`."""
    units = []
    for line in text.splitlines():
        parts = line.strip().lstrip("●* ").split()
        if parts and "." in parts[0]:
            units.append(parts[0])
    return units


def check_units(m, p):
    ctl = m.which("systemctl")
    if not ctl or not os.path.isdir("/run/systemd/system"):
        return [row("units", "ok", "no systemd: not checked", skipped=True)]
    rc, out, err = run_cmd(m, [ctl, "list-units", "--state=failed", "--all", "--no-legend",
                               "--plain", "--no-pager"])
    if rc != 0:
        return [row("units", "warn", "systemctl list-units failed: %s" % err.strip()[:200])]
    failed = [u for u in parse_failed_units(out)
              if not any(fnmatch.fnmatch(u, g) for g in p["units_ignore"])]
    if not failed:
        return [row("units", "ok", "no failed units", value=0)]
    state = "crit" if len(failed) >= p["units_crit"] else "warn"
    return [row("units", state, "%d failed: %s" % (len(failed), ", ".join(failed[:5])),
                value=len(failed), units=failed)]


def parse_is_active(names, text):
    """{name: state} from `systemctl is-active A B ...` (one line per name, in order)."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return {name: (lines[i] if i < len(lines) else "unknown") for i, name in enumerate(names)}


def check_services(m, p):
    names = [str(n) for n in p["services"]]
    if not names:
        return [row("services", "ok", "no services configured", skipped=True)]
    ctl = m.which("systemctl")
    states = {}
    if ctl and os.path.isdir("/run/systemd/system"):
        _rc, out, _err = run_cmd(m, [ctl, "is-active"] + names)
        states = parse_is_active(names, out)
    else:
        tool = m.which("service")
        for name in names:
            rc, _out, _err = run_cmd(m, [tool, name, "status"]) if tool else (4, "", "")
            states[name] = "active" if rc == 0 else "inactive"
    down = [n for n in names if states.get(n) != "active"]
    if not down:
        return [row("services", "ok", "%d running: %s" % (len(names), ", ".join(names)))]
    return [row("services", "crit", "not running: " + ", ".join(
        "%s (%s)" % (n, states.get(n, "unknown")) for n in down), value=len(down), down=down)]


# ---------------------------------------------------------------- reboot
def check_reboot(m, p, now):
    flag = "/var/run/reboot-required"
    if os.path.exists(flag):
        age_days = max(0.0, (now - os.stat(flag).st_mtime) / 86400.0)
        pkgs = (read_text(flag + ".pkgs") or "").split()
        state = "crit" if age_days >= p["reboot_crit_days"] else "warn"
        why = " (%s)" % ", ".join(pkgs[:5]) if pkgs else ""
        return [row("reboot", state, "reboot pending for %.1f days%s" % (age_days, why),
                    value=round(age_days, 2), packages=pkgs)]
    tool = m.which("needs-restarting")
    if tool:
        rc, out, _err = run_cmd(m, [tool, "-r"], 60)
        if rc == 1:
            return [row("reboot", "warn", "reboot pending (needs-restarting -r)",
                        detail=out.strip()[:300])]
    return [row("reboot", "ok", "no reboot pending")]


# ---------------------------------------------------------------- time
def parse_timedatectl(text):
    """Key=value lines of `timedatectl show` (and `timedatectl show-timesync`)."""
    out = {}
    for line in text.splitlines():
        if "=" in line:
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip()
    return out


def parse_chrony_tracking(text):
    """(synchronised, offset ms or None) from `chronyc tracking`."""
    offset = None
    synced = True
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "System time":
            mt = re.match(r"\s*([0-9.]+) seconds (slow|fast)", value)
            if mt:
                offset = float(mt.group(1)) * 1000.0 * (-1 if mt.group(2) == "slow" else 1)
        elif key == "Leap status":
            synced = value.strip() != "Not synchronised"
        elif key == "Reference ID" and value.split()[:1] == ["00000000"]:
            synced = False
    return synced, offset


def parse_timesync_status(text):
    """Offset in ms from `timedatectl timesync-status` ("Offset: +1.234ms"), or None."""
    mt = re.search(r"^\s*Offset:\s*([+-]?[0-9.]+)(us|ms|s)\b", text, re.M)
    if not mt:
        return None
    factor = {"us": 0.001, "ms": 1.0, "s": 1000.0}[mt.group(2)]
    return float(mt.group(1)) * factor


def time_state(p, synced, offset_ms, source):
    if offset_ms is not None:
        state = level(abs(offset_ms), p["time_offset_warn_ms"], p["time_offset_crit_ms"])
        if not synced:
            state = worst([state, p["time_unsynced"]])
        return row("time", state, "%s, offset %+.1f ms (%s)" % (
            "synchronised" if synced else "NOT synchronised", offset_ms, source),
            value=round(offset_ms, 3), synced=synced)
    if synced:
        return row("time", "ok", "synchronised (%s)" % source, synced=True)
    return row("time", p["time_unsynced"], "clock not synchronised (%s)" % source, synced=False)


def check_time(m, p):
    chrony = m.which("chronyc")
    if chrony:
        rc, out, _err = run_cmd(m, [chrony, "-n", "tracking"], 10)
        if rc == 0 and out.strip():
            synced, offset = parse_chrony_tracking(out)
            return [time_state(p, synced, offset, "chronyc tracking")]
    tdc = m.which("timedatectl")
    if tdc:
        rc, out, _err = run_cmd(m, [tdc, "show"], 10)
        if rc == 0:
            info = parse_timedatectl(out)
            synced = info.get("NTPSynchronized") == "yes"
            offset = None
            if info.get("NTP") == "yes":
                rc2, status, _ = run_cmd(m, [tdc, "timesync-status"], 10)
                offset = parse_timesync_status(status) if rc2 == 0 else None
            source = "timedatectl" + ("" if info.get("NTP") == "yes" else ", NTP off")
            return [time_state(p, synced, offset, source)]
    return [row("time", p["time_unsynced"], "time sync state unknown (no chronyc/timedatectl)")]


# ---------------------------------------------------------------- certificates
def der_tlv(data, pos):
    """(tag, content start, content end) of the DER element at pos."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0 or count > 4:
            raise ValueError("unsupported DER length")
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    if pos + length > len(data):
        raise ValueError("truncated DER")
    return tag, pos, pos + length


def der_children(data, start, end):
    out = []
    pos = start
    while pos < end:
        tag, cstart, cend = der_tlv(data, pos)
        out.append((tag, cstart, cend))
        pos = cend
    return out


def der_time(tag, raw):
    text = raw.decode("ascii")
    if tag == 0x17:  # UTCTime: YYMMDDHHMM[SS]Z, years 50-99 are 19xx (RFC 5280)
        year = int(text[:2])
        text = ("19" if year >= 50 else "20") + text
    elif tag != 0x18:
        raise ValueError("not a time")
    text = text.rstrip("Z")
    fmt = "%Y%m%d%H%M%S" if len(text) >= 14 else "%Y%m%d%H%M"
    stamp = datetime.datetime.strptime(text[:14] if len(text) >= 14 else text, fmt)
    return stamp.replace(tzinfo=datetime.timezone.utc)


CN_OID = b"\x55\x04\x03"


def der_common_name(data, start, end):
    for _tag, s, e in der_children(data, start, end):  # SET per RDN
        for _t2, s2, e2 in der_children(data, s, e):  # SEQUENCE {oid, value}
            parts = der_children(data, s2, e2)
            if len(parts) == 2 and data[parts[0][1]:parts[0][2]] == CN_OID:
                return data[parts[1][1]:parts[1][2]].decode("utf-8", "replace")
    return ""


def cert_info(der):
    """{subject, issuer, not_before, not_after} of one DER certificate."""
    _tag, s, e = der_tlv(der, 0)
    tbs = der_children(der, s, e)[0]
    fields = der_children(der, tbs[1], tbs[2])
    if fields and fields[0][0] == 0xA0:  # [0] version
        fields = fields[1:]
    # serial, signature algorithm, issuer, validity, subject
    issuer, validity, subject = fields[2], fields[3], fields[4]
    times = der_children(der, validity[1], validity[2])
    return {
        "subject": der_common_name(der, subject[1], subject[2]),
        "issuer": der_common_name(der, issuer[1], issuer[2]),
        "not_before": der_time(times[0][0], der[times[0][1]:times[0][2]]),
        "not_after": der_time(times[1][0], der[times[1][1]:times[1][2]]),
    }


PEM_RE = re.compile(rb"-----BEGIN (?:X509 |TRUSTED )?CERTIFICATE-----(.*?)"
                    rb"-----END (?:X509 |TRUSTED )?CERTIFICATE-----", re.S)


def certs_in(data):
    """Every certificate of a PEM bundle, or the one of a DER file."""
    blocks = PEM_RE.findall(data)
    if blocks:
        return [cert_info(base64.b64decode(b"".join(b.split()))) for b in blocks]
    if data[:1] == b"\x30":
        return [cert_info(data)]
    return []


CONFIG_PATTERNS = [
    # (config globs, directive regex): the certificate a service presents
    (["/etc/nginx/nginx.conf", "/etc/nginx/conf.d/*.conf", "/etc/nginx/sites-enabled/*",
      "/etc/nginx/snippets/*.conf"],
     re.compile(r"^\s*ssl_certificate\s+[\"']?([^\s;\"']+)", re.M)),
    (["/etc/apache2/sites-enabled/*", "/etc/apache2/mods-enabled/ssl.conf",
      "/etc/apache2/conf-enabled/*", "/etc/httpd/conf/httpd.conf", "/etc/httpd/conf.d/*.conf"],
     re.compile(r"^\s*SSLCertificateFile\s+[\"']?([^\s\"']+)", re.M | re.I)),
    (["/etc/postfix/main.cf"],
     re.compile(r"^\s*(?:smtpd_tls_cert_file|smtp_tls_cert_file|smtpd_tls_chain_files)"
                r"\s*=\s*([^\s,]+)", re.M)),
]


def configured_cert_paths(root=""):
    """{certificate path: config file that names it} for nginx, apache and postfix
    (`root` prefixes the config globs: a test's folder)."""
    found = {}
    for globs, pattern in CONFIG_PATTERNS:
        for pat in globs:
            for conf in sorted(glob.glob(root + pat)):
                text = read_text(conf)
                if not text:
                    continue
                for value in pattern.findall(text):
                    if "$" not in value and value.startswith("/"):
                        found.setdefault(value, conf)
    return found


CERT_EXT = (".pem", ".crt", ".cer", ".der", ".cert")


def expand_cert_paths(paths):
    out = []
    for given in paths:
        given = os.path.expanduser(str(given))
        for path in sorted(glob.glob(given)) or [given]:
            if os.path.isdir(path):
                out += [os.path.join(path, n) for n in sorted(os.listdir(path))
                        if n.lower().endswith(CERT_EXT)]
            else:
                out.append(path)
    return out


def cert_row(p, path, data, now_dt, source=""):
    try:
        certs = certs_in(data)
    except (ValueError, IndexError, UnicodeDecodeError) as exc:
        return row("certs", "warn", "%s: not a readable certificate (%s)" % (path, exc),
                   item=path)
    if not certs:
        return row("certs", "warn", "%s: no certificate in the file" % path, item=path)
    first = min(certs, key=lambda c: c["not_after"])
    days = (first["not_after"] - now_dt).total_seconds() / 86400.0
    name = first["subject"] or os.path.basename(path)
    when = first["not_after"].strftime("%Y-%m-%d")
    if days < 0:
        reason = "%s (%s) expired %d days ago (%s)" % (path, name, int(-days), when)
    else:
        reason = "%s (%s) expires in %d days (%s)" % (path, name, int(days), when)
    return row("certs", level(days, p["cert_warn_days"], p["cert_crit_days"], False), reason,
               item=path, value=round(days, 1), subject=first["subject"], not_after=when,
               source=source)


def check_certs(m, p, now_dt):
    paths = {path: "configured" for path in expand_cert_paths(p["cert_paths"])}
    if p["cert_scan_configs"]:
        for path, conf in configured_cert_paths().items():
            paths.setdefault(path, conf)
    if not paths:
        return [row("certs", "ok", "no certificates configured or found", skipped=True)]
    rows = []
    for path, source in sorted(paths.items()):
        try:
            with open(path, "rb") as fh:
                data = fh.read(1024 * 1024)
        except OSError as exc:
            rows.append(row("certs", "warn", "%s: %s (named by %s)" % (
                path, exc.strerror or exc, source), item=path))
            continue
        rows.append(cert_row(p, path, data, now_dt, source))
    return rows


# ---------------------------------------------------------------- jobs
SYSLOG_RE = re.compile(r"^([A-Z][a-z]{2})\s+(\d{1,2}) (\d\d):(\d\d):(\d\d)")
ISO_RE = re.compile(r"(\d{4})-(\d\d)-(\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.\d+)?"
                    r"(Z|[+-]\d\d:?\d\d)?")
MONTHS = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"]


def line_time(line, now):
    """Epoch seconds of a log line's timestamp (ISO-8601 or syslog), or None.
    A timestamp without a zone is the host's local time."""
    mt = ISO_RE.search(line)
    if mt:
        parts = [int(x) for x in mt.groups()[:6]]
        zone = mt.group(7)
        stamp = datetime.datetime(*parts)
        if zone:
            if zone == "Z":
                tz = datetime.timezone.utc
            else:
                sign = -1 if zone[0] == "-" else 1
                digits = zone[1:].replace(":", "")
                tz = datetime.timezone(sign * datetime.timedelta(
                    hours=int(digits[:2]), minutes=int(digits[2:])))
            return stamp.replace(tzinfo=tz).timestamp()
        return time.mktime(stamp.timetuple())
    mt = SYSLOG_RE.match(line)
    if mt and mt.group(1) in MONTHS:
        year = time.localtime(now).tm_year
        for y in (year, year - 1):  # syslog has no year: the newest date not in the future
            stamp = time.mktime((y, MONTHS.index(mt.group(1)) + 1, int(mt.group(2)),
                                 int(mt.group(3)), int(mt.group(4)), int(mt.group(5)),
                                 0, 0, -1))
            if stamp <= now + 86400:
                return stamp
    return None


def newest_match(text, pattern, now):
    """Epoch of the newest line matching the regex `pattern` ((None, line) when it has
    no timestamp, (None, None) when no line matches)."""
    regex = re.compile(pattern)
    for line in reversed(text.splitlines()):
        if regex.search(line):
            return line_time(line, now), line
    return None, None


def parse_systemctl_show(text):
    """Blocks of `systemctl show A B -p ...` (blank-line separated) as dicts."""
    blocks, current = [], {}
    for line in text.splitlines() + [""]:
        if not line.strip():
            if current:
                blocks.append(current)
            current = {}
            continue
        key, _, value = line.partition("=")
        current[key] = value
    return blocks


def show_time(value):
    """Epoch of a `systemctl show` timestamp ("@1733342400" with --timestamp=unix, or
    "Fri 2026-12-04 02:00:01 UTC"), None for n/a or empty."""
    value = (value or "").strip()
    if not value or value == "n/a" or value == "0":
        return None
    if value.startswith("@"):
        return float(value[1:])
    mt = re.match(r"\w{3} (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) (\S+)$", value)
    if mt:
        stamp = datetime.datetime.strptime(mt.group(1), "%Y-%m-%d %H:%M:%S")
        if mt.group(2) == "UTC":
            return stamp.replace(tzinfo=datetime.timezone.utc).timestamp()
        return time.mktime(stamp.timetuple())
    return None


def job_state(age_h, warn_h, crit_h):
    return "crit" if age_h >= crit_h else ("warn" if age_h >= warn_h else "ok")


def timer_job(m, name, timer, warn_h, crit_h, now):
    ctl = m.which("systemctl")
    if not ctl:
        return row("jobs", "warn", "%s: no systemctl for timer %s" % (name, timer), item=name)
    if "." not in timer:
        timer += ".timer"
    argv = [ctl, "show", timer, "-p", "LastTriggerUSec", "-p", "Unit", "-p", "LoadState"]
    rc, out, _err = run_cmd(m, argv[:2] + ["--timestamp=unix"] + argv[2:])
    if rc != 0:  # systemd < 248 has no --timestamp
        rc, out, _err = run_cmd(m, argv)
    info = (parse_systemctl_show(out) or [{}])[0]
    if info.get("LoadState") == "not-found":
        return row("jobs", "crit", "%s: timer %s not found" % (name, timer), item=name)
    last = show_time(info.get("LastTriggerUSec"))
    unit = info.get("Unit") or timer.rsplit(".", 1)[0] + ".service"
    rc, out, _err = run_cmd(m, [ctl, "show", unit, "-p", "Result", "-p", "ExecMainStatus",
                                "-p", "ActiveState"])
    uinfo = (parse_systemctl_show(out) or [{}])[0]
    if last is None:
        return row("jobs", "crit", "%s: timer %s has never triggered" % (name, timer), item=name)
    age_h = (now - last) / 3600.0
    if uinfo.get("Result", "success") != "success" or uinfo.get("ExecMainStatus", "0") not in (
            "0", ""):
        return row("jobs", "crit", "%s: last run %.1f h ago failed (%s, status %s)" % (
            name, age_h, uinfo.get("Result"), uinfo.get("ExecMainStatus")), item=name,
            value=round(age_h, 2))
    return row("jobs", job_state(age_h, warn_h, crit_h), "%s: last success %.1f h ago (%s)" % (
        name, age_h, unit), item=name, value=round(age_h, 2))


def log_job(name, path, pattern, warn_h, crit_h, now):
    text = read_text(path, limit=4 * 1024 * 1024)
    if text is None:
        return row("jobs", "crit", "%s: log %s not readable" % (name, path), item=name)
    try:
        stamp, line = newest_match(text, pattern, now)
    except re.error as exc:
        return row("jobs", "warn", "%s: bad pattern %r: %s" % (name, pattern, exc), item=name)
    if line is None:
        return row("jobs", "crit", "%s: no line matching %r in %s" % (name, pattern, path),
                   item=name)
    if stamp is None:
        stamp = os.stat(path).st_mtime  # the line has no time: the file's last write
    age_h = (now - stamp) / 3600.0
    return row("jobs", job_state(age_h, warn_h, crit_h), "%s: last success %.1f h ago (%s)" % (
        name, age_h, path), item=name, value=round(age_h, 2))


def check_jobs(m, p, now):
    if not p["jobs"]:
        return [row("jobs", "ok", "no jobs configured", skipped=True)]
    rows = []
    for job in p["jobs"]:
        if not isinstance(job, dict) or not job.get("name"):
            rows.append(row("jobs", "warn", "job %r: needs a dict with name" % (job,)))
            continue
        name = str(job["name"])
        warn_h = float(job.get("warn_hours", p["job_warn_hours"]))
        crit_h = float(job.get("crit_hours", p["job_crit_hours"]))
        if job.get("timer"):
            rows.append(timer_job(m, name, str(job["timer"]), warn_h, crit_h, now))
        elif job.get("log") and job.get("pattern"):
            rows.append(log_job(name, str(job["log"]), str(job["pattern"]), warn_h, crit_h,
                                now))
        else:
            rows.append(row("jobs", "warn", "%s: give timer, or log and pattern" % name,
                            item=name))
    return rows


# ---------------------------------------------------------------- SMART
def parse_smart_scan(text):
    return [line.split()[0] for line in text.splitlines()
            if line.strip() and not line.startswith("#")]


def parse_smart_health(text):
    """'ok', 'crit' or None (no verdict) from `smartctl -H`."""
    mt = re.search(r"(?:overall-health self-assessment test result|SMART Health Status):"
                   r"\s*(\S+)", text)
    if not mt:
        return None
    return "ok" if mt.group(1).upper() in ("PASSED", "OK") else "crit"


def check_smart(m):
    tool = m.which("smartctl")
    if not tool:
        return [row("smart", "ok", "smartctl not installed: not checked", skipped=True)]
    _rc, out, _err = run_cmd(m, [tool, "--scan"], 30)
    devices = parse_smart_scan(out)
    if not devices:
        return [row("smart", "ok", "no SMART devices found", skipped=True)]
    rows = []
    for dev in devices:
        _rc, out, _err = run_cmd(m, [tool, "-H", dev], 30)
        verdict = parse_smart_health(out)
        if verdict is None:
            rows.append(row("smart", "ok", "%s: no SMART health verdict" % dev, item=dev))
        else:
            rows.append(row("smart", verdict, "%s: SMART health %s" % (
                dev, "PASSED" if verdict == "ok" else "FAILED"), item=dev))
    return rows


# ---------------------------------------------------------------- memory
def parse_meminfo(text):
    out = {}
    for line in text.splitlines():
        key, _, value = line.partition(":")
        parts = value.split()
        if parts and parts[0].isdigit():
            out[key.strip()] = int(parts[0])
    return out


def parse_pressure(text):
    """{'some': {'avg10':.., 'avg60':.., ...}, 'full': {...}} from /proc/pressure/*."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if parts:
            out[parts[0]] = {k: float(v) for k, _, v in (x.partition("=") for x in parts[1:])}
    return out


def check_memory(p, meminfo_text, pressure_text):
    info = parse_meminfo(meminfo_text)
    total = info.get("MemTotal", 0)
    avail = info.get("MemAvailable", info.get("MemFree", 0) + info.get("Cached", 0))
    mem_pct = round(100.0 * (1 - float(avail) / total), 1) if total else 0.0
    swap_total = info.get("SwapTotal", 0)
    swap_pct = (round(100.0 * (swap_total - info.get("SwapFree", 0)) / swap_total, 1)
                if swap_total else 0.0)
    states = [level(mem_pct, p["mem_warn"], p["mem_crit"]),
              level(swap_pct, p["swap_warn"], p["swap_crit"])]
    reason = "memory %.1f%% used, swap %s" % (
        mem_pct, ("%.1f%% used" % swap_pct) if swap_total else "none")
    psi = None
    if pressure_text:
        psi = parse_pressure(pressure_text).get("some", {}).get("avg60")
        if psi is not None:
            states.append(level(psi, p["psi_warn"], p["psi_crit"]))
            reason += ", pressure %.1f%% (avg60)" % psi
    return [row("memory", worst(states), reason, value=mem_pct, swap_pct=swap_pct, psi=psi)]


# ---------------------------------------------------------------- kernel taint
TAINT = "PFSRMBUDAWCIOELKXTN"
TAINT_CRIT = set("MBDL")  # machine check, bad page, oops, soft lockup


def decode_taint(value):
    return [TAINT[bit] if bit < len(TAINT) else "bit%d" % bit
            for bit in range(32) if value >> bit & 1]


def check_taint(p, text):
    try:
        value = int((text or "0").strip() or "0")
    except ValueError:
        return [row("taint", "warn", "unreadable taint value %r" % text)]
    letters = decode_taint(value)
    counted = [x for x in letters if x not in p["taint_ignore"]]
    if not counted:
        why = " (ignored: %s)" % "".join(letters) if letters else ""
        return [row("taint", "ok", "kernel not tainted%s" % why, value=value)]
    state = "crit" if TAINT_CRIT & set(counted) else "warn"
    return [row("taint", state, "kernel tainted %s (%d)" % ("".join(letters), value),
                value=value, flags=letters)]


# ---------------------------------------------------------------- OOM kills
OOM_RE = re.compile(r"(?:Out of memory|Memory cgroup out of memory): Kill(?:ed)? process "
                    r"\d+ \(([^)]*)\)|oom-kill:.*task=([^,\s]+)")


def parse_oom(text):
    """Names of processes the OOM killer killed, one per kill."""
    names = []
    for line in text.splitlines():
        mt = OOM_RE.search(line)
        if mt and mt.group(1) is not None:  # the "oom-kill:" line of the same kill is not counted
            names.append(mt.group(1) or "?")
    return names


def oom_start(p, now):
    given = str(p.get("oom_since") or "").strip()
    if given:
        try:
            return float(given)
        except ValueError:
            pass
        stamp = line_time(given, now)
        if stamp is not None:
            return stamp
    return now - float(p["oom_hours"]) * 3600.0


def check_oom(m, p, now):
    since = oom_start(p, now)
    text, source = None, ""
    journal = m.which("journalctl")
    if journal:
        rc, out, _err = run_cmd(m, [journal, "-k", "-q", "--no-pager", "-o", "short-iso",
                                    "--since", "@%d" % int(since)], 30)
        if rc == 0:
            text, source = out, "journal"
    if text is None:
        for log in ("/var/log/kern.log", "/var/log/messages"):
            raw = read_text(log, limit=8 * 1024 * 1024)
            if raw is not None:
                text = "\n".join(line for line in raw.splitlines()
                                 if (line_time(line, now) or 0) >= since)
                source = log
                break
    if text is None:
        return [row("oom", "ok", "no kernel log to read: not checked", skipped=True)]
    kills = parse_oom(text)
    hours = (now - since) / 3600.0
    if not kills:
        return [row("oom", "ok", "no OOM kills in %.0f h (%s)" % (hours, source), value=0)]
    state = "crit" if len(kills) >= p["oom_crit"] else "warn"
    return [row("oom", state, "%d OOM kills in %.0f h: %s" % (
        len(kills), hours, ", ".join(sorted(set(kills))[:5])), value=len(kills), killed=kills)]


# ---------------------------------------------------------------- uid 0
def parse_uid0(text):
    return [line.split(":")[0] for line in text.splitlines()
            if line.count(":") >= 3 and line.split(":")[2] == "0"]


def check_uid0(p, passwd_text):
    extra = [u for u in parse_uid0(passwd_text or "") if u not in p["uid0_allow"]]
    if extra:
        return [row("uid0", "crit", "uid 0 besides root: " + ", ".join(extra), users=extra)]
    return [row("uid0", "ok", "only root has uid 0")]


# ---------------------------------------------------------------- listening ports
def hex_addr(text):
    """The printable address of /proc/net/tcp{,6}'s hex (each 32-bit word little-endian)."""
    raw = bytes.fromhex(text)
    words = b"".join(raw[i:i + 4][::-1] for i in range(0, len(raw), 4))
    if len(words) == 4:
        return ".".join(str(b) for b in words)
    return "[%s]" % ipaddress.IPv6Address(words)


def parse_proc_net_tcp(text):
    """[(address, port, socket inode)] of LISTEN sockets in /proc/net/tcp or tcp6."""
    out = []
    for line in text.splitlines()[1:]:
        parts = line.split()
        if len(parts) < 10 or parts[3] != "0A":
            continue
        addr, _, port = parts[1].partition(":")
        out.append((hex_addr(addr), int(port, 16), parts[9]))
    return out


def parse_ss(text):
    """[(address, port, process)] from `ss -ltnpH` (or -ltnH)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 4 or not parts[0].startswith("LISTEN"):
            continue
        addr, _, port = parts[3].rpartition(":")
        proc = ""
        mt = re.search(r'users:\(\("([^"]+)"', line)
        if mt:
            proc = mt.group(1)
        if port.isdigit():
            out.append((addr, int(port), proc))
    return out


def socket_owners(inodes):
    """{socket inode: process name} by reading /proc/*/fd (best effort)."""
    owners = {}
    want = set(inodes)
    if not want:
        return owners
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        fd_dir = "/proc/%s/fd" % pid
        try:
            fds = os.listdir(fd_dir)
        except OSError:
            continue
        for fd in fds:
            try:
                target = os.readlink(os.path.join(fd_dir, fd))
            except OSError:
                continue
            if target.startswith("socket:[") and target[8:-1] in want:
                comm = read_text("/proc/%s/comm" % pid) or "?"
                owners[target[8:-1]] = comm.strip()
        if len(owners) == len(want):
            break
    return owners


def listening(m):
    found = []
    for path in ("/proc/net/tcp", "/proc/net/tcp6"):
        text = read_text(path)
        if text:
            found += parse_proc_net_tcp(text)
    if found:
        owners = socket_owners([inode for _a, _p, inode in found])
        return [(a, port, owners.get(inode, "")) for a, port, inode in found], "/proc/net/tcp"
    ss = m.which("ss")
    if ss:
        _rc, out, _err = run_cmd(m, [ss, "-ltnpH"])
        return parse_ss(out), "ss"
    return [], ""


def check_ports(m, p):
    sockets, source = listening(m)
    ports = {}
    for addr, port, proc in sockets:
        entry = ports.setdefault(port, {"port": port, "addresses": [], "process": proc})
        if addr not in entry["addresses"]:
            entry["addresses"].append(addr)
        entry["process"] = entry["process"] or proc
    listed = [ports[k] for k in sorted(ports)]
    text = ", ".join("%d%s" % (e["port"], "/" + e["process"] if e["process"] else "")
                     for e in listed[:20])
    expected = set(p["ports_expected"])
    unexpected = [e["port"] for e in listed if expected and e["port"] not in expected]
    if unexpected:
        return [row("ports", "warn", "unexpected listening ports: %s" % ", ".join(
            str(x) for x in unexpected), value=len(listed), ports=listed)]
    return [row("ports", "ok", "%d listening TCP ports: %s" % (len(listed), text or "none"),
                value=len(listed), ports=listed, source=source)]


# ---------------------------------------------------------------- main
def selected(p):
    wanted = [str(c) for c in p["checks"]]
    names = list(CHECKS) if "all" in wanted else [c for c in CHECKS if c in wanted]
    unknown = [c for c in wanted + [str(s) for s in p["skip"]] if c != "all" and c not in CHECKS]
    return [c for c in names if c not in p["skip"]], unknown


def summarize(rows):
    """{check: {state, reason}}: each check's worst row."""
    out = {}
    for r in rows:
        cur = out.get(r["check"])
        if cur is None or RANK[r["state"]] > RANK[cur["state"]]:
            out[r["check"]] = {"state": r["state"], "reason": r["reason"]}
    return out


def main(m):
    p = m.params
    names, unknown = selected(p)
    if unknown:
        m.fail("unknown health check(s) %s; known: %s" % (", ".join(unknown), ", ".join(CHECKS)))
    now = time.time()
    now_dt = datetime.datetime.fromtimestamp(now, datetime.timezone.utc)
    rows = []
    runners = {
        "units": lambda: check_units(m, p),
        "services": lambda: check_services(m, p),
        "reboot": lambda: check_reboot(m, p, now),
        "time": lambda: check_time(m, p),
        "certs": lambda: check_certs(m, p, now_dt),
        "jobs": lambda: check_jobs(m, p, now),
        "smart": lambda: check_smart(m),
        "memory": lambda: check_memory(p, read_text("/proc/meminfo") or "",
                                       read_text("/proc/pressure/memory")),
        "taint": lambda: check_taint(p, read_text("/proc/sys/kernel/tainted")),
        "oom": lambda: check_oom(m, p, now),
        "uid0": lambda: check_uid0(p, read_text("/etc/passwd")),
        "ports": lambda: check_ports(m, p),
    }
    if "disk" in names or "inodes" in names:
        rows += check_filesystems(p, read_text("/proc/self/mounts") or "", "disk" in names,
                                  "inodes" in names)
    for name in names:
        if name in runners:
            try:
                rows += runners[name]()
            except Exception as exc:  # one broken read must not hide the other checks
                rows.append(row(name, "warn", "check failed: %s: %s" % (
                    type(exc).__name__, exc)))
    summary = summarize(rows)
    state = worst(r["state"] for r in rows)
    bad = [r for r in rows if r["state"] != "ok"]
    bad.sort(key=lambda r: -RANK[r["state"]])
    msg = "health %s" % state
    if bad:
        msg += ": " + "; ".join("%s %s" % (r["check"], r["reason"]) for r in bad[:3])
        if len(bad) > 3:
            msg += "; +%d more" % (len(bad) - 3)
    thresholds = {k: p[k] for k in ("disk_warn", "disk_crit", "inode_warn", "inode_crit",
                                    "trend_days_warn", "trend_days_crit")}
    return {"changed": False, "msg": msg, "state": state, "checks": rows, "summary": summary,
            "thresholds": thresholds, "taken": now_dt.isoformat(), "ran": names}
