"""Run an installed Ansible module on the target under Ansible's module contract.

Target-side code: standard library only, Python 3.7+. The agent loads this file like its
other libs (sent with the first batch that holds an Ansible module) and calls
`run_ansible_module` for each bridged task. The module runs in a CHILD process (Ansible
modules call sys.exit and change global state), never in the agent: the agent forks a
"zygote" once (pipes to it, its own process group), which holds the packed files in an
in-memory import finder (nothing on disk), compiles each once and imports
`ansible.module_utils.basic` once; for each task it forks a child that hands the
arguments to basic as AnsiballZ does (`_ANSIBLE_ARGS`, plus the JSON profile on
ansible-core 2.19+) and runs the module as `__main__`. The module prints its JSON result
and exits; the zygote sends back its stdout, stderr and exit status. The zygote ends when
the agent closes its pipe (or is killed with its process group when the agent stops).

What the module gets (what basic.py reads): ANSIBLE_MODULE_ARGS with the task's arguments
and `_ansible_check_mode`, `_ansible_diff`, `_ansible_no_log`, `_ansible_verbosity`,
`_ansible_version`, `_ansible_module_name`, `_ansible_tmpdir` and `_ansible_remote_tmp`
(a private folder made for the task and removed after it, whatever the module did),
`_ansible_keep_remote_files` false, `_ansible_socket` none, `_ansible_shell_executable`,
`_ansible_syslog_facility`, `_ansible_selinux_special_fs`, `_ansible_debug`, ... — only
the ones the installed ansible-core knows (`meta["pass_vars"]`, read on the controller
from its PASS_VARS), so an older ansible-core never sees an argument it would refuse.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import shutil
import signal
import sys
import tempfile
import traceback
from typing import Any

PREFIX = "<pyengine-bridge>/"

DEFAULT_PASS = {
    "check_mode": None, "diff": None, "no_log": None, "verbosity": 0, "debug": False,
    "version": "0.0", "module_name": None, "tmpdir": None, "remote_tmp": None,
    "keep_remote_files": False, "socket": None, "shell_executable": "/bin/sh",
    "syslog_facility": "LOG_USER", "selinux_special_fs": [
        "fuse", "nfs", "vboxsf", "ramfs", "9p", "vfat"],
    "ignore_unknown_opts": False, "target_log_info": None, "tracebacks_for": [],
}


# ---------------------------------------------------------------- agent side
def module_args(args: dict[str, Any], meta: dict[str, Any], check_mode: bool,
                diff_mode: bool, no_log: bool, tmpdir: str) -> dict[str, Any]:
    """ANSIBLE_MODULE_ARGS for one task: its arguments plus the `_ansible_*` contract."""
    out = dict(args)
    values = dict(DEFAULT_PASS)
    values.update({
        "check_mode": bool(check_mode), "diff": bool(diff_mode), "no_log": bool(no_log),
        "version": meta.get("ansible_version") or "0.0",
        "module_name": meta.get("fqcn") or None, "tmpdir": tmpdir, "remote_tmp": tmpdir,
        "verbosity": int(meta.get("verbosity") or 0),
    })
    known = meta.get("pass_vars")
    for key, value in values.items():
        if known is None or key in known:
            out["_ansible_" + key] = value
    return out


def run_ansible_module(files: dict[str, str], entry: str, args: dict[str, Any],
                       meta: dict[str, Any], check_mode: bool = False, diff_mode: bool = False,
                       no_log: bool = False, environment: dict[str, str] | None = None,
                       close_fds: tuple[int, ...] = ()) -> dict[str, Any]:
    """Run the packed module `entry` in a child process; always returns a result dict.

    The child is forked from a warm "zygote": a fork of the agent that compiled the
    packed files and imported `ansible.module_utils.basic` once, so a task costs only the
    module's own work (Ansible starts a Python and imports basic for every task). Each
    task gets its own fork: a module's sys.exit or global changes die with it.
    `close_fds`: the agent's protocol descriptors, which no child may hold (a daemon the
    module starts would keep the controller's channel open).
    """
    tmpdir = tempfile.mkdtemp(prefix="pyengine-mod-")
    try:
        params = {"ANSIBLE_MODULE_ARGS": module_args(args, meta, check_mode, diff_mode,
                                                     no_log, tmpdir)}
        try:
            reply = _zygote(close_fds).run(files, entry, params, environment or {})
        except OSError as err:  # the zygote died (never taken for the controller's channel)
            stop_zygote()
            return {"failed": True, "changed": False,
                    "msg": f"{entry}: the process running Ansible modules failed: {err}"}
        if reply.get("error"):
            return {"failed": True, "changed": False, "msg": f"{entry}: {reply['error']}"}
        result = parse_output(reply.get("out", ""), reply.get("err", ""), reply.get("rc", 1))
        if not diff_mode:
            result.pop("diff", None)  # many modules always return one; Ansible shows it on --diff
        return result
    except BaseException:
        stop_zygote()  # stopped mid-task (a signal): the module must not run on
        raise
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)


class _Zygote:
    """The agent's end of the zygote: a request pipe, a reply pipe, the files it holds."""

    def __init__(self, close_fds: tuple[int, ...]) -> None:
        req_r, self.req_w = os.pipe()
        self.reply_r, reply_w = os.pipe()
        self.pid = os.fork()
        if self.pid == 0:  # the zygote: never returns
            os.close(self.req_w)
            os.close(self.reply_r)
            _zygote_main(req_r, reply_w, close_fds)
        os.close(req_r)
        os.close(reply_w)
        self.sent = set()  # type: set[tuple[str, int]]

    def run(self, files: dict[str, str], entry: str, params: dict[str, Any],
            environment: dict[str, str]) -> dict[str, Any]:
        new = {rel: text for rel, text in files.items() if (rel, hash(text)) not in self.sent}
        _write_msg(self.req_w, {"files": new, "entry": entry, "params": params,
                                "environment": environment})
        self.sent.update((rel, hash(text)) for rel, text in new.items())
        reply = _read_msg(self.reply_r)
        if reply is None:
            raise OSError("the bridge's zygote process ended")
        return reply

    def stop(self) -> None:
        for fd in (self.req_w, self.reply_r):
            try:
                os.close(fd)
            except OSError:
                pass
        for kill in (os.killpg, os.kill):  # the zygote's group (a module it runs), itself
            try:
                kill(self.pid, signal.SIGKILL)
            except OSError:
                pass
        try:
            os.waitpid(self.pid, 0)
        except OSError:
            pass


