"""Control a mount point and its /etc/fstab line (ansible.posix.mount).

`present` writes the fstab line only; `mounted` writes it and mounts (or remounts
when the line changed); `unmounted` unmounts and leaves fstab alone; `absent`
removes the line, unmounts and removes the empty mount point folder;
`absent_from_fstab` only removes the line; `remounted` remounts (always a change);
`ephemeral` mounts without touching fstab. The fstab line is matched by mount
point (and by src for swap lines, whose mount point is `none`), written as
`src path fstype opts dump passno` with spaces, `&` and `\\` escaped, and the file
is rewritten as Ansible's module rewrites it (same bytes), but atomically. A mount
that fails puts the old fstab back and removes the folders it created.
"""

import os

ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["name"],
             "help": "The mount point."},
    "src": {"type": "path", "help": "The device, label (LABEL=...), remote share or source."},
    "fstype": {"type": "str", "help": "File system type (ext4, tmpfs, nfs, proc, ...)."},
    "opts": {"type": "str", "help": "Mount options (default: defaults)."},
    "opts_no_log": {"type": "bool", "default": False,
                    "help": "Keep the options out of the output (they hold a password)."},
    "dump": {"type": "str", "default": "0", "help": "The dump field of the fstab line."},
    "passno": {"type": "str", "default": "0", "help": "The fsck pass field of the fstab line."},
    "fstab": {"type": "str", "help": "Another file instead of /etc/fstab."},
    "boot": {"type": "bool", "default": True,
             "help": "Mount at boot; false adds noauto to the options."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the fstab before changing it."},
    "state": {"type": "str", "required": True,
              "choices": ["absent", "absent_from_fstab", "mounted", "present", "unmounted",
                          "remounted", "ephemeral"],
              "help": "What should be true of the mount point and its fstab line."},
}
REQUIRED_IF = [["state", "mounted", ["src", "fstype"]], ["state", "present", ["src", "fstype"]],
               ["state", "ephemeral", ["src", "fstype"]]]

_FIELDS = ("src", "name", "fstype", "opts", "dump", "passno")
_LINE = "%(src)s %(name)s %(fstype)s %(opts)s %(dump)s %(passno)s\n"


def escape(value):
    """fstab's escapes for a field: backslash, space and ampersand as octal."""
    return value.replace("\\", "\\134").replace(" ", "\\040").replace("&", "\\046")


def _unescape(value):
    out, i = [], 0
    while i < len(value):
        if value[i] == "\\" and value[i + 1:i + 4].isdigit() and len(value[i + 1:i + 4]) == 3:
            out.append(chr(int(value[i + 1:i + 4], 8)))
            i += 4
        else:
            out.append(value[i])
            i += 1
    return "".join(out)


def _same_entry(fields, want, src_given):
    """The line is the one for our mount point (swap lines also need the same src)."""
    if fields["name"] != want["name"]:
        return False
    if src_given and fields["name"] == "none" and fields["fstype"] == "swap" \
            and fields["src"] != want["src"]:
        return False
    return True


def plan_present(lines, want, src_given):
    """(new lines, changed): the entry for want['name'] set to `want` (escaped fields)."""
    out, found, changed = [], False, False
    for line in lines:
        if not line.endswith("\n"):
            line += "\n"
        stripped = line.strip()
        if not stripped or stripped.startswith("#"):
            out.append(line)
            continue
        words = line.split("#")[0].split()
        if len(words) not in (4, 5, 6):
            out.append(line)
            continue
        fields = dict(zip(_FIELDS, words))
        fields.setdefault("dump", None)  # a missing field never equals a given one
        fields.setdefault("passno", None)
        if not _same_entry(fields, want, src_given):
            out.append(line)
            continue
        found = True
        differs = [k for k in ("src", "fstype", "opts", "dump", "passno") if fields[k] != want[k]]
        if differs:
            fields.update((k, want[k]) for k in differs)
            out.append(_LINE % fields)
            changed = True
        else:
            out.append(line)
    if not found:
        out.append(_LINE % want)
        changed = True
    return out, changed


def plan_absent(lines, want, src_given):
    """(new lines, changed): every 6-field entry for want['name'] removed."""
    out, changed = [], False
    for line in lines:
        stripped = line.strip()
        if not stripped or stripped.startswith("#") or len(line.split()) != 6:
            out.append(line)
            continue
        fields = dict(zip(_FIELDS, line.split()))
        if _same_entry(fields, want, src_given):
            changed = True
        else:
            out.append(line)
    return out, changed


