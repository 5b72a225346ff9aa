"""Prove that a brand-new SSH login still works, for each of some users.

After the baseline changes sshd or the firewall, the run's own connection proves
nothing: sshd keeps established sessions through a restart, and the firewall lets
established traffic pass. This action opens a NEW connection per user (new TCP
connection, key exchange and authentication, with the host's inventory options and
`ansible_user` replaced), runs `id -un` over it and closes it. It retries until
`timeout` (sshd may still be restarting) and fails when a login does not succeed, so
the playbook can roll the change back. With `become`, the same new login must also get
root through sudo (without a terminal, as the agent uses it) before the baseline hands
the run over to that user; `private_key_file` logs in with another key than the host's.
"""

from __future__ import annotations

import time
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from pyengine.actions.base import ActionContext, ActionFailed
from pyengine.reach import open_connection

ARGS = {
    "users": {"type": "list", "elements": "str",
              "help": "Users to log in as (default: the host's ansible_user)."},
    "timeout": {"type": "int", "default": 30,
                "help": "Seconds to keep trying per user before failing."},
    "sleep": {"type": "int", "default": 1, "help": "Seconds between tries."},
    "become": {"type": "bool", "default": False,
               "help": "Also prove that sudo gives root over the new login (sudo -n, or "
                       "sudo -S with become_password)."},
    "become_password": {"type": "str", "no_log": True,
                        "help": "The sudo password for the become proof."},
    "private_key_file": {"type": "path",
                         "help": "Log in with this key instead of the host's own."},
}
KIND = "sequenced"


def _id(connection: Any, argv: list[str], data: bytes | None = None) -> str:
    result = connection.run(argv, data=data, timeout=30)
    if result.rc != 0:
        err = result.stderr.decode("utf-8", "replace")
        raise RuntimeError(f"`{' '.join(argv)}` exited {result.rc}: {err.strip()[:200]}")
    return str(result.stdout.decode("utf-8", "replace").strip())


def try_login(host: str, variables: Mapping[str, Any], user: str, *, become: bool = False,
              become_password: str | None = None) -> str:
    """One new connection as `user`; returns the remote `id -un` or raises.

    With `become`, `sudo id -un` over the same connection must answer root, else it raises.
    """
    connection = open_connection(host, variables, login_user=user)
    try:
        connection.connect()
        seen = _id(connection, ["id", "-un"])
        if become and seen == user:
            if become_password:
                # -S reads the password from stdin; -p '' keeps the prompt off stderr.
                root = _id(connection, ["sudo", "-S", "-p", "", "-k", "id", "-un"],
                           data=(become_password + "\n").encode())
            else:
                root = _id(connection, ["sudo", "-n", "id", "-un"])
            if root != "root":
                raise RuntimeError(f"sudo as {user} gave {root!r}, not root")
        return seen
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a probe never matters
            pass


def run(ctx: ActionContext) -> dict[str, Any]:
    kind = str(ctx.variables.get("ansible_connection") or "ssh").lower()
    if kind not in ("ssh", "paramiko", "smart", "paramiko_ssh"):
        return {"changed": False, "skipped": True,
                "msg": f"not an SSH host (ansible_connection={kind})"}
    users = list(ctx.args.get("users") or [])
    if not users:
        users = [str(ctx.templar.render(ctx.variables.get("ansible_user") or "root"))]
    if ctx.check_mode:
        return {"changed": False, "msg": f"would log in as {', '.join(users)} (check mode)"}
    timeout = float(ctx.args.get("timeout") or 30)
    pause = float(ctx.args.get("sleep") or 1)
    become = bool(ctx.args.get("become"))
    password = ctx.args.get("become_password") or None
    variables: Mapping[str, Any] = ctx.variables
    if ctx.args.get("private_key_file"):
        variables = ChainMap({"ansible_ssh_private_key_file": ctx.args["private_key_file"],
                              "ansible_private_key_file": ctx.args["private_key_file"]},
                             ctx.variables)  # type: ignore[arg-type]
    logins: dict[str, str] = {}
    for user in users:
        deadline = time.monotonic() + timeout
        while True:
            try:
                seen = try_login(ctx.host, variables, user, become=become,
                                 become_password=password)
                if seen != user:
                    raise RuntimeError(f"logged in as {seen!r}, expected {user!r}")
                logins[user] = "ok, sudo ok" if become else "ok"
                break
            except Exception as err:  # noqa: BLE001 - any failure is a failed login
                reason = str(err) or type(err).__name__
                if time.monotonic() + pause > deadline:
                    raise ActionFailed(f"new SSH login as {user} failed: {reason}",
                                       logins=logins) from None
                time.sleep(pause)
    sudo = " (and sudo gives root)" if become else ""
    return {"changed": False, "logins": logins,
            "msg": f"new SSH login works for {', '.join(users)}{sudo}"}
