"""The `m` object modules run against on the target, and `run_module` that runs one module.

Target-side code: standard library only, Python 3.7+. The agent (`agent.py`) and the unit
tests both execute a module through `run_module`, so what a test sees is what a host does.
The contract is written down in docs/ARCHITECTURE.md ("Module contract", "Runtime API").

Safety choices made here rather than in every module:
- `atomic_write` never replaces a file in place: temp file in the same folder, fsync,
  validate, rename. A killed agent leaves the old file (and at worst a `.NAME.*.pyengine-tmp`
  file next to it), never a half-written one.
- `atomic_write`, `backup_local` and `set_attributes` do nothing in check mode, so a module
  that forgets to stop after its plan still cannot change the host.
- `run` gives child processes /dev/null as stdin unless data is passed: the agent's stdin
  is its protocol channel and a child must never read from it.
- while a module runs, `sys.stdout` is redirected: a stray print cannot corrupt the
  agent's framed stdout (what was printed comes back as a warning).
"""

from __future__ import annotations

import base64
import contextlib
import errno
import grp
import hashlib
import importlib.util
import io
import linecache
import os
import pwd
import re
import shlex
import shutil
import stat
import subprocess
import sys
import tempfile
import time
import traceback
# Annotations only (postponed by the __future__ import): the target never imports typing,
# 2-10 ms of every agent's start. mypy takes a bare TYPE_CHECKING name as true.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Callable, Dict, List, Optional, Tuple, Union

__all__ = ["Module", "ModuleFail", "run_module", "MAX_DIFF_BYTES"]

# Like Ansible's max_file_size_for_diff: bigger contents are summarised, not shipped back.
MAX_DIFF_BYTES = 104448

TEMP_SUFFIX = ".pyengine-tmp"

# Folders Ansible's get_bin_path also searches: a non-login SSH session often lacks sbin.
_EXTRA_BIN_DIRS = ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/local/bin", "/usr/bin", "/bin"]

# Ansible's boolean words. The controller's copy is pyengine/booleans.py; this one stays
# because the runtime runs on the target (standard library only, no pyengine imports).
_BOOL_TRUE = {"yes", "on", "1", "true", "y", "t"}
_BOOL_FALSE = {"no", "off", "0", "false", "n", "f", ""}


class ModuleFail(Exception):
    """Raised by `m.fail`; `run_module` turns it into {"failed": True, "msg": ..., **data}."""

    def __init__(self, msg: str, **data: Any) -> None:
        super().__init__(msg)
        self.msg = msg
        self.data = data


