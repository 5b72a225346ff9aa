"""mount (fstab side) and getent against Ansible's own modules on the same input.

mount: `present` and `absent_from_fstab` only touch the fstab given in `fstab`, so both
Ansible's ansible.posix.mount and ours run on copies of one temp file and must leave the
same bytes and report the same `changed`. getent only reads: both run on this machine's
databases and must return the same facts. Skipped when the collections are missing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyengine.agent.runtime import run_module
from pyengine.modspec import normalize_args

ROOT = Path(__file__).resolve().parents[2]

FSTAB = ("# /etc/fstab: static file system information.\n"
         "UUID=1234 / ext4 errors=remount-ro 0 1\n"
         "tmpfs /tmp tmpfs defaults 0 0 # scratch\n"
         "/dev/sdb1 /data ext4 defaults\n"
         "/swapfile none swap sw 0 0\n"
         "\n")

MOUNT_CASES: list[tuple[str, str, dict[str, Any]]] = [
    ("append", FSTAB, {"path": "/srv/new", "src": "/dev/sdc1", "fstype": "xfs",
                       "state": "present"}),
    ("same_line", FSTAB, {"path": "/", "src": "UUID=1234", "fstype": "ext4",
                          "opts": "errors=remount-ro", "dump": "0", "passno": "1",
                          "state": "present"}),
    ("change_opts_drops_comment", FSTAB, {"path": "/tmp", "src": "tmpfs", "fstype": "tmpfs",
                                          "opts": "nosuid,nodev,noexec", "state": "present"}),
    ("four_fields", FSTAB, {"path": "/data", "src": "/dev/sdb1", "fstype": "ext4",
                            "state": "present"}),
    ("escapes", FSTAB, {"path": "/mnt/a b", "src": "//srv/x&y", "fstype": "cifs",
                        "opts": "ro", "state": "present"}),
    ("boot_false", FSTAB, {"path": "/mnt/usb", "src": "LABEL=usb", "fstype": "vfat",
                           "boot": False, "state": "present"}),
    ("second_swap", FSTAB, {"path": "none", "src": "/swap2", "fstype": "swap", "opts": "sw",
                            "state": "present"}),
    ("remove", FSTAB, {"path": "/tmp", "state": "absent_from_fstab"}),
    ("remove_four_field_line_kept", FSTAB, {"path": "/data", "state": "absent_from_fstab"}),
    ("remove_missing", FSTAB, {"path": "/nope", "state": "absent_from_fstab"}),
    ("no_trailing_newline", "proc /proc proc defaults 0 0",
     {"path": "/proc", "src": "proc", "fstype": "proc", "opts": "hidepid=2",
      "state": "present"}),
    ("empty_file", "", {"path": "/x", "src": "/dev/x", "fstype": "ext4", "state": "present"}),
]


def _ansible(module: str, args: dict[str, Any], tmp: Path) -> dict[str, Any]:
    argfile = tmp / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": dict(args, _ansible_tmpdir=str(tmp))}))
    proc = subprocess.run([sys.executable, "-m", module, str(argfile)], capture_output=True,
                          text=True, timeout=60, cwd=tmp)
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


@pytest.mark.parametrize("case", MOUNT_CASES, ids=[c[0] for c in MOUNT_CASES])
def test_mount_fstab_edit_matches_ansible(case: tuple[str, str, dict[str, Any]],
                                          tmp_path: Path) -> None:
    pytest.importorskip("ansible_collections.ansible.posix")
    _name, content, args = case
    theirs, ours = tmp_path / "theirs", tmp_path / "ours"
    theirs.mkdir()
    ours.mkdir()
    (theirs / "fstab").write_text(content)
    (ours / "fstab").write_text(content)
    a = _ansible("ansible_collections.ansible.posix.plugins.modules.mount",
                 dict(args, fstab=str(theirs / "fstab")), theirs)
    params = normalize_args("ansible.posix.mount", dict(args, fstab=str(ours / "fstab")))
    b = run_module((ROOT / "modules" / "mount.py").read_text(), params, name="mount")
    assert not a.get("failed") and not b.get("failed"), (a, b)
    assert (ours / "fstab").read_bytes() == (theirs / "fstab").read_bytes()
    assert b["changed"] == a["changed"]
    for key in ("name", "opts", "dump", "passno", "boot", "backup_file"):
        assert b[key] == a[key], key


GETENT_CASES = [
    {"database": "passwd"}, {"database": "group"}, {"database": "passwd", "key": "root"},
    {"database": "hosts", "key": "localhost"}, {"database": "services", "key": "ssh"},
    {"database": "group", "key": "no-such-group-x", "fail_key": False},
    {"database": "passwd", "split": "x"},
]


@pytest.mark.parametrize("args", GETENT_CASES, ids=[json.dumps(c) for c in GETENT_CASES])
def test_getent_facts_match_ansible(args: dict[str, Any], tmp_path: Path) -> None:
    pytest.importorskip("ansible.modules.getent")
    a = _ansible("ansible.modules.getent", args, tmp_path)
    b = run_module((ROOT / "modules" / "getent.py").read_text(),
                   normalize_args("ansible.builtin.getent", args), name="getent")
    assert a.get("failed", False) == b["failed"]
    assert b["ansible_facts"] == a["ansible_facts"]
    assert b["changed"] is False


def test_getent_unknown_key_fails_like_ansible(tmp_path: Path) -> None:
    pytest.importorskip("ansible.modules.getent")
    args = {"database": "passwd", "key": "no-such-user-x"}
    a = _ansible("ansible.modules.getent", args, tmp_path)
    b = run_module((ROOT / "modules" / "getent.py").read_text(), args, name="getent")
    assert a["failed"] and b["failed"]
    assert b["msg"] == a["msg"]