_ZYGOTE = []  # type: list[_Zygote]


def _zygote(close_fds: tuple[int, ...]) -> _Zygote:
    if not _ZYGOTE:
        _ZYGOTE.append(_Zygote(close_fds))
    return _ZYGOTE[0]


def stop_zygote() -> None:
    """End the zygote (the agent does it when it stops; EOF on its pipe ends it too)."""
    while _ZYGOTE:
        _ZYGOTE.pop().stop()


def _zygote_main(req_fd: int, reply_fd: int, close_fds: tuple[int, ...]) -> None:
    """Serve module runs: compile new files, keep basic imported, fork one child a task."""
    status = 0
    try:
        os.setpgid(0, 0)  # its own process group: the agent can end it with its child
        null = os.open(os.devnull, os.O_RDWR)
        os.dup2(null, 0)
        for fd in (null,) + tuple(close_fds):
            if fd > 2:
                os.close(fd)
        for signum in (signal.SIGHUP, signal.SIGTERM, signal.SIGINT, signal.SIGPIPE):
            signal.signal(signum, signal.SIG_DFL)
        import atexit

        atexit._clear()  # the agent's handlers are not the modules'
        files = {}  # type: dict[str, str]
        codes = {}  # type: dict[str, Any]
        sys.meta_path.insert(0, _MemoryLoader(files, codes))
        sys.path[:] = [p for p in sys.path if p]  # '' (the cwd) must not shadow anything
        warm = False
        while True:
            request = _read_msg(req_fd)
            if request is None:
                break  # the agent closed the pipe: it is done
            try:
                for rel, text in request["files"].items():
                    codes[rel] = compile(text, PREFIX + rel, "exec", dont_inherit=True)
                    files[rel] = text
            except SyntaxError as err:
                _write_msg(reply_fd, {"error": (
                    f"{err.filename or '?'}:{err.lineno}: {err.msg} (the installed "
                    f"ansible-core or collection does not support this host's Python "
                    f"{sys.version.split()[0]})")})
                continue
            if not warm:
                warm = True
                try:
                    import ansible.module_utils.basic  # noqa: F401  # type: ignore
                except Exception:  # noqa: BLE001 - the task's own import reports it
                    pass
            _write_msg(reply_fd, _fork_task(request, req_fd, reply_fd))
    except BaseException:  # noqa: B036 - nothing may escape into the agent's loop
        status = 1
    finally:
        os._exit(status)


