"""Collection filters, tests and lookups load at run time from the installed collections;
without ansible-core, or without the collection, the error says what to install."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyengine.content.collections import find_collection
from pyengine.errors import TemplateError
from pyengine.playbook.context import LoadContext
from pyengine.playbook.loops import parse_loop
from pyengine.templating import Templar

if find_collection("community.general") is None:
    pytest.skip("needs the community.general collection (pip install ansible)",
                allow_module_level=True)


def test_collection_filter_test_and_lookup() -> None:
    t = Templar({"d": {"a": 1}})
    assert t.render("{{ 'v' | community.general.dict_kv('k') }}") == {"k": "v"}
    assert t.render("{{ 'ansible.builtin.copy' is community.general.a_module }}") is True
    assert t.render("{{ query('community.general.flattened', [1, [2, [3]]]) }}") == [1, 2, 3]


def test_unknown_plugin_and_collection_are_named() -> None:
    t = Templar({})
    with pytest.raises(TemplateError, match="no filter named 'community.general.nope'"):
        t.render("{{ 1 | community.general.nope }}")
    with pytest.raises(TemplateError, match="collection 'nosuchns.coll' is not installed"):
        t.render("{{ 1 | nosuchns.coll.f }}")
    with pytest.raises(TemplateError, match="unknown lookup 'nosuchns.coll.l'"):
        t.render("{{ lookup('nosuchns.coll.l', 1) }}")


def test_with_collection_lookup_loads_and_unknown_lookup_is_a_load_error() -> None:
    ctx = LoadContext(Path.cwd())
    loop = parse_loop({"debug": {}, "with_community.general.flattened": ["{{ a }}", [[3]]]},
                      ctx, None)
    assert Templar({"a": [1, [2]]}).render(loop) == [1, 2, 3]
    parse_loop({"debug": {}, "with_itemz": [1]}, ctx, None)
    assert [e.message for e in ctx.problems.errors] == [
        "unknown loop keyword 'with_itemz'"]


def test_without_ansible_core_the_error_says_what_to_install(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import sys
        sys.modules["ansible"] = None  # as if ansible-core were not installed
        from pyengine.errors import TemplateError
        from pyengine.templating import Templar
        try:
            Templar({}).render("{{ 1 | community.general.dict_kv('k') }}")
        except TemplateError as err:
            print(err)
    """)
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=60, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "need ansible-core" in proc.stdout and "pip install" in proc.stdout
    assert "Traceback" not in proc.stdout + proc.stderr
