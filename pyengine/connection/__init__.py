"""Connections to hosts: `ssh` (paramiko), `local` (the controller) and `winrm`.

`connection_for_host(name, hostvars)` picks the class from `ansible_connection` and
maps the Ansible variables to options; see `base.py` for the interface.
"""

from __future__ import annotations

from pyengine.connection.base import (
    AgentChannel,
    CommandResult,
    CommandTimeout,
    Connection,
    HostKeyError,
)
from pyengine.connection.hostvars import connection_for_host, ssh_options_from_vars
from pyengine.connection.local import LocalConnection

__all__ = [
    "AgentChannel",
    "CommandResult",
    "CommandTimeout",
    "Connection",
    "HostKeyError",
    "LocalConnection",
    "connection_for_host",
    "ssh_options_from_vars",
]
