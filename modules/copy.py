"""Put a file on the host: given content, bytes sent by the controller, or a file already there.

The target side of `copy` and `template`: the controller actions read and render
`src` on the controller and send the bytes as `_content_b64`; `content` is text
from the task itself; `src` with `remote_src: true` is a file (or folder) already
on the host. Content is compared first, so a second run is a no-op; a change is
written atomically, checked by `validate` before it replaces the old file, and can
keep a backup copy. A symlink at `dest` is compared through: with the same content
it stays a link; otherwise it is replaced by a file (with `follow: true` the
link's target is written instead).
"""

import base64
import grp
import hashlib
import os
import pwd
import stat

ARGS = {
    "dest": {"type": "path", "required": True, "help": "Where the file goes on the host."},
    "content": {"type": "str", "no_log": True,
                "help": "The file's content, given in the task (instead of src)."},
    "src": {"type": "path",
            "help": "With remote_src: a file or folder on the host to copy from."},
    "remote_src": {"type": "bool", "default": False,
                   "help": "src is on the host, not on the controller."},
    "decrypt": {"type": "bool", "default": True,
                "help": "Send a vault-encrypted controller src decrypted (as Ansible does)."},
    "backup": {"type": "bool", "default": False,
               "help": "Keep a timestamped copy of the file being replaced."},
    "force": {"type": "bool", "default": True, "aliases": ["thirsty"],
              "help": "Replace a file whose content differs; with no, only create."},
    "validate": {"type": "str",
                 "help": "Command run on the new file (%s) before it replaces the old one."},
    "owner": {"type": "str", "help": "Owner of the file."},
    "group": {"type": "str", "help": "Group of the file."},
    "mode": {"type": "raw",
             "help": "Octal or symbolic mode; 'preserve' keeps the source file's mode."},
    "directory_mode": {"type": "raw", "help": "Mode of folders created while copying."},
    "follow": {"type": "bool", "default": False,
               "help": "Write through a symlink at dest instead of replacing the link."},
    "checksum": {"type": "str",
                 "help": "Expected SHA1 of the content; a mismatch fails before writing."},
    "unsafe_writes": {"type": "bool", "default": False,
                      "help": "If the atomic rename is refused (EBUSY: a file bind-mounted"
                               " into a container), write in place instead."},
    "_content_b64": {"type": "str", "help": "The content, base64 (sent by controller actions)."},
    "_src_name": {"type": "str", "help": "Basename of the controller's src (dest folders)."},
    "_src_mode": {"type": "str", "help": "Mode of the controller's src (for mode=preserve)."},
    "_stream_ref": {"type": "str",
                    "help": "A big controller file, sent in chunks on request (copy action)."},
    "_stream_sha1": {"type": "str", "help": "SHA1 of the streamed file."},
    "_stream_size": {"type": "int", "help": "Size of the streamed file in bytes."},
}
MUTUALLY_EXCLUSIVE = [["content", "src"]]


def sha1(data):
    if is_stream(data):
        return data.sha1
    return hashlib.sha1(data).hexdigest()


def is_stream(data):
    """A big controller file (m.stream): compared by SHA-1, fetched only when needed."""
    return hasattr(data, "write_to")


def file_sha1(path):
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def make_dirs(m, folder, mode):
    """Create folder and missing parents (directory_mode on each one created)."""
    missing = []
    while folder and not os.path.isdir(folder):
        missing.append(folder)
        folder = os.path.dirname(folder)
    if not m.check_mode:
        for path in reversed(missing):
            os.mkdir(path)
            if mode is not None:
                os.chmod(path, m.parse_mode(mode, 0o777 & ~_umask(), is_dir=True))
    return bool(missing)


def _umask():
    current = os.umask(0)
    os.umask(current)
    return current


def put_file(m, p, dest, data, src_mode):
    """Converge one file; returns (changed, msg, diffs, extra result keys)."""
    mode = p["mode"]
    if mode == "preserve":
        mode = src_mode
    if os.path.isdir(dest):
        m.fail("dest %s is a directory; cannot put a file there" % dest, dest=dest)
    # Without follow a symlink at dest is compared through, but replaced by a file when
    # the content differs (Ansible's behaviour); with follow its target is written.
    write_path = os.path.realpath(dest) if p["follow"] and os.path.islink(dest) else dest
    exists = os.path.lexists(write_path)
    extra = {}
    if exists and not p["force"]:
        return False, "file already exists (force=no)", [], extra
    diffs = []
    if is_stream(data):
        # A big file is compared by SHA-1 and only fetched when it differs.
        old = None
        old_sha1 = file_sha1(write_path) if os.path.isfile(write_path) else None
        content_changed = old_sha1 != data.sha1
        if content_changed:
            diffs.append({"before_header": dest, "after_header": dest,
                          "before": "" if old_sha1 is None else "(sha1 %s)\n" % old_sha1,
                          "after": "(%d bytes, sha1 %s)\n" % (data.size, data.sha1)})
    else:
        old = m.read_bytes(write_path) if os.path.exists(write_path) else None
        content_changed = old != data
        if content_changed:
            diffs.append(m.text_diff(old, data, dest))
    attrs = (False, {}, {})
    if not content_changed:
        attrs = m.plan_attributes(write_path, p["owner"], p["group"], mode)
    if attrs[0]:
        diffs.append({"before": attrs[1], "after": attrs[2]})
    if not content_changed and not attrs[0]:
        return False, "file already has this content and attributes", diffs, extra
    msg = "file created" if not exists else "content changed" if content_changed \
        else "attributes changed"
    if m.check_mode:
        return True, msg, diffs, extra
    if content_changed:
        extra.update(m.atomic_write(write_path, data, mode=mode, owner=p["owner"],
                                    group=p["group"], backup=p["backup"],
                                    validate=p["validate"],
                                    unsafe_writes=p["unsafe_writes"], follow=False))
    m.set_attributes(write_path, p["owner"], p["group"], mode)
    return True, msg, diffs, extra