class Module:
    """What a module's `main(m)` gets: its arguments, the run's flags and host helpers."""

    def __init__(
        self,
        params: Optional[Dict[str, Any]] = None,
        check_mode: bool = False,
        diff_mode: bool = False,
        facts: Optional[Dict[str, Any]] = None,
        tmpdir: Optional[str] = None,
        environment: Optional[Dict[str, str]] = None,
        name: str = "module",
    ) -> None:
        self.params = dict(params or {})  # type: Dict[str, Any]
        self.check_mode = bool(check_mode)
        self.diff_mode = bool(diff_mode)
        self.facts = dict(facts or {})  # type: Dict[str, Any]
        self.tmpdir = tmpdir or tempfile.gettempdir()
        self.environment = dict(environment or {})  # type: Dict[str, str]
        self.name = name
        self.warnings = []  # type: List[str]

    # ----------------------------------------------------------------- results
    def fail(self, msg: str, **data: Any) -> None:
        """Stop the module; the task fails with `msg` and `data`."""
        raise ModuleFail(msg, **data)

    def warn(self, msg: str) -> None:
        """Add a warning to the task's result (shown by the controller)."""
        if msg not in self.warnings:
            self.warnings.append(msg)

    # ---------------------------------------------------------------- commands
    def run(
        self,
        argv: List[str],
        data: Union[str, bytes, None] = None,
        cwd: Optional[str] = None,
        env: Optional[Dict[str, str]] = None,
        check: bool = False,
    ) -> Tuple[int, str, str]:
        """Run argv (a list, never a shell string) and return (rc, stdout, stderr) as text.

        A missing executable gives rc 127 and the reason on stderr, like a shell would.
        `check=True` fails the module when rc != 0.
        """
        if isinstance(argv, (str, bytes)):
            raise TypeError("m.run takes an argv list, not a shell string")
        argv = [str(a) for a in argv]
        run_env = os.environ.copy()
        run_env.update(self.environment)
        if env:
            run_env.update({k: str(v) for k, v in env.items()})
        stdin_bytes = data.encode("utf-8") if isinstance(data, str) else data
        try:
            proc = subprocess.Popen(
                argv,
                stdin=subprocess.PIPE if stdin_bytes is not None else subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                cwd=cwd,
                env=run_env,
                close_fds=True,
            )
            out, err = proc.communicate(stdin_bytes)
            rc = proc.returncode
            stdout = out.decode("utf-8", "replace")
            stderr = err.decode("utf-8", "replace")
        except OSError as exc:
            rc = 127 if exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC) else 1
            stdout, stderr = "", "%s: %s" % (argv[0] if argv else "", exc.strerror or exc)
        if check and rc != 0:
            first = (stderr.strip() or stdout.strip()).splitlines()
            self.fail(
                "%s failed (rc=%d)%s" % (" ".join(shlex.quote(a) for a in argv), rc,
                                         ": " + first[-1] if first else ""),
                rc=rc, stdout=stdout, stderr=stderr, cmd=argv,
            )
        return rc, stdout, stderr

    def which(self, name: str, required: bool = False) -> Optional[str]:
        """Absolute path of an executable on PATH or in the sbin folders; None if absent."""
        if os.path.isabs(name):
            found = name if os.access(name, os.X_OK) and not os.path.isdir(name) else None
        else:
            dirs = [d for d in os.environ.get("PATH", "").split(os.pathsep) if d]
            dirs += [d for d in _EXTRA_BIN_DIRS if d not in dirs]
            found = shutil.which(name, path=os.pathsep.join(dirs))
        if found is None and required:
            self.fail("cannot find required executable %r on this host" % name)
        return found

    # ------------------------------------------------------------------- files
    def read_bytes(self, path: str) -> Optional[bytes]:
        """The file's bytes, or None when it does not exist."""
        path = os.path.expanduser(path)
        try:
            with open(path, "rb") as fh:
                return fh.read()
        except FileNotFoundError:
            return None
        except IsADirectoryError:
            self.fail("%s is a directory, not a file" % path, path=path)
        except OSError as exc:
            self.fail("cannot read %s: %s" % (path, exc.strerror or exc), path=path)
        return None  # not reached; keeps type checkers calm

    def atomic_write(
        self,
        path: str,
        data: Union[str, bytes],
        mode: Any = None,
        owner: Any = None,
        group: Any = None,
        backup: bool = False,
        validate: Optional[str] = None,
        follow: bool = True,
        unsafe_writes: bool = False,
    ) -> Dict[str, Any]:
        """Replace `path` with `data` so that readers see the old or the new file, never a mix.

        Temp file in the same folder, write, fsync, chmod/chown (an existing file's mode,
        owner and SELinux label are kept unless given), `validate` (a command with %s) on
        the temp file, backup, rename over the target, fsync the folder. Returns a dict
        with `backup_file` when a backup was made. Does nothing in check mode.
        """
        result = {}  # type: Dict[str, Any]
        if self.check_mode:
            return result
        path = os.path.expanduser(path)
        if follow and os.path.islink(path):
            path = os.path.realpath(path)
        if validate is not None and "%s" not in validate:
            self.fail("validate must contain %%s: %s" % validate)
        if os.path.isdir(path):
            self.fail("%s is a directory, not a file" % path, path=path)
        folder = os.path.dirname(os.path.abspath(path))
        if not os.path.isdir(folder):
            self.fail("destination folder %s does not exist" % folder, path=path)
        payload = data.encode("utf-8") if isinstance(data, str) else data
        streamed = hasattr(payload, "write_to")  # a Stream: written as it arrives
        if streamed and unsafe_writes:
            self.fail("unsafe_writes cannot be used with a streamed file", path=path)
        try:
            old = os.stat(path)  # type: Optional[os.stat_result]
        except FileNotFoundError:
            old = None
        if old is not None:
            current_mode = stat.S_IMODE(old.st_mode)
        else:
            current_mode = 0o666 & ~_umask()
        new_mode = self.parse_mode(mode, current_mode) if mode is not None else current_mode
        uid = self._uid(owner) if owner is not None else (old.st_uid if old else -1)
        gid = self._gid(group) if group is not None else (old.st_gid if old else -1)

        fd, tmp = tempfile.mkstemp(
            prefix="." + os.path.basename(path) + ".", suffix=TEMP_SUFFIX, dir=folder
        )
        try:
            with os.fdopen(fd, "wb") as fh:
                if streamed:
                    payload.write_to(fh)  # type: ignore[attr-defined]
                else:
                    fh.write(payload)  # type: ignore[arg-type]
                fh.flush()
                if uid != -1 or gid != -1:
                    try:
                        os.fchown(fh.fileno(), uid, gid)
                    except PermissionError:
                        if owner is not None or group is not None:
                            raise
                        self.warn("could not keep the owner of %s (not root)" % path)
                os.fchmod(fh.fileno(), new_mode)  # after chown: chown clears setuid bits
                if old is not None:
                    _copy_selinux_label(path, fh.fileno())
                os.fsync(fh.fileno())  # data and attributes on disk before the rename
            if validate:
                argv = [arg.replace("%s", tmp) for arg in shlex.split(validate)]
                rc, out, err = self.run(argv)
                if rc != 0:
                    detail = (err.strip() or out.strip()).splitlines()
                    self.fail(
                        "failed to validate%s" % (": " + detail[-1] if detail else ""),
                        exit_status=rc, stdout=out, stderr=err, cmd=argv, path=path,
                    )
            if backup and old is not None:
                result["backup_file"] = self.backup_local(path)
            try:
                os.replace(tmp, path)
            except OSError as exc:
                # A file bind-mounted into a container cannot be renamed over (EBUSY);
                # only with unsafe_writes is it rewritten in place, as Ansible does.
                if not (unsafe_writes and exc.errno in (errno.EBUSY, errno.EXDEV)):
                    raise
                self.warn("%s could not be replaced atomically (%s): written in place "
                          "(unsafe_writes)" % (path, exc.strerror))
                with open(path, "wb") as in_place:
                    in_place.write(payload)
                    in_place.flush()
                    os.fsync(in_place.fileno())
                os.unlink(tmp)
            tmp = ""
            _fsync_dir(folder)
        except OSError as exc:
            self.fail("cannot write %s: %s" % (path, exc.strerror or exc), path=path)
        finally:
            if tmp:
                with contextlib.suppress(OSError):
                    os.unlink(tmp)
        return result

    def backup_local(self, path: str) -> str:
        """Copy `path` to `path.PID.YYYY-MM-DD@HH:MM:SS~` (Ansible's name) and return it."""
        path = os.path.expanduser(path)
        backup = "%s.%d.%s" % (path, os.getpid(), time.strftime("%Y-%m-%d@%H:%M:%S~"))
        if self.check_mode or not os.path.lexists(path):
            return backup
        try:
            shutil.copy2(path, backup)
            st = os.stat(path)
            with contextlib.suppress(OSError):
                os.chown(backup, st.st_uid, st.st_gid)
        except OSError as exc:
            self.fail("cannot back up %s: %s" % (path, exc.strerror or exc), path=path)
        return backup

    def plan_attributes(
        self,
        path: str,
        owner: Any = None,
        group: Any = None,
        mode: Any = None,
        follow: bool = True,
    ) -> Tuple[bool, Dict[str, Any], Dict[str, Any]]:
        """What `set_attributes` would change, without changing it: (changed, before, after).

        Lets a module put the attribute diff in its plan before it writes content, so a
        failed `validate` leaves even the original's mode untouched.
        """
        changed, before, after, _ = self._attribute_plan(path, owner, group, mode, follow)
        return changed, before, after

    def set_attributes(
        self,
        path: str,
        owner: Any = None,
        group: Any = None,
        mode: Any = None,
        follow: bool = True,
    ) -> Tuple[bool, Dict[str, Any], Dict[str, Any]]:
        """Bring owner, group and mode of `path` to what is asked; (changed, before, after).

        `before`/`after` hold only what differs (plus `path`), ready for a diff. With
        `follow=False` a symlink itself is changed (its mode cannot be: Linux has no lchmod).
        In check mode nothing is changed but the same answer is given.
        """
        changed, before, after, todo = self._attribute_plan(path, owner, group, mode, follow)
        if changed and not self.check_mode:
            path, uid, gid, new_mode, st = todo
            try:
                if uid != st.st_uid or gid != st.st_gid:
                    if follow:
                        os.chown(path, uid, gid)
                    else:
                        os.lchown(path, uid, gid)
                if new_mode is not None and (
                    new_mode != stat.S_IMODE(st.st_mode) or new_mode & 0o6000
                ):
                    os.chmod(path, new_mode)  # after chown, which clears setuid/setgid
            except OSError as exc:
                self.fail("cannot set attributes of %s: %s" % (path, exc.strerror or exc),
                          path=path)
        return changed, before, after

    def _attribute_plan(self, path: str, owner: Any, group: Any, mode: Any,
                        follow: bool) -> Tuple[bool, Dict[str, Any], Dict[str, Any], Any]:
        path = os.path.expanduser(path)
        try:
            st = os.stat(path) if follow else os.lstat(path)
        except FileNotFoundError:
            self.fail("%s does not exist" % path, path=path)
            raise  # not reached
        before = {"path": path}  # type: Dict[str, Any]
        after = {"path": path}  # type: Dict[str, Any]
        uid = self._uid(owner) if owner not in (None, "") else st.st_uid
        gid = self._gid(group) if group not in (None, "") else st.st_gid
        if uid != st.st_uid:
            before["owner"], after["owner"] = _user_name(st.st_uid), _user_name(uid)
        if gid != st.st_gid:
            before["group"], after["group"] = _group_name(st.st_gid), _group_name(gid)
        current_mode = stat.S_IMODE(st.st_mode)
        new_mode = None  # type: Optional[int]
        if mode not in (None, "") and not stat.S_ISLNK(st.st_mode):
            new_mode = self.parse_mode(mode, current_mode, stat.S_ISDIR(st.st_mode))
            if new_mode != current_mode:
                before["mode"], after["mode"] = "%04o" % current_mode, "%04o" % new_mode
        return len(after) > 1, before, after, (path, uid, gid, new_mode, st)

    def parse_mode(self, mode: Any, current: Optional[int] = None, is_dir: bool = False) -> int:
        """A mode as an int from 0644, "0644", "644", "u=rw,g=r,o=" or "u+x,go-w".

        An int is taken as is (as Ansible does: YAML's 0644 is already octal 420).
        Symbolic modes apply to `current` (0 when unknown) with chmod's rules,
        including X (execute only for folders or files already executable).
        """
        if isinstance(mode, bool):
            self.fail("mode must be in octal or symbolic form, not %r" % (mode,))
        if isinstance(mode, int):
            if not 0 <= mode <= 0o7777:
                self.fail("mode %r is out of range" % (mode,))
            return mode
        text = str(mode).strip()
        if re.match(r"^(0o|0)?[0-7]{1,4}$", text):
            return int(text.replace("o", ""), 8)
        try:
            return _symbolic_mode(text, current or 0, is_dir)
        except ValueError as exc:
            self.fail("mode must be in octal or symbolic form: %s" % exc)
        raise AssertionError("not reached")

    def stream(self, ref: str, sha1: str, size: int) -> "Stream":
        """A controller file too big to travel inside the batch: its bytes come in chunks
        when written (`atomic_write(path, m.stream(...))`), so neither side holds it."""
        return Stream(ref, sha1, size)

    def text_diff(self, before: Union[str, bytes, None], after: Union[str, bytes, None],
                  path: str) -> Optional[Dict[str, Any]]:
        """An Ansible diff dict for a file's content; None unless the run asked for diffs.

        Binary or large contents (over MAX_DIFF_BYTES) are summarised in one line instead
        of being shipped back to the controller.
        """
        if not self.diff_mode:
            return None
        return {
            "before": _diff_text(before),
            "after": _diff_text(after),
            "before_header": path if before is not None else "%s (absent)" % path,
            "after_header": path if after is not None else "%s (absent)" % path,
        }

    # ----------------------------------------------------------------- helpers
    def _uid(self, owner: Any) -> int:
        if isinstance(owner, int) or str(owner).isdigit():
            return int(owner)
        try:
            return pwd.getpwnam(str(owner)).pw_uid
        except KeyError:
            self.fail("user %r does not exist on this host" % owner)
        raise AssertionError("not reached")

    def _gid(self, group: Any) -> int:
        if isinstance(group, int) or str(group).isdigit():
            return int(group)
        try:
            return grp.getgrnam(str(group)).gr_gid
        except KeyError:
            self.fail("group %r does not exist on this host" % group)
        raise AssertionError("not reached")


