"""The nightly schedule's units loaded by a real systemd (inside a lab host).

The units are the exact text `pyengine schedule install` writes; the job is a small
shell command instead of pyengine (which is not installed inside lab hosts), so what
is tested is the systemd side: the timer is accepted and scheduled at the time asked,
the service runs the job in its working directory, and the exit codes pyengine uses
for "a task failed" (2), "unreachable" (4) and "locked" (5) do not mark the unit failed.
"""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from pyengine.schedule.units import Schedule, service_unit, timer_unit

pytestmark = pytest.mark.lab


def _write(host: Any, path: str, text: str) -> None:
    host.exec(["sh", "-c", f"cat > {path}"], input=text)


@pytest.mark.parametrize("exit_code, failed", [(0, False), (2, False), (5, False), (1, True)])
def test_timer_and_service_run_under_systemd(lab: Any, exit_code: int, failed: bool) -> None:
    host = lab.hosts[0]
    name = f"pe-sched-{uuid.uuid4().hex[:6]}"
    workdir = f"/tmp/{name}"
    sched = Schedule(at="02:30", project_dir=Path(workdir), name=name,
                     command=["/bin/sh", "-c", f"pwd > out.txt; exit {exit_code}"])
    host.exec(["mkdir", "-p", workdir])
    try:
        _write(host, f"/etc/systemd/system/{name}.service", service_unit(sched))
        _write(host, f"/etc/systemd/system/{name}.timer", timer_unit(sched))
        host.exec(["systemctl", "daemon-reload"])
        verify = host.exec(["systemd-analyze", "verify", f"/etc/systemd/system/{name}.timer",
                            f"/etc/systemd/system/{name}.service"], check=False)
        assert verify.returncode == 0, verify.stderr
        host.exec(["systemctl", "enable", "--now", f"{name}.timer"])
        timers = host.exec(["systemctl", "list-timers", "--all", "--no-pager", f"{name}.timer"])
        assert f"{name}.timer" in timers.stdout and "02:30:00" in timers.stdout
        run = host.exec(["systemctl", "start", f"{name}.service"], check=False)
        assert (run.returncode != 0) == failed, run.stderr
        assert host.exec(["cat", f"{workdir}/out.txt"]).stdout.strip() == workdir
        state = host.exec(["systemctl", "is-failed", f"{name}.service"], check=False).stdout
        assert (state.strip() == "failed") == failed
    finally:
        host.exec(["systemctl", "disable", "--now", f"{name}.timer"], check=False)
        host.exec(["systemctl", "reset-failed", f"{name}.service"], check=False)
        host.exec(["rm", "-rf", workdir, f"/etc/systemd/system/{name}.service",
                   f"/etc/systemd/system/{name}.timer"], check=False)
        host.exec(["systemctl", "daemon-reload"], check=False)
