"""ssh_login_check: the new connection uses the host's own options with only the user
replaced, and a refused login fails the task (so the baseline rolls back)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from pyengine.actions import ssh_login_check
from pyengine.actions.base import ActionFailed
from pyengine.reach import connection_settings
from pyengine.templating import Templar


def test_login_settings_replace_only_the_user() -> None:
    variables = {"ansible_host": "127.0.0.5", "ansible_port": "{{ 20 + 2 }}",
                 "ansible_user": "root", "ansible_ssh_user": "old", "remote_user": "x",
                 "ansible_ssh_private_key_file": "/k", "pyengine_known_hosts": "/kh",
                 "unrelated": "y"}
    got = connection_settings(variables, login_user="labuser")
    assert got["ansible_user"] == "labuser"
    assert "ansible_ssh_user" not in got and "remote_user" not in got
    assert got["ansible_port"] == 22 and got["ansible_host"] == "127.0.0.5"
    assert got["ansible_ssh_private_key_file"] == "/k" and "unrelated" not in got


class Ctx:
    def __init__(self, args: dict[str, Any], variables: dict[str, Any],
                 check_mode: bool = False) -> None:
        self.host = "h1"
        self.args = args
        self.variables = variables
        self.templar = Templar(variables)
        self.check_mode = check_mode


def test_a_refused_login_fails_after_the_timeout(tmp_path: Path) -> None:
    # Nothing listens on this loopback port: every try is refused until the timeout.
    variables = {"ansible_host": "127.0.0.1", "ansible_port": 1, "ansible_user": "root",
                 "pyengine_known_hosts": str(tmp_path / "known_hosts")}
    ctx = Ctx({"users": ["root"], "timeout": 1, "sleep": 1}, variables)
    with pytest.raises(ActionFailed, match="new SSH login as root failed"):
        ssh_login_check.run(ctx)


def test_check_mode_and_non_ssh_hosts_do_not_connect() -> None:
    result = ssh_login_check.run(Ctx({"users": ["a"]}, {"ansible_host": "127.0.0.1"},
                                     check_mode=True))
    assert result["changed"] is False and "check mode" in result["msg"]
    local = ssh_login_check.run(Ctx({}, {"ansible_connection": "local"}))
    assert local.get("skipped") is True