# --------------------------------------------------------------- module helpers
# Set by the agent: fetch(ref, fileobj) asks the controller for a stream and writes it.
STREAM_FETCHER = None  # type: Optional[Callable[[str, Any], None]]


class Stream(object):
    """Content the controller sends on request, chunk by chunk, checked by SHA-1."""

    def __init__(self, ref: str, sha1: str, size: int) -> None:
        self.ref = ref
        self.sha1 = sha1
        self.size = size

    def write_to(self, fh: Any) -> None:
        if STREAM_FETCHER is None:
            raise ModuleFail("this agent cannot receive streamed files")
        digest = hashlib.sha1()
        written = [0]

        class _Checked(object):
            def write(self, chunk: bytes) -> None:
                digest.update(chunk)
                written[0] += len(chunk)
                fh.write(chunk)

        STREAM_FETCHER(self.ref, _Checked())
        if written[0] != self.size or digest.hexdigest() != self.sha1:
            raise ModuleFail("the streamed file arrived damaged (%d of %d bytes, sha1 %s)"
                             % (written[0], self.size, digest.hexdigest()))


def _umask() -> int:
    current = os.umask(0)
    os.umask(current)
    return current


def _user_name(uid: int) -> Union[str, int]:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return uid


def _group_name(gid: int) -> Union[str, int]:
    try:
        return grp.getgrgid(gid).gr_name
    except KeyError:
        return gid


