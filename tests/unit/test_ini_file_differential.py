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
