"""Prove that a brand-new SSH login still works, for each of some users.

After the baseline changes sshd or the firewall, the run's own connection proves
nothing: sshd keeps established sessions through a restart, and the firewall lets
established traffic pass. This action opens a NEW connection per user (new TCP
connection, key exchange and authentication, with the host's inventory options and
`ansible_user` replaced), runs `id -un` over it and closes it. It retries until
`timeout` (sshd may still be restarting) and fails when a login does not succeed, so
the playbook can roll the change back.
"""

from __future__ import annotations

import time
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
}
KIND = "sequenced"


def try_login(host: str, variables: Mapping[str, Any], user: str) -> str:
    """One new connection as `user`; returns the remote `id -un` or raises."""
    connection = open_connection(host, variables, login_user=user)
    try:
        connection.connect()
        result = connection.run(["id", "-un"], timeout=30)
        if result.rc != 0:
            err = result.stderr.decode("utf-8", "replace")
            raise RuntimeError(f"`id -un` exited {result.rc}: {err.strip()[:200]}")
        return result.stdout.decode("utf-8", "replace").strip()
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
    logins: dict[str, str] = {}
    for user in users:
        deadline = time.monotonic() + timeout
        while True:
            try:
                seen = try_login(ctx.host, ctx.variables, user)
                if seen != user:
                    raise RuntimeError(f"logged in as {seen!r}, expected {user!r}")
                logins[user] = "ok"
                break
            except Exception as err:  # noqa: BLE001 - any failure is a failed login
                reason = str(err) or type(err).__name__
                if time.monotonic() + pause > deadline:
                    raise ActionFailed(f"new SSH login as {user} failed: {reason}",
                                       logins=logins) from None
                time.sleep(pause)
    return {"changed": False, "logins": logins,
            "msg": f"new SSH login works for {', '.join(users)}"}