def _copy_selinux_label(src: str, dst_fd: int) -> None:
    """Give the temp file the label of the file it replaces (no-op without SELinux)."""
    getx = getattr(os, "getxattr", None)
    setx = getattr(os, "setxattr", None)
    if getx is None or setx is None:
        return
    try:
        label = getx(src, "security.selinux")
    except OSError:
        return
    try:
        setx(dst_fd, "security.selinux", label)
    except OSError:
        # Setting the xattr directly can be refused; chcon knows the policy's way.
        chcon = shutil.which("chcon")
        if chcon:
            subprocess.call([chcon, "--reference", src, "/proc/self/fd/%d" % dst_fd],
                            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)


def _fsync_dir(folder: str) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _diff_text(content: Union[str, bytes, None]) -> str:
    if content is None:
        return ""
    raw = content.encode("utf-8", "surrogateescape") if isinstance(content, str) else content
    if len(raw) > MAX_DIFF_BYTES:
        return "[content not shown: %d bytes, over %d]\n" % (len(raw), MAX_DIFF_BYTES)
    if b"\x00" in raw:
        return "[binary content not shown: %d bytes]\n" % len(raw)
    return raw.decode("utf-8", "replace")


_WHO = {"u": (stat.S_IRWXU | stat.S_ISUID, 6), "g": (stat.S_IRWXG | stat.S_ISGID, 3),
        "o": (stat.S_IRWXO | stat.S_ISVTX, 0)}


