"""Insert, update or remove a block of lines between two marker lines.

The markers ("# BEGIN ANSIBLE MANAGED BLOCK" by default, so files already
managed by Ansible keep working) find the block on the next run: it is
replaced in place, or inserted after/before the last line matching
`insertafter`/`insertbefore` (default: end of file). An empty block with
state=present removes the block, like Ansible.
"""

import re

from module_utils import textfile

ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["dest", "destfile", "name"],
             "help": "The file to modify."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the block should be there."},
    "marker": {"type": "str", "default": "# {mark} ANSIBLE MANAGED BLOCK",
               "help": "Marker line template; {mark} becomes marker_begin / marker_end."},
    "block": {"type": "str", "default": "", "aliases": ["content"],
              "help": "The lines to put between the markers."},
    "insertafter": {"type": "str",
                    "help": "EOF or a regexp: a new block goes after its last match."},
    "insertbefore": {"type": "str",
                     "help": "BOF or a regexp: a new block goes before its last match."},
    "create": {"type": "bool", "default": False, "help": "Create the file if it is missing."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the original."},
    "marker_begin": {"type": "str", "default": "BEGIN", "help": "{mark} in the first marker."},
    "marker_end": {"type": "str", "default": "END", "help": "{mark} in the last marker."},
    "append_newline": {"type": "bool", "default": False,
                       "help": "Keep an empty line after the block."},
    "prepend_newline": {"type": "bool", "default": False,
                        "help": "Keep an empty line before the block."},
    "validate": {"type": "str",
                 "help": "Command run on the new file (%s) before it replaces the old one."},
    "owner": {"type": "str", "help": "Owner of the file."},
    "group": {"type": "str", "help": "Group of the file."},
    "mode": {"type": "raw", "help": "Octal (0644) or symbolic (u=rw,g=r) mode."},
    "unsafe_writes": {"type": "bool", "default": False,
                      "help": "If the atomic rename is refused (EBUSY: a file bind-mounted"
                               " into a container), write in place instead."},
}
MUTUALLY_EXCLUSIVE = [["insertbefore", "insertafter"]]

NL = "\n"


def insert_index(p, text, lines):
    """Where a new block goes (index into lines)."""
    after, before = p["insertafter"], p["insertbefore"]
    pattern = None
    if after not in (None, "EOF"):
        pattern = after
    elif before not in (None, "BOF"):
        pattern = before
    if pattern is not None:
        regex = re.compile(pattern)
        found = None
        if regex.flags & re.MULTILINE:
            hits = list(regex.finditer(text))
            if hits:
                found = text[:hits[-1].start()].count(NL)
        else:
            for i, line in enumerate(lines):
                if regex.search(line):
                    found = i
        if found is None:
            return len(lines)
        return found + 1 if after is not None else found
    if before == "BOF":
        return 0
    return len(lines)


def plan(p, text):
    marker = p["marker"]
    begin = marker.replace("{mark}", p["marker_begin"])
    end = marker.replace("{mark}", p["marker_end"])
    block = p["block"] or ""
    if p["state"] == "present" and block:
        body = [begin] + block.splitlines() + [end]
    else:
        body = []
    lines = text.splitlines(True)
    start = stop = None
    for i, line in enumerate(lines):
        stripped = line.rstrip("\r\n")
        if stripped == begin:
            start = i
        if stripped == end:
            stop = i
    if start is None or stop is None:
        if not body:
            return text, "block already absent"
        at = insert_index(p, text, lines)
        existed = False
    else:
        if start > stop:
            start, stop = stop, start
        del lines[start:stop + 1]
        at = start
        existed = True
    if at > 0 and not lines[at - 1].endswith(("\n", "\r")):
        lines[at - 1] += NL
    new_lines = [line + NL for line in body]
    if body and p["prepend_newline"] and at > 0 and lines[at - 1].strip() != "":
        new_lines.insert(0, NL)
    if body and p["append_newline"] and at < len(lines) and lines[at].strip() != "":
        new_lines.append(NL)
    lines[at:at] = new_lines
    new_text = "".join(lines)
    if new_text == text:
        return text, "block already present" if body else "block already absent"
    if not body:
        return new_text, "Block removed"
    return new_text, "Block updated" if existed else "Block inserted"


def main(m):
    p = m.params
    path = p["path"]
    if "{mark}" not in p["marker"]:
        m.warn("marker has no {mark}: begin and end markers are the same line")
    textfile.check_regexps(m, ("insertafter", "insertbefore"))
    raw, text = textfile.read(m, path)
    result = {"changed": False, "path": path}
    if raw is None:
        if p["state"] == "absent":
            return dict(result, msg="File does not exist: nothing to remove")
        if not p["create"]:
            m.fail("Path %s does not exist !" % path, rc=257)
        if not p["block"]:
            return dict(result, msg="File does not exist and the block is empty")
    new_text, msg = plan(p, text)
    if raw is None:
        msg = "File created"
    return textfile.finish(m, path, raw, text, new_text, msg, result)
