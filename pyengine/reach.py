"""How the controller reaches a host: its variables -> a connection -> an agent session.

The one place that reads a host's connection variables (`ansible_*`, `pyengine_*`),
renders them with the host's own variables (so `ansible_host: "{{ addr }}"` works the
same everywhere), marks passwords as secrets, and picks the session (the Python agent,
with sudo as the variables or keywords say, or PowerShell on Windows). `run`,
`patch status` and `ssh_login_check` use it; so must anything later that talks to a
host. It sits above connection/, agent/ and templating/ and below everything that
runs tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from pyengine.agent.bundle import ModuleCode
from pyengine.agent.powershell import PowerShellSession
from pyengine.agent.session import PythonAgentSession
from pyengine.booleans import is_true
from pyengine.connection.base import Connection
from pyengine.connection.hostvars import connection_for_host
from pyengine.connection.winrm import WinRMConnection
from pyengine.masking import register_secret
from pyengine.templating import Templar

AgentSession = PythonAgentSession | PowerShellSession
ModuleSource = Callable[[str], "str | ModuleCode"]  # ModuleCode: helpers, bridged modules
# (become?, become user): the agent sessions a host can have open at once.
Privilege = tuple[bool, str | None]

CONNECTION_PREFIXES = ("ansible_", "pyengine_")
_PASSWORD_VARS = ("ansible_password", "ansible_ssh_pass", "ansible_ssh_password",
                  "ansible_become_password", "ansible_become_pass", "ansible_sudo_pass")
_BECOME_PASSWORD_VARS = ("ansible_become_password", "ansible_become_pass", "ansible_sudo_pass")
_LOGIN_USER_VARS = ("ansible_user", "ansible_ssh_user")


def connection_settings(variables: Mapping[str, Any], login_user: str | None = None
                        ) -> dict[str, Any]:
    """The host's `ansible_*`/`pyengine_*` variables, rendered with its own variables.

    Only these keys are rendered: another variable of the host may be a template that
    cannot render yet (it reads a fact), and connecting must not depend on it. A
    template that does not render raises (PyengineError): never connect somewhere else.
    `login_user` replaces the user the variables name (a login check as someone else).
    """
    # Keys first: reading another variable's value could render it (and fail).
    wanted = {k: variables[k] for k in list(variables) if k.startswith(CONNECTION_PREFIXES)}
    rendered: dict[str, Any] = Templar(variables).render(wanted)
    for key in _PASSWORD_VARS:
        if rendered.get(key):
            register_secret(str(rendered[key]))
    if login_user is not None:
        for name in _LOGIN_USER_VARS:
            rendered.pop(name, None)
        rendered["ansible_user"] = login_user
    return rendered


def open_connection(host: str, variables: Mapping[str, Any], *, trust_new_hosts: bool = False,
                    login_user: str | None = None) -> Connection:
    """An unopened connection to `host` as its variables describe it.

    `login_user` replaces the user the variables name (a login check as someone else);
    `trust_new_hosts` records unknown SSH host keys (changed keys are still refused).
    """
    return connection_for_host(host, connection_settings(variables, login_user),
                               trust_new_hosts=trust_new_hosts)


def privilege_from_vars(variables: Mapping[str, Any]) -> Privilege:
    """`ansible_become` / `ansible_become_user` alone (for callers without play keywords)."""
    settings = connection_settings(variables)
    if not is_true(settings.get("ansible_become", False)):
        return (False, None)
    user = settings.get("ansible_become_user")
    return (True, str(user) if user else "root")


def open_agent_session(connection: Connection, variables: Mapping[str, Any],
                       module_source: ModuleSource, *, privilege: Privilege = (False, None),
                       become_password: str | None = None,
                       module_source_ps1: ModuleSource | None = None) -> AgentSession:
    """An unstarted agent session over `connection` (`start()` it to get the facts).

    The host's become password variable wins over `become_password` (-K), as in Ansible;
    `ansible_python_interpreter` picks the target's Python ("auto" is resolved by the
    session). A WinRM connection gets the PowerShell runner (no sudo on Windows).
    """
    if isinstance(connection, WinRMConnection):
        return PowerShellSession(connection, module_source=module_source_ps1 or module_source)
    become, user = privilege
    templar = Templar(variables)
    password = None
    if become:
        password = become_password
        for name in _BECOME_PASSWORD_VARS:
            value = variables.get(name)
            if value:
                password = str(templar.render(value))
                break
    python = str(templar.render(variables.get("ansible_python_interpreter") or "python3"))
    return PythonAgentSession(connection, module_source=module_source, become=become,
                              become_user=user, become_password=password, python=python)

