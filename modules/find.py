"""List files by name pattern, age, size, type or content.

Read-only. `patterns` are shell globs on the base name (or Python regexps with
`use_regex`, matched from the start of the name); `excludes` take names out
again. `age` and `size` take a sign: `age: 2w` is at least two weeks old,
`age: -1d` is younger than a day; `size: 10m` is at least 10 MiB, `-1k` at most
1 KiB. `contains` is a regexp searched line by line in regular files.
"""

import fnmatch
import grp
import hashlib
import os
import pwd
import re
import stat
import time

ARGS = {
    "paths": {"type": "list", "elements": "path", "required": True, "aliases": ["name", "path"],
              "help": "Folders to search."},
    "patterns": {"type": "list", "elements": "str", "default": [], "aliases": ["pattern"],
                 "help": "Globs (or regexps with use_regex) the base name must match."},
    "excludes": {"type": "list", "elements": "str", "aliases": ["exclude"],
                 "help": "Globs (or regexps) that take matching names out."},
    "contains": {"type": "str", "help": "Regexp a regular file's content must match."},
    "read_whole_file": {"type": "bool", "default": False,
                        "help": "Match contains against the whole file, not line by line."},
    "file_type": {"type": "str", "default": "file",
                  "choices": ["any", "directory", "file", "link"],
                  "help": "Kind of entries to return."},
    "recurse": {"type": "bool", "default": False, "help": "Descend into folders."},
    "depth": {"type": "int", "help": "With recurse: how many levels down to go."},
    "age": {"type": "str", "help": "Minimum age (or maximum with '-'): 30s, 5m, 2h, 1d, 1w."},
    "age_stamp": {"type": "str", "default": "mtime", "choices": ["atime", "ctime", "mtime"],
                  "help": "Which time age compares."},
    "size": {"type": "str", "help": "Minimum size (or maximum with '-'): 10, 5k, 3m, 1g, 1t."},
    "hidden": {"type": "bool", "default": False, "help": "Include names starting with '.'."},
    "follow": {"type": "bool", "default": False, "help": "Follow symlinks to folders."},
    "get_checksum": {"type": "bool", "default": False,
                     "help": "Add the sha1 checksum of regular files."},
    "use_regex": {"type": "bool", "default": False,
                  "help": "patterns/excludes are Python regexps, not globs."},
    "encoding": {"type": "str", "default": "utf-8", "help": "Encoding used for contains."},
}

_AGE = re.compile(r"^(-?\d+)([smhdw]?)$")
_SIZE = re.compile(r"^(-?\d+)([bkmgt]?)$")
_SECONDS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_BYTES = {"": 1, "b": 1, "k": 1024, "m": 1024 ** 2, "g": 1024 ** 3, "t": 1024 ** 4}


def name_matches(name, patterns, excludes, use_regex):
    def hit(pattern):
        if use_regex:
            return re.match(pattern, name) is not None
        return fnmatch.fnmatch(name, pattern)

    if patterns and not any(hit(pat) for pat in patterns):
        return False
    return not (excludes and any(hit(pat) for pat in excludes))


def kind_matches(st, file_type):
    if file_type == "any":
        return True
    if file_type == "directory":
        return stat.S_ISDIR(st.st_mode)
    if file_type == "link":
        return stat.S_ISLNK(st.st_mode)
    return stat.S_ISREG(st.st_mode)


def contains_match(path, regex, whole, encoding):
    try:
        with open(path, "r", encoding=encoding, errors="replace") as fh:
            if whole:
                return regex.search(fh.read()) is not None
            return any(regex.search(line) for line in fh)
    except OSError:
        return False


