"""A YAML alias bomb is refused in linear time with file:line, and normal aliases work."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from pyengine.errors import PlaybookError
from pyengine.playbook import load_playbook
from pyengine.yamlload import load_yaml_text


def _bomb(levels: int) -> str:
    lines = ["- hosts: all", "  vars:", '    l0: &l0 ["lol","lol","lol","lol","lol","lol","lol",'
             '"lol","lol"]']
    for n in range(1, levels):
        refs = ",".join([f"*l{n - 1}"] * 9)
        lines.append(f"    l{n}: &l{n} [{refs}]")
    lines += ["  tasks:", "    - ping:"]
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_quickly_with_its_line(tmp_path: Path) -> None:
    (tmp_path / "bomb.yml").write_text(_bomb(9))
    started = time.monotonic()
    with pytest.raises(PlaybookError, match="alias bomb") as info:
        load_playbook(tmp_path / "bomb.yml")
    assert time.monotonic() - started < 5
    assert "bomb.yml:" in str(info.value)


def test_shared_aliases_of_normal_size_still_load() -> None:
    data = load_yaml_text("base: &b {port: 22, users: [a, b]}\nx: *b\ny: *b\n", "t.yml")
    assert data["x"] == data["y"] == {"port": 22, "users": ["a", "b"]}


@pytest.mark.parametrize("keyword", ["import_tasks", "include_tasks"])
def test_a_chain_of_tasks_files_too_deep_is_named_as_such(tmp_path: Path, keyword: str) -> None:
    """194 nested imports used to be reported as "invalid YAML: nested too deeply"."""
    for n in range(200):
        (tmp_path / f"t{n}.yml").write_text(f"- {keyword}: t{n + 1}.yml\n")
    (tmp_path / "t200.yml").write_text("- ping:\n")
    (tmp_path / "p.yml").write_text(f"- hosts: all\n  tasks:\n    - {keyword}: t0.yml\n")
    with pytest.raises(PlaybookError) as info:
        load_playbook(tmp_path / "p.yml")
    text = str(info.value)
    assert "more than 64 levels deep" in text and "t0.yml -> t1.yml -> ..." in text
    assert "invalid YAML" not in text
