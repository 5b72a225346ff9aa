"""Run an installed Ansible module on the target under Ansible's module contract.

Target-side code: standard library only, Python 3.7+. The agent loads this file like its
other libs (sent with the first batch that holds an Ansible module) and calls
`run_ansible_module` for each bridged task. The module runs in a CHILD Python process
(Ansible modules call sys.exit and change global state), started with this same source
as its program: the child installs an import finder over the packed files (held in
memory, nothing on disk), hands the arguments to `ansible.module_utils.basic` as
AnsiballZ does (`_ANSIBLE_ARGS`, plus the JSON profile on ansible-core 2.19+), and runs
the module as `__main__`. The module prints its JSON result and exits; the agent reads it.

What the module gets (what basic.py reads): ANSIBLE_MODULE_ARGS with the task's arguments
and `_ansible_check_mode`, `_ansible_diff`, `_ansible_no_log`, `_ansible_verbosity`,
`_ansible_version`, `_ansible_module_name`, `_ansible_tmpdir` and `_ansible_remote_tmp`
(a private folder made for the task and removed after it, whatever the module did),
`_ansible_keep_remote_files` false, `_ansible_socket` none, `_ansible_shell_executable`,
`_ansible_syslog_facility`, `_ansible_selinux_special_fs`, `_ansible_debug` — only the
ones the installed ansible-core knows (`pass_vars`, read from it on the controller).
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import traceback
from typing import Any

PREFIX = "<pyengine-bridge>/"
CHILD_NAME = "__pyengine_bridge_child__"
# argv of the child: the source of this file follows on stdin (`<length>\n<source>`).
CHILD_BOOT = (
    "import sys;i=sys.stdin.buffer;n=int(i.readline());"
    "exec(compile(i.read(n),'pyengine/agent/ansible_run.py','exec'),"
    "{'__name__':'" + CHILD_NAME + "','__builtins__':__builtins__})"
)

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
                       child_source: str = "", python: str | None = None) -> dict[str, Any]:
    """Run the packed module `entry` in a child Python; always returns a result dict."""
    tmpdir = tempfile.mkdtemp(prefix="pyengine-mod-")
    proc = None
    try:
        job = {"files": files, "entry": entry, "params": {
            "ANSIBLE_MODULE_ARGS": module_args(args, meta, check_mode, diff_mode, no_log,
                                               tmpdir)}}
        source = child_source.encode("utf-8")
        payload = b"%d\n" % len(source) + source + json.dumps(job).encode("utf-8")
        env = os.environ.copy()
        env.update({k: str(v) for k, v in (environment or {}).items()})
        env["PYTHONDONTWRITEBYTECODE"] = "1"
        proc = subprocess.Popen([python or sys.executable, "-B", "-c", CHILD_BOOT],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env=env, close_fds=True)
        out, err = proc.communicate(payload)
        result = parse_output(out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
                              proc.returncode)
        if not diff_mode:
            result.pop("diff", None)  # many modules always return one; Ansible shows it on --diff
        return result
    finally:
        if proc is not None and proc.poll() is None:  # stopped by a signal: end the child
            proc.kill()
            proc.wait()
        shutil.rmtree(tmpdir, ignore_errors=True)


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

    def __init__(self, files: dict[str, str]) -> None:
        self.files = files

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


def child_main() -> None:
    """The child: read the job, import from memory, run the module as __main__."""
    job = json.loads(sys.stdin.buffer.read().decode("utf-8"))
    sys.stdin = open(os.devnull)
    os.dup2(sys.stdin.fileno(), 0)
    signal.signal(signal.SIGPIPE, signal.SIG_DFL)
    sys.path[:] = [p for p in sys.path if p]  # '' (the cwd) must not shadow anything
    sys.meta_path.insert(0, _MemoryLoader(job["files"]))
    entry = job["entry"]
    sys.argv = [PREFIX + entry.replace(".", "/") + ".py"]
    encoded = json.dumps(job["params"]).encode("utf-8")
    try:
        import runpy

        from ansible.module_utils import basic  # type: ignore[import-not-found]
        basic._ANSIBLE_ARGS = encoded
        if hasattr(basic, "_ANSIBLE_PROFILE"):
            basic._ANSIBLE_PROFILE = "legacy"
        runpy.run_module(entry, run_name="__main__", alter_sys=True)
    except Exception as exc:  # SystemExit (how a module ends) goes through
        sys.stdout.write(json.dumps({
            "failed": True, "changed": False,
            "msg": f"module {entry} raised {type(exc).__name__}: {exc}",
            "exception": traceback.format_exc()}) + "\n")
        sys.stdout.flush()
        sys.exit(1)
    sys.stdout.write(json.dumps({"failed": True, "changed": False,
                                 "msg": f"module {entry} returned without a result"}) + "\n")
    sys.exit(1)


if __name__ == CHILD_NAME:
    child_main()
