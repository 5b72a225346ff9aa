"""Module specs: read without running the module, and enforced with clear messages."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.commands.doc import doc
from pyengine.errors import PlaybookError, PlaybookErrors
from pyengine.modspec import (
    canonical_name,
    find_module,
    list_modules,
    normalize_args,
    parse_kv,
    read_spec,
    split_words,
    validate_args,
)
from pyengine.origin import Origin
from pyengine.paths import builtin_modules_dir

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "modspec"
MODULES = PROJECT / "modules"


def fixmod():  # type: ignore[no-untyped-def]
    spec = find_module("fixmod", [PROJECT])
    assert spec is not None
    return spec


def test_spec_is_read_without_importing_the_module() -> None:
    marker = MODULES / "IMPORTED-MARKER"
    marker.unlink(missing_ok=True)
    spec = read_spec(MODULES / "fixmod.py")
    assert not marker.exists()
    assert spec.args["path"]["aliases"] == ["dest", "name"]
    assert spec.mutually_exclusive == [["insertafter", "insertbefore"]]
    assert spec.required_if == [["state", "latest", ["count"]]]
    assert spec.summary == "A fixture module that exercises every spec feature."


def test_powershell_args_block_is_read() -> None:
    spec = find_module("ansible.windows.win_fixmod", [PROJECT])
    assert spec is not None and spec.path == MODULES / "win_fixmod.ps1"
    assert spec.args["type"]["choices"] == ["string", "dword"]
    assert "Set a registry value" in spec.doc
    _, errors = validate_args(spec, {"path": "HKLM:\\x", "type": "qword"})
    assert "must be one of string, dword; got 'qword'" in str(errors[0])


def test_lookup_order_project_then_actions_then_builtin() -> None:
    project_copy = find_module("copy", [PROJECT])
    assert project_copy is not None and project_copy.path == MODULES / "copy.py"
    builtin_copy = find_module("ansible.builtin.copy", [])
    assert builtin_copy is not None and builtin_copy.path == builtin_modules_dir() / "copy.py"
    debug = find_module("debug", [PROJECT])
    assert debug is not None and debug.kind == "action"
    assert find_module("nope_not_a_module", [PROJECT]) is None
    assert "fixmod" in list_modules([PROJECT]) and "include_tasks" in list_modules([])


@pytest.mark.parametrize("name, expected", [
    ("ansible.builtin.copy", "copy"), ("ansible.posix.sysctl", "sysctl"),
    ("ansible.windows.win_service", "win_service"), ("community.general.ufw", "ufw"),
    ("copy", "copy"), ("community.mysql.mysql_user", "community.mysql.mysql_user"),
])
def test_collection_prefixes(name: str, expected: str) -> None:
    assert canonical_name(name) == expected


def test_normalises_aliases_types_and_defaults() -> None:
    out, errors = validate_args(fixmod(), {
        "dest": "/etc/x", "count": "3", "ratio": 1, "force": "yes", "groups": "a, b",
        "ports": ["22", 80], "options": "a=1 b=2", "line": "x", "owner": "root",
        "group": "root"})
    assert errors == []
    assert out == {"path": "/etc/x", "count": 3, "ratio": 1.0, "force": True,
                   "groups": ["a", "b"], "ports": [22, 80], "options": {"a": "1", "b": "2"},
                   "line": "x", "owner": "root", "group": "root", "state": "present"}


def test_every_problem_is_reported_with_its_argument_location() -> None:
    where = Origin("play.yml", 10, 7)
    origins = {"stat": Origin("play.yml", 11, 9), "count": Origin("play.yml", 12, 9),
               "state": Origin("play.yml", 13, 9)}
    _, errors = validate_args(fixmod(), {"stat": "x", "count": "many", "state": "presnt",
                                         "owner": "root"}, where, origins)
    messages = [str(e) for e in errors]
    assert "play.yml:11:9: unsupported argument 'stat' for module 'fixmod' (did you mean " \
           "'state'?)" in messages
    assert "play.yml:12:9: argument 'count' of module 'fixmod': expected an integer, got " \
           "'many'" in messages
    assert "play.yml:13:9: argument 'state' of module 'fixmod' must be one of present, " \
           "absent, latest; got 'presnt' (did you mean 'present'?)" in messages
    assert "play.yml:10:7: missing required argument 'path' for module 'fixmod'" in messages
    assert "play.yml:10:7: module 'fixmod' needs one of: line, regexp, payload" in messages
    assert "play.yml:10:7: module 'fixmod': owner requires group" in messages


def test_exclusions_required_if_and_alias_repeats() -> None:
    _, errors = validate_args(fixmod(), {"path": "/x", "name": "/y", "line": "l",
                                         "insertafter": "a", "insertbefore": "b",
                                         "state": "latest"})
    text = "\n".join(str(e) for e in errors)
    assert "argument 'name' of module 'fixmod' repeats 'path' (they are aliases)" in text
    assert "arguments 'insertafter' and 'insertbefore' of module 'fixmod' are mutually " \
           "exclusive" in text
    assert "module 'fixmod': state=latest requires count" in text


def test_templated_values_skip_type_checks_but_not_name_checks() -> None:
    out, errors = validate_args(fixmod(), {"path": "{{ p }}", "count": "{{ n }}",
                                           "state": "{{ s }}", "line": "x"})
    assert errors == [] and out["count"] == "{{ n }}"
    _, errors = validate_args(fixmod(), {"path": "/x", "line": "x", "cuont": "{{ n }}"})
    assert "unsupported argument 'cuont'" in str(errors[0]) and "'count'" in str(errors[0])


def test_bool_and_int_conversion_errors() -> None:
    _, errors = validate_args(fixmod(), {"path": "/x", "line": "x", "force": "maybe",
                                         "count": True, "ports": ["http"]})
    text = "\n".join(str(e) for e in errors)
    assert "argument 'force' of module 'fixmod': expected a boolean" in text
    assert "argument 'count' of module 'fixmod': expected an integer, got True" in text
    assert "argument 'ports' of module 'fixmod': expected an integer, got 'http'" in text


def test_normalize_args_raises_all_errors() -> None:
    with pytest.raises(PlaybookErrors) as err:
        normalize_args("fixmod", {"count": "x"}, [PROJECT], Origin("p.yml", 3, 5))
    assert len(err.value.errors) == 3
    with pytest.raises(PlaybookError, match="p.yml:3:5: unknown module 'nosuch'"):
        normalize_args("nosuch", {}, [PROJECT], Origin("p.yml", 3, 5))


def test_non_literal_and_bad_type_specs_are_reported() -> None:
    with pytest.raises(PlaybookError, match=r"badspec.py:3:1: ARGS must be a literal"):
        read_spec(MODULES / "badspec.py")
    with pytest.raises(PlaybookError, match="ARGS\\['path'\\] has unknown type 'pathlike'"):
        read_spec(MODULES / "badtype.py")


def test_split_words_keeps_quotes_and_jinja_together() -> None:
    assert split_words('a=1 b="two words" c={{ x | default("a b") }} d') == [
        "a=1", 'b="two words"', 'c={{ x | default("a b") }}', "d"]
    with pytest.raises(ValueError, match="unbalanced quote"):
        split_words('a="open')


def test_parse_kv_free_form_keeps_unknown_pairs_in_the_command() -> None:
    command = find_module("command")
    assert command is not None
    args, free = parse_kv("echo a=b chdir=/tmp 'x y'", command)
    assert args == {"chdir": "/tmp"} and free == "echo a=b 'x y'"
    args, free = parse_kv('src=a dest="/b c"', fixmod())
    assert args == {"src": "a", "dest": "/b c"} and free is None


def test_doc_command_prints_the_spec_and_suggests() -> None:
    runner = CliRunner()
    result = runner.invoke(doc, ["fixmod", "-p", str(PROJECT)])
    assert result.exit_code == 0, result.output
    assert "path  (path; required; aliases: dest, name)" in result.output
    assert "state  (str; default: present; choices: present, absent, latest)" in result.output
    assert "Mutually exclusive: insertafter, insertbefore" in result.output
    listed = runner.invoke(doc, ["--list", "-p", str(PROJECT)])
    assert "fixmod" in listed.output and "include_tasks" in listed.output
    wrong = runner.invoke(doc, ["fixmd", "-p", str(PROJECT)])
    assert isinstance(wrong.exception, PlaybookError)
    assert "unknown module 'fixmd' (did you mean 'fixmod'?)" in str(wrong.exception)


def test_raw_params_alias_makes_a_module_free_form() -> None:
    include_vars = find_module("include_vars")
    assert include_vars is not None and include_vars.free_form == "_raw_params"
    args, free = parse_kv("vars/extra.yml", include_vars)
    assert (args, free) == ({}, "vars/extra.yml")
    out, errors = validate_args(include_vars, {"_raw_params": "vars/extra.yml"})
    assert errors == [] and out["file"] == "vars/extra.yml"


def test_str_arguments_convert_any_value_as_ansible_does() -> None:
    """Ansible's check_type_str turns a list or dict into its text; refusing it broke
    content such as `line: "{{ [4] }}"`."""
    validation = pytest.importorskip("ansible.module_utils.common.validation")
    from pyengine.modspec import convert

    for value in ([4], {"a": 1}, True, 3.5, ["x", "y"], 7):
        assert convert(value, "str") == validation.check_type_str(value)
