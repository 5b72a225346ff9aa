"""Manage RPM packages with dnf (or yum): install, upgrade, remove, security updates.

`yum` is the same module (modules/yum.py links here): the backend is dnf when the
host has it, else yum, unless `use_backend` says otherwise. What moved is read
from the rpm database before and after, so `packages` maps each changed package
to its old and new version; check mode runs the transaction with --assumeno and
reports the table dnf/yum printed.
"""

import fnmatch
import re

ARGS = {
    "name": {"type": "list", "elements": "str", "default": [], "aliases": ["pkg"],
             "help": "Packages (name, name-version, a glob, or '*' with state=latest)."},
    "state": {"type": "str", "default": "present",
              "choices": ["present", "installed", "latest", "absent", "removed"],
              "help": "Installed, at the newest available version, or removed."},
    "update_cache": {"type": "bool", "default": False, "aliases": ["expire-cache"],
                     "help": "Refresh the metadata first (--refresh)."},
    "enablerepo": {"type": "list", "elements": "str", "default": [],
                   "help": "Repositories to enable for this transaction."},
    "disablerepo": {"type": "list", "elements": "str", "default": [],
                    "help": "Repositories to disable for this transaction."},
    "enable_plugin": {"type": "list", "elements": "str", "default": [],
                      "help": "dnf plugins to enable for this transaction."},
    "disable_plugin": {"type": "list", "elements": "str", "default": [],
                       "help": "dnf plugins to disable for this transaction."},
    "disable_excludes": {"type": "str",
                         "help": "Disable the excludes of all, main or this repository."},
    "cacheonly": {"type": "bool", "default": False,
                  "help": "Use only the metadata cache (-C)."},
    "exclude": {"type": "list", "elements": "str", "default": [],
                "help": "Packages to leave out of the transaction."},
    "security": {"type": "bool", "default": False,
                 "help": "With state=latest: only updates marked as security fixes."},
    "bugfix": {"type": "bool", "default": False,
               "help": "With state=latest: only updates marked as bug fixes."},
    "conf_file": {"type": "path", "help": "Use this configuration file."},
    "disable_gpg_check": {"type": "bool", "default": False,
                          "help": "Do not check package signatures."},
    "installroot": {"type": "path", "default": "/", "help": "Install into this root."},
    "releasever": {"type": "str", "help": "Use this release version for the repositories."},
    "autoremove": {"type": "bool", "default": False,
                   "help": "Remove packages that were only needed as dependencies."},
    "skip_broken": {"type": "bool", "default": False,
                    "help": "Skip packages with broken dependencies."},
    "update_only": {"type": "bool", "default": False,
                    "help": "With state=latest: only update installed packages."},
    "allow_downgrade": {"type": "bool", "default": False,
                        "help": "Allow name-version to install an older version."},
    "install_weak_deps": {"type": "bool", "default": True,
                          "help": "Install weak dependencies (Recommends)."},
    "download_only": {"type": "bool", "default": False,
                      "help": "Only download the packages."},
    "nobest": {"type": "bool", "default": False,
               "help": "Accept a version that is not the best candidate."},
    "lock_timeout": {"type": "int", "default": 30,
                     "help": "Accepted for Ansible compatibility (dnf waits for its lock)."},
    "use_backend": {"type": "str", "default": "auto",
                    "choices": ["auto", "dnf", "dnf4", "dnf5", "yum", "yum4"],
                    "help": "Which tool to run; auto prefers dnf, then yum."},
}

ENV = {"LC_ALL": "C", "LANG": "C"}
_RPM_FMT = "%{NAME}\\t%{EPOCH}:%{VERSION}-%{RELEASE}\\t%{ARCH}\\n"


def parse_rpm_query(text):
    """{name: 'E:V-R'} (epoch dropped when none) from rpm -q --qf lines; 'not installed'
    lines are skipped. Several arches of one name keep 'name.arch' keys as well."""
    out = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 3:
            continue
        name, evr, arch = parts
        if evr.startswith("(none):"):
            evr = evr[len("(none):"):]
        out.setdefault(name, evr)
        out["%s.%s" % (name, arch)] = evr
    return out


_ARCHES = ("noarch", "x86_64", "i686", "i386", "aarch64", "ppc64le", "s390x", "armv7hl", "src")


def parse_check_update(text):
    """{name: version} of available updates from `dnf/yum check-update` output.

    Lines are 'name.arch  version  repo'; 'Obsoleting Packages' and the indented
    lines under it are not updates of their own.
    """
    out = {}
    for line in text.splitlines():
        if line.startswith("Obsoleting"):
            break
        if not line or line[0].isspace():
            continue
        parts = line.split()
        if len(parts) != 3 or "." not in parts[0]:
            continue
        name, arch = parts[0].rsplit(".", 1)
        if arch not in _ARCHES:
            continue
        out[name] = parts[1]
    return out


