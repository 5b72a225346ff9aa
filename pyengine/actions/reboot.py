"""Reboot the host and wait until it answers again with a new boot id.

The reboot command is started detached from the SSH session (`shutdown -r` via
systemd-run/nohup after a short sleep) so the command's channel closes cleanly
before the host goes down; then the connection is dropped and tried again until
the agent's facts show a different `ansible_boot_id` (a host that merely kept
answering has not rebooted), then `test_command` must succeed.
"""

from __future__ import annotations

import time
from typing import Any

from pyengine.actions.base import ActionContext

ARGS = {
    "reboot_timeout": {"type": "int", "default": 600,
                       "help": "Seconds to wait for the host to come back."},
    "connect_timeout": {"type": "int", "help": "Seconds for each connection try."},
    "pre_reboot_delay": {"type": "int", "default": 0,
                         "help": "Seconds before the reboot command runs."},
    "post_reboot_delay": {"type": "int", "default": 0,
                          "help": "Seconds to wait after the host is back."},
    "test_command": {"type": "str", "default": "whoami",
                     "help": "Command that must succeed once the host is back."},
    "msg": {"type": "str", "default": "Reboot initiated by pyengine",
            "help": "Message given to shutdown."},
    "reboot_command": {"type": "str",
                       "help": "Command that reboots (default: shutdown -r now)."},
    "boot_time_command": {"type": "str", "help": "Accepted; the boot id fact is used."},
    "search_paths": {"type": "list", "elements": "str", "help": "Accepted for compatibility."},
}
KIND = "sequenced"


def run(ctx: ActionContext) -> dict[str, Any]:
    from pyengine.actions._rebooting import wait_for_new_boot
    from pyengine.actions.base import ActionFailed

    if ctx.check_mode:
        return {"changed": True, "rebooted": False, "msg": "would reboot (check mode)"}
    ops = ctx.host_ops
    before = ctx.variables.get("ansible_boot_id") if hasattr(ctx.variables, "get") else None
    if not before:
        before = ops.run_module("command", {"argv": ["cat", "/proc/sys/kernel/random/boot_id"]}
                                ).get("stdout", "").strip()
    delay = int(ctx.args.get("pre_reboot_delay") or 0)
    command = ctx.args.get("reboot_command") or "shutdown -r now"
    line = f"sleep {max(delay, 1)}; {command} '{_quote(str(ctx.args.get('msg') or ''))}'" \
        if not ctx.args.get("reboot_command") else f"sleep {max(delay, 1)}; {command}"
    # Detached, so the channel returns before sshd goes away.
    result = ops.run_module("command", {"argv": [
        "/bin/sh", "-c", f"nohup /bin/sh -c {_shq(line)} >/dev/null 2>&1 &"]})
    if result.get("failed"):
        raise ActionFailed(f"reboot command failed: {result.get('msg') or result.get('stderr')}")
    started = time.monotonic()
    ops.drop_connection()
    time.sleep(max(delay, 1) + 1)
    timeout = float(ctx.args.get("reboot_timeout") or 600)
    wait_for_new_boot(ops, before, started, timeout, 2.0)
    post = int(ctx.args.get("post_reboot_delay") or 0)
    if post:
        time.sleep(post)
    test = str(ctx.args.get("test_command") or "whoami")
    check = ops.run_module("command", {"argv": ["/bin/sh", "-c", test]})
    if check.get("failed"):
        raise ActionFailed(f"test_command failed after reboot: {check.get('stderr') or ''}",
                           rebooted=True)
    elapsed = round(time.monotonic() - started, 1)
    return {"changed": True, "rebooted": True, "elapsed": elapsed,
            "msg": f"rebooted; back after {elapsed:g}s"}


def _quote(text: str) -> str:
    return text.replace("'", "")


def _shq(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"