def _symbolic_mode(text: str, current: int, is_dir: bool) -> int:
    """chmod's symbolic grammar: [ugoa]*([-+=]([rwxXst]*|[ugo]))+ separated by commas."""
    new_mode = current & 0o7777
    umask = _umask()
    for clause in text.split(","):
        match = re.match(r"^([ugoa]*)((?:[-+=][rwxXstugo]*)+)$", clause.strip())
        if not match:
            raise ValueError("bad symbolic permission %r" % clause)
        users, actions = match.group(1), match.group(2)
        use_umask = users == ""
        whos = "ugo" if users in ("", "a") or "a" in users else users
        for op, perms in re.findall(r"([-+=])([rwxXstugo]*)", actions):
            if re.search(r"[ugo]", perms) and len(perms) != 1:
                raise ValueError("bad symbolic permission %r" % clause)
            snapshot = new_mode  # chmod copies u/g/o from the mode before this operation
            for who in whos:
                bits = _perm_bits(who, perms, snapshot, is_dir, use_umask, umask)
                mask, _shift = _WHO[who]
                if op == "=":
                    new_mode = (new_mode & ~mask) | bits
                elif op == "+":
                    new_mode |= bits
                else:
                    new_mode &= ~bits
    return new_mode & 0o7777


def _perm_bits(who: str, perms: str, mode: int, is_dir: bool, use_umask: bool,
               umask: int) -> int:
    shift = _WHO[who][1]
    bits = 0
    for p in perms:
        if p in "rwx":
            bit = {"r": 4, "w": 2, "x": 1}[p] << shift
            if use_umask:
                bit &= ~umask
            bits |= bit
        elif p == "X":
            if is_dir or mode & 0o111:
                bits |= 1 << shift
        elif p == "s":
            bits |= {"u": stat.S_ISUID, "g": stat.S_ISGID, "o": 0}[who]
        elif p == "t":
            bits |= stat.S_ISVTX if who == "o" else 0
        else:  # copy another class's bits: g=u
            src_shift = _WHO[p][1]
            bits |= ((mode >> src_shift) & 7) << shift
    return bits