_SECTION = {"install": "install", "upgrad": "upgrade", "updat": "upgrade", "remov": "remove",
            "eras": "remove", "downgrad": "downgrade", "reinstall": "reinstall",
            "obsolet": "upgrade"}


def parse_transaction(text):
    """{name: action} from the transaction table dnf4, dnf5 and yum print before asking.

    Sections are lines like 'Installing:' or 'Installing for dependencies:', rows are
    indented 'name arch version repo size'; a long name may sit alone on its line with
    the rest on the next. '  replacing X' rows (dnf5) belong to the row above.
    """
    out, action, pending = {}, None, None
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped.startswith("="):
            continue
        if not line[0].isspace() and stripped.endswith(":"):
            word = stripped.split()[0].lower()
            action = next((v for k, v in _SECTION.items() if word.startswith(k)), None)
            continue
        if not line[0].isspace():
            action = None if not stripped.startswith("Package") else action
            continue
        if action is None or stripped.startswith("replacing"):
            continue
        parts = stripped.split()
        if pending is not None:
            parts = [pending] + parts
            pending = None
        if len(parts) == 1:
            pending = parts[0]
            continue
        if len(parts) >= 3:
            out[parts[0]] = {"action": action, "arch": parts[1], "version": parts[2]}
    return out


def diff_snapshots(before, after):
    changes = {}
    for name in sorted(set(before) | set(after)):
        if "." in name and name.rsplit(".", 1)[1] in _ARCHES:
            continue
        if before.get(name) != after.get(name):
            changes[name] = {"before": before.get(name), "after": after.get(name)}
    return changes


def split_name_version(spec, available=None):
    """('name', 'version glob' or None) for 'name', 'name-1.2*' or 'name-1.2-3.el9'."""
    match = re.match(r"^(.+?)-(\d[^-]*(?:-[^-]+)?)$", spec)
    if match and (available is None or match.group(1) in available):
        return match.group(1), match.group(2)
    return spec, None


class Rpm(object):
    def __init__(self, m):
        self.m, self.p = m, m.params
        want = self.p.get("use_backend") or "auto"
        order = {"auto": ["dnf", "yum"], "dnf": ["dnf"], "dnf4": ["dnf-3", "dnf"],
                 "dnf5": ["dnf5", "dnf"], "yum": ["yum"], "yum4": ["yum"]}[want]
        self.tool = next((m.which(t) for t in order if m.which(t)), None)
        if not self.tool:
            m.fail("none of %s found on this host" % ", ".join(order))
        self.rpm = m.which("rpm", required=True)

    def snapshot(self):
        root = self.p.get("installroot") or "/"
        rc, out, err = self.m.run([self.rpm, "-qa", "--qf", _RPM_FMT] + (
            ["--root", root] if root != "/" else []), env=ENV)
        if rc != 0:
            self.m.fail("rpm -qa failed: %s" % err.strip(), rc=rc)
        return parse_rpm_query(out)

    def options(self):
        p = self.p
        opts = ["-y"]
        opts += ["--enablerepo=%s" % r for r in p["enablerepo"]]
        opts += ["--disablerepo=%s" % r for r in p["disablerepo"]]
        opts += ["--exclude=%s" % x for x in p["exclude"]]
        opts += ["--enableplugin=%s" % x for x in p.get("enable_plugin") or []]
        opts += ["--disableplugin=%s" % x for x in p.get("disable_plugin") or []]
        if p.get("disable_excludes"):
            opts.append("--disableexcludes=%s" % p["disable_excludes"])
        if p.get("cacheonly"):
            opts.append("-C")
        for flag, word in (("security", "--security"), ("bugfix", "--bugfix"),
                           ("disable_gpg_check", "--nogpgcheck"), ("update_cache", "--refresh"),
                           ("skip_broken", "--skip-broken"), ("download_only", "--downloadonly"),
                           ("nobest", "--nobest")):
            if p.get(flag):
                opts.append(word)
        if p.get("conf_file"):
            opts += ["-c", p["conf_file"]]
        if p.get("installroot") and p["installroot"] != "/":
            opts.append("--installroot=%s" % p["installroot"])
        if p.get("releasever"):
            opts.append("--releasever=%s" % p["releasever"])
        if not p["install_weak_deps"]:
            opts.append("--setopt=install_weak_deps=False")
        return opts

    def available_updates(self, names):
        opts = [o for o in self.options() if o not in ("-y", "--downloadonly")]
        rc, out, err = self.m.run([self.tool, "check-update", "-q"] + opts + names, env=ENV)
        if rc not in (0, 100):
            self.m.fail("%s check-update failed: %s" % (self.tool, (err or out).strip()), rc=rc)
        return parse_check_update(out) if rc == 100 else {}

    def transaction(self, words, simulate):
        opts = self.options()
        if simulate:
            opts = [o for o in opts if o != "-y"] + ["--assumeno"]
        argv = [self.tool] + opts + words
        rc, out, err = self.m.run(argv, env=ENV)
        if simulate:
            # --assumeno ends with rc 1 ("Operation aborted"); a resolve error also has
            # rc 1 but prints "Error:".
            if rc != 0 and re.search(r"^Error", err + out, re.M):
                self.m.fail(_last_error(err, out), rc=rc, stdout=out, stderr=err, cmd=argv)
            return parse_transaction(out), out, err
        if rc != 0:
            self.m.fail(_last_error(err, out), rc=rc, stdout=out, stderr=err, cmd=argv)
        return None, out, err