def file_facts(path):
    st = os.stat(path)
    out = {"size": st.st_size, "mode": "%04o" % stat.S_IMODE(st.st_mode),
           "uid": st.st_uid, "gid": st.st_gid, "state": "file"}
    try:
        out["owner"] = pwd.getpwuid(st.st_uid).pw_name
        out["group"] = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        pass
    return out


def copy_tree(m, p, src, dest):
    """remote_src folder copy: each file converged on its own; returns (changed, diffs)."""
    changed = False
    diffs = []
    src_is_contents = src.endswith("/")
    src = src.rstrip("/")
    root = dest if src_is_contents else os.path.join(dest, os.path.basename(src))
    if make_dirs(m, root, p["directory_mode"]):
        changed = True
    for dirpath, dirnames, filenames in os.walk(src):
        rel = os.path.relpath(dirpath, src)
        target_dir = root if rel == "." else os.path.join(root, rel)
        for name in sorted(dirnames):
            if make_dirs(m, os.path.join(target_dir, name), p["directory_mode"]):
                changed = True
        for name in sorted(filenames):
            src_file = os.path.join(dirpath, name)
            data = m.read_bytes(src_file)
            src_mode = "%04o" % stat.S_IMODE(os.stat(src_file).st_mode)
            dest_file = os.path.join(target_dir, name)
            if m.check_mode and not os.path.isdir(target_dir):
                changed = True
                continue
            file_changed, _msg, file_diffs, _ = put_file(m, p, dest_file, data, src_mode)
            changed = changed or file_changed
            diffs.extend(d for d in file_diffs if d)
    return changed, diffs


def main(m):
    p = m.params
    dest = p["dest"]
    content = p["content"]
    src_mode = p["_src_mode"]
    if sum(x is not None for x in (content, p["_content_b64"], p["src"],
                                   p["_stream_ref"])) != 1:
        m.fail("give exactly one of content, src (with remote_src) or _content_b64")
    if p["src"] is not None and not p["remote_src"]:
        m.fail("src on the controller must be sent by the copy action; "
               "on the host use remote_src: true")
    if p["validate"] is not None and "%s" not in p["validate"]:
        m.fail("validate must contain %%s: %s" % p["validate"])

    data = None
    if p["_stream_ref"] is not None:
        data = m.stream(p["_stream_ref"], p["_stream_sha1"], p["_stream_size"])
    elif content is not None:
        data = content.encode("utf-8")
    elif p["_content_b64"] is not None:
        try:
            data = base64.b64decode(p["_content_b64"], validate=True)
        except (ValueError, TypeError) as exc:
            m.fail("_content_b64 is not valid base64: %s" % exc)
    else:
        src = p["src"]
        if not os.path.exists(src):
            m.fail("Source %s not found" % src, src=src)
        if not os.access(src, os.R_OK):
            m.fail("Source %s not readable" % src, src=src)
        if os.path.isdir(src):
            if p["validate"]:
                m.fail("validate cannot be used when copying a folder")
            changed, diffs = copy_tree(m, p, src, dest)
            result = {"changed": changed, "dest": dest, "src": src,
                      "msg": "folder copied" if changed else "folder already up to date"}
            if diffs and m.diff_mode:
                result["diff"] = diffs
            return result
        data = m.read_bytes(src)
        src_mode = "%04o" % stat.S_IMODE(os.stat(src).st_mode)

    if p["checksum"] and sha1(data).lower() != p["checksum"].lower():
        m.fail("checksum mismatch: the content's SHA1 is %s, expected %s"
               % (sha1(data), p["checksum"]))

    name = p["_src_name"] or (os.path.basename(p["src"]) if p["src"] else None)
    dest_is_folder = dest.endswith("/") or os.path.isdir(dest)
    if dest_is_folder:
        if content is not None and not name:
            m.fail("can not use content with a dir as dest")
        if not name:
            m.fail("dest %s is a folder and the source has no file name" % dest)
        dest = os.path.join(dest, name)
        # In check mode the folder is only planned: the file inside it is then new.
        make_dirs(m, os.path.dirname(dest), p["directory_mode"])
    folder = os.path.dirname(dest)
    # Bytes from the controller (content, template, copy of a controller file): in check
    # mode Ansible's action plugin reports a missing file as changed without asking the
    # target, so a folder that an earlier task would create is no error there either.
    from_controller = p["src"] is None
    if folder and not os.path.isdir(folder) and not (
            m.check_mode and (dest_is_folder or from_controller)):
        m.fail("Destination directory %s does not exist" % folder, dest=dest)

    changed, msg, diffs, extra = put_file(m, p, dest, data, src_mode)
    result = {"changed": changed, "dest": dest, "msg": msg, "checksum": sha1(data)}
    result.update(extra)
    if p["src"] is not None:
        result["src"] = p["src"]
    diffs = [d for d in diffs if d]
    if diffs and m.diff_mode:
        result["diff"] = diffs if len(diffs) > 1 else diffs[0]
    if not m.check_mode and os.path.exists(dest):
        result.update(file_facts(dest))
    return result