def _fork_task(request: dict[str, Any], req_fd: int, reply_fd: int) -> dict[str, Any]:
    """Run one module in a fork of the zygote; its stdout, stderr and exit status."""
    out_r, out_w = os.pipe()
    err_r, err_w = os.pipe()
    pid = os.fork()
    if pid == 0:
        status = 1
        try:
            for fd in (out_r, err_r, req_fd, reply_fd):
                os.close(fd)
            os.dup2(out_w, 1)
            os.dup2(err_w, 2)
            os.close(out_w)
            os.close(err_w)
            sys.stdin = open(os.devnull)
            sys.stdout = open(1, "w", closefd=False)
            sys.stderr = open(2, "w", closefd=False)
            os.environ.update({k: str(v) for k, v in request["environment"].items()})
            status = _run_module(request["entry"], request["params"])
            import atexit

            atexit._run_exitfuncs()  # what the module registered (Ansible runs them too)
        except BaseException:  # noqa: B036
            try:
                sys.stderr.write(traceback.format_exc())
            except Exception:  # noqa: BLE001
                pass
        finally:
            for stream in (sys.stdout, sys.stderr):
                try:
                    stream.flush()
                except Exception:  # noqa: BLE001
                    pass
            os._exit(status)
    os.close(out_w)
    os.close(err_w)
    out, err = _read_both(out_r, err_r)
    _, wait_status = os.waitpid(pid, 0)
    if os.WIFEXITED(wait_status):
        rc = os.WEXITSTATUS(wait_status)
    else:
        rc = 128 + os.WTERMSIG(wait_status)
    return {"out": out.decode("utf-8", "replace"), "err": err.decode("utf-8", "replace"),
            "rc": rc}


_HEADER_SIZE = 4


def _write_msg(fd: int, message: dict[str, Any]) -> None:
    body = json.dumps(message).encode("utf-8")
    data = len(body).to_bytes(_HEADER_SIZE, "big") + body
    while data:
        written = os.write(fd, data)
        data = data[written:]


def _read_msg(fd: int) -> Any:
    header = _read_exactly(fd, _HEADER_SIZE)
    if header is None:
        return None
    body = _read_exactly(fd, int.from_bytes(header, "big"))
    return None if body is None else json.loads(body.decode("utf-8"))


def _read_exactly(fd: int, size: int) -> bytes | None:
    chunks = []
    left = size
    while left:
        chunk = os.read(fd, min(left, 1 << 20))
        if not chunk:
            return None
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _read_both(out_fd: int, err_fd: int) -> tuple[bytes, bytes]:
    """Read two pipes to their ends at once (a full stderr pipe must not block stdout)."""
    import selectors

    chunks = {out_fd: [], err_fd: []}  # type: dict[int, list[bytes]]
    selector = selectors.DefaultSelector()
    try:
        for fd in chunks:
            selector.register(fd, selectors.EVENT_READ)
        open_fds = set(chunks)
        while open_fds:
            for key, _ in selector.select():
                data = os.read(key.fd, 65536)
                if data:
                    chunks[key.fd].append(data)
                else:
                    selector.unregister(key.fd)
                    open_fds.discard(key.fd)
    finally:
        selector.close()
        os.close(out_fd)
        os.close(err_fd)
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def parse_output(stdout: str, stderr: str, rc: int) -> dict[str, Any]:
    """The module's JSON result out of its stdout (noise before or after is kept aside)."""
    result = None  # type: Any
    noise = []
    lines = stdout.splitlines(True)
    for index, line in enumerate(lines):
        if line.lstrip().startswith("{"):
            candidate = "".join(lines[index:])
            try:
                result, end = json.JSONDecoder().raw_decode(candidate.lstrip())
            except ValueError:
                continue
            trailing = candidate.lstrip()[end:].strip()
            noise = [x for x in ["".join(lines[:index]).strip(), trailing] if x]
            break
    if not isinstance(result, dict):
        failed = {"failed": True, "changed": False, "rc": rc,
                  "msg": "MODULE FAILURE: no JSON result (see module_stdout/module_stderr)",
                  "module_stdout": stdout[-8000:], "module_stderr": stderr[-8000:]}
        return failed
    result = normalise_result(result)
    if noise:
        result.setdefault("warnings", []).append(
            "module printed non-JSON output: " + " | ".join(noise)[:2000])
    if rc != 0 and not result.get("failed") and not result.get("skipped"):
        result["failed"] = True
        result.setdefault("msg", f"module exited with status {rc}")
    if stderr.strip() and result.get("failed"):
        result.setdefault("module_stderr", stderr[-8000:])
    return result


