"""Ensure a line is present in (or absent from) a text file.

Finds the line by `regexp` or `search_string` (the last match, or the first with
`firstmatch`) and replaces it; otherwise inserts `line` after/before a line
matching `insertafter`/`insertbefore` (or at BOF/EOF). The usual tool for one
setting in sshd_config, login.defs or limits.conf. The file is written
atomically, `validate` runs on the new content before it replaces the old.
A line that differs only by a CRLF ending counts as present (Ansible would
rewrite it with LF).
"""

import re

from module_utils import textfile

ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["dest", "destfile", "name"],
             "help": "The file to modify."},
    "regexp": {"type": "str", "aliases": ["regex"],
               "help": "Python regular expression looked for in every line."},
    "search_string": {"type": "str",
                      "help": "Literal string looked for in every line (instead of regexp)."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the line should be there."},
    "line": {"type": "str", "aliases": ["value"],
             "help": "The line to insert or replace with (may use backrefs)."},
    "backrefs": {"type": "bool", "default": False,
                 "help": "Expand \\1 and \\g<name> from regexp into line; no match, no change."},
    "insertafter": {"type": "str",
                    "help": "EOF or a regexp: insert after its last match (if regexp finds none)."},
    "insertbefore": {"type": "str",
                     "help": "BOF or a regexp: insert before its last match."},
    "create": {"type": "bool", "default": False,
               "help": "Create the file when it does not exist."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the original."},
    "firstmatch": {"type": "bool", "default": False,
                   "help": "Use the first match of regexp/insertafter/insertbefore, not the last."},
    "validate": {"type": "str",
                 "help": "Command run on the new file (%s) before it replaces the old one."},
    "owner": {"type": "str", "help": "Owner of the file."},
    "group": {"type": "str", "help": "Group of the file."},
    "mode": {"type": "raw", "help": "Octal (0644) or symbolic (u=rw,g=r) mode."},
    "unsafe_writes": {"type": "bool", "default": False,
                      "help": "If the atomic rename is refused (EBUSY: a file bind-mounted"
                               " into a container), write in place instead."},
}
MUTUALLY_EXCLUSIVE = [["insertbefore", "insertafter"], ["regexp", "search_string"],
                      ["backrefs", "search_string"]]
REQUIRED_IF = [["state", "present", ["line"]], ["backrefs", True, ["regexp"]]]
REQUIRED_ONE_OF = [["line", "regexp", "search_string"]]

NL = "\n"


def _matches(p, text):
    if p["regexp"] is not None:
        return re.search(p["regexp"], text)
    if p["search_string"] is not None:
        return p["search_string"] in text
    return None


def plan_present(p, lines):
    """(new lines, message); `lines` keep their line endings."""
    line = p["line"]
    firstmatch = p["firstmatch"]
    after, before = p["insertafter"], p["insertbefore"]
    ins_re = None
    if after not in (None, "BOF", "EOF"):
        ins_re = re.compile(after)
    elif before not in (None, "BOF"):
        ins_re = re.compile(before)

    found, match = -1, None
    if p["regexp"] is not None or p["search_string"] is not None:
        for i, cur in enumerate(lines):
            hit = _matches(p, cur.rstrip("\r\n"))
            if hit:
                found, match = i, hit
                if firstmatch:
                    break

    anchor, exact = -1, False
    if not match:
        for i, cur in enumerate(lines):
            if cur.rstrip("\r\n") == line:
                found, exact = i, True
            elif ins_re is not None and ins_re.search(cur):
                anchor = i + 1 if after else i
                if firstmatch:
                    break

    new = list(lines)
    if found != -1:
        if match is not None and p["backrefs"]:
            wanted = match.expand(line)
        else:
            wanted = line
        if match is None and not exact:  # pragma: no cover - found implies one of them
            return new, "line already present"
        if new[found].rstrip("\r\n") == wanted and new[found].endswith(NL):
            return new, "line already present"
        ending = new[found][len(new[found].rstrip("\r\n")):] or NL
        new[found] = wanted + ending
        return new, "line replaced"
    if p["backrefs"]:
        return new, "regexp did not match; nothing to do (backrefs)"

    def ensure_last_newline():
        if new and not new[-1].endswith(("\n", "\r")):
            new[-1] += NL

    if before == "BOF" or after == "BOF":
        new.insert(0, line + NL)
        return new, "line added"
    if after == "EOF" or anchor == -1:
        ensure_last_newline()
        new.append(line + NL)
        return new, "line added"
    ensure_last_newline()
    # Do not insert the line twice next to its anchor.
    neighbour = anchor - 1 if (before and anchor > 0) else anchor
    if after and anchor == len(new):
        neighbour = anchor - 1
    if 0 <= neighbour < len(new) and new[neighbour].rstrip("\r\n") == line:
        return new, "line already present"
    new.insert(anchor, line + NL)
    return new, "line added"


def plan_absent(p, lines):
    kept, removed = [], 0
    for cur in lines:
        text = cur.rstrip("\r\n")
        if p["regexp"] is not None:
            hit = re.search(p["regexp"], text)
        elif p["search_string"] is not None:
            hit = p["search_string"] in text
        else:
            hit = text == p["line"]
        if hit:
            removed += 1
        else:
            kept.append(cur)
    return kept, removed


def main(m):
    p = m.params
    path = p["path"]
    textfile.check_regexps(m, ("regexp", "insertafter", "insertbefore"))
    if p["state"] == "present" and p["line"] is None:
        m.fail("line is required with state=present")
    if p["backrefs"] and p["regexp"] is None:
        m.fail("regexp is required with backrefs=true")
    if p["regexp"] == "":
        m.warn("regexp is an empty string: it matches every line of the file")
    raw, text = textfile.read(m, path)
    result = {"changed": False, "path": path}
    if raw is None:
        if p["state"] == "absent":
            return dict(result, msg="file not present", found=0)
        if not p["create"]:
            m.fail("Destination %s does not exist !" % path, rc=257)
        if p["backrefs"]:
            return dict(result, msg="file not present; nothing to do (backrefs)")
    lines = text.splitlines(True)
    if p["state"] == "present":
        new_lines, msg = plan_present(p, lines)
    else:
        new_lines, removed = plan_absent(p, lines)
        result["found"] = removed
        msg = "%d line(s) removed" % removed if removed else "line already absent"
    if raw is None:
        msg = "file created, " + msg
    return textfile.finish(m, path, raw, text, "".join(new_lines), msg, result)