# ------------------------------------------------------- shared helpers (module_utils)
# Native modules import shared stdlib helpers by name (`from module_utils.textfile import
# ...`), as Ansible modules import ansible.module_utils. The agent registers the helper
# sources it was sent (`add_module_utils`) and this finder serves them from memory. Where
# this file runs from a real checkout or wheel (unit tests that run a module's source
# directly), a helper not registered is read from modules/module_utils/ beside it.
UTILS_PACKAGE = "module_utils"
_UTILS = {}  # type: Dict[str, str]


def add_module_utils(files: Dict[str, str]) -> None:
    """Make helper files ({'module_utils/x.py': source}) importable in this process."""
    _UTILS.update(files)
    if not any(isinstance(f, _UtilsFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, _UtilsFinder())


def _local_utils_dir() -> Optional[str]:
    here = globals().get("__file__") or ""
    if not os.path.isfile(here):
        return None  # on a target: only what the agent was sent
    folder = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(here))),
                          "_content", "modules", UTILS_PACKAGE)
    return folder if os.path.isdir(folder) else None


class _UtilsFinder(object):
    """A meta-path finder and loader for `module_utils` and `module_utils.*` only."""

    def _relpath(self, fullname: str) -> Optional[str]:
        if fullname != UTILS_PACKAGE and not fullname.startswith(UTILS_PACKAGE + "."):
            return None
        if fullname == UTILS_PACKAGE:
            return UTILS_PACKAGE + "/__init__.py"
        rel = fullname.replace(".", "/") + ".py"
        if rel not in _UTILS:
            local = _local_utils_dir()
            path = os.path.join(os.path.dirname(local), rel) if local else ""
            if not path or not os.path.isfile(path):
                return None
            with open(path, encoding="utf-8") as fh:
                _UTILS[rel] = fh.read()
        return rel

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        rel = self._relpath(fullname)
        if rel is None:
            return None
        return importlib.util.spec_from_loader(
            fullname, self, origin="modules/" + rel,  # type: ignore[arg-type]
            is_package=rel.endswith("__init__.py"))

    def create_module(self, spec: Any) -> None:
        return None

    def exec_module(self, module: Any) -> None:
        rel = self._relpath(module.__name__) or ""
        source = _UTILS.get(rel, "")
        filename = "modules/" + rel
        linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)
        module.__file__ = filename
        exec(compile(source, filename, "exec"), module.__dict__)  # noqa: S102


