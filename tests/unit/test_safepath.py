"""Path containment of controller-side writes whose path a target chose."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyengine.safepath import UnsafePath, contained

_SEGMENTS = st.lists(st.sampled_from(["a", "b", "..", ".", "", "etc", "/", "c/..", "../x"]),
                     min_size=1, max_size=8)


@settings(max_examples=400, deadline=None)
@given(_SEGMENTS)
def test_any_path_lands_inside_root_or_is_refused(tmp_path_factory: pytest.TempPathFactory,
                                                  segments: list[str]) -> None:
    root = tmp_path_factory.mktemp("root")
    relative = "/".join(segments)
    try:
        target = contained(root, relative)
    except UnsafePath:
        return
    real_root = Path(os.path.realpath(root))
    assert real_root in Path(os.path.normpath(target)).parents


def test_a_symlink_inside_root_that_leads_out_is_refused(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    (root / "h1").symlink_to(tmp_path)
    with pytest.raises(UnsafePath, match="resolves outside"):
        contained(root, "h1/etc/passwd")


def test_plain_paths_are_kept(tmp_path: Path) -> None:
    assert contained(tmp_path, "/etc//ssh/./sshd_config") == Path(
        os.path.realpath(tmp_path), "etc", "ssh", "sshd_config")
