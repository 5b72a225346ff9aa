"""Templating: native types, lazy variables, the Ansible filters/tests, the sandbox."""

from __future__ import annotations

import subprocess

import pytest

from pyengine.errors import TemplateError
from pyengine.templating import OMIT, Templar, UnsafeStr, template_variables, wrap_unsafe
from pyengine.templating.version import compare_versions


def render(template: object, **variables: object) -> object:
    return Templar(variables).render(template)


def test_lone_expression_keeps_its_native_type() -> None:
    assert render("{{ ports }}", ports=[80, 443]) == [80, 443]
    assert render("{{ n + 1 }}", n=41) == 42
    assert render("{{ flag }}", flag=False) is False
    assert render("port {{ n }}", n=80) == "port 80"
    assert render("{{ a }}{{ b }}", a=1, b=2) == "12"


def test_render_walks_dicts_and_lists_and_drops_omitted_keys() -> None:
    out = render({"dest": "/srv/{{ app }}", "mode": "{{ m | default(omit) }}",
                  "items": ["{{ app }}", "x"]}, app="shop")
    assert out == {"dest": "/srv/shop", "items": ["shop", "x"]}
    assert OMIT not in str(out)


def test_variables_are_rendered_lazily_and_recursively() -> None:
    variables = {"url": "http://{{ host }}:{{ port }}", "host": "{{ name | upper }}",
                 "name": "web", "port": 80, "broken": "{{ nothing_here }}"}
    assert Templar(variables).render("{{ url }}") == "http://WEB:80"


def test_unused_undefined_variable_is_no_error_but_a_used_one_names_itself() -> None:
    t = Templar({"ok": 1, "broken": "{{ nothing_here }}"})
    assert t.render("{{ ok }}") == 1
    with pytest.raises(TemplateError) as err:
        t.render("{{ broken }}")
    assert "undefined variable 'nothing_here'" in str(err.value)
    assert "while rendering variable 'broken'" in str(err.value)


def test_undefined_attribute_names_the_attribute() -> None:
    with pytest.raises(TemplateError, match="has no attribute 'missing'"):
        render("{{ d.missing }}", d={"a": 1})


def test_default_works_on_chains_of_undefined() -> None:
    assert render("{{ a.b.c | default('x') }}") == "x"
    assert render("{{ d.missing | default(7) }}", d={}) == 7


def test_recursive_variable_is_a_clear_error() -> None:
    with pytest.raises(TemplateError, match=r"recursive loop in variable 'a' \(a -> b -> a\)"):
        render("{{ a }}", a="{{ b }}", b="{{ a }}")


def test_sandbox_refuses_python_internals() -> None:
    with pytest.raises(TemplateError, match="unsafe template"):
        render("{{ ''.__class__.__mro__ }}")


def test_syntax_error_and_unknown_filter_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="template syntax error"):
        render("{{ x | nosuchfilter }}", x=1)
    with pytest.raises(TemplateError, match="template syntax error"):
        render("{{ x + }}", x=1)


def test_unsafe_values_are_never_rendered() -> None:
    stdout = UnsafeStr("{{ lookup('env', 'HOME') }}")
    assert render("{{ out }}", out=stdout) == stdout
    wrapped = wrap_unsafe({"stdout": "{{ x }}", "lines": ["{{ y }}"]})
    assert render("{{ r.stdout }} {{ r.lines[0] }}", r=wrapped) == "{{ x }} {{ y }}"


