"""From a host's inventory variables to its connection: Ansible's names, our options.

`ansible_host`, `ansible_port`, `ansible_user`, `ansible_password` / `ansible_ssh_pass`,
`ansible_ssh_private_key_file`, `ansible_ssh_timeout`, `ansible_host_key_checking` and
the subset of `ansible_ssh_common_args` / `ansible_ssh_extra_args` that matters without
an ssh binary (`-o ProxyJump=`, `-J`, `-o UserKnownHostsFile=`,
`-o StrictHostKeyChecking=`, `-o ConnectTimeout=`, `-o ServerAliveInterval=`,
`-o ServerAliveCountMax=`, `-o IdentityFile=`, `-i`, `-p`, `-l`, and
`-o ProxyCommand="ssh -W %h:%p [user@]jump"`) become `ssh` connection options.
`pyengine_*` variables set our own options directly (`pyengine_known_hosts`, ...).
"""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from typing import Any

from pyengine.connection.base import Connection
from pyengine.errors import PyengineError

# ansible variable -> ssh option (first one set wins, in this order).
_DIRECT = [
    ("ansible_host", "host"),
    ("ansible_ssh_host", "host"),
    ("ansible_port", "port"),
    ("ansible_ssh_port", "port"),
    ("ansible_user", "user"),
    ("ansible_ssh_user", "user"),
    ("ansible_password", "password"),
    ("ansible_ssh_pass", "password"),
    ("ansible_ssh_password", "password"),
    ("ansible_ssh_private_key_file", "private_key_file"),
    ("ansible_private_key_file", "private_key_file"),
    ("ansible_ssh_timeout", "connect_timeout"),
    ("ansible_timeout", "connect_timeout"),
    ("ansible_ssh_host_key_checking", "host_key_checking"),
    ("ansible_host_key_checking", "host_key_checking"),
    ("pyengine_known_hosts", "known_hosts_file"),
    ("pyengine_user_known_hosts", "user_known_hosts"),
    ("pyengine_host_key_checking", "host_key_checking"),
    ("pyengine_private_key_passphrase", "private_key_passphrase"),
    ("pyengine_command_timeout", "command_timeout"),
    ("pyengine_keepalive_interval", "keepalive_interval"),
    ("pyengine_keepalive_count_max", "keepalive_count_max"),
    ("pyengine_proxy_jump", "proxy_jump"),
    ("pyengine_allow_agent", "allow_agent"),
    ("pyengine_look_for_keys", "look_for_keys"),
]

# `-o Name=value` of ssh(1) -> ssh option.
_SSH_O = {
    "proxyjump": "proxy_jump",
    "userknownhostsfile": "known_hosts_file",
    "stricthostkeychecking": "host_key_checking",
    "connecttimeout": "connect_timeout",
    "serveraliveinterval": "keepalive_interval",
    "serveralivecountmax": "keepalive_count_max",
    "identityfile": "private_key_file",
    "port": "port",
    "user": "user",
}

_INT_OPTIONS = {"port", "connect_timeout", "keepalive_interval", "keepalive_count_max"}


def _parse_ssh_args(text: str) -> dict[str, Any]:
    """The options we honour from an ssh command line fragment; the rest is ignored."""
    out: dict[str, Any] = {}
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise PyengineError(f"ansible_ssh_common_args: cannot parse {text!r}: {err}") from err
    i = 0
    while i < len(words):
        word = words[i]
        value = words[i + 1] if i + 1 < len(words) else ""
        if word in ("-o", "-J", "-i", "-p", "-l"):
            i += 2
        elif word.startswith(("-o", "-J", "-i", "-p", "-l")) and len(word) > 2:
            word, value = word[:2], word[2:]
            i += 1
        else:
            i += 1
            continue
        if word == "-J":
            out["proxy_jump"] = value
        elif word == "-i":
            out["private_key_file"] = value
        elif word == "-p":
            out["port"] = value
        elif word == "-l":
            out["user"] = value
        else:
            name, sep, setting = value.partition("=")
            if not sep:
                name, _, setting = value.partition(" ")
            key = name.strip().lower()
            setting = setting.strip().strip("\"'")
            if key in _SSH_O:
                out[_SSH_O[key]] = setting
            elif key == "proxycommand":
                jump = _jump_from_proxy_command(setting)
                if jump:
                    out["proxy_jump"] = jump
    return out


