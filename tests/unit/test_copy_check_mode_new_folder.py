"""copy/template in check mode into a folder that does not exist yet.

An earlier task (a package install, a `file: state=directory`) would create the folder;
in check mode it did not. Ansible's copy action plugin compares checksums first and, in
check mode, returns changed=True for a missing file without running the module
(ansible/plugins/action/copy.py `_copy_file`), so `--check` goes on. pyengine failed
"Destination directory ... does not exist" there (found by bench/compat/devsec_check.py:
os_hardening's "Configure auditd" writes /etc/audit/auditd.conf right after installing
auditd). With remote_src the module itself runs in Ansible too, and fails: kept.
"""

from __future__ import annotations

from pathlib import Path

from pyengine.agent.runtime import run_module
from pyengine.modspec import normalize_args

SOURCE = (Path(__file__).resolve().parents[2] / "modules" / "copy.py").read_text()


def run(args: dict[str, object], check: bool) -> dict[str, object]:
    return run_module(SOURCE, normalize_args("copy", args), check_mode=check, diff_mode=True,
                      name="copy")


def test_content_into_a_missing_folder_is_changed_in_check_mode_and_creates_nothing(
        tmp_path: Path) -> None:
    dest = tmp_path / "audit" / "auditd.conf"
    result = run({"dest": str(dest), "content": "x\n", "mode": "0640"}, check=True)
    assert not result.get("failed"), result
    assert result["changed"] is True
    assert not (tmp_path / "audit").exists()


def test_content_into_a_missing_folder_still_fails_for_real(tmp_path: Path) -> None:
    dest = tmp_path / "audit" / "auditd.conf"
    result = run({"dest": str(dest), "content": "x\n"}, check=False)
    assert result.get("failed") and "does not exist" in str(result["msg"])
    assert not (tmp_path / "audit").exists()


def test_remote_src_into_a_missing_folder_fails_in_check_mode_too(tmp_path: Path) -> None:
    src = tmp_path / "src.conf"
    src.write_text("x\n")
    dest = tmp_path / "missing" / "dest.conf"
    result = run({"dest": str(dest), "src": str(src), "remote_src": True}, check=True)
    assert result.get("failed") and "does not exist" in str(result["msg"])
