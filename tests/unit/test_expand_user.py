"""A `~user` that does not exist is a path like any other (pathlib would raise and the
user would see a traceback): found by the playbook property test with `roles: ['~0']`."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.errors import PlaybookError
from pyengine.paths import expand_user


def test_unknown_user_stays_as_written() -> None:
    assert expand_user("~no-such-user-0/x") == Path("~no-such-user-0/x")
    assert expand_user("~/x") == Path.home() / "x"


def test_a_role_named_like_an_unknown_home_is_a_one_line_error(tmp_path: Path) -> None:
    from pyengine.playbook import load_playbook

    book = tmp_path / "site.yml"
    book.write_text("- hosts: all\n  roles: ['~0']\n")
    with pytest.raises(PlaybookError) as err:
        load_playbook(book)
    assert "site.yml:2" in str(err.value) and "~0" in str(err.value)
