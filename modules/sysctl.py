"""Set a kernel parameter in a sysctl file and, when asked, in the running kernel.

The file (default /etc/sysctl.conf) is what survives a reboot; it is rewritten
atomically and only the line for `name` is touched. `reload` applies the setting
live after the file changed, `sysctl_set` applies it whenever the running value
differs. As with Ansible's module, a value the kernel refuses (EINVAL, a
read-only /proc/sys in a container, permission denied) fails the task, even with
`ignoreerrors`; with `sysctl_set` the live write comes first, so a refused key
leaves the file untouched. `ignoreerrors` only forgives a key the kernel does not
have (sysctl -e): the file is written, a warning says so and `live_applied: false`
lets a playbook decide what to do.
"""

import errno
import os
import re

ARGS = {
    "name": {"type": "str", "required": True, "aliases": ["key"],
             "help": "The dot-separated key, e.g. net.ipv4.ip_forward."},
    "value": {"type": "raw", "aliases": ["val"],
              "help": "The desired value; yes/no/true/false become 1/0."},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"],
              "help": "Whether the key should be in the sysctl file."},
    "sysctl_file": {"type": "path", "default": "/etc/sysctl.conf",
                    "help": "The file that holds the setting."},
    "sysctl_set": {"type": "bool", "default": False,
                   "help": "Compare with the running kernel and set it there if it differs."},
    "reload": {"type": "bool", "default": True,
               "help": "Apply the setting live when the file changed."},
    "ignoreerrors": {"type": "bool", "default": False,
                     "help": "Warn instead of failing when the kernel refuses the value."},
    "_proc_sys": {"type": "path", "default": "/proc/sys",
                  "help": "Where the kernel's parameters are (tests point it elsewhere)."},
}
REQUIRED_IF = [["state", "present", ["value"]]]

_TRUE = ("yes", "on", "true", "1")
_FALSE = ("no", "off", "false", "0")