def _jump_from_proxy_command(command: str) -> str | None:
    """`ssh -W %h:%p [-p PORT] [-l USER] [user@]jump` -> `user@jump:port` (else None)."""
    words = shlex.split(command)
    if not words or not words[0].endswith("ssh") or "-W" not in words:
        return None
    user = port = None
    target = None
    i = 1
    while i < len(words):
        word = words[i]
        if word in ("-W", "-o", "-i", "-F"):
            i += 2
            continue
        if word == "-p" and i + 1 < len(words):
            port = words[i + 1]
            i += 2
            continue
        if word == "-l" and i + 1 < len(words):
            user = words[i + 1]
            i += 2
            continue
        if not word.startswith("-"):
            target = word
        i += 1
    if target is None:
        return None
    if user and "@" not in target:
        target = f"{user}@{target}"
    return f"{target}:{port}" if port else target


def unhonoured_ssh_args(text: str) -> list[str]:
    """The parts of an ssh argument string that `_parse_ssh_args` does not use (so the
    command line can name them instead of dropping them in silence)."""
    try:
        words = shlex.split(text)
    except ValueError as err:
        raise PyengineError(f"cannot parse ssh arguments {text!r}: {err}") from err
    ignored: list[str] = []
    i = 0
    while i < len(words):
        word = words[i]
        if word in ("-o", "-J", "-i", "-p", "-l") and i + 1 < len(words):
            value, i = words[i + 1], i + 2
        elif word[:2] in ("-o", "-J", "-i", "-p", "-l") and len(word) > 2:
            word, value, i = word[:2], word[2:], i + 1
        else:
            ignored.append(word)
            i += 1
            continue
        if word == "-o":
            key = value.replace(" ", "=").split("=", 1)[0].strip().lower()
            if key not in _SSH_O and key != "proxycommand":
                ignored.append(f"-o {value}")
            elif key == "proxycommand" and not _jump_from_proxy_command(
                    value.split("=", 1)[-1].strip().strip("\"'")):
                ignored.append(f"-o {value}")
    return ignored


def ssh_options_from_vars(hostvars: Mapping[str, Any]) -> dict[str, Any]:
    """The `ssh` connection options for a host from its (rendered) variables."""
    options: dict[str, Any] = {}
    for name in ("ansible_ssh_common_args", "ansible_ssh_extra_args"):
        if hostvars.get(name):
            options.update(_parse_ssh_args(str(hostvars[name])))
    taken: set[str] = set()
    for var, option in _DIRECT:
        value = hostvars.get(var)
        if value is None or value == "" or option in taken:
            continue
        taken.add(option)
        options[option] = value
    for option in _INT_OPTIONS & set(options):
        try:
            options[option] = int(options[option])
        except (TypeError, ValueError) as err:
            raise PyengineError(f"{option}: expected a number, got {options[option]!r}") from err
    return options


def connection_for_host(
    name: str,
    hostvars: Mapping[str, Any],
    trust_new_hosts: bool = False,
    gateway: Connection | None = None,
) -> Connection:
    """The connection `ansible_connection` asks for (default ssh), configured from vars.

    `trust_new_hosts` (`--trust-new-hosts`) switches ssh host-key checking to
    trust-on-first-use; changed keys stay refused.
    """
    kind = str(hostvars.get("ansible_connection") or "ssh").lower()
    if kind in ("ssh", "paramiko", "smart", "paramiko_ssh"):
        from pyengine.connection.ssh import SSHConnection

        options = ssh_options_from_vars(hostvars)
        if trust_new_hosts:
            options["host_key_checking"] = "tofu"
        if gateway is not None and not isinstance(gateway, SSHConnection):
            raise PyengineError(f"{name}: a jump host must be an ssh connection")
        return SSHConnection(name, options, gateway=gateway)
    if kind == "local":
        from pyengine.connection.local import LocalConnection

        return LocalConnection(name)
    if kind in ("winrm", "psrp"):
        from pyengine.connection.winrm import WinRMConnection, winrm_options_from_vars

        return WinRMConnection(name, winrm_options_from_vars(name, dict(hostvars)))
    raise PyengineError(
        f"{name}: unknown ansible_connection {kind!r} (supported: ssh, local, winrm)"
    )
