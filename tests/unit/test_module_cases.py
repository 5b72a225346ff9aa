"""Module cases as data: every tests/modules/<module>/<case>.yaml becomes three checks.

Adding a regression test for a module means adding one YAML file. Each case runs the
module's code directly (through `pyengine.agent.runtime.run_module`, the same path the
agent uses) in a fresh temporary directory, three ways:

The arguments first go through the controller's validation (`pyengine.modspec`), as in
a real run; an error there is a failed result whose msg starts with "controller:".

1. real run with diffs on: `changed`, `failed`, `msg`, result keys, the files on disk and
   the diff must be as expected;
2. a second real run on the result of the first: must report changed=False (idempotence);
3. a check-mode run on a fresh copy of the starting files: must report the same `changed`
   (and `msg`) as the real run and must leave every file exactly as it was (content,
   type, mode, owner, link target, mtime).

Case file format (every key but `args` is optional; the string `{tmp}` anywhere in the
case is replaced by the case's temporary directory)::

    description: what the case pins, in one line
    module: lineinfile          # default: the name of the folder the case is in
    args: {path: "{tmp}/sshd_config", line: "PermitRootLogin no"}
    facts: {}                   # m.facts for the module
    requires_root: false        # skip unless running as root (chown cases)
    files:                      # starting state, paths relative to {tmp}
      sshd_config: {content: "Port 22\\n", mode: "0600"}
      data.bin: {content_b64: "AAEC"}
      conf.d/: {}               # a trailing slash makes a directory (mode allowed)
      current: {link: conf.d}   # a symlink
      hardlink: {hard: sshd_config}
    expect:
      changed: true
      failed: false
      msg: "line added"         # substring of the result's msg
      result: {found: 1}        # subset of the result (nested dicts compared as subsets)
      result_has: [backup_file] # keys that must be present (values not compared)
      files:                    # expected state afterwards, only the listed paths
        sshd_config: {content: "Port 22\\nPermitRootLogin no\\n", mode: "0600"}
        gone.txt: absent
        conf.d/: {mode: "0755", owner: root, group: "0"}
        current: {link: conf.d}
      diff: {before: "Port 22\\n", after: "Port 22\\nPermitRootLogin no\\n"}  # subset of
                                # the (first) diff; `diff: null` asserts there is none
    idempotent: true            # false: skip run 2 (touch, command: changed every time)
    check_mode: true            # false: skip run 3; a mapping overrides what run 3 expects,
                                # e.g. {changed: true, msg: "would"} for modules that
                                # cannot know without acting
    twice_changed: false        # with idempotent: false, what run 2 must report

Set PYENGINE_TEST_TARGET_PYTHON to an interpreter (e.g. a Python 3.7) to run the modules
under it instead of the controller's Python.

A failing case (`expect.failed: true`) runs once; its `expect.files` say what the failure
must have left (typically the untouched original). No case may leave a `*.pyengine-tmp`
file behind.
"""

from __future__ import annotations

import base64
import grp
import json
import os
import pwd
import stat
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyengine.agent.runtime import run_module
from pyengine.errors import PyengineError
from pyengine.modspec import normalize_args

ROOT = Path(__file__).resolve().parents[2]
CASES_DIR = ROOT / "tests" / "modules"
MODULES_DIR = ROOT / "modules"


def _case_files() -> list[Path]:
    return sorted(CASES_DIR.glob("*/*.yaml"))


def _substitute(value: Any, tmp: str) -> Any:
    if isinstance(value, str):
        return value.replace("{tmp}", tmp)
    if isinstance(value, list):
        return [_substitute(v, tmp) for v in value]
    if isinstance(value, dict):
        return {_substitute(k, tmp): _substitute(v, tmp) for k, v in value.items()}
    return value


def _uid(value: Any) -> int:
    return int(value) if str(value).isdigit() else pwd.getpwnam(str(value)).pw_uid


def _gid(value: Any) -> int:
    return int(value) if str(value).isdigit() else grp.getgrnam(str(value)).gr_gid


def _mode(value: Any) -> int:
    return value if isinstance(value, int) else int(str(value), 8)