def _last_error(err, out):
    lines = [ln for ln in (err + "\n" + out).splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith(("Error", "No match", "No package"))]
    return (errors or lines or ["failed"])[0]


def plan(m, rpm, installed):
    """(jobs, reasons): the dnf/yum words to run for name/state."""
    p = m.params
    state = {"installed": "present", "removed": "absent"}.get(p["state"], p["state"])
    names = [n.strip() for n in p["name"] if n.strip()]
    if state == "absent":
        targets = [n for n in names if _installed(n, installed)]
        return ([["remove"] + targets] if targets else []), ["remove %s" % t for t in targets]
    jobs, reasons = [], []
    if state == "latest" and names == ["*"] or (state == "latest" and not names):
        updates = rpm.available_updates([])
        if updates:
            jobs.append(["upgrade"])
            reasons += ["upgrade %s to %s" % kv for kv in sorted(updates.items())]
        return jobs, reasons
    missing = [n for n in names if not _installed(_rpm_file_spec(m, n), installed)]
    if p["update_only"]:
        missing = []
    if missing:
        jobs.append(["install"] + missing)
        reasons += ["install %s" % n for n in missing]
    if state == "latest":
        present = [n for n in names if n not in missing and _installed(n, installed)]
        updates = rpm.available_updates(present) if present else {}
        if updates:
            jobs.append(["upgrade"] + sorted(updates))
            reasons += ["upgrade %s to %s" % kv for kv in sorted(updates.items())]
    return jobs, reasons


def _rpm_file_spec(m, spec):
    """'name-version-release' of a local .rpm file (so installing it is idempotent)."""
    if not spec.endswith(".rpm") or "://" in spec:
        return spec
    rc, out, _err = m.run([m.which("rpm", required=True), "-qp", "--qf",
                           "%{NAME}-%{VERSION}-%{RELEASE}", spec], env=ENV)
    return out.strip() if rc == 0 and out.strip() else spec


def _installed(spec, installed):
    """Whether 'name', 'name-version[*]' or a name glob is installed."""
    if spec in installed:
        return True
    name, version = split_name_version(spec, installed)
    if version is not None:
        evr = installed.get(name, "").split(":", 1)[-1]  # version-release, epoch dropped
        return any(fnmatch.fnmatchcase(x, version) for x in (evr, evr.rsplit("-", 1)[0]))
    if any(ch in spec for ch in "*?["):
        return any(fnmatch.fnmatchcase(n, spec) for n in installed)
    return False


def main(m):
    p = m.params
    if (p["security"] or p["bugfix"]) and p["state"] != "latest":
        m.warn("security/bugfix only narrow state=latest")
    rpm = Rpm(m)
    installed = rpm.snapshot()
    jobs, reasons = plan(m, rpm, installed)
    if p["autoremove"]:
        jobs.append(["autoremove"])
    result = {"changed": False, "backend": rpm.tool.rsplit("/", 1)[-1]}
    outs, errs, predicted, unsure = [], [], {}, False
    for job in jobs:
        if m.check_mode or job == ["autoremove"]:
            table, out, err = rpm.transaction(job, simulate=True)
            predicted.update(table)
            # An empty table is believed only when the tool said so in words.
            unsure = unsure or (not table and "Nothing to do" not in out + err)
            if m.check_mode or not table:
                continue
        _none, out, err = rpm.transaction(job, simulate=False)
        outs.append(out)
        errs.append(err)
    changes = {}
    if outs:
        changes = diff_snapshots(installed, rpm.snapshot())
    result.update(stdout="".join(outs), stderr="".join(errs), packages=changes)
    if m.check_mode:
        result["packages"] = dict(
            (name, {"before": installed.get(name),
                    "after": None if row["action"] == "remove" else row["version"]})
            for name, row in predicted.items())
        result["changed"] = bool(predicted) or (unsure and bool(reasons))
        result["msg"] = ("would: " + "; ".join(reasons or sorted(predicted))) if \
            result["changed"] else "nothing to do"
        return result
    result["changed"] = bool(changes)
    lines = ["%s %s -> %s" % (n, c["before"] or "(none)", c["after"] or "(removed)")
             for n, c in sorted(changes.items())]
    result["msg"] = "; ".join(lines) if lines else (
        "packages already %s" % p["state"] if p["name"] else "nothing to do")
    if lines and m.diff_mode:
        result["diff"] = {"before": "", "after": "\n".join(lines) + "\n",
                          "before_header": "packages", "after_header": "packages"}
    return result
