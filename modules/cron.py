"""Manage one cron job (or environment variable) in a user's crontab or a cron.d file.

Each entry is marked by a `#Ansible: NAME` comment on the line above it, exactly as
Ansible does, so crontabs already managed by Ansible keep working. A user's crontab
is read and written with `crontab(1)`; a `cron_file` (relative names live in
/etc/cron.d) is rewritten atomically.
"""

import os
import pwd
import re

ARGS = {
    "name": {"type": "str", "help": "Description of the entry; its unique id in the crontab."},
    "user": {"type": "str", "help": "Whose crontab; for cron_file the user the job runs as."},
    "job": {"type": "str", "aliases": ["value"],
            "help": "The command (or, with env=true, the variable's value)."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the entry should exist."},
    "cron_file": {"type": "path",
                  "help": "Use this file (relative: under /etc/cron.d) instead of a user crontab."},
    "backup": {"type": "bool", "default": False, "help": "Keep a copy of the old crontab."},
    "minute": {"type": "str", "default": "*", "help": "Minute (0-59, */5, ...)."},
    "hour": {"type": "str", "default": "*", "help": "Hour (0-23, ...)."},
    "day": {"type": "str", "default": "*", "aliases": ["dom"], "help": "Day of the month."},
    "month": {"type": "str", "default": "*", "help": "Month (1-12, ...)."},
    "weekday": {"type": "str", "default": "*", "aliases": ["dow"],
                "help": "Day of the week (0-6 for Sunday-Saturday, ...)."},
    "special_time": {"type": "str",
                     "choices": ["annually", "daily", "hourly", "monthly", "reboot", "weekly",
                                 "yearly"],
                     "help": "@reboot, @daily, ... instead of the time fields."},
    "disabled": {"type": "bool", "default": False,
                 "help": "Keep the job but commented out."},
    "env": {"type": "bool", "default": False,
            "help": "Manage an environment variable NAME=job instead of a job."},
    "insertafter": {"type": "str", "help": "With env: put the variable after this one."},
    "insertbefore": {"type": "str", "help": "With env: put the variable before this one."},
}
MUTUALLY_EXCLUSIVE = [["insertafter", "insertbefore"]]

MARK = "#Ansible: "
CRON_D = "/etc/cron.d"


def job_line(p, with_user):
    """The crontab line for a job, as Ansible writes it."""
    user = (p.get("user") or "root") + " " if with_user else ""
    if p.get("special_time"):
        line = "@%s %s%s" % (p["special_time"], user, p["job"])
    else:
        line = "%s %s %s %s %s %s%s" % (p["minute"], p["hour"], p["day"], p["month"],
                                       p["weekday"], user, p["job"])
    return ("#" + line) if p.get("disabled") else line


def plan_job(lines, name, line, state):
    """New lines: the entry after `#Ansible: name` replaced, added at the end, or removed."""
    out, found, i = [], False, 0
    while i < len(lines):
        if lines[i] == MARK + name:
            found = True
            has_job = i + 1 < len(lines)
            if state == "present":
                out.extend([lines[i], line])
            i += 2 if has_job else 1
            continue
        out.append(lines[i])
        i += 1
    if not found and state == "present":
        out.extend([MARK + name, line])
    return out


def plan_env(lines, name, value, state, after=None, before=None):
    """New lines with the variable NAME=value set, placed like Ansible's env handling."""
    pattern = re.compile(r"^\s*%s\s*=" % re.escape(name))
    want = "%s=%s" % (name, value)
    idx = next((i for i, ln in enumerate(lines) if pattern.match(ln)), None)
    if state == "absent":
        return [ln for ln in lines if not pattern.match(ln)]
    if idx is not None:
        out = list(lines)
        out[idx] = want
        return out
    pos = 0
    for anchor, offset in ((after, 1), (before, 0)):
        if anchor:
            ref = re.compile(r"^\s*%s\s*=" % re.escape(anchor))
            hit = next((i for i, ln in enumerate(lines) if ref.match(ln)), None)
            if hit is None:
                raise ValueError("variable %s not found in the crontab" % anchor)
            pos = hit + offset
    return lines[:pos] + [want] + lines[pos:]


def cron_path(cron_file):
    return cron_file if os.path.isabs(cron_file) else os.path.join(CRON_D, cron_file)


def _read_user_crontab(m, user):
    crontab = m.which("crontab")
    if not crontab:
        m.fail("crontab(1) not found on the host; install cron or use cron_file")
    rc, out, err = m.run(_crontab_argv(crontab, user, "-l"))
    if rc != 0:
        # "no crontab for USER" is an empty crontab, not an error.
        if "no crontab" in (err + out).lower():
            return ""
        m.fail("crontab -l failed: %s" % (err or out).strip(), rc=rc)
    return out


def _crontab_argv(crontab, user, *rest):
    me = pwd.getpwuid(os.getuid()).pw_name
    if user and user != me:
        return [crontab, "-u", user] + list(rest)
    return [crontab] + list(rest)


def main(m):
    p = m.params
    name, state, cron_file = p.get("name"), p["state"], p.get("cron_file")
    path = cron_path(cron_file) if cron_file else None
    if path and os.path.dirname(path) == CRON_D and not re.match(r"^[A-Za-z0-9_-]+$",
                                                                  os.path.basename(path)):
        # run-parts, which cron uses for /etc/cron.d, skips names with dots and the like.
        m.warn("cron ignores %s: names in /etc/cron.d may only hold letters, digits, _ and -"
               % path)
    if p.get("special_time") and any(p[k] != "*" for k in
                                     ("minute", "hour", "day", "month", "weekday")):
        m.fail("You must specify time and date fields or special time, not both.")
    if state == "present" and not p.get("job"):
        m.fail("job is required when state=present")
    if state == "present" and not name:
        m.fail("name is required when state=present")
    if p.get("user") and not cron_file:
        try:
            pwd.getpwnam(p["user"])
        except KeyError:
            m.fail("user %s does not exist" % p["user"])

    if path:
        raw = m.read_bytes(path)
        before = raw.decode("utf-8") if raw is not None else ""
        where = path
    else:
        raw = None
        before = _read_user_crontab(m, p.get("user"))
        where = "crontab for %s" % (p.get("user") or pwd.getpwuid(os.getuid()).pw_name)

    # state=absent with cron_file and nothing else named: remove the whole file.
    if path and state == "absent" and not name:
        if raw is None:
            return {"changed": False, "msg": "%s already absent" % path, "cron_file": path}
        if not m.check_mode:
            os.unlink(path)
        return {"changed": True, "cron_file": path,
                "msg": "%s %s" % ("would remove" if m.check_mode else "removed", path),
                "diff": m.text_diff(before, "", path)}
    if not name:
        m.fail("name is required")

    lines = before.splitlines()
    if p["env"]:
        try:
            new = plan_env(lines, name, p.get("job") or "", state, p.get("insertafter"),
                           p.get("insertbefore"))
        except ValueError as exc:
            m.fail(str(exc))
    else:
        new = plan_job(lines, name, job_line(p, bool(path)) if state == "present" else "",
                       state)
    after = "\n".join(new) + ("\n" if new else "")
    result = {"changed": after != before, "cron_file": path, "user": p.get("user"),
              "diff": m.text_diff(before, after, where)}
    kind = "variable" if p["env"] else "job"
    if after == before:
        result["msg"] = "%s %r already %s" % (kind, name, state)
        return result
    result["msg"] = "%s%s %r in %s" % ("would " if m.check_mode else "",
                                       "set" if state == "present" else "remove", name, where)
    if m.check_mode:
        return result
    if path:
        out = m.atomic_write(path, after.encode("utf-8"), mode=None if raw is not None else 0o644,
                             backup=p["backup"]) or {}
        if out.get("backup_file"):
            result["backup_file"] = out["backup_file"]
        return result
    if p["backup"]:
        import tempfile
        fd, backup = tempfile.mkstemp(prefix="crontab-backup-")
        os.write(fd, before.encode("utf-8"))
        os.close(fd)
        result["backup_file"] = backup
    crontab = m.which("crontab", required=True)
    m.run(_crontab_argv(crontab, p.get("user"), "-"), data=after, check=True)
    return result