def describe(path, st):
    mode = st.st_mode
    info = {
        "path": path, "mode": "%04o" % stat.S_IMODE(mode),
        "isdir": stat.S_ISDIR(mode), "isreg": stat.S_ISREG(mode), "islnk": stat.S_ISLNK(mode),
        "ischr": stat.S_ISCHR(mode), "isblk": stat.S_ISBLK(mode),
        "isfifo": stat.S_ISFIFO(mode), "issock": stat.S_ISSOCK(mode),
        "uid": st.st_uid, "gid": st.st_gid, "size": st.st_size, "inode": st.st_ino,
        "dev": st.st_dev, "nlink": st.st_nlink,
        "atime": st.st_atime, "mtime": st.st_mtime, "ctime": st.st_ctime,
        "wusr": bool(mode & stat.S_IWUSR), "rusr": bool(mode & stat.S_IRUSR),
        "xusr": bool(mode & stat.S_IXUSR), "wgrp": bool(mode & stat.S_IWGRP),
        "rgrp": bool(mode & stat.S_IRGRP), "xgrp": bool(mode & stat.S_IXGRP),
        "woth": bool(mode & stat.S_IWOTH), "roth": bool(mode & stat.S_IROTH),
        "xoth": bool(mode & stat.S_IXOTH),
        "isuid": bool(mode & stat.S_ISUID), "isgid": bool(mode & stat.S_ISGID),
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


def sha1_of(path):
    digest = hashlib.sha1()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def main(m):
    p = m.params
    age = size = None
    if p["age"] is not None:
        match = _AGE.match(str(p["age"]).strip().lower())
        if not match:
            m.fail("failed to process age %r (use e.g. 30s, 5m, 2h, 1d, 1w, -1d)" % p["age"])
        age = int(match.group(1)) * _SECONDS[match.group(2)]
    if p["size"] is not None:
        match = _SIZE.match(str(p["size"]).strip().lower())
        if not match:
            m.fail("failed to process size %r (use e.g. 10, 5k, 3m, 1g, -1k)" % p["size"])
        size = int(match.group(1)) * _BYTES[match.group(2)]
    regex = None
    try:
        if p["contains"] is not None:
            regex = re.compile(p["contains"], re.MULTILINE if p["read_whole_file"] else 0)
        if p["use_regex"]:
            for pat in (p["patterns"] or []) + (p["excludes"] or []):
                re.compile(pat)
    except re.error as exc:
        m.fail("invalid regular expression: %s" % exc)

    now = time.time()
    found, examined, skipped = [], 0, {}
    for top in p["paths"]:
        if not os.path.isdir(top):
            skipped[top] = "%s was skipped as it does not seem to be a valid directory or " \
                           "it cannot be accessed" % top
            continue
        top_depth = top.rstrip(os.sep).count(os.sep)

        def walk_error(exc, top=top):
            skipped[getattr(exc, "filename", top) or top] = str(exc)

        for root, dirs, files in os.walk(top, followlinks=p["follow"], onerror=walk_error):
            level = root.rstrip(os.sep).count(os.sep) - top_depth
            dirs.sort()
            examined += len(dirs) + len(files)
            for name in sorted(dirs + files):
                # Like Ansible, hidden folders are still walked: only names starting
                # with '.' are left out.
                if not p["hidden"] and name.startswith("."):
                    continue
                path = os.path.join(root, name)
                try:
                    st = os.stat(path) if p["follow"] else os.lstat(path)
                except OSError as exc:
                    skipped[path] = str(exc)
                    continue
                if not kind_matches(st, p["file_type"]):
                    continue
                if not name_matches(name, p["patterns"], p["excludes"], p["use_regex"]):
                    continue
                if age is not None:
                    stamp = getattr(st, "st_" + p["age_stamp"])
                    elapsed = now - stamp
                    if (age >= 0 and elapsed < age) or (age < 0 and elapsed > abs(age)):
                        continue
                if size is not None:
                    if (size >= 0 and st.st_size < size) or (size < 0 and st.st_size > abs(size)):
                        continue
                if regex is not None:
                    if not stat.S_ISREG(st.st_mode):
                        continue
                    if not contains_match(path, regex, p["read_whole_file"], p["encoding"]):
                        continue
                info = describe(path, st)
                if p["get_checksum"] and stat.S_ISREG(st.st_mode):
                    try:
                        info["checksum"] = sha1_of(path)
                    except OSError:
                        pass
                found.append(info)
            if not p["recurse"] or (p["depth"] is not None and level + 1 >= p["depth"]):
                dirs[:] = []
    msg = "All paths examined" if not skipped else "Not all paths examined, check warnings"
    if skipped:
        for path, why in sorted(skipped.items()):
            m.warn("skipped %s: %s" % (path, why))
    return {"changed": False, "files": found, "matched": len(found), "examined": examined,
            "skipped_paths": skipped, "msg": msg}
