"""Manage a path's kind and attributes: file, folder, symlink, hard link, touched or absent.

`state: directory` creates missing parents too (each gets owner/group/mode) and
with `recurse` brings everything below to the same owner/group/mode (symbolic
modes like `u=rwX,go=rX` make sense there). `state: link` replaces a link
atomically (new link beside it, then rename). `state: touch` changes times and
so reports a change every time, unless both times are `preserve`. Symlinks get
owner/group on the link itself; Linux cannot change a link's own mode.
"""

import os
import shutil
import stat
import tempfile
import time

ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["dest", "name"],
             "help": "The path to manage."},
    "state": {"type": "str", "choices": ["absent", "directory", "file", "hard", "link", "touch"],
              "help": "What the path should be; by default what it already is, else file."},
    "src": {"type": "path",
            "help": "Target of a link (state link or hard); relative to the link's folder."},
    "recurse": {"type": "bool", "default": False,
                "help": "With state=directory, set owner/group/mode on everything below."},
    "force": {"type": "bool", "default": False,
              "help": "Replace a file with a link, or link to a src that does not exist."},
    "follow": {"type": "bool", "default": True,
               "help": "Change the target of a symlink (state file/directory/touch)."},
    "owner": {"type": "str", "help": "Owner (name or uid)."},
    "group": {"type": "str", "help": "Group (name or gid)."},
    "mode": {"type": "raw", "help": "Octal (0644) or symbolic (u=rwX,g=rX,o=) mode."},
    "modification_time": {"type": "str",
                          "help": "now, preserve or a time in modification_time_format."},
    "modification_time_format": {"type": "str", "default": "%Y%m%d%H%M.%S",
                                 "help": "strptime format of modification_time."},
    "access_time": {"type": "str", "help": "now, preserve or a time in access_time_format."},
    "access_time_format": {"type": "str", "default": "%Y%m%d%H%M.%S",
                           "help": "strptime format of access_time."},
    "unsafe_writes": {"type": "bool", "default": False,
                      "help": "Accepted for Ansible compatibility; has no effect."},
}


