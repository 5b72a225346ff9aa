"""Templates as they come out of a playbook's YAML: the issue's cases end to end through
the loader (backslashes of a double-quoted string, `#jinja2:` lines, `comment`)."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.errors import PlaybookError
from pyengine.playbook.loader import load_playbook, walk
from pyengine.templating import Templar


def _args(tmp_path: Path, tasks: str) -> list[dict[str, object]]:
    (tmp_path / "p.yml").write_text("- hosts: all\n  tasks:\n" + tasks)
    return [t.args for t in walk(load_playbook(tmp_path / "p.yml").plays[0].tasks)]


def test_regex_backreference_in_double_quoted_yaml(tmp_path: Path) -> None:
    args = _args(tmp_path, (
        '    - debug:\n'
        '        msg: "{{ key | regex_replace(\'^(.*)\\\\.pub$\', \'\\\\1\') }}"\n'
        "    - debug:\n"
        "        msg: '{{ key | regex_replace(''^(.*)\\.pub$'', ''\\1'') }}'\n"
        "    - debug:\n"
        "        msg: \"Test \\\\3; {{ 'a_name' | regex_replace('^(.*)_name$', '\\\\1') }}\"\n"))
    t = Templar({"key": "id_rsa.pub"})
    assert [t.render(a["msg"]) for a in args] == ["id_rsa", "id_rsa", "Test \\3; a"]


def test_jinja2_header_in_a_yaml_value_is_applied_not_output(tmp_path: Path) -> None:
    args = _args(tmp_path, (
        "    - copy:\n"
        "        dest: /x\n"
        "        content: |\n"
        "          #jinja2: lstrip_blocks: True\n"
        "          {{ 'x' | comment }}\n"
        "            {% for i in [1, 2] %}\n"
        "          n{{ i }}\n"
        "            {% endfor %}\n"))
    assert Templar({}).render(args[0]["content"]) == "#\n# x\n#\nn1\nn2\n"


def test_a_bad_jinja2_header_is_a_load_error_with_its_line(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError) as err:
        _args(tmp_path, "    - debug:\n        msg: \"#jinja2: trim_block: True\\nx\"\n")
    assert "p.yml:4" in str(err.value) and "unknown setting 'trim_block'" in str(err.value)


def test_vault_values_are_vault_encrypted_and_the_filters_round_trip(tmp_path: Path) -> None:
    import pyengine.vars  # noqa: F401 - adds the vault filters, as a run does
    from pyengine.vault.lib import VaultLib, seal
    from pyengine.vault.secrets import VaultSecret

    sealed = seal(b"s3cret", b"pw").decode()
    body = "\n".join("        " + line for line in sealed.splitlines())
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  vars:\n    token: !vault |\n" + body + "\n    plain: text\n"
        "  tasks:\n    - debug: {msg: x}\n")
    vault = VaultLib([VaultSecret("default", b"pw")])
    play = load_playbook(tmp_path / "p.yml", vault=vault).plays[0]
    t = Templar(dict(play.vars))
    assert t.render("{{ token }}") == "s3cret"
    assert t.render("{{ token is vault_encrypted }}") is True
    assert t.render("{{ plain is vault_encrypted }}") is False
    assert t.render("{{ 'x' | vault('k') | unvault('k') }}") == "x"
