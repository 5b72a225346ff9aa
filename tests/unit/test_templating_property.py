"""Whatever text a template holds, rendering gives a value or a clean TemplateError."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from pyengine.errors import TemplateError
from pyengine.templating import Templar, template_variables

pieces = st.sampled_from([
    "{{", "}}", "{%", "%}", "{#", "#}", " x ", " y.z ", " | default(1) ", " | int ", " + ",
    "'a'", "[1, 2]", " if ", " else ", " for i in x ", " endfor ", " is defined ", "(",
    ")", "__class__", ".", " | to_json ", " | from_json ", " | regex_replace('(', '') ",
    " lookup('env', 'HOME') ", " | password_hash('sha512', 'ab') ", " 1/0 ", "omit", "\n",
    " | combine({}) ", " | b64decode ", " r is changed ", " | flatten ", " | bool ",
])
templates = st.lists(pieces, max_size=12).map("".join)


@settings(max_examples=400, deadline=None)
@given(templates)
def test_render_gives_a_value_or_a_template_error(text: str) -> None:
    templar = Templar({"x": [1, "{{ y }}"], "y": {"z": "{{ x }}"}, "r": {"changed": True}})
    try:
        templar.render(text)
        templar.evaluate(text)
    except TemplateError as err:
        assert str(err)
    try:
        template_variables(text)
    except TemplateError as err:
        assert "template syntax error" in str(err)
