"""Replace every match of a regular expression in a file (Python re, MULTILINE).

`after`/`before` limit the work to the text between two patterns (matched
with DOTALL). Write a regexp that no longer matches once replaced, or the task
changes the file on every run.
"""

import os
import re

ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["dest", "destfile", "name"],
             "help": "The file to modify."},
    "regexp": {"type": "str", "required": True,
               "help": "Python regular expression (MULTILINE) to look for."},
    "replace": {"type": "str", "default": "",
                "help": "Replacement; may use \\1 and \\g<name>. Empty removes the matches."},
    "after": {"type": "str", "help": "Only replace after the first match of this pattern."},
    "before": {"type": "str", "help": "Only replace before the first match of this pattern."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the original."},
    "validate": {"type": "str",
                 "help": "Command run on the new file (%s) before it replaces the old one."},
    "encoding": {"type": "str", "default": "utf-8", "help": "The file's text encoding."},
    "owner": {"type": "str", "help": "Owner of the file."},
    "group": {"type": "str", "help": "Group of the file."},
    "mode": {"type": "raw", "help": "Octal (0644) or symbolic (u=rw,g=r) mode."},
    "unsafe_writes": {"type": "bool", "default": False,
                      "help": "If the atomic rename is refused (EBUSY: a file bind-mounted"
                               " into a container), write in place instead."},
}


def main(m):
    p = m.params
    path = p["path"]
    if os.path.isdir(path):
        m.fail("Path %s is a directory !" % path, rc=256)
    raw = m.read_bytes(path)
    if raw is None:
        m.fail("Path %s does not exist !" % path, rc=257)
    try:
        text = raw.decode(p["encoding"])
    except (LookupError, UnicodeDecodeError) as exc:
        m.fail("cannot decode %s as %s: %s" % (path, p["encoding"], exc))
    try:
        regex = re.compile(p["regexp"], re.MULTILINE)
        section_re = None
        if p["after"] and p["before"]:
            section_re = re.compile("%s(?P<subsection>.*?)%s" % (p["after"], p["before"]),
                                    re.DOTALL)
        elif p["after"]:
            section_re = re.compile("%s(?P<subsection>.*)" % p["after"], re.DOTALL)
        elif p["before"]:
            section_re = re.compile("(?P<subsection>.*)%s" % p["before"], re.DOTALL)
    except re.error as exc:
        m.fail("invalid regular expression: %s" % exc)
    start, stop = 0, len(text)
    if section_re is not None:
        match = section_re.search(text)
        if not match:
            return {"changed": False, "path": path,
                    "msg": "Pattern for before/after params did not match the given file: %s"
                    % section_re.pattern}
        start, stop = match.start("subsection"), match.end("subsection")
    section = text[start:stop]
    try:
        new_section, count = regex.subn(p["replace"], section)
    except (re.error, IndexError) as exc:
        m.fail("bad replacement %r: %s" % (p["replace"], exc))
    new_text = text[:start] + new_section + text[stop:]
    content_changed = count > 0 and new_text != text
    attrs = m.plan_attributes(path, p["owner"], p["group"], p["mode"])
    if content_changed:
        msg = "%d replacements made" % count
    elif count:
        msg = "%d matches already replaced (replacement equals the match)" % count
    else:
        msg = "no match for the regexp: nothing to replace"
    diffs = []
    if content_changed:
        diffs.append(m.text_diff(text, new_text, path))
    if attrs[0]:
        diffs.append({"before": attrs[1], "after": attrs[2]})
        msg += " and ownership, perms or SE linux context changed" if content_changed \
            else "; ownership, perms or SE linux context changed"
    diffs = [d for d in diffs if d]
    result = {"changed": content_changed or attrs[0], "path": path, "msg": msg}
    if diffs:
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]
    if m.check_mode or not result["changed"]:
        return result
    if content_changed:
        result.update(m.atomic_write(path, new_text.encode(p["encoding"]), mode=p["mode"],
                                     owner=p["owner"], group=p["group"], backup=p["backup"],
                                     validate=p["validate"], unsafe_writes=p["unsafe_writes"]))
    m.set_attributes(path, p["owner"], p["group"], p["mode"])
    return result
