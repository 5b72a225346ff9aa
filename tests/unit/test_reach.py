"""pyengine/reach.py: a host's variables -> connection settings -> agent session, the one
way every command reaches a host (no host is contacted here: sessions are not started)."""

from __future__ import annotations

import pytest

from pyengine.agent.powershell import PowerShellSession
from pyengine.agent.session import PythonAgentSession
from pyengine.connection.local import LocalConnection
from pyengine.errors import PyengineError
from pyengine.masking import mask
from pyengine.reach import (
    connection_settings,
    open_agent_session,
    open_connection,
    privilege_from_vars,
)


def no_module(name: str) -> str:
    raise AssertionError(f"no module is shipped here ({name})")


def test_connection_settings_render_with_the_hosts_own_variables() -> None:
    variables = {"addresses": {"web1": "10.0.0.7"}, "inventory_hostname": "web1",
                 "ansible_host": "{{ addresses[inventory_hostname] }}",
                 "ansible_port": "{{ 2200 + 22 }}", "unrelated": "{{ not_defined_yet }}"}
    got = connection_settings(variables)
    assert got == {"ansible_host": "10.0.0.7", "ansible_port": 2222}


def test_a_connection_template_that_does_not_render_fails_instead_of_connecting() -> None:
    with pytest.raises(PyengineError, match="undefined_thing"):
        connection_settings({"ansible_host": "{{ undefined_thing }}"})


def test_passwords_from_templates_become_secrets() -> None:
    connection_settings({"vault_pw": "s3cr3t-reach-pw", "ansible_password": "{{ vault_pw }}"})
    assert mask("the password is s3cr3t-reach-pw") == "the password is ********"


def test_open_connection_picks_the_class_from_the_rendered_settings() -> None:
    conn = open_connection("me", {"kind": "local", "ansible_connection": "{{ kind }}"})
    assert isinstance(conn, LocalConnection)


def test_become_password_variable_wins_over_the_prompted_one() -> None:
    variables = {"pw": "from-vars-reach", "ansible_become_password": "{{ pw }}",
                 "ansible_python_interpreter": "{{ '/usr/bin/python3' }}"}
    session = open_agent_session(LocalConnection("me"), variables, no_module,
                                 privilege=(True, "root"), become_password="from-prompt")
    assert isinstance(session, PythonAgentSession)
    assert session.become and session.become_user == "root"
    assert session.become_password == "from-vars-reach"
    assert session.python == "/usr/bin/python3"
    prompted = open_agent_session(LocalConnection("me"), {}, no_module,
                                  privilege=(True, None), become_password="from-prompt")
    assert prompted.become_password == "from-prompt"


def test_no_become_means_no_password_is_handed_to_the_session() -> None:
    session = open_agent_session(LocalConnection("me"), {"ansible_become_password": "x"},
                                 no_module, become_password="from-prompt")
    assert isinstance(session, PythonAgentSession)
    assert not session.become and session.become_password is None


def test_windows_hosts_get_the_powershell_runner() -> None:
    conn = open_connection("dc1", {"ansible_connection": "winrm", "ansible_host": "10.1.1.1",
                                   "ansible_user": "admin", "ansible_password": "pw"})
    session = open_agent_session(conn, {}, no_module, module_source_ps1=no_module)
    assert isinstance(session, PowerShellSession)


@pytest.mark.parametrize(("variables", "expected"), [
    ({}, (False, None)),
    ({"ansible_become": "yes"}, (True, "root")),
    ({"b": True, "ansible_become": "{{ b }}", "ansible_become_user": "{{ 'app' }}"},
     (True, "app")),
    ({"ansible_become": "no", "ansible_become_user": "app"}, (False, None)),
])
def test_privilege_from_the_host_variables(variables: dict, expected: tuple) -> None:
    assert privilege_from_vars(variables) == expected