def normalise_result(result: dict[str, Any]) -> dict[str, Any]:
    """Ansible's result shape as the executor reads it: bools, warnings as strings."""
    result = dict(result)
    result["changed"] = bool(result.get("changed", False))
    result["failed"] = bool(result.get("failed", False))
    for key in [k for k in result if k.startswith("_ansible_")]:
        del result[key]
    warnings = result.get("warnings")
    if warnings is not None:
        if not isinstance(warnings, list):
            warnings = [warnings]
        result["warnings"] = [w.get("msg", str(w)) if isinstance(w, dict) else str(w)
                              for w in warnings]
    deprecations = result.get("deprecations")
    if deprecations is not None and not isinstance(deprecations, list):
        result["deprecations"] = [deprecations]
    exception = result.get("exception")
    if isinstance(exception, dict):  # ansible-core 2.19+: an error summary
        result["exception"] = exception.get("formatted_traceback") or json.dumps(exception)
        if not result.get("msg"):
            event = exception.get("event") or {}
            result["msg"] = event.get("msg") or "module raised an exception"
    return result


# ---------------------------------------------------------------- child side
class _MemoryLoader(importlib.abc.SourceLoader):
    """Finds (as a meta-path finder) and loads modules from {relative path: source};
    no bytecode, no files."""

    def __init__(self, files: dict[str, str], codes: dict[str, Any] | None = None) -> None:
        self.files = files
        self.codes = codes or {}  # relpath -> code object compiled by the agent

    def get_code(self, fullname: str) -> Any:
        rel = self._relpath(fullname)
        if rel is not None and rel in self.codes:
            return self.codes[rel]
        return super().get_code(fullname)

    def _relpath(self, fullname: str) -> str | None:
        base = fullname.replace(".", "/")
        for candidate in (base + ".py", base + "/__init__.py"):
            if candidate in self.files:
                return candidate
        return None

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        rel = self._relpath(fullname)
        if rel is None:
            return None
        # A file location (virtual) gives modules a __file__: Ansible's code reads it.
        package = rel.endswith("/__init__.py")
        return importlib.util.spec_from_file_location(
            fullname, PREFIX + rel, loader=self,
            submodule_search_locations=[PREFIX + rel[:-len("/__init__.py")]] if package else None)

    def is_package(self, fullname: str) -> bool:
        rel = self._relpath(fullname)
        return bool(rel and rel.endswith("/__init__.py"))

    def get_filename(self, fullname: str) -> str:
        rel = self._relpath(fullname)
        if rel is None:
            raise ImportError(fullname)
        return PREFIX + rel

    def get_data(self, path: str) -> bytes:
        rel = path[len(PREFIX):] if path.startswith(PREFIX) else path
        if rel not in self.files:
            raise OSError(f"no packed file {path}")
        return self.files[rel].encode("utf-8")


def _run_module(entry: str, params: dict[str, Any]) -> int:
    """Hand the arguments to ansible.module_utils.basic as AnsiballZ does; run `entry`
    (imported from memory through the zygote's finder)."""
    import runpy

    sys.argv = [PREFIX + entry.replace(".", "/") + ".py"]
    try:
        from ansible.module_utils import basic  # type: ignore[import-not-found]

        basic._ANSIBLE_ARGS = json.dumps(params).encode("utf-8")
        if hasattr(basic, "_ANSIBLE_PROFILE"):
            basic._ANSIBLE_PROFILE = "legacy"  # ansible-core 2.19+: the JSON profile
        runpy.run_module(entry, run_name="__main__", alter_sys=True)
    except SystemExit as exc:  # how a module ends
        code = exc.code
        if code is None:
            return 0
        if isinstance(code, int):
            return code
        sys.stderr.write(str(code) + "\n")
        return 1
    except Exception as exc:
        sys.stdout.write(json.dumps({
            "failed": True, "changed": False,
            "msg": f"module {entry} raised {type(exc).__name__}: {exc}",
            "exception": traceback.format_exc()}) + "\n")
        return 1
    sys.stdout.write(json.dumps({"failed": True, "changed": False,
                                 "msg": f"module {entry} returned without a result"}) + "\n")
    return 1
