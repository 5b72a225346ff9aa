"""Manage Debian packages with apt-get: install, upgrade, remove, update the cache.

Runs non-interactively (DEBIAN_FRONTEND=noninteractive, keep changed config files)
and reports exactly which packages moved: the dpkg database is read before and
after, so `packages` maps each changed package to its old and new version. Check
mode asks apt-get for a simulation (-s) and reports what it would do.
"""

import fnmatch
import os
import re
import time

ARGS = {
    "name": {"type": "list", "elements": "str", "aliases": ["package", "pkg"],
             "help": "Packages, optionally name=version (wildcards allowed) or name:arch."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent", "latest"],
              "help": "Installed, removed, or installed at the newest candidate version."},
    "update_cache": {"type": "bool", "default": False, "aliases": ["update-cache"],
                     "help": "Run apt-get update first."},
    "update_cache_retries": {"type": "int", "default": 5,
                             "help": "How often to retry a failing cache update."},
    "update_cache_retry_max_delay": {"type": "int", "default": 12,
                                     "help": "Longest pause in seconds between retries."},
    "cache_valid_time": {"type": "int", "default": 0,
                         "help": "Skip the cache update if it is younger than this (seconds)."},
    "purge": {"type": "bool", "default": False,
              "help": "With state=absent, also remove configuration files."},
    "default_release": {"type": "str", "aliases": ["default-release"],
                        "help": "apt-get -t: prefer this release."},
    "install_recommends": {"type": "bool", "aliases": ["install-recommends"],
                           "help": "Install recommended packages (default: apt's setting)."},
    "force": {"type": "bool", "default": False,
              "help": "Allow downgrades, held and essential package changes (dangerous)."},
    "upgrade": {"type": "str", "default": "no", "choices": ["dist", "full", "no", "safe", "yes"],
                "help": "Upgrade the system: yes/safe (apt-get upgrade --with-new-pkgs), "
                        "dist/full (dist-upgrade)."},
    "dpkg_options": {"type": "str", "default": "force-confdef,force-confold",
                     "help": "dpkg options, comma separated, without the leading dashes."},
    "deb": {"type": "path", "help": "Install this .deb file (a path on the target)."},
    "autoremove": {"type": "bool", "default": False,
                   "help": "Remove packages nothing depends on any more."},
    "autoclean": {"type": "bool", "default": False,
                  "help": "Remove downloaded package files that can no longer be downloaded."},
    "clean": {"type": "bool", "default": False, "help": "Remove all downloaded package files."},
    "only_upgrade": {"type": "bool", "default": False,
                     "help": "Only upgrade packages that are installed; install nothing new."},
    "allow_unauthenticated": {"type": "bool", "default": False,
                              "aliases": ["allow-unauthenticated"],
                              "help": "Install packages that cannot be authenticated."},
    "allow_downgrade": {"type": "bool", "default": False,
                        "aliases": ["allow-downgrade", "allow_downgrades", "allow-downgrades"],
                        "help": "Allow name=version to install an older version."},
    "allow_change_held_packages": {"type": "bool", "default": False,
                                   "help": "Allow changing packages that are on hold."},
    "fail_on_autoremove": {"type": "bool", "default": False,
                           "help": "Fail instead of removing packages as a side effect."},
    "policy_rc_d": {"type": "int",
                    "help": "Write /usr/sbin/policy-rc.d exiting with this code while apt "
                            "runs (101: keep services from starting); restored afterwards."},
    "lock_timeout": {"type": "int", "default": 60,
                     "help": "Seconds to wait for the dpkg lock."},
}
MUTUALLY_EXCLUSIVE = [["deb", "upgrade"], ["deb", "name"]]

ENV = {"DEBIAN_FRONTEND": "noninteractive", "APT_LISTCHANGES_FRONTEND": "none",
       "NEEDRESTART_MODE": "l", "LC_ALL": "C", "LANG": "C"}
_SPEC = re.compile(r"^([^=<>:\s]+)(?::([a-z0-9-]+))?(?:=(.+))?$")


def parse_spec(spec):
    """(name, arch or None, version or None) from 'name', 'name=1.0*' or 'name:arch'."""
    match = _SPEC.match(spec.strip())
    if not match:
        raise ValueError("invalid package spec %r" % spec)
    return match.group(1), match.group(2), match.group(3)


