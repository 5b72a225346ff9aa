"""Waiting for a rebooted host, shared by `reboot` (POSIX) and `win_reboot` (Windows).

A host that merely kept answering has not rebooted: the wait ends only when a fresh
connection's facts carry a different `ansible_boot_id`.
"""

from __future__ import annotations

import time
from typing import Any

from pyengine.actions.base import HostOps


def wait_for_new_boot(ops: HostOps, before: Any, started: float, timeout: float,
                      interval: float) -> dict[str, Any]:
    """Reconnect until the boot id differs from `before`; returns the new facts."""
    from pyengine.actions.base import ActionFailed
    from pyengine.errors import HostUnreachable

    deadline = started + timeout
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ActionFailed(f"host did not come back with a new boot id within {timeout:g}s",
                               rebooted=False)
        try:
            facts: dict[str, Any] = ops.reconnect(left, interval)
        except HostUnreachable as err:
            raise ActionFailed(f"host did not come back within {timeout:g}s: {err.reason}",
                               rebooted=False) from None
        if facts.get("ansible_boot_id") and facts.get("ansible_boot_id") != before:
            return facts
        ops.drop_connection()
        time.sleep(interval)
