"""Every playbook mistake is reported before anything runs, with file:line:column,
what was expected and a "did you mean" where one fits — all of them at once."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.commands.check_syntax import check_syntax
from pyengine.errors import EXIT_INVALID_INPUT, PlaybookError, PlaybookErrors
from pyengine.playbook import load_playbook

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


def errors_of(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> list[str]:
    """Load `text` as p.yml (a `fixmod` module next to it) and return the error lines."""
    (tmp_path / "modules").mkdir(exist_ok=True)
    shutil.copy(FIXTURES / "modspec" / "modules" / "fixmod.py", tmp_path / "modules")
    for name, content in (files or {}).items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(content)
    (tmp_path / "p.yml").write_text(text)
    with pytest.raises(PlaybookErrors) as err:
        load_playbook(tmp_path / "p.yml")
    return [str(e).replace(str(tmp_path) + "/", "") for e in err.value.errors]


def one_error(tmp_path: Path, text: str, files: dict[str, str] | None = None) -> str:
    found = errors_of(tmp_path, text, files)
    assert len(found) == 1, found
    return found[0]


PLAY = "- hosts: all\n  tasks:\n"


@pytest.mark.parametrize("tasks, expected", [
    ("    - name: x\n      fixmod: path=/x line=y\n      whn: yes\n",
     "p.yml:5:7: unknown module or keyword 'whn' (did you mean 'when'?)"),
    ("    - fixmd: path=/x\n",
     "p.yml:3:7: unknown module or keyword 'fixmd' (did you mean 'fixmod'?)"),
    ("    - ansible.builtin.fixmd: path=/x\n",
     "p.yml:3:7: unknown module or keyword 'ansible.builtin.fixmd' (did you mean 'fixmod'?)"),
    ("    - fixmod: path=/x line=y\n      debug: msg=hi\n",
     "p.yml:4:7: a task has exactly one action, found 'fixmod', 'debug'"),
    ("    - name: nothing to do\n      when: true\n",
     "p.yml:3:7: task has no action (module); keywords found: name, when"),
    ("    - fixmod:\n        path: /x\n        line: y\n        stat: present\n",
     "p.yml:6:9: unsupported argument 'stat' for module 'fixmod' (did you mean 'state'?)"),
    ("    - fixmod:\n        line: y\n",
     "p.yml:4:9: missing required argument 'path' for module 'fixmod'"),
    ("    - fixmod: {path: /x, line: y, count: many}\n",
     "p.yml:3:35: argument 'count' of module 'fixmod': expected an integer, got 'many'"),
    ("    - fixmod: path=/x line=y state=presnt\n",
     "p.yml:3:30: argument 'state' of module 'fixmod' must be one of present, absent, latest; "
     "got 'presnt' (did you mean 'present'?)"),
    ("    - fixmod: path=/x line=y insertafter=a insertbefore=b\n",
     "p.yml:3:44: arguments 'insertafter' and 'insertbefore' of module 'fixmod' are mutually "
     "exclusive"),
    ("    - fixmod: just some text\n",
     "p.yml:3:15: module 'fixmod' takes key=value arguments, not free text 'just some text' "
     "(write them as 'name=value' or as a mapping)"),
    ("    - fixmod: path=/x line=y\n      when: x ==\n",
     "p.yml:4:13: template syntax error: unexpected ')' in 'when: x =='"),
    ("    - fixmod:\n        path: \"{{ x | }}\"\n        line: y\n",
     "p.yml:4:15: template syntax error: expected token 'name', got 'end of print "
     "statement' in '{{ x | }}'"),
    ("    - fixmod: path=/x line=y\n      register: my-result\n",
     "p.yml:4:17: 'register' must be a variable name, got 'my-result'"),
    ("    - fixmod: path=/x line=y\n      loop: 42\n",
     "p.yml:4:13: 'loop' must be a list or a template that renders to one, got a number"),
    ("    - fixmod: path=/x line=y\n      with_itemz: [1]\n",
     "p.yml:4:7: unknown loop keyword 'with_itemz' (did you mean 'with_items'?)"),
    ("    - fixmod: path=/x line=y\n      loop_control: {loop_vars: x}\n      loop: [1]\n",
     "p.yml:4:22: unknown loop_control option 'loop_vars' (did you mean 'loop_var'?)"),
    ("    - fixmod: path=/x line=y\n      listen: topic\n",
     "p.yml:4:7: 'listen' is only valid on handlers"),
    ("    - fixmod: path=/x line=y\n      notify: restart ngnix\n"
     "  handlers:\n    - name: restart nginx\n      fixmod: path=/x line=y\n",
     "p.yml:3:7: notify: no handler named 'restart ngnix' in this play (did you mean "
     "'restart nginx'?)"),
    ("    - fixmod: path=/x line=y\n      become: sometimes\n",
     "p.yml:4:15: 'become' must be a boolean (true/false), got a string"),
    ("    - fixmod: path=/x line=y\n      tags: [{a: 1}]\n",
     "p.yml:4:14: 'tags' must be a string or a list of strings, found a mapping"),
    ("    - fixmod: path=/x line=y\n      vars: {bad-name: 1}\n",
     "p.yml:4:14: invalid variable name 'bad-name' in 'vars' (letters, digits and _ only, "
     "not starting with a digit)"),
    ("    - block:\n        - fixmod: path=/x line=y\n      fixmod: path=/y\n",
     "p.yml:5:7: 'fixmod' is not allowed on a block (put it on a task inside)"),
    ("    - block:\n        - fixmod: path=/x line=y\n      loop: [1]\n",
     "p.yml:5:7: 'loop' is not allowed on a block (put it on a task inside)"),
    ("    - import_tasks: missing.yml\n",
     "p.yml:3:7: tasks file 'missing.yml' not found (looked in .)"),
    ("    - import_tasks: \"{{ os }}.yml\"\n",
     "p.yml:3:7: import_tasks cannot take a templated file name '{{ os }}.yml' (files are "
     "imported when the playbook loads; use include_tasks)"),
    ("    - include_tasks: nothere.yml\n",
     "p.yml:3:7: tasks file 'nothere.yml' not found (looked in .)"),
    ("    - just a string\n",
     "p.yml:3:7: a task must be a mapping (keyword: value), got a string"),
    ("    - fixmod: path=/x line=y\n      retries: many\n",
     "p.yml:4:16: 'retries' must be an integer, got a string"),
])
def test_task_errors(tmp_path: Path, tasks: str, expected: str) -> None:
    found = one_error(tmp_path, PLAY + tasks)
    assert found.replace(str(tmp_path), ".") == expected


@pytest.mark.parametrize("text, expected", [
    ("- hosts: all\n  taks: []\n",
     "p.yml:2:3: unknown play keyword 'taks' (did you mean 'tasks'?)"),
    ("- name: no hosts\n  tasks: []\n",
     "p.yml:1:3: a play needs 'hosts' (a host pattern such as 'all' or 'webservers')"),
    ("- hosts: all\n  when: x\n",
     "p.yml:2:3: unknown play keyword 'when' (task keywords go inside 'tasks:')"),
    ("- hosts: all\n  serial: lots\n",
     "p.yml:2:11: 'serial' must be a number, a percentage ('30%') or a list of them, "
     "got 'lots'"),
    ("- hosts: all\n  max_fail_percentage: 150\n",
     "p.yml:2:24: 'max_fail_percentage' must be a number from 0 to 100, got 150"),
    ("- hosts: all\n  tasks: {name: x}\n", "p.yml:2:10: 'tasks' must be a list, got a mapping"),
    ("hosts: all\n", "p.yml:1:1: a playbook must be a list of plays, got a mapping"),
    ("- hosts: all\n  tasks:\n  - name: a\n    name: b\n",
     "p.yml:4:5: duplicate key 'name' (first at line 3)"),
    ("- hosts: all\n  tasks:\n    - name: x\n     debug: msg=1\n",
     "p.yml:4:6: invalid YAML: did not find expected '-' indicator"),
    ("- hosts: all\n  tasks:\n    - name: x: y\n",
     "p.yml:3:14: invalid YAML: mapping values are not allowed in this context"),
    ("- hosts: all\n  vars:\n    pw: !vault |\n      $ANSIBLE_VAULT;1.1;AES256\n",
     "p.yml:3:9: vault-encrypted value but no vault password was given (use "
     "--vault-password-file or --ask-vault-pass)"),
    ("- import_playbook: other.yml\n",
     "p.yml:1:20: imported playbook 'other.yml' not found (other.yml)"),
    ("- import_playbook: p.yml\n", "p.yml:1:20: playbook imports itself (p.yml)"),
    ("- hosts: all\n  roles:\n    - comon\n",
     "p.yml:3:7: role 'comon' not found (looked in roles, "),
    ("- hosts: all\n  handlers:\n    - fixmod: path=/x line=y\n",
     "p.yml:3:7: a handler needs a 'name' (or 'listen') to be notified by"),
    ("", "p.yml: empty playbook (expected a list of plays)"),
    ("- hosts: all\n  vars_prompt:\n    - name: pw\n",
     "p.yml:2:3: 'vars_prompt' is not supported (runs are unattended): pass the values with "
     "-e or keep them in a vault"),
    ("- hosts: all\n  tasks:\n    - include_role: name=nosuchrole\n",
     "p.yml:3:7: role 'nosuchrole' not found"),
    ("- hosts: all\n  vars_files:\n    - vars/missing.yml\n",
     "p.yml:3:7: vars_files: 'vars/missing.yml' not found (relative to ."),
])
def test_play_and_file_errors(tmp_path: Path, text: str, expected: str) -> None:
    found = one_error(tmp_path, text).replace(str(tmp_path), ".")
    assert found.startswith(expected), found


def test_bad_role_parameter(tmp_path: Path) -> None:
    found = one_error(tmp_path, "- hosts: all\n  roles:\n    - {role: x, bad key: 1}\n",
                      {"roles/x/tasks/main.yml": "- fixmod: path=/x line=y\n"})
    assert found == "p.yml:3:17: invalid role parameter 'bad key'"


def test_role_not_found_suggests_a_known_role(tmp_path: Path) -> None:
    found = one_error(tmp_path, "- hosts: all\n  roles: [comon]\n",
                      {"roles/common/tasks/main.yml": "- fixmod: path=/x line=y\n"})
    assert found.endswith("(did you mean 'common'?)")


def test_errors_inside_roles_and_imported_files_name_those_files(tmp_path: Path) -> None:
    found = errors_of(tmp_path, "- hosts: all\n  roles: [web]\n  tasks:\n"
                                "    - import_tasks: extra.yml\n", {
                                    "roles/web/tasks/main.yml": "- fixmod: path=/x\n",
                                    "roles/web/meta/main.yml": "dependencies: [nope]\n",
                                    "extra.yml": "- fixmod: {path: /x, line: y, force: maybe}\n"})
    assert found[0].startswith("roles/web/meta/main.yml:1:16: role 'nope' not found")
    assert found[1:] == [
        "roles/web/tasks/main.yml:1:11: module 'fixmod' needs one of: line, regexp, payload",
        "extra.yml:1:31: argument 'force' of module 'fixmod': expected a boolean "
        "(yes/no/true/false), got 'maybe'"]


def test_all_errors_are_reported_in_one_pass(tmp_path: Path) -> None:
    found = errors_of(tmp_path, "- hosts: all\n  gather_factz: no\n  tasks:\n"
                                "    - fixmod: path=/x line=y cuont=3\n"
                                "    - name: second\n      fixmd: path=/x\n"
                                "- hosts: db\n  tasks:\n    - fixmod: {line: y}\n")
    assert found == [
        "p.yml:2:3: unknown play keyword 'gather_factz' (did you mean 'gather_facts'?)",
        "p.yml:4:30: unsupported argument 'cuont' for module 'fixmod' (did you mean 'count'?)",
        "p.yml:6:7: unknown module or keyword 'fixmd' (did you mean 'fixmod'?)",
        "p.yml:9:15: missing required argument 'path' for module 'fixmod'"]


def test_templated_values_are_not_type_checked(tmp_path: Path) -> None:
    (tmp_path / "modules").mkdir()
    shutil.copy(FIXTURES / "modspec" / "modules" / "fixmod.py", tmp_path / "modules")
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  tasks:\n    - fixmod:\n        path: /x\n        line: y\n"
        "        count: '{{ n }}'\n        force: '{{ f | bool }}'\n")
    task = load_playbook(tmp_path / "p.yml").plays[0].tasks[0]
    assert task.args["count"] == "{{ n }}"  # type: ignore[union-attr]


def test_check_syntax_cli_reports_every_error_and_exits_3(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text("- hosts: all\n  tasks:\n    - debugg: msg=hi\n"
                                    "    - command: ls\n      whn: yes\n")
    runner = CliRunner()
    result = runner.invoke(check_syntax, [str(tmp_path / "p.yml")])
    err = result.exception
    assert isinstance(err, PlaybookError) and err.exit_code == EXIT_INVALID_INPUT
    assert result.stderr.splitlines() == [
        f"error: {tmp_path}/p.yml:3:7: unknown module or keyword 'debugg' (did you mean "
        "'debug'?)"]
    assert str(err).splitlines() == [
        f"{tmp_path}/p.yml:5:7: unknown module or keyword 'whn' (did you mean 'when'?)",
        "2 problems found; nothing was run"]


def test_check_syntax_cli_ok_and_warns_about_unmatched_hosts() -> None:
    project = FIXTURES / "project"
    runner = CliRunner()
    result = runner.invoke(check_syntax, [str(project / "site.yml"), "-i",
                                          str(project / "inventory" / "staging")])
    assert result.exit_code == 0, result.output
    assert f"{project}/site.yml: ok (2 play(s), 19 task(s))" in result.stdout
    assert "hosts pattern 'prod' matches no host or group" in result.stderr


def test_inline_argument_columns_follow_quotes(tmp_path: Path) -> None:
    found = errors_of(tmp_path, PLAY + "    - fixmod: \"path=/x line=y cout=1\"\n"
                                       "    - fixmod: >\n        path=/x line=y cout=1\n")
    assert found == [
        "p.yml:3:31: unsupported argument 'cout' for module 'fixmod' (did you mean 'count'?)",
        "p.yml:4:15: unsupported argument 'cout' for module 'fixmod' (did you mean 'count'?)"]