def parse_dpkg_query(text, native=None):
    """({name: version} present, {name: version} removed with config files left) from
    dpkg-query lines 'NAME\tVERSION\tSTATUS-ABBREV' (the second letter is the state)."""
    installed, leftovers = {}, {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) < 3 or len(parts[2]) < 2:
            continue
        name, version, state = parts[0], parts[1], parts[2][1]
        if native and name.endswith(":" + native):
            name = name[: -len(native) - 1]
        if state == "c":
            leftovers[name] = version
        elif state != "n":
            installed[name] = version  # 'i', or half-installed/unpacked: dpkg has it
    return installed, leftovers


def parse_policy(text):
    """{name: (installed or None, candidate or None)} from `apt-cache policy` output."""
    out, name = {}, None
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            name = line[:-1]
            out[name] = [None, None]
        elif name and line.strip().startswith("Installed:"):
            value = line.split(":", 1)[1].strip()
            out[name][0] = None if value == "(none)" else value
        elif name and line.strip().startswith("Candidate:"):
            value = line.split(":", 1)[1].strip()
            out[name][1] = None if value == "(none)" else value
    return dict((k, tuple(v)) for k, v in out.items())


_SIM = re.compile(r"^(Inst|Remv|Purg) (\S+)(?: \[([^\]]+)\])?(?: \((\S+))?")


def parse_simulation(text):
    """{name: {"before": v, "after": v}} from `apt-get -s` Inst/Remv/Purg lines."""
    out = {}
    for line in text.splitlines():
        match = _SIM.match(line)
        if not match:
            continue
        action, name, old, new = match.groups()
        if action == "Inst":
            out[name] = {"before": old, "after": new}
        else:
            out[name] = {"before": old or out.get(name, {}).get("before"), "after": None}
    return out


def diff_snapshots(before, after):
    changes = {}
    for name in sorted(set(before) | set(after)):
        if before.get(name) != after.get(name):
            changes[name] = {"before": before.get(name), "after": after.get(name)}
    return changes


def describe(changes):
    lines = []
    for name, c in sorted(changes.items()):
        if c["before"] is None:
            lines.append("installed %s %s" % (name, c["after"]))
        elif c["after"] is None:
            lines.append("removed %s %s" % (name, c["before"]))
        else:
            lines.append("upgraded %s %s -> %s" % (name, c["before"], c["after"]))
    return lines


class Apt(object):
    def __init__(self, m):
        self.m, self.p = m, m.params
        self.apt_get = m.which("apt-get", required=True)
        self.native = None
        rc, out, _ = m.run([m.which("dpkg", required=True), "--print-architecture"])
        if rc == 0:
            self.native = out.strip()

    def run(self, argv, **kw):
        return self.m.run(argv, env=ENV, **kw)

    def snapshot(self):
        fmt = "${binary:Package}\t${Version}\t${db:Status-Abbrev}\n"
        rc, out, err = self.run([self.m.which("dpkg-query", required=True), "-W", "-f", fmt])
        if rc not in (0, 1):
            self.m.fail("dpkg-query failed: %s" % err.strip(), rc=rc)
        return parse_dpkg_query(out, self.native)

    def policy(self, names):
        rc, out, err = self.run([self.m.which("apt-cache", required=True), "policy"] + names)
        if rc != 0:
            self.m.fail("apt-cache policy failed: %s" % err.strip(), rc=rc)
        return parse_policy(out)

    def options(self):
        p = self.p
        opts = ["-y", "-o", "DPkg::Lock::Timeout=%d" % p["lock_timeout"]]
        for opt in (p.get("dpkg_options") or "").split(","):
            if opt.strip():
                opts += ["-o", "Dpkg::Options::=--%s" % opt.strip().lstrip("-")]
        if p.get("install_recommends") is not None:
            opts += ["-o", "APT::Install-Recommends=%s" % (
                "yes" if p["install_recommends"] else "no")]
        if p.get("default_release"):
            opts += ["-t", p["default_release"]]
        if p["allow_unauthenticated"]:
            opts.append("--allow-unauthenticated")
        if p["allow_downgrade"] or p["force"]:
            opts.append("--allow-downgrades")
        if p["allow_change_held_packages"] or p["force"]:
            opts.append("--allow-change-held-packages")
        if p["force"]:
            opts.append("--allow-remove-essential")
        if p["only_upgrade"]:
            opts.append("--only-upgrade")
        if p["fail_on_autoremove"]:
            opts.append("--no-remove")
        return opts

    def apt(self, words, simulate):
        """Run (or simulate) `apt-get OPTIONS words`; fail the task on a non-zero rc."""
        argv = [self.apt_get] + self.options() + (["-s"] if simulate else []) + words
        rc, out, err = self.run(argv)
        if rc != 0:
            detail = [ln for ln in (err or out).splitlines() if ln.strip()]
            self.m.fail("'apt-get %s' failed: %s" % (" ".join(words), detail[-1] if detail else
                                                    "rc=%d" % rc),
                        rc=rc, stdout=out, stderr=err, cmd=argv)
        return out, err


