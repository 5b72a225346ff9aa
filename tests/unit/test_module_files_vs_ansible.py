"""Our file modules against ansible-core's, case by case (when ansible-core is installed).

Every YAML case of lineinfile, blockinfile, replace and file (tests/modules/) runs through
our module and through ansible-core's module (`python -m ansible.modules.NAME`, no
controller) on identical starting files; the resulting files, `changed` and `failed`
must agree. Where we differ on purpose the case is listed in DIFFERENT_ON_PURPOSE with
the reason. ansible-core is in the `bench` extra; without it this file skips.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytest.importorskip("ansible.modules.lineinfile")

from test_module_cases import (  # noqa: E402 - after the skip on purpose
    CASES_DIR,
    MODULES_DIR,
    load_case,
    make_files,
    snapshot,
)

from pyengine.agent.runtime import run_module  # noqa: E402
from pyengine.modspec import normalize_args  # noqa: E402

COMPARED = ("lineinfile", "blockinfile", "replace", "file")
READ_ONLY = ("find", "stat")

DIFFERENT_ON_PURPOSE = {
    # Ansible rewrites an existing "a=1\r\n" as "a=1\n" when line is "a=1"; we keep the
    # file's line ending and call the line present.
    "lineinfile/crlf_line_kept",
    # Ansible hands a mode above 07777 to chmod, which drops the high bits: "07777777"
    # silently becomes 07777 (setuid, setgid, sticky, world-writable). We refuse it
    # before touching the path.
    "file/touch_bad_mode_creates_nothing",
    "file/directory_bad_mode_creates_nothing",
}


def _cases() -> list[Path]:
    return [p for m in COMPARED for p in sorted((CASES_DIR / m).glob("*.yaml"))
            if f"{m}/{p.stem}" not in DIFFERENT_ON_PURPOSE]


def _view(base: Path) -> dict[str, Any]:
    """Type, mode, link target (relative to base) and content; not times or backups."""
    out = {}
    for rel, entry in snapshot(base).items():
        if "~" in rel or ".pyengine-tmp" in rel:
            continue  # backup copies are named differently by design
        kind = entry[0]
        if kind == "link":
            out[rel] = ("link", entry[1].replace(str(base), "BASE"))
        elif kind == "dir":
            out[rel] = ("dir", entry[1], entry[2], entry[3])
        else:
            out[rel] = ("file", entry[1], entry[2], entry[3], entry[-1])
    return out


def _run_both(case_path: Path, tmp_path: Path) -> tuple[dict[str, Any], dict[str, Any],
                                                          Path, Path]:
    module = case_path.parent.name
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    ours_case, theirs_case = load_case(case_path, ours_dir), load_case(case_path, theirs_dir)
    if ours_case.get("requires_root") and os.geteuid() != 0:
        pytest.skip("needs root")
    make_files(ours_dir, ours_case.get("files") or {})
    make_files(theirs_dir, theirs_case.get("files") or {})

    ours = run_module((MODULES_DIR / f"{module}.py").read_text(),
                      normalize_args(module, ours_case.get("args") or {}), name=module)
    args_file = tmp_path / "args.json"
    args_file.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(
        theirs_case.get("args") or {}, _ansible_tmpdir=str(tmp_path),
        _ansible_remote_tmp=str(tmp_path))}))
    proc = subprocess.run([sys.executable, "-m", f"ansible.modules.{module}", str(args_file)],
                          capture_output=True, text=True, cwd=tmp_path, timeout=60)
    lines = proc.stdout.strip().splitlines()
    theirs = json.loads(lines[-1]) if lines else {"failed": True, "msg": proc.stderr}
    return ours, theirs, ours_dir, theirs_dir


@pytest.mark.parametrize("case_path", _cases(), ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_same_outcome_as_ansible(case_path: Path, tmp_path: Path) -> None:
    ours, theirs, ours_dir, theirs_dir = _run_both(case_path, tmp_path)
    assert bool(ours.get("failed")) == bool(theirs.get("failed")), (ours, theirs)
    assert bool(ours.get("changed")) == bool(theirs.get("changed")), (ours, theirs)
    assert _view(ours_dir) == _view(theirs_dir)


STAT_KEYS = ("exists", "mode", "isdir", "isreg", "islnk", "size", "checksum", "lnk_target",
             "pw_name", "attributes", "attr_flags", "mimetype", "charset")


@pytest.mark.parametrize("case_path",
                         [p for m in READ_ONLY for p in sorted((CASES_DIR / m).glob("*.yaml"))],
                         ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_read_only_modules_report_what_ansible_reports(case_path: Path, tmp_path: Path) -> None:
    ours, theirs, ours_dir, theirs_dir = _run_both(case_path, tmp_path)
    assert bool(ours.get("failed")) == bool(theirs.get("failed")), (ours, theirs)
    if case_path.parent.name == "find":
        def rel(result: dict[str, Any], base: Path) -> list[str]:
            return sorted(f["path"].replace(str(base), "BASE") for f in result["files"])

        assert rel(ours, ours_dir) == rel(theirs, theirs_dir)
        assert (ours["matched"], ours["examined"]) == (theirs["matched"], theirs["examined"])
    else:
        for key in STAT_KEYS:
            assert ours["stat"].get(key) == theirs["stat"].get(key), key