def linux_mounts(path="/proc/self/mountinfo"):
    """{mount point: {src, fstype, opts}} from mountinfo (a bind mount's src is its folder)."""
    try:
        with open(path) as handle:
            rows = [line.split() for line in handle if line.strip()]
    except (IOError, OSError):
        return None
    info = {}
    for f in rows:
        sep = f.index("-")
        info[int(f[0])] = {"id": int(f[0]), "parent": int(f[1]), "root": _unescape(f[3]),
                           "dst": _unescape(f[4]), "opts": f[5], "fs": f[sep + 1],
                           "src": _unescape(f[sep + 2]) if len(f) > sep + 2 else ""}
    mounts = {}
    for rec in info.values():
        src = rec["src"]
        parent = info.get(rec["parent"])
        if rec["parent"] != 1 and parent is not None:
            root = rec["root"]
            if len(parent["root"]) > 1 and root.startswith(parent["root"] + "/"):
                root = root[len(parent["root"]):]
            if parent["dst"] != "/":
                root = parent["dst"] + root
            src = root
        mounts[rec["dst"]] = {"src": src, "fstype": rec["fs"], "opts": rec["opts"]}
    return mounts


def is_mounted(path, mounts, src=None):
    if os.path.ismount(path):
        return True
    if mounts is None or path not in mounts:
        return False
    return src is None or mounts[path]["src"] == src


class Mounter(object):
    def __init__(self, m, args, state):
        self.m = m
        self.args = args
        self.state = state

    def _fstab_args(self):
        fstab = self.args["fstab"]
        if self.state != "ephemeral" and fstab and fstab != "/etc/fstab":
            return ["-T", fstab]
        return []

    def _ephemeral_args(self):
        argv = ["-t", self.args["fstype"]]
        if self.args["opts"] != "defaults":
            argv += ["-o", self.args["opts"]]
        return argv + [self.args["src"]]

    def mount(self):
        argv = [self.m.which("mount", required=True)] + self._fstab_args()
        if self.state == "ephemeral":
            argv += self._ephemeral_args()
        rc, out, err = self.m.run(argv + [self.args["name"]])
        return rc, "" if rc == 0 else out + err

    def umount(self, path):
        rc, out, err = self.m.run([self.m.which("umount", required=True), path])
        return rc, "" if rc == 0 else out + err

    def remount(self):
        opts = self.args["opts"]
        argv = [self.m.which("mount", required=True), "-o"]
        if self.state == "remounted" and opts != "defaults":
            argv.append("remount," + opts)
        else:
            argv.append("remount")
        argv += self._fstab_args()
        if self.state == "ephemeral":
            argv += self._ephemeral_args()
        rc, out, err = self.m.run(argv + [self.args["name"]])
        if rc == 0:
            return 0, ""
        if self.state == "remounted" and opts != "defaults":
            self.m.fail("Options were specified with remounted, but the remount command "
                        "failed. Failing in order to prevent an unexpected mount result. Try "
                        "replacing this command with a \"state: unmounted\" followed by a "
                        "\"state: mounted\" using the full desired mount options instead.",
                        stderr=err)
        rc, msg = self.umount(self.args["name"])
        if rc == 0:
            rc, msg = self.mount()
        return rc, msg


def _make_dirs(path):
    created = []
    current = ""
    for part in path.strip("/").split("/"):
        current = current + "/" + part if os.path.isabs(path) or current else part
        if not os.path.exists(current):
            os.mkdir(current)
            created.append(current)
    return created