def update_cache(m, p):
    """apt-get update unless the cache is younger than cache_valid_time; (updated, mtime)."""
    stamp = "/var/lib/apt/periodic/update-success-stamp"
    lists = _lists_dir(m)
    # apt's periodic stamp only speaks for the default lists.
    marks = (stamp, lists) if lists == "/var/lib/apt/lists" else (lists,)
    mtime = max([os.path.getmtime(x) for x in marks if os.path.exists(x)] or [0])
    if p["cache_valid_time"] and mtime and time.time() - mtime < p["cache_valid_time"]:
        return False, int(mtime)
    if m.check_mode:
        return True, int(mtime)
    apt_get = m.which("apt-get", required=True)
    delay, err = 1, ""
    for attempt in range(max(1, p["update_cache_retries"])):
        rc, out, err = m.run([apt_get, "update", "-q"], env=ENV)
        # apt-get update returns 0 even when a source failed; "E:" lines say it did not.
        if rc == 0 and not re.search(r"^E:", err, re.M):
            for line in err.splitlines():
                if line.startswith("W:"):
                    m.warn("apt-get update: " + line[2:].strip())
            now = time.time()
            try:
                os.utime(lists, (now, now))
            except OSError:
                pass
            return True, int(now)
        if attempt + 1 < p["update_cache_retries"]:
            time.sleep(min(delay, p["update_cache_retry_max_delay"]))
            delay *= 2
    m.fail("Failed to update apt cache: %s" % (err.strip().splitlines() or ["unknown"])[-1])
    return False, 0


def _lists_dir(m):
    """Where apt keeps its package lists (APT_CONFIG or apt.conf may move them)."""
    rc, out, _err = m.run([m.which("apt-config", required=True), "shell", "LISTS",
                           "Dir::State::Lists/d"], env=ENV)
    match = re.match(r"^LISTS='(.*)'$", out.strip()) if rc == 0 else None
    return match.group(1).rstrip("/") if match else "/var/lib/apt/lists"


def _deb_fields(m, path):
    if not os.path.isfile(path):
        m.fail("deb file %s does not exist" % path)
    rc, out, err = m.run([m.which("dpkg-deb", required=True), "-f", path, "Package", "Version"],
                         env=ENV)
    if rc != 0:
        m.fail("%s is not a valid .deb: %s" % (path, err.strip()))
    fields = dict(line.split(":", 1) for line in out.splitlines() if ":" in line)
    return fields.get("Package", "").strip(), fields.get("Version", "").strip()


def plan(m, apt, installed, leftovers):
    """apt-get words to run, and a human reason per package (empty words: nothing to do)."""
    p = m.params
    state, words, reasons = p["state"], [], []
    try:
        specs = [parse_spec(s) for s in (p.get("name") or []) if s.strip()]
    except ValueError as exc:
        m.fail(str(exc))
    if p.get("deb"):
        name, version = _deb_fields(m, os.path.abspath(p["deb"]))
        if installed.get(name) != version:
            words = ["install", os.path.abspath(p["deb"])]
            reasons.append("%s %s from %s" % (name, version, p["deb"]))
        return words, reasons
    if state == "absent":
        targets = []
        for name, arch, _version in specs:
            full = name + (":" + arch if arch else "")
            if name in installed or full in installed or (p["purge"] and name in leftovers):
                targets.append(full)
        if targets:
            words = ["purge" if p["purge"] else "remove"] + targets
            reasons = ["remove %s" % t for t in targets]
        return words, reasons
    names = [n + (":" + a if a else "") for n, a, _v in specs]
    policy = apt.policy(names) if names else {}
    targets = []
    for (name, _arch, version), full in zip(specs, names):
        have = installed.get(full) or installed.get(name)
        candidate = (policy.get(full) or policy.get(name) or (None, None))[1]
        if version:
            if have is None or not fnmatch.fnmatchcase(have, version):
                targets.append("%s=%s" % (full, version))
                reasons.append("%s %s -> %s" % (full, have or "(none)", version))
            continue
        if candidate is None and have is None:
            m.fail("No package matching '%s' is available" % full)
        if have is None:
            if p["only_upgrade"]:
                continue
            targets.append(full)
            reasons.append("install %s %s" % (full, candidate))
        elif state == "latest" and candidate and candidate != have:
            targets.append(full)
            reasons.append("upgrade %s %s -> %s" % (full, have, candidate))
    if targets:
        words = ["install"] + targets
    return words, reasons


