"""Reboot a Windows host and wait until it answers over WinRM with a new boot time.

`shutdown.exe /r /t N` returns at once, so the WinRM command completes before the
host goes down; then the connection is dropped and tried again until the runner's
facts show a different `ansible_boot_id` (the last boot time), and `test_command`
succeeds.
"""

from __future__ import annotations

import time
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "reboot_timeout": {"type": "int", "default": 1200,
                       "help": "Seconds to wait for the host to come back."},
    "pre_reboot_delay": {"type": "int", "default": 2,
                         "help": "Seconds shutdown.exe waits before rebooting."},
    "post_reboot_delay": {"type": "int", "default": 0,
                          "help": "Seconds to wait after the host is back."},
    "test_command": {"type": "str", "default": "whoami",
                     "help": "Command (PowerShell) that must succeed once the host is back."},
    "msg": {"type": "str", "default": "Reboot initiated by pyengine",
            "help": "Message shown to logged-on users."},
    "connect_timeout": {"type": "int", "help": "Accepted; per-try timeout."},
}
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions._rebooting import wait_for_new_boot
    from pyengine.actions.base import ActionFailed

    if ctx.check_mode:
        return {"changed": True, "rebooted": False, "msg": "would reboot (check mode)"}
    ops = ctx.host_ops
    before = ctx.variables.get("ansible_boot_id")
    delay = max(int(ctx.args.get("pre_reboot_delay") or 0), 2)
    message = str(ctx.args.get("msg") or "")[:500]
    result = ops.run_module("win_command", {
        "argv": ["shutdown.exe", "/r", "/t", str(delay), "/c", message]})
    if result.get("failed"):
        raise ActionFailed(f"shutdown.exe failed: {result.get('stderr') or result.get('msg')}")
    started = time.monotonic()
    ops.drop_connection()
    time.sleep(delay + 5)
    timeout = float(ctx.args.get("reboot_timeout") or 1200)
    wait_for_new_boot(ops, before, started, timeout, 5.0)
    if ctx.args.get("post_reboot_delay"):
        time.sleep(int(ctx.args["post_reboot_delay"]))
    check = ops.run_module("win_shell", {"_raw_params": str(ctx.args.get("test_command"))})
    if check.get("failed"):
        raise ActionFailed(f"test_command failed after reboot: {check.get('stderr') or ''}",
                           rebooted=True)
    elapsed = round(time.monotonic() - started, 1)
    return {"changed": True, "rebooted": True, "elapsed": elapsed,
            "msg": f"rebooted; back after {elapsed:g}s"}
