"""Set one PAM limit (domain, type, item -> value) in limits.conf or a limits.d file.

Same arguments and file format as community.general.pam_limits: a matching line
(same domain, type and item) gets the new value, otherwise
`domain<TAB>type<TAB>item<TAB>value[<TAB>#comment]` is appended; `use_max`/`use_min`
keep the larger/smaller of the file's value and the wanted one. A missing file is
created (its folder must exist). Lines starting with `#` and lines that are not four
fields are left alone; an invalid value in the file fails the task, as in Ansible.

Deliberate differences from Ansible's module (its bugs, shown by
tests/unit/test_hardening_b_differential.py): the line that changes keeps its *own*
inline comment (Ansible takes the first inline comment anywhere in the file, newline
included, and writes it onto the changed line, adding an empty line); a last line
without a newline gets one before a new line is appended (Ansible glues the two
lines together); `backup` copies the file only when it changes; and `use_max`/
`use_min` treat -1 as "unlimited" for every item but nice/priority (Ansible tests
the limit *type* there, so -1 stays unlimited for priority too).
"""

import os
import re

ARGS = {
    "domain": {"type": "str", "required": True,
               "help": "A user name, @group, wildcard (*) or uid/gid range."},
    "limit_type": {"type": "str", "required": True, "choices": ["hard", "soft", "-"],
                   "help": "hard, soft, or - for both."},
    "limit_item": {"type": "str", "required": True,
                   "choices": ["core", "data", "fsize", "memlock", "nofile", "rss", "stack",
                               "cpu", "nproc", "as", "maxlogins", "maxsyslogins", "priority",
                               "locks", "sigpending", "msgqueue", "nice", "rtprio", "chroot"],
                   "help": "The limit to set (limits.conf(5))."},
    "value": {"type": "str", "required": True,
              "help": "unlimited, infinity, -1 or a number >= 0 (-20..19 for nice/priority)."},
    "use_max": {"type": "bool", "default": False,
                "help": "Keep the file's value when it is larger than `value`."},
    "use_min": {"type": "bool", "default": False,
                "help": "Keep the file's value when it is smaller than `value`."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the file before changing it."},
    "dest": {"type": "path", "default": "/etc/security/limits.conf",
             "help": "The limits file."},
    "comment": {"type": "str", "default": "",
                "help": "Comment written after the limit (when the line is written)."},
}
MUTUALLY_EXCLUSIVE = [["use_max", "use_min"]]

UNLIMITED = ("unlimited", "infinity", "-1")
_SPACES = re.compile(r"\s+")


def value_error(item, value):
    """None when `value` is valid for `item`, else why not (Ansible's wording)."""
    if item in ("nice", "priority"):
        try:
            if -20 <= int(value) <= 19:
                return None
        except ValueError:
            pass
        return ("Value of %r for item %r is invalid. Value must be a number in the range -20 to "
                "19 inclusive. Refer to the limits.conf(5) manual pages for more details."
                % (value, item))
    if value in UNLIMITED or value.isdigit():
        return None
    return ("Value of %r for item %r is invalid. Value must either be 'unlimited', 'infinity' or "
            "-1, all of which indicate no limit, or a limit of 0 or larger. Refer to the "
            "limits.conf(5) manual pages for more details." % (value, item))


def parse_line(line):
    """(domain, type, item, value, comment) of a limit line, or None for anything else
    (comments, blank lines, lines that are not four fields)."""
    if line.startswith("#"):
        return None
    body, sep, comment = line.partition("#")
    fields = _SPACES.sub(" ", body).strip().split(" ")
    if len(fields) != 4 or not fields[0]:
        return None
    return fields[0], fields[1], fields[2], fields[3], comment.rstrip("\r\n") if sep else None


def chosen_value(item, wanted, current, use_max, use_min):
    """The value the line should have, given the file's `current` one."""
    numeric = item not in ("nice", "priority")
    cur_unl = numeric and current in UNLIMITED
    want_unl = numeric and wanted in UNLIMITED
    if use_max:
        if cur_unl:
            return current
        if want_unl:
            return wanted
        return str(max(int(wanted), int(current)))
    if use_min:
        if cur_unl and want_unl:
            return current
        if cur_unl:
            return wanted
        if want_unl:
            return current
        return str(min(int(wanted), int(current)))
    return wanted


def render(domain, ltype, item, value, comment):
    return "%s\t%s\t%s\t%s%s\n" % (domain, ltype, item, value,
                                   ("\t#" + comment) if comment else "")


def plan(text, p, where):
    """(new text, changed, message) for the file's `text`; raises ValueError on a bad line."""
    lines = text.splitlines(True)
    out, found, message, changed = [], False, "", False
    key = (p["domain"], p["limit_type"], p["limit_item"])
    for line in lines:
        parsed = parse_line(line)
        if parsed is None:
            out.append(line)
            continue
        domain, ltype, item, current, old_comment = parsed
        bad = value_error(item, current)
        if bad:
            raise ValueError("Invalid configuration found in '%s'. %s" % (where, bad))
        if (domain, ltype, item) != key:
            out.append(line)
            continue
        found = True
        new_value = chosen_value(item, p["value"], current, p["use_max"], p["use_min"])
        if new_value == current:
            message = line
            out.append(line)
            continue
        changed = True
        # The line keeps its own inline comment unless a new one is given.
        comment = p["comment"] or (old_comment.rstrip() if old_comment else "")
        message = render(domain, ltype, item, new_value, comment)
        out.append(message)
    if not found:
        changed = True
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        message = render(p["domain"], p["limit_type"], p["limit_item"], p["value"], p["comment"])
        out.append(message)
    return "".join(out), changed, message


def main(m):
    p = m.params
    dest = p["dest"]
    if os.path.isfile(dest):
        if not os.access(dest, os.W_OK):
            m.fail("%s is not writable. Use sudo" % dest)
        exists = True
    else:
        folder = os.path.dirname(dest)
        if not (os.path.isdir(folder) and os.access(folder, os.W_OK)):
            m.fail("directory %s is not writable (check presence, access rights, use sudo)"
                   % folder)
        exists = False
    if p["use_max"] and p["use_min"]:
        m.fail("Cannot use use_min and use_max at the same time.")
    bad = value_error(p["limit_item"], p["value"])
    if bad:
        m.fail(" " + bad)

    raw = m.read_bytes(dest) if exists else None
    before = (raw or b"").decode("utf-8", "surrogateescape")
    try:
        after, changed, message = plan(before, p, dest)
    except ValueError as exc:
        m.fail(str(exc))
    changed = changed or not exists
    result = {"changed": changed, "msg": message, "dest": dest}
    if changed:
        diff = m.text_diff(before, after, dest)
        if diff:
            result["diff"] = diff
    if changed and not m.check_mode:
        out = m.atomic_write(dest, after.encode("utf-8", "surrogateescape"),
                             mode=None if exists else 0o644, backup=p["backup"] and exists)
        if out and out.get("backup_file"):
            result["backup_file"] = out["backup_file"]
    return result
