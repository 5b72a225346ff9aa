"""Set, add or remove an option (or a whole section) of an INI-style file.

Behaves as community.general.ini_file does, byte for byte (tests/unit/
test_ini_file_differential.py runs both on the same inputs): a commented-out
option (`# opt = x`) is replaced in place unless `modify_inactive_option` is off,
new options go after the section's last non-blank, non-comment line, a missing
section is appended at the end, and with `exclusive` (the default) every other
line of the same option in the section is removed. Like Ansible, a file whose
last line has no newline is counted as changed (the newline is added), and the
file is read with universal newlines and a UTF-8 BOM dropped. Without `follow` a
symlink at `path` is replaced by the file (Ansible's behaviour). One deliberate
difference: check mode also reports a mode/owner change (Ansible's module only
reports content there), so a check run never disagrees with the real one.
"""

import os
import re

ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["dest"],
             "help": "The INI file; created (with missing folders) unless create=false."},
    "section": {"type": "str",
                "help": "Section name without brackets; none means the lines before the first "
                        "section."},
    "section_has_values": {"type": "list", "elements": "dict",
                           "help": "Only a section holding these options ({option, value or "
                                   "values}) counts as `section` (several share a name)."},
    "option": {"type": "str",
               "help": "The option; with state=absent and no option the section is removed."},
    "value": {"type": "str", "help": "The option's value."},
    "values": {"type": "list", "elements": "str",
               "help": "Several values: one `option = value` line each."},
    "state": {"type": "str", "default": "present", "choices": ["absent", "present"],
              "help": "Whether the option (or section) should be there."},
    "exclusive": {"type": "bool", "default": True,
                  "help": "present: remove other lines of the option; absent: remove every "
                          "line of it (else only those with the given values)."},
    "no_extra_spaces": {"type": "bool", "default": False,
                        "help": "Write `option=value` instead of `option = value`."},
    "ignore_spaces": {"type": "bool", "default": False,
                      "help": "A line that differs only in spaces around = is not changed."},
    "allow_no_value": {"type": "bool", "default": False,
                       "help": "Allow an option without value (a bare `option` line)."},
    "modify_inactive_option": {"type": "bool", "default": True,
                               "help": "Replace a commented-out `# option = x` line instead "
                                       "of adding a new one."},
    "create": {"type": "bool", "default": True,
               "help": "Create the file when it does not exist (else fail)."},
    "follow": {"type": "bool", "default": False,
               "help": "Write through a symlink at path to its target."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the original."},
    "owner": {"type": "str", "help": "Owner of the file."},
    "group": {"type": "str", "help": "Group of the file."},
    "mode": {"type": "raw", "help": "Octal (0644) or symbolic (u=rw,g=r) mode."},
    "unsafe_writes": {"type": "bool", "default": False,
                      "help": "If the atomic rename is refused (a bind-mounted file), write in "
                              "place instead."},
    "attributes": {"type": "str", "aliases": ["attr"],
                   "help": "chattr attributes: not supported here (a warning)."},
}
MUTUALLY_EXCLUSIVE = [["value", "values"]]

# A name no real section has: it stands for "the lines before the first section".
_NO_SECTION = "pyengine-ini-file-lines-before-the-first-section-7f3a"
_BLANK_OR_COMMENT = re.compile(r"^[ \t]*([#;].*)?$")


def _option_line(option, line, inactive_too):
    """Match `option` (optionally commented out) on `line`; groups `comment` and `value`."""
    comment = r"(?P<comment>[#;]?)[ \t]*" if inactive_too else r"(?P<comment>)"
    pattern = r"[ \t]*" + comment + r"(?P<opt>%s)[ \t]*(?:=|$)[ \t]*(?P<value>.*)"
    return re.match(pattern % re.escape(option), line)


def _has_values(conditions, lines):
    """Every condition's option is in `lines` (with one of its values, if it names any)."""
    for cond in conditions or []:
        wanted = cond["values"]
        if not any(
            found and (not wanted or found.group("value") in wanted)
            for found in (_option_line(cond["option"], line, True) for line in lines)
        ):
            return False
    return True


