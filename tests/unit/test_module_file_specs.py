"""The file modules' declarations: what `pyengine doc` and the controller's validation read."""

from __future__ import annotations

import pytest

from pyengine.errors import PyengineError
from pyengine.modspec import find_module, normalize_args

FILE_MODULES = ["file", "copy", "lineinfile", "blockinfile", "replace", "stat", "slurp",
                "find", "ping"]


@pytest.mark.parametrize("name", FILE_MODULES)
def test_every_argument_is_documented(name: str) -> None:
    spec = find_module(name)
    assert spec is not None
    assert spec.doc.strip(), f"{name} has no docstring"
    missing = [arg for arg, info in spec.args.items() if not info.get("help")]
    assert not missing, f"{name}: arguments without help: {missing}"


@pytest.mark.parametrize(
    ("module", "args", "canonical"),
    [
        ("lineinfile", {"dest": "/f", "line": "x", "regex": "^x"}, {"path": "/f", "regexp": "^x"}),
        ("lineinfile", {"name": "/f", "value": "x"}, {"path": "/f", "line": "x"}),
        ("blockinfile", {"destfile": "/f", "content": "x"}, {"path": "/f", "block": "x"}),
        ("copy", {"dest": "/f", "content": "x", "thirsty": "no"}, {"force": False}),
        ("file", {"dest": "/d", "state": "directory"}, {"path": "/d"}),
        ("stat", {"name": "/f", "checksum_algo": "sha256"}, {"checksum_algorithm": "sha256"}),
        ("slurp", {"path": "/f"}, {"src": "/f"}),
        ("find", {"path": "/d", "pattern": "*.conf"}, {"paths": ["/d"], "patterns": ["*.conf"]}),
        ("replace", {"dest": "/f", "regexp": "a"}, {"path": "/f", "replace": ""}),
    ],
)
def test_ansible_aliases_map_to_canonical_names(module, args, canonical) -> None:
    out = normalize_args(module, args)
    for key, value in canonical.items():
        assert out[key] == value


@pytest.mark.parametrize(
    ("module", "args", "message"),
    [
        ("lineinfile", {"path": "/f", "line": "x", "insertafter": "a", "insertbefore": "b"},
         "insertafter"),
        ("lineinfile", {"path": "/f", "regexp": "a", "search_string": "a", "line": "x"},
         "search_string"),
        ("copy", {"dest": "/f", "content": "x", "src": "/g"}, "content"),
        ("file", {"path": "/f", "state": "gone"}, "state"),
        ("find", {"paths": "/d", "file_type": "socket"}, "file_type"),
    ],
)
def test_controller_refuses_bad_combinations(module, args, message) -> None:
    with pytest.raises(PyengineError, match=message):
        normalize_args(module, args)