def make_files(base: Path, files: dict[str, Any]) -> None:
    """Create the starting state described by a case's `files` under base."""
    # Folders first, then files, then links, so links can point at anything listed.
    order = sorted(files.items(), key=lambda kv: (
        0 if kv[0].endswith("/") else 2 if isinstance(kv[1], dict)
        and ("link" in kv[1] or "hard" in kv[1]) else 1, kv[0]))
    for rel, spec in order:
        spec = spec or {}
        target = base / rel.rstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        if rel.endswith("/"):
            target.mkdir(parents=True, exist_ok=True)
        elif "link" in spec:
            os.symlink(spec["link"], target)
            continue
        elif "hard" in spec:
            os.link(base / spec["hard"], target)
            continue
        elif "content_b64" in spec:
            target.write_bytes(base64.b64decode(spec["content_b64"]))
        else:
            target.write_bytes(str(spec.get("content", "")).encode())
        if "mode" in spec:
            os.chmod(target, _mode(spec["mode"]))
        if "mtime" in spec:
            os.utime(target, (spec["mtime"], spec["mtime"]))


def snapshot(base: Path) -> dict[str, tuple[Any, ...]]:
    """Everything check mode must not change, for every path under base."""
    snap: dict[str, tuple[Any, ...]] = {}
    for dirpath, dirnames, filenames in os.walk(base):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            st = path.lstat()
            rel = str(path.relative_to(base))
            if stat.S_ISLNK(st.st_mode):
                snap[rel] = ("link", os.readlink(path), st.st_uid, st.st_gid)
            elif stat.S_ISDIR(st.st_mode):
                snap[rel] = ("dir", st.st_mode, st.st_uid, st.st_gid)
            else:
                snap[rel] = ("file", st.st_mode, st.st_uid, st.st_gid, st.st_mtime_ns,
                             path.read_bytes())
    return snap


def assert_files(base: Path, expected: dict[str, Any]) -> None:
    for rel, spec in expected.items():
        path = base / rel.rstrip("/")
        if spec == "absent":
            assert not os.path.lexists(path), f"{rel} should not exist"
            continue
        spec = spec or {}
        assert os.path.lexists(path), f"{rel} should exist"
        st = path.lstat()
        if rel.endswith("/") or spec.get("type") == "directory":
            assert stat.S_ISDIR(st.st_mode), f"{rel} should be a directory"
        if "link" in spec:
            assert stat.S_ISLNK(st.st_mode), f"{rel} should be a symlink"
            assert os.readlink(path) == spec["link"]
        if "hard" in spec:
            other = (base / spec["hard"]).lstat()
            assert (st.st_ino, st.st_dev) == (other.st_ino, other.st_dev), f"{rel} not linked"
        if spec.get("type") == "file":
            assert stat.S_ISREG(st.st_mode), f"{rel} should be a regular file"
        if "content" in spec:
            assert path.read_bytes().decode() == spec["content"], f"content of {rel}"
        if "content_b64" in spec:
            assert path.read_bytes() == base64.b64decode(spec["content_b64"])
        if "mode" in spec:
            got = stat.S_IMODE(path.stat().st_mode if "link" not in spec else st.st_mode)
            assert got == _mode(spec["mode"]), f"mode of {rel}: {got:04o}"
        if "mtime" in spec:
            assert int(st.st_mtime) == int(spec["mtime"]), f"mtime of {rel}"
        if "owner" in spec:
            assert st.st_uid == _uid(spec["owner"]), f"owner of {rel}: {st.st_uid}"
        if "group" in spec:
            assert st.st_gid == _gid(spec["group"]), f"group of {rel}: {st.st_gid}"


def assert_subset(expected: Any, actual: Any, where: str = "result") -> None:
    if isinstance(expected, dict):
        assert isinstance(actual, dict), f"{where}: expected a mapping, got {actual!r}"
        for key, value in expected.items():
            assert key in actual, f"{where}: missing {key!r} in {actual!r}"
            assert_subset(value, actual[key], f"{where}.{key}")
    else:
        assert actual == expected, f"{where}: {actual!r} != {expected!r}"


def no_temp_files(base: Path) -> None:
    leftovers = [p for p in base.rglob("*") if p.name.endswith(".pyengine-tmp")]
    assert not leftovers, f"temp files left behind: {leftovers}"


def _run(case: dict[str, Any], base: Path, check_mode: bool) -> dict[str, Any]:
    """Validate the args as the controller does (modspec), then run the module's code."""
    module = case["module"]
    try:
        args = normalize_args(module, case.get("args") or {})
    except PyengineError as err:
        return {"failed": True, "changed": False, "msg": f"controller: {err}"}
    source = (MODULES_DIR / f"{module}.py").read_text()
    if TARGET_PYTHON:
        return _run_in(TARGET_PYTHON, source, args, check_mode, case.get("facts") or {}, module)
    return run_module(source, args, check_mode=check_mode, diff_mode=True,
                      facts=case.get("facts") or {}, name=module)


