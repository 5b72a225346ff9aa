"""Report a file's existence, type, owner, mode, size, times and checksum.

Read-only: never changes anything. The answer is under `stat`, with Ansible's
keys (`exists`, `isdir`, `mode` as "0644", `pw_name`, `checksum`, ...), so
`when: result.stat.exists` works as in Ansible playbooks.
"""

import grp
import hashlib
import os
import pwd
import stat as st_mod

ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["dest", "name"],
             "help": "The file or folder to look at."},
    "follow": {"type": "bool", "default": False,
               "help": "Follow a symlink and report on its target."},
    "get_checksum": {"type": "bool", "default": True,
                     "help": "Compute the checksum of a regular file."},
    "checksum_algorithm": {"type": "str", "default": "sha1",
                           "aliases": ["checksum", "checksum_algo"],
                           "choices": ["md5", "sha1", "sha224", "sha256", "sha384", "sha512"],
                           "help": "Hash used for `checksum`."},
    "get_mime": {"type": "bool", "default": True, "aliases": ["mime", "mime_type", "mime-type"],
                 "help": "Add mimetype and charset (needs the `file` command)."},
    "get_attributes": {"type": "bool", "default": True, "aliases": ["attr", "attributes"],
                       "help": "Add the ext2/3/4 attributes (needs `lsattr`)."},
}


# lsattr flag letters and the names Ansible reports for them in `attributes`.
FLAG_NAMES = {
    "A": "noatime", "a": "append", "c": "compressed", "C": "nocow", "d": "nodump",
    "D": "dirsync", "e": "extents", "E": "encrypted", "h": "blocksize", "i": "immutable",
    "I": "indexed", "j": "journalled", "N": "inline", "s": "zero", "S": "synchronous",
    "t": "notail", "T": "blockroot", "u": "undelete", "X": "compressedraw",
    "Z": "compresseddirty", "F": "casefold", "P": "projinherit", "V": "verity",
    "x": "dax",
}


def file_checksum(path, algorithm):
    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def describe(path, st):
    """Ansible's stat keys for one stat_result."""
    mode = st.st_mode
    info = {
        "exists": True,
        "path": path,
        "mode": "%04o" % st_mod.S_IMODE(mode),
        "isdir": st_mod.S_ISDIR(mode),
        "ischr": st_mod.S_ISCHR(mode),
        "isblk": st_mod.S_ISBLK(mode),
        "isreg": st_mod.S_ISREG(mode),
        "isfifo": st_mod.S_ISFIFO(mode),
        "islnk": st_mod.S_ISLNK(mode),
        "issock": st_mod.S_ISSOCK(mode),
        "uid": st.st_uid,
        "gid": st.st_gid,
        "size": st.st_size,
        "inode": st.st_ino,
        "dev": st.st_dev,
        "nlink": st.st_nlink,
        "atime": st.st_atime,
        "mtime": st.st_mtime,
        "ctime": st.st_ctime,
        "wusr": bool(mode & st_mod.S_IWUSR),
        "rusr": bool(mode & st_mod.S_IRUSR),
        "xusr": bool(mode & st_mod.S_IXUSR),
        "wgrp": bool(mode & st_mod.S_IWGRP),
        "rgrp": bool(mode & st_mod.S_IRGRP),
        "xgrp": bool(mode & st_mod.S_IXGRP),
        "woth": bool(mode & st_mod.S_IWOTH),
        "roth": bool(mode & st_mod.S_IROTH),
        "xoth": bool(mode & st_mod.S_IXOTH),
        "isuid": bool(mode & st_mod.S_ISUID),
        "isgid": bool(mode & st_mod.S_ISGID),
    }
    try:
        info["pw_name"] = pwd.getpwuid(st.st_uid).pw_name
    except KeyError:
        pass
    try:
        info["gr_name"] = grp.getgrgid(st.st_gid).gr_name
    except KeyError:
        pass
    return info


def main(m):
    p = m.params
    path = p["path"]
    try:
        st = os.stat(path) if p["follow"] else os.lstat(path)
    except FileNotFoundError:
        return {"changed": False, "stat": {"exists": False}, "msg": "%s does not exist" % path}
    except OSError as exc:
        m.fail("cannot stat %s: %s" % (path, exc.strerror or exc), path=path)
    info = describe(path, st)
    info["readable"] = os.access(path, os.R_OK)
    info["writeable"] = os.access(path, os.W_OK)
    info["executable"] = os.access(path, os.X_OK)
    if info["islnk"]:
        info["lnk_source"] = os.path.realpath(path)
        info["lnk_target"] = os.readlink(path)
    if info["isreg"] and p["get_checksum"] and info["readable"]:
        info["checksum"] = file_checksum(path, p["checksum_algorithm"])
    if p["get_mime"]:
        tool = m.which("file")
        if tool:
            rc, out, _ = m.run([tool, "-i", "-b", "-L" if p["follow"] else "-h", path],
                               env={"LC_ALL": "C"})
            if rc == 0 and out.strip():
                mime, _, rest = out.strip().partition(";")
                info["mimetype"] = mime.strip()
                info["charset"] = rest.strip().replace("charset=", "") or "unknown"
    tool = m.which("lsattr") if p["get_attributes"] else None
    if tool:
        info["attr_flags"], info["attributes"] = "", []
        if info["isreg"] or info["isdir"]:  # lsattr cannot read links, devices, sockets
            rc, out, _ = m.run([tool, "-dv", path], env={"LC_ALL": "C"})
            fields = out.split()
            if rc == 0 and len(fields) >= 3:
                info["version"] = fields[0]
                info["attr_flags"] = fields[1].replace("-", "")
                info["attributes"] = [FLAG_NAMES.get(f, f) for f in info["attr_flags"]]
    kind = "directory" if info["isdir"] else "symlink" if info["islnk"] else "file"
    return {"changed": False, "stat": info, "msg": "%s exists (%s)" % (path, kind)}