def main(m):
    p = m.params
    state = p["state"]
    args = {"name": p["path"], "opts": "defaults", "dump": "0", "passno": "0",
            "fstab": p["fstab"] or "/etc/fstab", "boot": "yes"}
    for key in ("src", "fstype", "passno", "opts", "dump"):
        if p[key] is not None:
            args[key] = p[key]
    opts = args["opts"].split(",")
    if p["boot"] and "noauto" in opts:
        m.warn("Ignore the 'boot' due to 'opts' contains 'noauto'.")
    elif not p["boot"]:
        args["boot"] = "no"
        args["opts"] = ",".join(opts + ["noauto"])
    fstab = args["fstab"]
    name = args["name"]
    src_given = p["src"] is not None
    want = dict((k, escape(str(args.get(k, "")))) for k in _FIELDS)
    mounts = linux_mounts()
    if mounts is None:
        m.warn("Cannot open file /proc/self/mountinfo. Bind mounts might be misinterpreted.")
    mounter = Mounter(m, args, state)

    raw = b""
    if state != "ephemeral":
        if os.path.isdir(fstab):
            m.fail("%s is a directory, not an fstab file" % fstab)
        raw = m.read_bytes(fstab)
        if raw is None:
            raw = b""
            if not m.check_mode:
                folder = os.path.dirname(fstab)
                if folder and not os.path.isdir(folder):
                    os.makedirs(folder)
                m.atomic_write(fstab, b"", mode=0o644)
    text = raw.decode("utf-8", "surrogateescape")
    lines = text.splitlines(True) if text else []
    result = {"name": name, "fstab": fstab, "boot": args["boot"], "opts": args["opts"],
              "dump": args["dump"], "passno": args["passno"], "backup_file": ""}
    for key in ("src", "fstype"):
        if key in args:
            result[key] = args[key]
    if p["opts_no_log"]:
        result["opts"] = "********"

    def write(new_lines):
        new_text = "".join(new_lines)
        if m.diff_mode and not p["opts_no_log"]:  # the options would show in the diff
            result["diff"] = m.text_diff(text, new_text, fstab)
        if not m.check_mode:
            out = m.atomic_write(fstab, new_text.encode("utf-8", "surrogateescape"),
                                 backup=p["backup"]) or {}
            result["backup_file"] = out.get("backup_file", "")

    changed = False
    if state in ("absent", "absent_from_fstab"):
        new_lines, changed = plan_absent(lines, want, src_given)
        if changed:
            write(new_lines)
        if state == "absent" and changed and not m.check_mode:
            if is_mounted(name, mounts):
                rc, msg = mounter.umount(name)
                if rc:
                    m.fail("Error unmounting %s: %s" % (name, msg))
            if os.path.exists(name):
                try:
                    os.rmdir(name)
                except OSError as exc:
                    m.fail("Error rmdir %s: %s" % (name, exc.strerror or exc))
        result["msg"] = "entry removed" if changed else "no entry for %s in %s" % (name, fstab)
    elif state == "present":
        new_lines, changed = plan_present(lines, want, src_given)
        if changed:
            write(new_lines)
        result["msg"] = "entry written" if changed else "entry already in %s" % fstab
    elif state == "unmounted":
        if is_mounted(name, mounts):
            changed = True
            if not m.check_mode:
                rc, msg = mounter.umount(name)
                if rc:
                    m.fail("Error unmounting %s: %s" % (name, msg))
        result["msg"] = "unmounted" if changed else "%s is not mounted" % name
    elif state == "remounted":
        changed = True
        if not m.check_mode:
            rc, msg = mounter.remount()
            if rc:
                m.fail("Error remounting %s: %s" % (name, msg))
        result["msg"] = "remounted"
    else:  # mounted, ephemeral
        created = []
        if not os.path.exists(name) and not m.check_mode:
            try:
                created = _make_dirs(name)
            except OSError as exc:
                m.fail("Error making dir %s: %s" % (name, exc.strerror or exc))
        if state == "mounted":
            new_lines, changed = plan_present(lines, want, src_given)
            if changed:
                write(new_lines)
        rc, msg = 0, ""
        if is_mounted(name, mounts, p["src"]):
            if changed and not m.check_mode:
                rc, msg = mounter.remount()
            if state == "ephemeral":
                same = mounts is not None and name in mounts and mounts[name]["src"] == p["src"]
                if not same and not _mounted_from(m, name, p["src"]):
                    m.fail("Ephemeral mount point is already mounted with a different source "
                           "than the specified one. Failing in order to prevent an unwanted "
                           "unmount or override operation. Try replacing this command with a "
                           "\"state: unmounted\" followed by a \"state: ephemeral\", or use a "
                           "different destination path.")
                changed = True
                if not m.check_mode:
                    rc, msg = mounter.remount()
            result["msg"] = "remounted" if changed else "already mounted"
        else:
            changed = True
            result["msg"] = "mounted"
            if not m.check_mode:
                rc, msg = mounter.mount()
        if rc:
            if state == "mounted" and not m.check_mode:
                m.atomic_write(fstab, raw)  # the old fstab back
            for folder in reversed(created):
                try:
                    os.rmdir(folder)
                except OSError:
                    pass
            m.fail("Error mounting %s: %s" % (name, msg.strip()))
    result["changed"] = changed
    return result


def _mounted_from(m, path, src):
    """`mount -v` lists `src` on `path` (network shares and labels mountinfo names otherwise)."""
    rc, out, _ = m.run([m.which("mount", required=True), "-v"])
    for line in out.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[0] == src and fields[2] == path:
            return True
    return False