# PYENGINE_TEST_TARGET_PYTHON=/path/to/python3.7 runs every module under that interpreter
# (the oldest Python a target may have), through the same runtime, JSON in and out.
TARGET_PYTHON = os.environ.get("PYENGINE_TEST_TARGET_PYTHON", "")
RUNTIME = ROOT / "pyengine" / "agent" / "runtime.py"
_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("runtime", sys.argv[1])
rt = importlib.util.module_from_spec(spec); spec.loader.exec_module(rt)
job = json.load(sys.stdin)
res = rt.run_module(job["source"], job["args"], check_mode=job["check"], diff_mode=True,
                    facts=job["facts"], name=job["name"])
sys.stdout.write(json.dumps(res, default=str))
"""


def _run_in(python: str, source: str, args: dict[str, Any], check_mode: bool,
            facts: dict[str, Any], name: str) -> dict[str, Any]:
    job = {"source": source, "args": args, "check": check_mode, "facts": facts, "name": name}
    proc = subprocess.run([python, "-c", _CHILD, str(RUNTIME)], input=json.dumps(job),
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    result: dict[str, Any] = json.loads(proc.stdout)
    return result


def _check_result(result: dict[str, Any], expect: dict[str, Any], label: str) -> None:
    if not expect.get("failed") and result.get("failed"):
        pytest.fail(f"{label}: module failed: {result.get('msg')}\n{result.get('exception', '')}")
    assert bool(result.get("failed")) == bool(expect.get("failed", False)), f"{label}: {result}"
    if "changed" in expect:
        assert result["changed"] == expect["changed"], f"{label}: changed; {result}"
    if "msg" in expect:
        assert expect["msg"] in str(result.get("msg", "")), f"{label}: msg {result.get('msg')!r}"
    assert_subset(expect.get("result") or {}, result, label)
    for key in expect.get("result_has") or []:
        assert key in result, f"{label}: {key!r} missing from {result}"


def load_case(path: Path, tmp: Path) -> dict[str, Any]:
    case = yaml.safe_load(path.read_text()) or {}
    case = _substitute(case, str(tmp))
    case.setdefault("module", path.parent.name)
    for section in (case.get("files") or {}, (case.get("expect") or {}).get("files") or {}):
        bad = [k for k in section if not isinstance(k, str)]
        assert not bad, f"{path}: file names must be strings (quote yes/no/on/off): {bad}"
    case.setdefault("expect", {})
    return case


@pytest.mark.parametrize("case_path", _case_files(),
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_module_case(case_path: Path, tmp_path: Path) -> None:
    real = tmp_path / "real"
    real.mkdir()
    case = load_case(case_path, real)
    if case.get("requires_root") and os.geteuid() != 0:
        pytest.skip("needs root")
    expect = case["expect"]
    make_files(real, case.get("files") or {})

    first = _run(case, real, check_mode=False)
    _check_result(first, expect, "first run")
    assert_files(real, expect.get("files") or {})
    no_temp_files(real)
    if "diff" in expect:
        diff = first.get("diff")
        if expect["diff"] is None:
            assert diff is None, f"unexpected diff {diff!r}"
        else:
            assert_subset(expect["diff"], diff[0] if isinstance(diff, list) else diff, "diff")
    if expect.get("failed"):
        return

    if case.get("idempotent", True):
        second = _run(case, real, check_mode=False)
        assert not second.get("failed"), f"second run failed: {second.get('msg')}"
        assert second["changed"] is False, f"second run changed something: {second}"
        assert_files(real, expect.get("files") or {})
    elif "twice_changed" in case:
        second = _run(case, real, check_mode=False)
        assert second["changed"] == case["twice_changed"], f"second run: {second}"

    check = case.get("check_mode", True)
    if check is False:
        return
    dry = tmp_path / "check"
    dry.mkdir()
    case = load_case(case_path, dry)
    make_files(dry, case.get("files") or {})
    before = snapshot(dry)
    result = _run(case, dry, check_mode=True)
    after = snapshot(dry)
    assert after == before, "check mode changed files on disk"
    overrides = check if isinstance(check, dict) else {}
    check_expect = {"changed": overrides.get("changed", first["changed"])}
    if "msg" in overrides:
        check_expect["msg"] = overrides["msg"]
    elif first.get("msg"):
        check_expect["msg"] = str(first["msg"]).replace(str(real), str(dry))
    _check_result(result, check_expect, "check-mode run")