@pytest.mark.parametrize("expr, expected", [
    ("'yes' | bool", True), ("'off' | bool", False), ("'42' | int + 1", 43),
    ("['a','b'] | join(',')", "a,b"),
    ("'web01.example' | regex_replace('^web(\\d+).*$', 'w\\1')", "w01"),
    ("'version 1.2.3' | regex_search('\\d+\\.\\d+')", "1.2"),
    ("'a1b22' | regex_findall('\\d+')", ["1", "22"]),
    ("{'a': 1} | to_json", '{"a": 1}'), ("'{\"a\": [1]}' | from_json", {"a": [1]}),
    ("{'a': 1} | to_yaml", "{a: 1}\n"), ("'a: [1, 2]' | from_yaml", {"a": [1, 2]}),
    ("{'b': 2, 'a': 1} | to_nice_json(indent=2)", '{\n  "a": 1,\n  "b": 2\n}'),
    ("{'a': 1} | to_nice_yaml", "a: 1\n"),
    ("{'a': {'x': 1}} | combine({'a': {'y': 2}}, recursive=True)", {"a": {"x": 1, "y": 2}}),
    ("{'a': {'x': 1}} | combine({'a': {'y': 2}})", {"a": {"y": 2}}),
    ("{'a': 1} | dict2items", [{"key": "a", "value": 1}]),
    ("[{'key': 'a', 'value': 1}] | items2dict", {"a": 1}),
    ("' Hi ' | trim | lower", "hi"), ("'a-b' | replace('-', '_') | upper", "A_B"),
    ("[1, 2, 2, 3] | unique", [1, 2, 3]), ("[1, 2] | union([2, 3])", [1, 2, 3]),
    ("[1, 2, 3] | difference([2])", [1, 3]), ("[1, 2, 3] | intersect([3, 2, 9])", [2, 3]),
    ("[1, [2, [3]]] | flatten", [1, 2, 3]), ("[1, [2, [3]]] | flatten(levels=1)", [1, 2, [3]]),
    ("'hi' | b64encode", "aGk="), ("'aGk=' | b64decode", "hi"),
    ("'/etc/ssh/sshd_config' | basename", "sshd_config"),
    ("'/etc/ssh/sshd_config' | dirname", "/etc/ssh"),
    ("\"it's\" | quote", "'it'\"'\"'s'"), ("true | ternary('on', 'off')", "on"),
    ("'abc' | hash('sha256')",
     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"),
    ("[1, 2] | zip(['a', 'b']) | list", [[1, "a"], [2, "b"]]),
    ("[1, 2] | product(['a']) | list", [[1, "a"], [2, "a"]]),
    ("[{'n': 1, 'on': true}, {'n': 2, 'on': false}] | selectattr('on') | map(attribute='n') "
     "| list", [1]),
    ("[{'n': 1, 'on': true}, {'n': 2, 'on': false}] | rejectattr('on') | map(attribute='n') "
     "| list", [2]),
    ("[1, 2, 3, 4] | select('even') | list", [2, 4]),
    ("[1, 2, 3, 4] | reject('even') | list", [1, 3]),
    ("[3, 1] | first", 3), ("[3, 1] | last", 1), ("[3, 1] | length", 2),
    ("'x' | ansible.builtin.to_json", '"x"'),
    ("['/etc', 'ssh', 'sshd_config'] | path_join", "/etc/ssh/sshd_config"),
    ("'10 GB' | human_to_bytes", 10 * 1024 ** 3), ("'512M' | human_to_bytes", 512 * 1024 ** 2),
    ("2048 | human_readable", "2.00 KB"),
    ("'https://u@h.example:8443/p?q=1' | urlsplit('port')", 8443),
    ("'%Y' | strftime(0, utc=True)", "1970"),
    ("[1, 2, 3] | shuffle(seed=1) | sort", [1, 2, 3]),
    ("'a: 1\n---\nb: 2' | from_yaml_all", [{"a": 1}, {"b": 2}]),
    ("'2024-05-01 10:00:00' | to_datetime | string", "2024-05-01 10:00:00"),
])
def test_filters(expr: str, expected: object) -> None:
    assert render("{{ " + expr + " }}") == expected


def test_mandatory_names_the_variable() -> None:
    with pytest.raises(TemplateError, match="mandatory variable 'db_password'"):
        render("{{ db_password | mandatory }}")
    assert render("{{ x | mandatory }}", x=1) == 1


def test_password_hash_is_crypt_compatible() -> None:
    hashed = render("{{ 'secret' | password_hash('sha512', 'saltsalt') }}")
    openssl = subprocess.run(["openssl", "passwd", "-6", "-salt", "saltsalt", "secret"],
                             capture_output=True, text=True, check=True).stdout.strip()
    assert hashed == openssl
    assert str(render("{{ 'secret' | password_hash('sha512') }}")).startswith("$6$")


@pytest.mark.parametrize("expr, expected", [
    ("r is changed", True), ("r is success", True), ("r is failed", False),
    ("r is skipped", False), ("bad is failed", True), ("bad is succeeded", False),
    ("'12.1' is version('12', '>=')", True), ("'1.10' is version('1.9', 'gt')", True),
    ("'2.0' is version('2', '==')", False), ("'7.9' is version_compare('8.0', '<')", True),
    ("'abc' is match('a')", True), ("'abc' is search('c')", True),
    ("[1] is subset([1, 2])", True), ("undefined_thing is defined", False),
    ("x is defined", True),
])
def test_tests(expr: str, expected: bool) -> None:
    t = Templar({"r": {"changed": True, "failed": False}, "bad": {"failed": True}, "x": 0})
    assert t.evaluate(expr) is expected


def test_evaluate_conditions() -> None:
    t = Templar({"os": "Debian", "n": 3, "flag": "no", "yes_word": "yes", "lst": []})
    assert t.evaluate("os == 'Debian' and n > 2")
    assert t.evaluate(["n > 1", "n < 5"]) and not t.evaluate(["n > 1", "n > 5"])
    assert t.evaluate("{{ n == 3 }}")  # a lone {{ }} is unwrapped, as Ansible tolerates
    assert not t.evaluate("flag") and t.evaluate("yes_word")
    assert not t.evaluate("lst") and t.evaluate(True) and not t.evaluate(False)
    with pytest.raises(TemplateError, match="undefined variable 'missing'"):
        t.evaluate("missing == 1")


def test_template_variables_lists_what_a_template_reads() -> None:
    value = {"cmd": "echo {{ out.stdout }} {{ n | default(1) }}",
             "loop": ["{% for i in things %}{{ i }}{% endfor %}", "plain"]}
    assert template_variables(value) == {"out", "n", "things"}
    assert template_variables("result is changed and item > 1", expression=True) == {
        "result", "item"}
    assert template_variables("no templates here") == set()


def test_lookups(tmp_path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "key.pub").write_text("ssh-ed25519 AAAA test\n")
    monkeypatch.setenv("PYENGINE_TEST_VAR", "from-env")
    t = Templar({"x": 1}, search_paths=[tmp_path])
    assert t.render("{{ lookup('env', 'PYENGINE_TEST_VAR') }}") == "from-env"
    assert t.render("{{ lookup('file', 'key.pub') }}") == "ssh-ed25519 AAAA test"
    assert t.render("{{ query('vars', 'x') }}") == [1]
    with pytest.raises(TemplateError, match="unknown lookup 'pipes'.*did you mean 'pipe'"):
        t.render("{{ lookup('pipes', 'id') }}")


def test_version_comparison_is_numeric() -> None:
    assert compare_versions("1.10", "1.9") == 1
    assert compare_versions("12", "12.0") < 0  # as Ansible's LooseVersion
    assert compare_versions("2.0rc1", "2.0.1") == -1


def test_now_global() -> None:
    import datetime

    year = render("{{ now(fmt='%Y') }}")
    assert year == str(datetime.datetime.now().year)
    assert render("{{ now(utc=True).tzinfo is not none }}") is True


def test_path_tests_and_template_lookup(tmp_path) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "motd.j2").write_text("Welcome to {{ name }}\n")
    t = Templar({"name": "web01", "p": str(tmp_path)}, search_paths=[tmp_path])
    assert t.evaluate("p is directory and p is exists and p is abs and p is not file")
    assert t.render("{{ lookup('template', 'motd.j2') }}") == "Welcome to web01\n"
