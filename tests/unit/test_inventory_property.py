"""Whatever an inventory file holds, loading gives an Inventory or a clean PlaybookError."""

from __future__ import annotations

import tempfile
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from pyengine.errors import PlaybookError
from pyengine.inventory import load_inventory
from pyengine.inventory.patterns import select

ini_pieces = st.sampled_from([
    "[web]", "[web:vars]", "[web:children]", "[db]", "[all:vars]", "[x:y]", "[", "]", "\n",
    "h1", "web[01:03]", "web[3:1]", "db-[a:c]", "h:22", " x=1", " y='a b'", " z=[1,2]", "=",
    " # c", "; c", "db", "web", " bad", "h[1:2:0]", "\"", "'", "{{ x }}", "[a:children]",
])
yaml_pieces = st.sampled_from([
    "all:", "\n", "  ", "hosts:", "vars:", "children:", "web:", "h1:", "x: 1", "- h",
    "web[1:2]:", "{", "}", "[", "]", "!vault x", "&a", "*a", "null", ": ", "ansible_port: 22",
])


def load(name: str, text: str) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / name
        path.write_text(text)
        try:
            inv = load_inventory(path)
        except PlaybookError as err:
            assert str(err)
            return
        for host in inv.hosts:
            inv.host_vars(host)
        select(inv, "all:!web:&db")


@settings(max_examples=300, deadline=None)
@given(st.lists(ini_pieces, max_size=30).map("".join))
def test_any_ini_gives_an_inventory_or_an_error(text: str) -> None:
    load("hosts", text)


@settings(max_examples=300, deadline=None)
@given(st.lists(yaml_pieces, max_size=30).map("".join))
def test_any_yaml_gives_an_inventory_or_an_error(text: str) -> None:
    load("hosts.yml", text)