# ------------------------------------------------------------------ run_module
def _to_bool(value: Any, name: str) -> bool:
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _BOOL_TRUE:
        return True
    if text in _BOOL_FALSE:
        return False
    raise ModuleFail("argument %r is of type %s and cannot be converted to a bool"
                     % (name, type(value).__name__))


def _convert(value: Any, spec: Dict[str, Any], name: str) -> Any:
    """Light conversion so direct callers (tests) behave like validated controller input.

    The controller converts with pyengine/modspec.py `convert` first; this target-side
    copy exists because the runtime cannot import controller code."""
    kind = spec.get("type", "str")
    if value is None:
        return None
    try:
        if kind == "bool":
            return _to_bool(value, name)
        if kind == "int" and not isinstance(value, bool):
            return int(value)
        if kind == "float":
            return float(value)
        if kind == "path":
            return os.path.expanduser(str(value))
        if kind == "str" and isinstance(value, (int, float)) and not isinstance(value, bool):
            return str(value)
        if kind == "list":
            items = value
            if isinstance(value, str):
                items = [v.strip() for v in value.split(",") if v.strip()]
            elif not isinstance(value, list):
                items = [value]
            element = spec.get("elements")
            if element:
                items = [_convert(v, {"type": element}, name) for v in items]
            return items
    except (TypeError, ValueError):
        raise ModuleFail("argument %r: cannot convert %r to %s" % (name, value, kind)) from None
    return value


def normalise_params(args_spec: Optional[Dict[str, Any]], params: Dict[str, Any],
                     module: str = "module") -> Dict[str, Any]:
    """Map aliases, fill defaults, convert types; fail on unknown arguments.

    The controller (`pyengine/modspec.py`) already does this with better messages; this
    second pass makes a module behave the same when called directly (tests, ad hoc).
    Arguments starting with `_` are reserved for controller actions and pass through.
    """
    if not args_spec:
        return dict(params)
    alias_of = {}  # type: Dict[str, str]
    for name, spec in args_spec.items():
        for alias in spec.get("aliases", []) or []:
            alias_of[alias] = name
    out = {}  # type: Dict[str, Any]
    for key, value in params.items():
        if key.startswith("_"):
            out[key] = value
            continue
        canonical = alias_of.get(key, key)
        if canonical not in args_spec:
            raise ModuleFail("%s: unsupported argument %r (supported: %s)"
                             % (module, key, ", ".join(sorted(args_spec))))
        if canonical in out and out[canonical] != value:
            raise ModuleFail("%s: argument %r given twice (as %r too)" % (module, canonical, key))
        out[canonical] = value
    for name, spec in args_spec.items():
        if out.get(name) is None:
            if spec.get("required"):
                raise ModuleFail("%s: missing required argument %r" % (module, name))
            out[name] = spec.get("default")
        out[name] = _convert(out[name], spec, name)
        choices = spec.get("choices")
        if choices and out[name] is not None and out[name] not in choices:
            raise ModuleFail("%s: value of %r must be one of %s, got %r"
                             % (module, name, ", ".join(map(str, choices)), out[name]))
    return out