def main(m):
    p = m.params
    result = {"changed": False, "cache_updated": False}
    if p["update_cache"]:
        updated, stamp = update_cache(m, p)
        result.update(cache_updated=updated, cache_update_time=stamp)
    apt = Apt(m)
    installed, leftovers = apt.snapshot()
    jobs = []
    words, reasons = plan(m, apt, installed, leftovers)
    if words:
        jobs.append(words)
    if p["upgrade"] != "no":
        jobs.append(["dist-upgrade"] if p["upgrade"] in ("dist", "full")
                    else ["upgrade", "--with-new-pkgs"])
    if p["autoremove"] and words:
        words.insert(1, "--auto-remove")  # apt-get install/remove --auto-remove, as Ansible
    elif p["autoremove"]:
        jobs.append(["autoremove"] + (["--purge"] if p["purge"] else []))

    changes, out_all, err_all = {}, [], []
    restore = _policy_rc_d(m, p.get("policy_rc_d")) if jobs and not m.check_mode else None
    try:
        _run_jobs(m, apt, jobs, words, changes, out_all, err_all)
    finally:
        if restore is not None:
            restore()
    if not m.check_mode and out_all:
        now, now_left = apt.snapshot()
        changes = diff_snapshots(installed, now)
        if p["purge"]:
            for name in set(leftovers) - set(now_left) - set(changes):
                changes[name] = {"before": leftovers[name] + " (config files)", "after": None}
    for flag, word in (("autoclean", "autoclean"), ("clean", "clean")):
        if p[flag] and not m.check_mode:
            apt.apt([word], simulate=False)
    lines = describe(changes)
    result.update(packages=changes, stdout="".join(out_all), stderr="".join(err_all),
                  stdout_lines="".join(out_all).splitlines())
    if changes:
        result["changed"] = True
        result["msg"] = ("would: " if m.check_mode else "") + "; ".join(lines)
        if m.diff_mode:
            result["diff"] = {"before": "", "after": "\n".join(lines) + "\n",
                              "before_header": "packages", "after_header": "packages"}
    elif m.check_mode and words:
        result.update(changed=True, msg="would: " + "; ".join(reasons))
    elif result["cache_updated"] and not (p.get("name") or p.get("deb") or p["upgrade"] != "no"
                                          or p["autoremove"]):
        result.update(changed=True, msg="cache updated" if not m.check_mode
                      else "would update the cache")
    else:
        result["msg"] = _nothing(p)
    return result


def _run_jobs(m, apt, jobs, words, changes, out_all, err_all):
    for job in jobs:
        if m.check_mode or job is not words:
            # Check mode reports apt's own simulation; upgrade and autoremove only run
            # when the simulation shows they would do something.
            predicted = parse_simulation(apt.apt(job, simulate=True)[0])
            if m.check_mode:
                changes.update(predicted)
                continue
            if not predicted:
                continue
        out, err = apt.apt(job, simulate=False)
        out_all.append(out)
        err_all.append(err)


_POLICY = "/usr/sbin/policy-rc.d"


def _policy_rc_d(m, code):
    """Install a policy-rc.d answering `code`; returns the function that puts back the old."""
    if code is None:
        return None
    old = m.read_bytes(_POLICY)
    m.atomic_write(_POLICY, "#!/bin/sh\nexit %d\n" % code, mode=0o755)

    def restore():
        if old is None:
            os.unlink(_POLICY)
        else:
            m.atomic_write(_POLICY, old)
    return restore


def _nothing(p):
    if p.get("deb"):
        return "%s already installed" % p["deb"]
    if p.get("name"):
        return "packages already %s" % p["state"]
    return "nothing to do"
