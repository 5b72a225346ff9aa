"""Keeps one host running: boot it, notice when its PID 1 exits, boot it again.

A host that reboots itself (`systemctl reboot` inside) makes the kernel end its PID
namespace with SIGHUP; the supervisor boots it again on the same overlay, as a VM would
come back. `poweroff` (SIGINT) leaves it off until `lab up` or `lab reset`. A reset wipes the upper
layer and restores the host's seed before the next boot.

Every supervisor is a task of the daemon's event loop, not a thread: it learns that a
boot ended from a pidfd the loop watches, so a lab of 250 hosts costs no thread per host.
At most BOOT_CONCURRENCY boot scripts run at once: the machine's CPUs do the same work in
about the same total time, and hosts come up steadily instead of all at the very end.
"""

from __future__ import annotations

import asyncio
import logging
import os
import shutil
import signal
import subprocess
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
BOOT_CONCURRENCY = max(4, 4 * (os.cpu_count() or 1))


def _machine_uptime() -> float:
    return float(Path("/proc/uptime").read_text().split()[0])


async def _exited(proc: subprocess.Popen[bytes]) -> int:
    """Wait, without a thread, until `proc` exits; its return code."""
    loop = asyncio.get_running_loop()
    try:
        pidfd = os.pidfd_open(proc.pid)
    except ProcessLookupError:
        return proc.wait()
    done: asyncio.Future[None] = loop.create_future()

    def readable() -> None:
        if not done.done():
            done.set_result(None)

    loop.add_reader(pidfd, readable)
    try:
        await done
    finally:
        loop.remove_reader(pidfd)
        os.close(pidfd)
    return proc.wait()


class HostSupervisor:
    def __init__(self, paths: LabPaths, host: str, image: Path,
                 network: Callable[[], str], kind: str = "systemd",
                 boot_slots: asyncio.Semaphore | None = None) -> None:
        """`network` is called before each boot and returns the namespace path to join;
        `boot_slots` bounds the boot scripts running at once across the lab."""
        self.paths = paths
        self.host = host
        self.image = image
        self.network = network
        self.kind = kind
        self.boot_slots = boot_slots
        self.state = "starting"
        self.boots = 0
        self.pid: int | None = None
        self._changed = asyncio.Event()
        self._stopping = False
        self._wipe = False
        self._wake = False
        self._task: asyncio.Task[None] | None = None

    def _notify(self) -> None:
        """Wake everyone waiting for a change (a new event for the next change)."""
        self._changed.set()
        self._changed = asyncio.Event()

    # -- requests from the control server (same event loop) -------------------------------

    def start(self) -> None:
        self._task = asyncio.get_running_loop().create_task(self.run(), name=f"host-{self.host}")

    def reset(self) -> int:
        """Ask for a wipe and a fresh boot; returns the boot count to wait past."""
        self._wipe = True
        before = self.boots
        self._notify()
        self._kill_pid1()
        return before

    def start_if_down(self) -> None:
        """Boot a host that was powered off or gave up booting (keeps its disk)."""
        if self.state in ("off", "failed"):
            self._wake = True
            self._notify()

    def stop(self) -> None:
        self._stopping = True
        self._notify()
        self._kill_pid1()

    async def join(self, timeout: float) -> None:
        if self._task is not None:
            await asyncio.wait([self._task], timeout=max(0.1, timeout))

    async def wait_boots_past(self, count: int, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while self.boots <= count and self.state != "failed":
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            try:
                await asyncio.wait_for(self._changed.wait(), left)
            except asyncio.TimeoutError:
                return False
        return self.state != "failed"

    def _kill_pid1(self) -> None:
        pid = read_pid_file(self.paths.host_pid(self.host))
        if pid is not None:
            try:
                os.kill(pid, signal.SIGKILL)  # systemd as PID 1 ignores SIGTERM
            except ProcessLookupError:
                pass

    # -- the loop -----------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._run()
        except Exception:  # one host's trouble must not end the lab
            log.exception("%s: supervisor failed", self.host)
            self.state = "failed"
            self._notify()

    async def _run(self) -> None:
        fast_fails = 0
        loop = asyncio.get_running_loop()
        while not self._stopping:
            wipe, self._wipe = self._wipe, False
            if wipe:
                await loop.run_in_executor(None, self._wipe_upper)
            started = time.monotonic()
            rc = await self._boot_once()
            lived = time.monotonic() - started
            if self._stopping:
                break
            if self._wipe:
                continue
            if rc == -signal.SIGINT:
                log.info("%s: powered off; stays off until `lab up` or `lab reset`", self.host)
                self.state = "off"
                self._notify()
                await self._sleep_until_asked()
                continue
            fast_fails = fast_fails + 1 if lived < FAST_FAIL_SECONDS else 0
            if fast_fails >= MAX_FAST_FAILS:
                log.error("%s: failed to boot %d times; see %s", self.host, fast_fails,
                          self.paths.host_console(self.host))
                self.state = "failed"
                self._notify()
                await self._sleep_until_asked()
                fast_fails = 0
                continue
            reason = "rebooted" if rc == -signal.SIGHUP else f"exited ({rc})"
            log.info("%s: %s; booting again", self.host, reason)
            if fast_fails:
                await asyncio.sleep(1)
        self.state = "stopped"
        self._notify()

    async def _sleep_until_asked(self) -> None:
        """Wait for stop, reset or start."""
        while not (self._stopping or self._wipe or self._wake):
            await self._changed.wait()
        self._wake = False

    async def _boot_once(self) -> int:
        if self.boot_slots is None:
            proc, pid1 = await self._spawn()
        else:
            async with self.boot_slots:
                if self._stopping:  # `lab down` while this host waited for its turn
                    return 0
                proc, pid1 = await self._spawn()
                if pid1:
                    await self._boot_script_done(pid1)
        rc = await _exited(proc)
        self.pid = None
        self.state = "down"
        self.paths.host_pid(self.host).unlink(missing_ok=True)
        return rc

    async def _spawn(self) -> tuple[subprocess.Popen[bytes], int | None]:
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
            self.kind,
        )
        with open(self.paths.host_console(self.host), "wb") as console:
            proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=console,
                                    stderr=subprocess.STDOUT)
        pid1 = await self._find_pid1(proc)
        self.pid = pid1
        self.boots += 1
        self.state = "running" if pid1 else "booting"
        if pid1:
            write_pid_file(self.paths.host_pid(self.host), pid1)
        self._notify()
        if pid1 and (self._stopping or self._wipe):
            self._kill_pid1()  # a request arrived before the PID file existed
        return proc, pid1

    async def _boot_script_done(self, pid1: int, timeout: float = 30) -> None:
        """Until PID 1 no longer runs the boot script (it has exec'd the host's init)."""
        script = str(self.paths.boot_script).encode()
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                cmdline = Path(f"/proc/{pid1}/cmdline").read_bytes()
            except OSError:
                return
            if script not in cmdline.split(b"\0"):
                return
            await asyncio.sleep(0.02)

    @staticmethod
    async def _find_pid1(proc: subprocess.Popen[bytes]) -> int | None:
        """The host's PID 1 is the only child of `unshare --fork` (same PID as the first sh)."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and proc.poll() is None:
            found = children(proc.pid)
            if found:
                return found[0]
            await asyncio.sleep(0.01)
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