def kind(path):
    """absent, link, directory, hard (a file with other names) or file."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return "absent"
    if stat.S_ISLNK(st.st_mode):
        return "link"
    if stat.S_ISDIR(st.st_mode):
        return "directory"
    if st.st_nlink > 1:
        return "hard"
    return "file"


class Plan:
    """Collects what changes (and the diff) so check mode and a real run report alike."""

    def __init__(self, m, path, prev):
        self.m = m
        self.changed = False
        self.msgs = []
        self.before = {"path": path, "state": prev}
        self.after = {"path": path, "state": prev}

    def note(self, msg, before=None, after=None):
        self.changed = True
        if msg not in self.msgs:
            self.msgs.append(msg)
        self.before.update(before or {})
        self.after.update(after or {})

    def attributes(self, path, p, follow=True, label=None):
        changed, before, after = self.m.set_attributes(path, p["owner"], p["group"], p["mode"],
                                                       follow=follow)
        if changed:
            before.pop("path", None)
            after.pop("path", None)
            if label:
                before = {"%s %s" % (label, k): v for k, v in before.items()}
                after = {"%s %s" % (label, k): v for k, v in after.items()}
            self.note("attributes changed", before, after)


def wanted_time(m, value, fmt, default):
    """None to keep the time, "now", or seconds since the epoch."""
    value = value or default
    if value == "preserve":
        return None
    if value == "now":
        return "now"
    try:
        return time.mktime(time.strptime(value, fmt))
    except ValueError:
        m.fail("time %r does not match format %r" % (value, fmt))


def apply_times(m, plan, path, p, default, follow=True):
    atime = wanted_time(m, p["access_time"], p["access_time_format"], default)
    mtime = wanted_time(m, p["modification_time"], p["modification_time_format"], default)
    if atime is None and mtime is None:
        return
    st = os.stat(path) if follow else os.lstat(path)
    now = time.time()
    new_a = st.st_atime if atime is None else now if atime == "now" else atime
    new_m = st.st_mtime if mtime is None else now if mtime == "now" else mtime
    if "now" not in (atime, mtime) and int(new_a) == int(st.st_atime) \
            and int(new_m) == int(st.st_mtime):
        return
    plan.note("times updated", {"mtime": st.st_mtime, "atime": st.st_atime},
              {"mtime": new_m, "atime": new_a})
    if not m.check_mode:
        os.utime(path, (new_a, new_m), follow_symlinks=follow)


def ensure_absent(m, plan, path, prev):
    if prev == "absent":
        plan.msgs.append("path already absent")
        return
    plan.note("removed %s" % prev, after={"state": "absent"})
    if m.check_mode:
        return
    try:
        if prev == "directory":
            shutil.rmtree(path)
        else:
            os.unlink(path)
    except OSError as exc:
        m.fail("cannot remove %s: %s" % (path, exc.strerror or exc), path=path)


def ensure_file(m, plan, path, prev, p):
    target = path
    if prev == "link" and p["follow"]:
        target = os.path.realpath(path)
        prev = kind(target)
    if prev == "absent":
        m.fail("file (%s) is absent, cannot continue" % path, path=path)
    if prev not in ("file", "hard"):
        m.fail("file (%s) is %s, cannot continue" % (path, prev), path=path)
    plan.attributes(target, p)
    apply_times(m, plan, target, p, "preserve")


def ensure_directory(m, plan, path, prev, p):
    target = path
    if prev == "link" and p["follow"] and os.path.isdir(path):
        target = os.path.realpath(path)
        prev = "directory"
    if prev == "absent":
        missing = []
        cur = path
        while cur and not os.path.lexists(cur):
            missing.append(cur)
            cur = os.path.dirname(cur)
        if cur and not os.path.isdir(cur):
            m.fail("%s is not a directory, cannot create %s under it" % (cur, path), path=path)
        plan.note("directory created", after={"state": "directory"})
        if m.check_mode:
            return
        for folder in reversed(missing):
            try:
                os.mkdir(folder)
            except FileExistsError:
                pass
            except OSError as exc:
                m.fail("cannot create %s: %s" % (folder, exc.strerror or exc), path=path)
            m.set_attributes(folder, p["owner"], p["group"], p["mode"])
    elif prev != "directory":
        m.fail("%s already exists as a %s" % (path, prev), path=path)
    else:
        plan.attributes(target, p)
    if p["recurse"] and os.path.isdir(target):
        for dirpath, dirnames, filenames in os.walk(target):
            for name in sorted(dirnames) + sorted(filenames):
                child = os.path.join(dirpath, name)
                is_link = os.path.islink(child)
                if is_link:
                    changed, before, after = m.set_attributes(child, p["owner"], p["group"],
                                                              None, follow=False)
                else:
                    changed, before, after = m.set_attributes(child, p["owner"], p["group"],
                                                              p["mode"])
                if changed:
                    plan.note("attributes changed below %s" % path)
    apply_times(m, plan, target, p, "preserve")


def replace_atomically(m, path, make):
    """Create the new link beside path with make(tmp), then rename it over path."""
    folder = os.path.dirname(path) or "."
    tmp = tempfile.mktemp(prefix="." + os.path.basename(path) + ".", suffix=".pyengine-tmp",
                          dir=folder)
    try:
        make(tmp)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.lexists(tmp):
            os.unlink(tmp)
        m.fail("cannot create link %s: %s" % (path, exc.strerror or exc), path=path)


def ensure_link(m, plan, path, prev, p):
    src = p["src"]
    if src is None:
        if prev == "link":
            src = os.readlink(path)
        else:
            m.fail("src is required for creating new symlinks", path=path)
    resolved = src if os.path.isabs(src) else os.path.join(os.path.dirname(path), src)
    if not p["force"] and not os.path.exists(resolved):
        m.fail('src file does not exist, use "force=yes" if you really want to create the '
               'link: %s' % resolved, path=path, src=src)
    if prev == "link" and os.readlink(path) == src:
        pass
    elif prev in ("file", "hard") and not p["force"]:
        m.fail("refusing to convert from %s to symlink for %s" % (prev, path), path=path)
    elif prev == "directory":
        if not p["force"]:
            m.fail("refusing to convert from directory to symlink for %s" % path, path=path)
        if os.listdir(path):
            m.fail("the directory %s is not empty, refusing to convert it" % path, path=path)
        plan.note("link created", {"src": None}, {"state": "link", "src": src})
        if not m.check_mode:
            os.rmdir(path)
            os.symlink(src, path)
    else:
        old = os.readlink(path) if prev == "link" else None
        plan.note("link created" if old is None else "link changed",
                  {"src": old}, {"state": "link", "src": src})
        if not m.check_mode:
            if prev == "absent":
                folder = os.path.dirname(path)
                if folder and not os.path.isdir(folder):
                    m.fail("folder %s for the link does not exist" % folder, path=path)
                os.symlink(src, path)
            else:
                replace_atomically(m, path, lambda tmp: os.symlink(src, tmp))
    if p["mode"] is not None:
        m.warn("mode is not applied to symlinks (Linux cannot change a link's own mode)")
    if (p["owner"] or p["group"]) and os.path.lexists(path):
        plan.attributes(path, {"owner": p["owner"], "group": p["group"], "mode": None},
                        follow=False)
    elif (p["owner"] or p["group"]) and m.check_mode:
        plan.note("attributes changed")


def ensure_hard(m, plan, path, prev, p):
    src = p["src"]
    if src is None:
        m.fail("src is required for creating new hard links", path=path)
    resolved = src if os.path.isabs(src) else os.path.join(os.path.dirname(path), src)
    if not os.path.exists(resolved):
        m.fail("src does not exist: %s" % resolved, path=path, src=src)
    if os.path.isdir(resolved):
        m.fail("src %s is a directory; cannot hard link a directory" % resolved, path=path)
    src_st = os.stat(resolved)
    same = False
    if prev in ("file", "hard"):
        st = os.lstat(path)
        same = (st.st_ino, st.st_dev) == (src_st.st_ino, src_st.st_dev)
    if not same:
        if prev == "directory":
            m.fail("%s is a directory, cannot make it a hard link" % path, path=path)
        if prev != "absent" and not p["force"]:
            m.fail("Cannot link: %s already exists as a %s (use force=yes)" % (path, prev),
                   path=path)
        plan.note("hard link created", {"src": None}, {"state": "hard", "src": src})
        if not m.check_mode:
            if prev == "absent":
                os.link(resolved, path)
            else:
                replace_atomically(m, path, lambda tmp: os.link(resolved, tmp))
    if os.path.lexists(path) and not (m.check_mode and not same):
        plan.attributes(path, p)
    elif any(p[k] is not None for k in ("owner", "group", "mode")):
        # In check mode the link does not exist yet: the attributes are those of src.
        changed, _, _ = m.plan_attributes(resolved, p["owner"], p["group"], p["mode"])
        if changed:
            plan.note("attributes changed")


def ensure_touch(m, plan, path, prev, p):
    target = path
    if prev == "link" and p["follow"]:
        target = os.path.realpath(path)
        prev = kind(target)
    if prev == "absent":
        folder = os.path.dirname(target)
        if folder and not os.path.isdir(folder):
            m.fail("folder %s does not exist, cannot touch %s" % (folder, path), path=path)
        plan.note("file created", after={"state": "file"})
        if m.check_mode:
            return
        try:
            os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
        except OSError as exc:
            m.fail("cannot create %s: %s" % (path, exc.strerror or exc), path=path)
        m.set_attributes(target, p["owner"], p["group"], p["mode"])
        apply_times(m, Plan(m, target, "file"), target, p, "now")  # part of "created"
        return
    plan.attributes(target, p)
    apply_times(m, plan, target, p, "now")


def main(m):
    p = m.params
    path = p["path"].rstrip("/") or "/"
    prev = kind(path)
    state = p["state"]
    if state is None:
        state = prev if prev != "absent" else ("directory" if p["recurse"] else "file")
        if state == "hard":
            state = "file"
    if p["src"] is not None and state not in ("link", "hard"):
        m.fail("src option requires state to be 'link' or 'hard'")
    if p["recurse"] and state != "directory":
        m.fail("recurse option requires state to be 'directory'")
    if p["mode"] is not None and state != "absent":
        # An impossible mode fails before anything is created: a failed task must not
        # leave a touched file or a new folder behind.
        m.parse_mode(p["mode"], 0, is_dir=state == "directory")

    plan = Plan(m, path, prev)
    if state == "absent":
        ensure_absent(m, plan, path, prev)
    elif state == "file":
        ensure_file(m, plan, path, prev, p)
    elif state == "directory":
        ensure_directory(m, plan, path, prev, p)
    elif state == "link":
        ensure_link(m, plan, path, prev, p)
    elif state == "hard":
        ensure_hard(m, plan, path, prev, p)
    else:
        ensure_touch(m, plan, path, prev, p)

    result = {"changed": plan.changed, "path": path, "state": state}
    if plan.changed:
        result["msg"] = ", ".join(plan.msgs)
    else:
        what = {"file": "a file", "directory": "a directory",
                "link": "a symlink to %s" % p["src"], "hard": "a hard link to %s" % p["src"],
                "touch": "there with these times", "absent": "absent"}[state]
        result["msg"] = plan.msgs[0] if plan.msgs else "%s is already %s with these attributes" % (
            path, what)
    if plan.changed and m.diff_mode:
        result["diff"] = {"before": plan.before, "after": plan.after}
    if os.path.lexists(path) and not m.check_mode:
        st = os.lstat(path) if state == "link" or not p["follow"] else os.stat(path)
        result.update({"mode": "%04o" % stat.S_IMODE(st.st_mode), "uid": st.st_uid,
                       "gid": st.st_gid, "size": st.st_size})
    return result
