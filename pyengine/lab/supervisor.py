"""Keeps one host running: boot it, notice when its PID 1 exits, boot it again.

A host that reboots itself (`systemctl reboot` inside) makes the kernel end its PID
namespace with SIGHUP; the supervisor boots it again on the same overlay, as a VM would
come back. `poweroff` (SIGINT) leaves it off until `lab up` or `lab reset`. A reset wipes the upper
layer and restores the host's seed before the next boot.
"""

from __future__ import annotations

import logging
import os
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable
from pathlib import Path

from pyengine.lab.boot import boot_command
from pyengine.lab.config import LabPaths
from pyengine.lab.procs import children, read_pid_file, write_pid_file
from pyengine.lab.seed import apply_seed

log = logging.getLogger("pyengine.lab")

FAST_FAIL_SECONDS = 5
MAX_FAST_FAILS = 3


def _machine_uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


class HostSupervisor(threading.Thread):
    def __init__(self, paths: LabPaths, host: str, image: Path,
                 network: Callable[[], str]) -> None:
        """`network` is called before each boot and returns the namespace path to join."""
        super().__init__(name=f"supervise-{host}", daemon=True)
        self.paths = paths
        self.host = host
        self.image = image
        self.network = network
        self.state = "starting"
        self.boots = 0
        self.pid: int | None = None
        self._cond = threading.Condition()
        self._stopping = False
        self._wipe = False
        self._wake = False

    # -- requests from the control server (other threads) ---------------------------------

    def reset(self) -> int:
        """Ask for a wipe and a fresh boot; returns the boot count to wait past."""
        with self._cond:
            self._wipe = True
            before = self.boots
            self._cond.notify_all()
        self._kill_pid1()
        return before

    def start_if_down(self) -> None:
        """Boot a host that was powered off or gave up booting (keeps its disk)."""
        with self._cond:
            if self.state in ("off", "failed"):
                self._wake = True
                self._cond.notify_all()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
        self._kill_pid1()

    def wait_boots_past(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with self._cond:
            while self.boots <= count and self.state != "failed":
                left = deadline - time.monotonic()
                if left <= 0:
                    return False
                self._cond.wait(left)
        return self.state != "failed"

    def _kill_pid1(self) -> None:
        pid = read_pid_file(self.paths.host_pid(self.host))
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)  # systemd as PID 1 ignores SIGTERM
            except ProcessLookupError:
                pass

    # -- the loop -----------------------------------------------------------------------

    def run(self) -> None:
        fast_fails = 0
        while True:
            with self._cond:
                if self._stopping:
                    break
                wipe, self._wipe = self._wipe, False
            if wipe:
                self._wipe_upper()
            started = time.monotonic()
            rc = self._boot_once()
            lived = time.monotonic() - started
            with self._cond:
                if self._stopping:
                    break
                if self._wipe:
                    continue
                if rc == -signal.SIGINT:
                    log.info("%s: powered off; stays off until `lab up` or `lab reset`", self.host)
                    self.state = "off"
                    self._cond.notify_all()
                    self._sleep_until_asked()
                    continue
                fast_fails = fast_fails + 1 if lived < FAST_FAIL_SECONDS else 0
                if fast_fails >= MAX_FAST_FAILS:
                    log.error("%s: failed to boot %d times; see %s", self.host, fast_fails,
                              self.paths.host_console(self.host))
                    self.state = "failed"
                    self._cond.notify_all()
                    self._sleep_until_asked()
                    fast_fails = 0
                    continue
                reason = "rebooted" if rc == -signal.SIGHUP else f"exited ({rc})"
                log.info("%s: %s; booting again", self.host, reason)
            if fast_fails:
                time.sleep(1)
        with self._cond:
            self.state = "stopped"
            self._cond.notify_all()

    def _sleep_until_asked(self) -> None:
        """Called with the lock held: wait for stop, reset or start."""
        while not (self._stopping or self._wipe or self._wake):
            self._cond.wait()
        self._wake = False

    def _boot_once(self) -> int:
        cgroup = self.paths.cgroup(self.host)
        cgroup.mkdir(parents=True, exist_ok=True)
        argv = boot_command(
            cgroup / "cgroup.procs",
            self.network(),
            self.paths.boot_script,
            self.image,
            self.paths.host_upper(self.host),
            self.paths.host_work(self.host),
            self.paths.host_root(self.host),
            self.host,
            _machine_uptime(),
        )
        with open(self.paths.host_console(self.host), "wb") as console:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console,
                                    stderr=subprocess.STDOUT)
        pid1 = self._find_pid1(proc)
        with self._cond:
            self.pid = pid1
            self.boots += 1
            self.state = "running" if pid1 else "booting"
            if pid1:
                write_pid_file(self.paths.host_pid(self.host), pid1)
            self._cond.notify_all()
        if pid1 and (self._stopping or self._wipe):
            self._kill_pid1()  # a request arrived before the PID file existed
        rc = proc.wait()
        with self._cond:
            self.pid = None
            self.state = "down"
            self.paths.host_pid(self.host).unlink(missing_ok=True)
        return rc

    @staticmethod
    def _find_pid1(proc: subprocess.Popen[bytes]) -> int | None:
        """The host's PID 1 is the only child of `unshare --fork` (same PID as the first sh)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            found = children(proc.pid)
            if found:
                return found[0]
            time.sleep(0.01)
        return None

    def _wipe_upper(self) -> None:
        upper = self.paths.host_upper(self.host)
        work = self.paths.host_work(self.host)
        for path in (upper, work):
            if path.exists():
                shutil.rmtree(path)
            path.mkdir(parents=True)
        apply_seed(self.paths.host_seed(self.host), upper)
        log.info("%s: reset to pristine", self.host)
