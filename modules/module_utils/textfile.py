"""What `lineinfile` and `blockinfile` share: reading the file, the attribute plan, the
diff and message, and the atomic write.

A shared target-side helper (stdlib only, Python 3.7+): a module imports it with
`from module_utils import textfile` and the agent ships it with the module, once per run,
like Ansible's module_utils. Both modules plan the new text themselves; `finish` turns
(old, new) into the result and, outside check mode, the change.
"""

import os
import re

ATTRS_CHANGED = "ownership, perms or SE linux context changed"


def check_regexps(m, names):
    """Fail early on an option that is not a valid regular expression (BOF/EOF allowed)."""
    for opt in names:
        value = m.params.get(opt)
        if value not in (None, "BOF", "EOF"):
            try:
                re.compile(value)
            except re.error as exc:
                m.fail("%s is not a valid regular expression: %s" % (opt, exc))


def read(m, path):
    """(raw bytes or None when missing, text); a folder is refused as Ansible does."""
    if os.path.isdir(path):
        m.fail("Path %s is a directory !" % path, rc=256)
    raw = m.read_bytes(path)
    return raw, (raw or b"").decode("utf-8", "surrogateescape")


def finish(m, path, raw, text, new_text, msg, result):
    """Plan attributes, build the diff and message, then write unless in check mode."""
    p = m.params
    content_changed = raw is None or new_text != text
    attrs = (False, {}, {})
    if raw is not None:
        attrs = m.plan_attributes(path, p["owner"], p["group"], p["mode"])
    diffs = []
    if content_changed:
        diffs.append(m.text_diff(None if raw is None else text, new_text, path))
    if attrs[0]:
        diffs.append({"before": attrs[1], "after": attrs[2]})
        msg += (" and " if content_changed else "; ") + ATTRS_CHANGED
    diffs = [d for d in diffs if d]
    result["changed"] = content_changed or attrs[0]
    result["msg"] = msg
    if m.diff_mode and diffs:
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]
    if m.check_mode or not result["changed"]:
        return result
    if content_changed:
        folder = os.path.dirname(path)
        if folder and not os.path.isdir(folder):
            os.makedirs(folder)
        result.update(m.atomic_write(path, new_text.encode("utf-8", "surrogateescape"),
                                     mode=p["mode"], owner=p["owner"], group=p["group"],
                                     backup=p["backup"], validate=p["validate"],
                                     unsafe_writes=p["unsafe_writes"]))
    if attrs[0] or raw is None:
        m.set_attributes(path, p["owner"], p["group"], p["mode"])
    return result