def normalize(value):
    """The value as sysctl shows it: booleans as 1/0, runs of whitespace as one space."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "1" if value else "0"
    text = str(value).strip()
    if text.lower() in _TRUE:
        return "1"
    if text.lower() in _FALSE:
        return "0"
    return " ".join(text.split())


def key_path(root, name):
    """/proc/sys path of a key. Like sysctl(8): if '/' comes before any '.', the key is
    already slash-separated; otherwise dots separate and slashes stand for dots."""
    slash, dot = name.find("/"), name.find(".")
    if slash != -1 and (dot == -1 or slash < dot):
        rel = name
    else:
        rel = name.translate(str.maketrans("./", "/."))
    return os.path.join(root, rel.strip("/"))


_LINE = re.compile(r"^(\s*-?\s*)([^=\s#;][^=]*?)(\s*=\s*)(.*?)(\s*)$")


def plan_file(text, name, state, value):
    """The new file text: the first line for `name` set (or kept), later ones removed."""
    lines = text.splitlines(True)
    out, seen = [], False
    for line in lines:
        match = _LINE.match(line.rstrip("\n"))
        if not match or match.group(2).strip() != name or line.lstrip().startswith(("#", ";")):
            out.append(line)
            continue
        if state == "absent" or seen:
            continue
        seen = True
        if normalize(match.group(4)) == value:
            out.append(line)
        else:
            out.append("%s%s%s%s\n" % (match.group(1), name, match.group(3), value))
    if state == "present" and not seen:
        if out and not out[-1].endswith("\n"):
            out[-1] += "\n"
        out.append("%s=%s\n" % (name, value))
    return "".join(out)


def file_settings(text):
    """(key, value, optional) of each setting line of a sysctl file; a key written with a
    leading '-' is optional (sysctl.d(5): its errors are ignored)."""
    out = []
    for line in text.splitlines():
        stripped = line.strip()
        if not stripped or stripped[0] in "#;" or "=" not in stripped:
            continue
        key, _, val = stripped.partition("=")
        key = key.strip()
        optional = key.startswith("-")
        out.append((key.lstrip("-").strip(), normalize(val), optional))
    return out


def read_live(root, name):
    try:
        with open(key_path(root, name)) as handle:
            return normalize(handle.read())
    except (IOError, OSError):
        return None


def write_live(root, name, value):
    """Write to /proc/sys; returns None on success, else (missing key?, the kernel's reason)."""
    path = key_path(root, name)
    if not os.path.exists(path):
        return True, "the kernel has no parameter %s (%s does not exist)" % (name, path)
    try:
        with open(path, "w") as handle:
            handle.write(value + "\n")
    except (IOError, OSError) as exc:
        if exc.errno == errno.EROFS:
            return False, "%s is read-only here (a container?): %s" % (
                root, exc.strerror or exc)
        if exc.errno == errno.ENOENT:
            return True, "the kernel has no parameter %s: %s" % (name, exc.strerror or exc)
        return False, exc.strerror or str(exc)
    return None


def main(m):
    p = m.params
    name, state, path = p["name"].strip(), p["state"], p["sysctl_file"]
    value = normalize(p.get("value"))
    if state == "present" and value == "":
        m.fail("value must not be empty when state=present")
    root = p.get("_proc_sys") or "/proc/sys"

    raw = m.read_bytes(path)
    before = raw.decode("utf-8") if raw is not None else ""
    after = plan_file(before, name, state, value)
    file_changed = after != before
    result = {"name": name, "value": value, "sysctl_file": path, "changed": file_changed,
              "live_applied": None}
    if file_changed:
        result["diff"] = m.text_diff(before, after, path)

    live_before = read_live(root, name) if state == "present" else None
    result["live_value"] = live_before
    want_live = state == "present" and (p["sysctl_set"] or (p["reload"] and file_changed))
    live_differs = want_live and live_before != value
    if live_differs:
        result["changed"] = True

    msgs = []
    if file_changed:
        msgs.append("%s %s" % ("would update" if m.check_mode else "updated", path))
    if m.check_mode:
        if live_differs:
            msgs.append("would set %s=%s live (now %s)" % (name, value, live_before))
        result["msg"] = "; ".join(msgs) or "%s already %s" % (name, _said(state, value))
        return result

    def apply_live():
        """Write the running value; a refusal fails the task (a missing key with
        ignoreerrors only warns)."""
        refused = write_live(root, name, value)
        if refused is None:
            result["live_applied"] = True
            result["live_value"] = read_live(root, name)
            if result["live_value"] != value:
                m.warn("the kernel shows %s=%s after %s was written" % (
                    name, result["live_value"], value))
            msgs.append("set %s=%s live" % (name, value))
            return
        missing, reason = refused
        result["live_applied"] = False
        result["live_error"] = reason
        text = "kernel refused %s=%s: %s" % (name, value, reason)
        if missing and p["ignoreerrors"]:
            m.warn(text)
            # Nothing moved in the kernel: only the file counts as a change.
            result["changed"] = file_changed
            msgs.append("%s=%s not applied live" % (name, value))
            return
        written = file_changed and not p["sysctl_set"]
        saved = (" (the file %s was updated)" % path) if written else ""
        result.pop("changed")
        m.fail(text + saved, changed=written, **result)

    def reload_file():
        """Ansible's reload is `sysctl -p FILE`: every key of the file is applied, so a
        key of another task that the kernel refuses fails this one too (a missing key
        only warns with ignoreerrors, or when the file marks it with a leading '-')."""
        refused_keys = []
        for key, val, optional in file_settings(after):
            if key == name or read_live(root, key) == val:
                continue
            refused = write_live(root, key, val)
            if refused is None:
                continue
            missing, reason = refused
            if missing and (p["ignoreerrors"] or optional):
                m.warn("reloading %s: %s" % (path, reason))
                continue
            refused_keys.append("%s: %s" % (key, reason))
        if refused_keys:
            result.pop("changed", None)
            m.fail("Failed to reload sysctl: %s (the file %s was updated)"
                   % ("; ".join(refused_keys), path), changed=True, **result)

    # Like Ansible: sysctl_set writes the kernel before the file, reload after it.
    if live_differs and p["sysctl_set"]:
        apply_live()
    if file_changed:
        mode = None if raw is not None else 0o644
        out = m.atomic_write(path, after.encode("utf-8"), mode=mode) or {}
        if out.get("backup_file"):
            result["backup_file"] = out["backup_file"]
    if live_differs and not p["sysctl_set"]:
        apply_live()
    if file_changed and p["reload"]:
        reload_file()
    if want_live and not live_differs:
        result["live_applied"] = True
    result["msg"] = "; ".join(msgs) or "%s already %s" % (name, _said(state, value))
    return result


def _said(state, value):
    return "absent" if state == "absent" else "set to %s" % value