def _load(source_or_main: Any, name: str) -> Tuple[Callable[..., Any], Optional[Dict[str, Any]]]:
    if isinstance(source_or_main, str):
        namespace = {"__name__": "pyengine_module_%s" % name, "__builtins__": __builtins__}
        code = compile(source_or_main, "<module %s>" % name, "exec")
        exec(code, namespace)  # noqa: S102 - the module source is what we are here to run
        main = namespace.get("main")
        if not callable(main):
            raise ModuleFail("module %s defines no main(m)" % name)
        return main, namespace.get("ARGS")  # type: ignore[return-value]
    main = getattr(source_or_main, "main", source_or_main)
    if not callable(main):
        raise ModuleFail("module %s is not callable" % name)
    spec = getattr(source_or_main, "ARGS", None)
    if spec is None:
        spec = getattr(main, "__globals__", {}).get("ARGS")
    return main, spec


def run_module(
    source_or_main: Any,
    params: Optional[Dict[str, Any]] = None,
    check_mode: bool = False,
    diff_mode: bool = False,
    facts: Optional[Dict[str, Any]] = None,
    tmpdir: Optional[str] = None,
    environment: Optional[Dict[str, str]] = None,
    name: Optional[str] = None,
) -> Dict[str, Any]:
    """Run one module and always return its result dict (never raises for module errors).

    `source_or_main` is the module's source text, its `main` function, or an object with
    `main` (an imported module file). A `ModuleFail` becomes {"failed": True, "msg": ...};
    any other exception becomes a failure carrying the traceback in `exception`.
    """
    name = name or "module"
    if _local_utils_dir() is not None:
        add_module_utils({})  # a checkout: helpers are read from modules/module_utils/
    own_tmp = None
    if tmpdir is None:
        own_tmp = tmpdir = tempfile.mkdtemp(prefix="pyengine-mod-")
    cwd = _getcwd()
    captured = io.StringIO()
    m = Module({}, check_mode, diff_mode, facts, tmpdir, environment, name)
    try:
        try:
            main, args_spec = _load(source_or_main, name)
            m.params = normalise_params(args_spec, dict(params or {}), name)
            with contextlib.redirect_stdout(captured):
                result = main(m)
            if result is None:
                result = {}
            if not isinstance(result, dict):
                raise ModuleFail("module %s returned %s, not a dict"
                                 % (name, type(result).__name__))
            result = dict(result)
            result["changed"] = bool(result.get("changed", False))
            result.setdefault("failed", False)
        except ModuleFail as exc:
            result = dict(exc.data)
            result.update({"failed": True, "msg": exc.msg})
            result.setdefault("changed", False)
        except Exception as exc:  # a module bug must not kill the agent
            result = {
                "failed": True,
                "changed": False,
                "msg": "module %s raised %s: %s" % (name, type(exc).__name__, exc),
                "exception": traceback.format_exc(),
            }
        if result.get("diff") is None:
            result.pop("diff", None)
        printed = captured.getvalue()
        if printed.strip():
            m.warn("module printed to stdout: %s" % printed.strip()[:2000])
        if m.warnings:
            result["warnings"] = list(result.get("warnings") or []) + m.warnings
        return result
    finally:
        if cwd is not None:
            with contextlib.suppress(OSError):
                os.chdir(cwd)
        if own_tmp:
            shutil.rmtree(own_tmp, ignore_errors=True)


def _getcwd() -> Optional[str]:
    try:
        return os.getcwd()
    except OSError:
        return None


def b64(data: bytes) -> str:
    """Base64 text of bytes (what `slurp` returns and `_content_b64` carries)."""
    return base64.b64encode(data).decode("ascii")


if __name__ == "__main__" and len(sys.argv) > 1:  # pragma: no cover - manual use
    import json

    with open(sys.argv[1]) as _fh:
        _src = _fh.read()
    print(json.dumps(run_module(_src, json.loads(sys.argv[2]) if len(sys.argv) > 2 else {},
                                name=os.path.basename(sys.argv[1])[:-3]), indent=2))