def locate(lines, section, conditions):
    """(found, start, end) of the first `section` that satisfies `conditions` in `lines`
    (which begin with the virtual header and end with a '[' sentinel)."""
    header = re.compile(r"^\[\s*%s\s*]" % re.escape(section.strip()))
    inside, start = False, 0
    for index, line in enumerate(lines):
        if inside and line.startswith("["):
            if _has_values(conditions, lines[start:index]):
                return True, start, index
            inside, start = False, 0
        if header.match(line):
            inside, start = True, index
    return False, 0, 0


class Edit(object):
    """The lines of one section being edited, with which lines were already rewritten."""

    def __init__(self, lines, p):
        self.lines = lines
        self.done = [False] * len(lines)
        self.p = p
        self.changed = False
        self.msg = None

    def put(self, index, new):
        old = self.lines[index]
        if self.p["ignore_spaces"] and not _option_line(self.p["option"], old, True).group(
                "comment"):
            differs = (_option_line(self.p["option"], old, True).group("value")
                       != _option_line(self.p["option"], new, True).group("value"))
        else:
            differs = old != new
        if differs:
            self.lines[index] = new
            self.changed, self.msg = True, "option changed"
        self.done[index] = True


def plan_present(edit, option, values, fmt, inactive_too):
    """Rewrite matching lines, drop extra ones (exclusive), insert what is still missing."""
    p = edit.p
    lines = edit.lines
    bare_there = False
    if option:
        for index, line in enumerate(lines):
            found = _option_line(option, line, inactive_too)
            if not found:
                continue
            have = found.group("value")
            if values and have in values:
                if not have and p["allow_no_value"]:
                    edit.put(index, option + "\n")
                    bare_there = True
                else:
                    edit.put(index, fmt % (option, have))
                values.remove(have)
            elif not values and p["allow_no_value"]:
                edit.put(index, option + "\n")
                bare_there = True
                break
        if p["exclusive"] and not p["allow_no_value"]:
            if values:
                for index, line in enumerate(lines):
                    if not edit.done[index] and _option_line(option, line, inactive_too):
                        edit.put(index, fmt % (option, values.pop(0)))
                        if not values:
                            break
            for index in range(len(lines) - 1, 0, -1):
                if not edit.done[index] and _option_line(option, lines[index], inactive_too):
                    del lines[index]
                    del edit.done[index]
                    edit.changed, edit.msg = True, "option changed"
    # New lines go after the last line that is neither blank nor a comment.
    for index in range(len(lines), 0, -1):
        if _BLANK_OR_COMMENT.match(lines[index - 1]):
            continue
        if option and values:
            lines[index:index] = [fmt % (option, value) for value in values]
            edit.changed, edit.msg = True, "option added"
        elif option and not values and p["allow_no_value"] and not bare_there:
            lines.insert(index, option + "\n")
            edit.changed, edit.msg = True, "option added"
        break


def plan_absent(edit, option, values):
    p = edit.p
    if not option:
        if edit.lines:
            edit.lines = []
            edit.changed, edit.msg = True, "section removed"
        return
    if p["exclusive"]:
        kept = [ln for ln in edit.lines if not _option_line(option, ln, False)]
    elif values:
        kept = [ln for ln in edit.lines if not (
            _option_line(option, ln, False)
            and _option_line(option, ln, False).group("value") in values)]
    else:
        return
    if kept != edit.lines:
        edit.lines = kept
        edit.changed, edit.msg = True, "option changed"


def _conditions(raw):
    out = []
    for cond in raw or []:
        if not isinstance(cond, dict) or not cond.get("option"):
            raise ValueError("each section_has_values item needs an option")
        if cond.get("value") is not None and cond.get("values") is not None:
            raise ValueError("section_has_values: value and values are mutually exclusive")
        if cond.get("value") is not None:
            wanted = [str(cond["value"])]
        else:
            wanted = [str(v) for v in cond.get("values") or []]
        out.append({"option": str(cond["option"]), "values": wanted})
    return out


def split_lines(text):
    """Lines with their '\\n', as Python's text mode reads them (universal newlines)."""
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    lines = text.split("\n")
    out = [line + "\n" for line in lines[:-1]]
    if lines[-1]:
        out.append(lines[-1])
    return out


