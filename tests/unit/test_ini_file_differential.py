"""ini_file against community.general.ini_file: same input file, same arguments, same bytes.

Each case runs Ansible's own module (from the `ansible` package in the test venv, as a
subprocess with its arguments file, on a temp file) and ours (through the agent runtime,
on a copy of the same file) and compares the resulting file byte for byte, `changed`,
`msg` and the diff's before/after. Skipped when community.general is not installed.
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
SOURCE = (ROOT / "modules" / "ini_file.py").read_text()
ANSIBLE_MODULE = "ansible_collections.community.general.plugins.modules.ini_file"

BASE = ("; top comment\nglobal = 1\n\n[main]\nname = web\n# port = 80\nhost=example\n\n"
        "[extra]\nkey=value\n")

# (id, starting content or None for no file, arguments without path)
CASES: list[tuple[str, str | None, dict[str, Any]]] = [
    ("add_option_to_section", BASE, {"section": "main", "option": "timeout", "value": "5"}),
    ("change_option", BASE, {"section": "main", "option": "name", "value": "db"}),
    ("same_value_no_change", BASE, {"section": "main", "option": "name", "value": "web"}),
    ("commented_option_replaced", BASE, {"section": "main", "option": "port", "value": "8080"}),
    ("inactive_kept_when_asked", BASE, {"section": "main", "option": "port", "value": "8080",
                                        "modify_inactive_option": False}),
    ("spacing_rewritten", BASE, {"section": "main", "option": "host", "value": "example"}),
    ("spacing_ignored", BASE, {"section": "main", "option": "host", "value": "example",
                               "ignore_spaces": True}),
    ("no_extra_spaces", BASE, {"section": "extra", "option": "new", "value": "v",
                               "no_extra_spaces": True}),
    ("new_section", BASE, {"section": "added", "option": "a", "value": "b"}),
    ("new_file", None, {"section": "s", "option": "a", "value": "b"}),
    ("new_file_no_section", None, {"option": "a", "value": "b"}),
    ("no_section_option", BASE, {"option": "global", "value": "2"}),
    ("no_section_new_option", BASE, {"option": "other", "value": "x"}),
    ("remove_option", BASE, {"section": "main", "option": "name", "state": "absent"}),
    ("remove_missing_option", BASE, {"section": "main", "option": "nope", "state": "absent"}),
    ("remove_section", BASE, {"section": "extra", "state": "absent"}),
    ("remove_missing_section", BASE, {"section": "none", "state": "absent"}),
    ("no_trailing_newline", "[a]\nx = 1", {"section": "a", "option": "x", "value": "1"}),
    ("crlf_untouched", "[a]\r\nx = 1\r\n", {"section": "a", "option": "x", "value": "1"}),
    ("crlf_changed", "[a]\r\nx = 1\r\n", {"section": "a", "option": "x", "value": "2"}),
    ("bom_dropped_on_change", "\ufeff[a]\nx = 1\n", {"section": "a", "option": "y",
                                                      "value": "2"}),
    ("values_multi", "[r]\nserver = a\nserver = b\nserver = c\n",
     {"section": "r", "option": "server", "values": ["c", "a", "d"]}),
    ("values_not_exclusive", "[r]\nserver = a\nserver = b\n",
     {"section": "r", "option": "server", "values": ["c"], "exclusive": False}),
    ("duplicates_collapse", "[r]\nk = 1\nk = 2\nk = 3\n", {"section": "r", "option": "k",
                                                           "value": "2"}),
    ("absent_one_value", "[r]\nk = 1\nk = 2\n", {"section": "r", "option": "k",
                                                 "values": ["2"], "state": "absent",
                                                 "exclusive": False}),
    ("allow_no_value_add", "[mysqld]\nuser = mysql\n",
     {"section": "mysqld", "option": "skip-name-resolve", "allow_no_value": True}),
    ("allow_no_value_only_section", BASE, {"section": "bare", "allow_no_value": True}),
    ("insert_before_trailing_comments", "[a]\nx = 1\n\n# tail\n\n[b]\n",
     {"section": "a", "option": "y", "value": "2"}),
    ("section_with_spaces", "[ spaced ]\nk=v\n", {"section": "spaced", "option": "k",
                                                  "value": "w"}),
    ("empty_file", "", {"section": "a", "option": "b", "value": "c"}),
    ("empty_value", "[a]\nb = 1\n", {"section": "a", "option": "b", "value": ""}),
    ("repeated_section_first_wins", "[a]\nx = 1\n[b]\n[a]\nx = 2\n",
     {"section": "a", "option": "x", "value": "3"}),
    ("section_has_values", "[peer]\nkey = A\nip = 1\n[peer]\nkey = B\nip = 2\n",
     {"section": "peer", "option": "ip", "value": "9",
      "section_has_values": [{"option": "key", "value": "B"}]}),
    ("section_has_values_new", "[peer]\nkey = A\n",
     {"section": "peer", "option": "ip", "value": "9",
      "section_has_values": [{"option": "key", "values": ["C"]}]}),
    ("option_prefix_not_matched", "[a]\noption_long = 1\n", {"section": "a", "option": "option",
                                                             "value": "2"}),
    ("tabs_and_semicolon_comment", "[a]\n\t;opt\t=\told\n", {"section": "a", "option": "opt",
                                                              "value": "new"}),
    ("values_reordered_no_change", "[r]\nk = b\nk = a\n",
     {"section": "r", "option": "k", "values": ["a", "b"]}),
    ("values_dedup", "[r]\n", {"section": "r", "option": "k", "values": ["x", "x", "y"]}),
    ("absent_keeps_commented", "[a]\n# k = 1\nk = 2\n", {"section": "a", "option": "k",
                                                           "state": "absent"}),
    ("absent_not_exclusive_no_values", "[a]\nk = 1\n",
     {"section": "a", "option": "k", "state": "absent", "exclusive": False}),
    ("allow_no_value_replaces_value", "[a]\nflag = 1\n",
     {"section": "a", "option": "flag", "allow_no_value": True}),
    ("allow_no_value_with_values_not_exclusive", "[a]\nk = 1\nk = 2\n",
     {"section": "a", "option": "k", "values": ["3"], "allow_no_value": True}),
    ("section_header_trailing_text", "[main] ; note\nx = 1\n",
     {"section": "main", "option": "x", "value": "2"}),
    ("option_with_spaces_in_value", "[a]\nmsg = hello   world  \n",
     {"section": "a", "option": "msg", "value": "hello world", "ignore_spaces": True}),
    ("no_section_before_first_section", "[a]\nx = 1\n", {"option": "top", "value": "1"}),
    ("remove_option_everywhere_in_section", "[a]\nk=1\n[b]\nk=2\n[a]\nk=3\n",
     {"section": "a", "option": "k", "state": "absent"}),
    ("section_has_values_not_exclusive_new", "[peer]\nkey = A\n",
     {"section": "peer", "option": "key", "values": ["C"], "exclusive": False,
      "section_has_values": [{"option": "key", "values": ["C", "D"]}]}),
    ("unicode_values", "[ü]\nnäme = x\n", {"section": "ü", "option": "näme", "value": "ÿ"}),
]


def _ansible(path: Path, args: dict[str, Any], tmp: Path) -> dict[str, Any]:
    argfile = tmp / "args.json"
    payload = dict(args, path=str(path), _ansible_diff=True, _ansible_tmpdir=str(tmp))
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    proc = subprocess.run([sys.executable, "-m", ANSIBLE_MODULE, str(argfile)],
                          capture_output=True, text=True, timeout=60, cwd=tmp)
    out: dict[str, Any] = json.loads(proc.stdout)
    return out


def _ours(path: Path, args: dict[str, Any]) -> dict[str, Any]:
    params = normalize_args("community.general.ini_file", dict(args, path=str(path)))
    return run_module(SOURCE, params, diff_mode=True, name="ini_file")


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_ini_file_matches_ansible_byte_for_byte(case: tuple[str, str | None, dict[str, Any]],
                                                tmp_path: Path) -> None:
    pytest.importorskip("ansible_collections.community.general")
    _name, content, args = case
    theirs_dir, ours_dir = tmp_path / "ansible", tmp_path / "ours"
    theirs_dir.mkdir()
    ours_dir.mkdir()
    files = []
    for folder in (theirs_dir, ours_dir):
        target = folder / "sub" / "conf.ini"
        target.parent.mkdir()
        if content is not None:
            target.write_bytes(content.encode("utf-8"))
        files.append(target)
    theirs = _ansible(files[0], args, theirs_dir)
    ours = _ours(files[1], args)
    assert not ours.get("failed"), ours
    assert not theirs.get("failed"), theirs
    assert files[1].exists() == files[0].exists()
    if files[0].exists():
        assert files[1].read_bytes() == files[0].read_bytes()
    assert ours["changed"] == theirs["changed"]
    assert ours["msg"] == theirs["msg"]
    diff = ours.get("diff") or {}
    assert diff.get("before") == theirs["diff"]["before"]
    assert diff.get("after") == theirs["diff"]["after"]


@pytest.mark.parametrize("case", CASES[:12], ids=[c[0] for c in CASES[:12]])
def test_ini_file_check_mode_reports_as_ansible_and_writes_nothing(
        case: tuple[str, str | None, dict[str, Any]], tmp_path: Path) -> None:
    pytest.importorskip("ansible_collections.community.general")
    _name, content, args = case
    target = tmp_path / "conf.ini"
    if content is not None:
        target.write_bytes(content.encode("utf-8"))
    argfile = tmp_path / "args.json"
    payload = dict(args, path=str(target), _ansible_check_mode=True,
                   _ansible_tmpdir=str(tmp_path))
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": payload}))
    proc = subprocess.run([sys.executable, "-m", ANSIBLE_MODULE, str(argfile)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    theirs = json.loads(proc.stdout)
    params = normalize_args("community.general.ini_file", dict(args, path=str(target)))
    ours = run_module(SOURCE, params, check_mode=True, name="ini_file")
    assert ours["changed"] == theirs["changed"] and ours["msg"] == theirs["msg"]
    if content is None:
        assert not target.exists()
    else:
        assert target.read_bytes() == content.encode("utf-8")


def test_ini_file_missing_file_without_create_fails_like_ansible(tmp_path: Path) -> None:
    pytest.importorskip("ansible_collections.community.general")
    args = {"path": str(tmp_path / "none.ini"), "section": "a", "option": "b", "value": "c",
            "create": False}
    argfile = tmp_path / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": args}))
    proc = subprocess.run([sys.executable, "-m", ANSIBLE_MODULE, str(argfile)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    theirs = json.loads(proc.stdout)
    ours = run_module(SOURCE, normalize_args("community.general.ini_file", args), name="x")
    assert theirs["failed"] and ours["failed"]
    assert ours["msg"] == theirs["msg"] and ours["rc"] == theirs["rc"]


def test_ini_file_mode_change_alone_is_a_change_like_ansible(tmp_path: Path) -> None:
    pytest.importorskip("ansible_collections.community.general")
    results = []
    for side in ("theirs", "ours"):
        folder = tmp_path / side
        folder.mkdir()
        target = folder / "c.ini"
        target.write_text("[a]\nb = c\n")
        target.chmod(0o644)
        args = {"path": str(target), "section": "a", "option": "b", "value": "c",
                "mode": "0600"}
        if side == "theirs":
            results.append(_ansible(target, {k: v for k, v in args.items() if k != "path"},
                                    folder))
        else:
            results.append(_ours(target, {k: v for k, v in args.items() if k != "path"}))
        assert oct(target.stat().st_mode & 0o777) == "0o600"
    assert results[0]["changed"] is results[1]["changed"] is True
    assert results[1]["msg"] == results[0]["msg"]


@pytest.mark.parametrize("follow", [False, True])
def test_ini_file_symlink_handling_matches_ansible(follow: bool, tmp_path: Path) -> None:
    """follow=false replaces a symlink at path with the file; follow=true writes its target."""
    pytest.importorskip("ansible_collections.community.general")
    states = []
    for side in ("theirs", "ours"):
        folder = tmp_path / side
        folder.mkdir()
        (folder / "real.ini").write_text("[s]\nk = 1\n")
        (folder / "link.ini").symlink_to("real.ini")
        args = {"section": "s", "option": "k", "value": "2", "follow": follow}
        if side == "theirs":
            _ansible(folder / "link.ini", args, folder)
        else:
            assert _ours(folder / "link.ini", args)["changed"]
        states.append(((folder / "link.ini").is_symlink(), (folder / "real.ini").read_text(),
                       (folder / "link.ini").read_text()))
    assert states[0] == states[1]