def plan(text, p):
    """(new text, changed, msg) for the file's current `text` ('' when absent)."""
    conditions = _conditions(p["section_has_values"])
    option, section, state = p["option"], p["section"], p["state"]
    values = []
    for value in ([p["value"]] if p["value"] is not None else p["values"] or []):
        if value is not None and value not in values:
            values.append(value)
    fmt = "%s=%s\n" if p["no_extra_spaces"] else "%s = %s\n"
    inactive_too = p["modify_inactive_option"]

    lines = split_lines(text) or ["\n"]
    changed = False
    msg = "OK"
    if not lines[-1].endswith("\n"):
        lines[-1] += "\n"
        changed = True
    if not section:
        section = _NO_SECTION
    lines = ["[%s]" % _NO_SECTION] + lines + ["["]
    found, start, end = locate(lines, section, conditions)
    edit = Edit(lines[start:end], p)
    if state == "present":
        plan_present(edit, option, values, fmt, inactive_too)
    else:
        plan_absent(edit, option, values)
    if edit.changed:
        changed, msg = True, edit.msg
    lines = lines[:start] + edit.lines + lines[end:]
    lines = lines[1:-1]

    if not found and state == "present":
        lines.append("[%s]\n" % section)
        msg = "section and option added"
        for cond in conditions:
            if cond["option"] != option:
                if cond["values"]:
                    lines.extend(fmt % (cond["option"], v) for v in cond["values"])
                elif p["allow_no_value"]:
                    lines.append(cond["option"] + "\n")
            elif not p["exclusive"]:
                values.extend(v for v in cond["values"] if v not in values)
        if option and values:
            lines.extend(fmt % (option, v) for v in values)
        elif option and p["allow_no_value"]:
            lines.append(option + "\n")
        else:
            msg = "only section added"
        changed = True
    return "".join(lines), changed, msg


def main(m):
    p = m.params
    if p["state"] == "present" and not p["allow_no_value"] and p["value"] is None \
            and not p["values"]:
        m.fail("Parameter 'value(s)' must be defined if state=present and "
               "allow_no_value=False.")
    if p["attributes"]:
        m.warn("attributes (chattr) are not supported by this ini_file; ignored")
    path = p["path"]
    target = os.path.realpath(path) if p["follow"] and os.path.islink(path) else path
    if os.path.isdir(target):
        m.fail("Destination %s is a directory!" % target, path=path)
    raw = m.read_bytes(target)
    if raw is None:
        if not p["create"]:
            m.fail("Destination %s does not exist!" % target, rc=257)
        folder = os.path.dirname(target)
        if folder and not os.path.isdir(folder) and not m.check_mode:
            os.makedirs(folder)
    text = (raw or b"").decode("utf-8-sig", "surrogateescape")
    try:
        new_text, changed, msg = plan(text, p)
    except ValueError as exc:
        m.fail(str(exc))
    result = {"changed": changed, "msg": msg, "path": path}
    before = "".join(split_lines(text))
    diffs = []
    if m.diff_mode:
        header = "%s (content)" % target
        diffs.append({"before": before, "after": new_text, "before_header": header,
                      "after_header": header})
    attrs = (False, {}, {})
    if raw is not None:
        attrs = m.plan_attributes(target, p["owner"], p["group"], p["mode"])
        if attrs[0]:
            diffs.append({"before": attrs[1], "after": attrs[2]})
            result["changed"] = True
    if diffs:
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]
    if m.check_mode:
        return result
    if changed:
        # Without follow a symlink at path is replaced by the file, as Ansible's module does.
        out = m.atomic_write(target, new_text.encode("utf-8", "surrogateescape"),
                             mode=p["mode"], owner=p["owner"], group=p["group"],
                             backup=p["backup"], unsafe_writes=p["unsafe_writes"],
                             follow=False)
        result.update(out or {})
    if attrs[0] or raw is None:
        if os.path.exists(target):
            changed_attrs = m.set_attributes(target, p["owner"], p["group"], p["mode"])[0]
            result["changed"] = result["changed"] or changed_attrs
    return result
