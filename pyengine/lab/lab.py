"""The lab as tests and engineers use it: `Lab(name, octet).up(count)`, `.hosts`, `.down()`.

This is the CLI's side. It prepares the state directory (keys, seeds, inventory),
starts the lab daemon (daemon.py) detached, talks to it over its unix socket and waits
until every host answers with an SSH banner on 127.0.<octet>.N:22.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengine.errors import LabError
from pyengine.lab import image as image_mod
from pyengine.lab.boot import write_boot_script
from pyengine.lab.config import (
    CGROUP_ROOT,
    DEFAULT_NAME,
    DEFAULT_OCTET,
    SSH_PORT,
    STATE_ROOT,
    LabConfig,
    LabPaths,
    cap_drop_arg,
    host_address,
    validate_count,
    validate_delay,
    validate_name,
    validate_octet,
)
from pyengine.lab.inventory import render_inventory
from pyengine.lab.keys import known_hosts_lines, new_ed25519, new_host_keys
from pyengine.lab.procs import read_pid_file, start_time, wait_gone
from pyengine.lab.releases import DEFAULT_RELEASE, RELEASES
from pyengine.lab.seed import apply_seed, host_seed_files, passwd_ids, write_seed

Log = Callable[[str], None]
REQUIRED_TOOLS = ("unshare", "nsenter", "setpriv", "mount", "umount", "mknod", "pivot_root",
                  "hostname", "chroot")
BOOT_TIMEOUT = 180.0
PROGRESS_EVERY = 3.0  # seconds between "N/M hosts answer" lines while a lab boots
HOST_ENV = ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
            "HOME=/root", "LANG=C.UTF-8", "TERM=dumb"]


@dataclass
class HostStatus:
    name: str
    address: str
    port: int
    pid: int | None
    state: str  # running, booting, off, failed, down, ...
    boots: int = 0
    release: str = DEFAULT_RELEASE


@dataclass
class LabStatus:
    name: str
    up: bool
    octet: int | None = None
    delay_ms: int = 0
    daemon_pid: int | None = None
    hosts: list[HostStatus] = field(default_factory=list)
    kind: str = "systemd"


class LabHost:
    """One lab host. `exec` runs a command inside it (via nsenter), for checks in tests
    that must not depend on the SSH layer under test."""

    def __init__(self, paths: LabPaths, name: str, address: str, port: int = SSH_PORT) -> None:
        self._paths = paths
        self.name = name
        self.address = address
        self.port = port

    def __repr__(self) -> str:
        return f"LabHost({self.name!r}, {self.address}:{self.port}, pid={self.pid})"

    @property
    def pid(self) -> int | None:
        """PID 1 of the host as the machine sees it (changes when the host reboots)."""
        return read_pid_file(self._paths.host_pid(self.name))

    def exec(
        self,
        argv: list[str],
        input: str | bytes | None = None,
        check: bool = True,
        timeout: float = 60,
    ) -> subprocess.CompletedProcess[Any]:
        pid = self.pid
        if pid is None:
            raise LabError(f"{self.name}: not running")
        # The same capability limits as the host's own processes: a test's command must not
        # set the machine's clock either.
        cmd = ["setpriv", "--bounding-set", cap_drop_arg(), "--",
               "nsenter", "-t", str(pid), "-a", "-r", "-w", "--",
               "/usr/bin/env", "-i", *HOST_ENV, *argv]
        text = not isinstance(input, bytes)
        proc = subprocess.run(cmd, input=input, capture_output=True, timeout=timeout, text=text)
        if check and proc.returncode != 0:
            err = proc.stderr if text else proc.stderr.decode(errors="replace")
            raise LabError(f"{self.name}: {argv!r} exited {proc.returncode}: {err.strip()[-500:]}")
        return proc


def _require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("pyengine lab needs root (namespaces, overlay mounts): run it with sudo")


def _require_tools() -> None:
    missing = [tool for tool in REQUIRED_TOOLS if shutil.which(tool) is None]
    if missing:
        raise LabError(
            f"pyengine lab needs {', '.join(missing)}: apt-get install util-linux mount "
            "hostname coreutils"
        )


def _require_cgroup() -> None:
    hierarchy = CGROUP_ROOT.parent
    if not (hierarchy / "cgroup.procs").exists():
        raise LabError(
            f"pyengine lab needs the cgroup v1 `name=systemd` hierarchy at {hierarchy} "
            "(where each host's processes are kept); this machine does not have it mounted"
        )


def _ssh_banner(address: str, port: int, timeout: float = 3.0) -> bool:
    try:
        with socket.create_connection((address, port), timeout=timeout) as sock:
            sock.settimeout(timeout)
            return sock.recv(64).startswith(b"SSH-")
    except OSError:
        return False


def _wait_booted(host: LabHost) -> str:
    try:
        proc = host.exec(["systemctl", "is-system-running", "--wait"], check=False, timeout=90)
    except (LabError, subprocess.TimeoutExpired) as err:
        return str(err)
    return str(proc.stdout).strip()


class Lab:
    """A named lab of Debian hosts h1..hN at 127.0.<octet>.N:22 (12 unless told otherwise)."""

    def __init__(self, name: str = DEFAULT_NAME, octet: int = DEFAULT_OCTET,
                 state_root: Path | None = None) -> None:
        self.name = validate_name(name)
        self.octet = validate_octet(octet)
        self.paths = LabPaths(name, state_root or STATE_ROOT)

    # -- files ------------------------------------------------------------------------

    @property
    def inventory_path(self) -> Path:
        return self.paths.inventory

    @property
    def known_hosts_path(self) -> Path:
        return self.paths.known_hosts

    @property
    def private_key_path(self) -> Path:
        return self.paths.private_key

    def config(self) -> LabConfig | None:
        try:
            return LabConfig.from_json(self.paths.config.read_text())
        except (FileNotFoundError, ValueError, KeyError):
            return None

    @property
    def hosts(self) -> list[LabHost]:
        config = self.config()
        if config is None:
            return []
        return [LabHost(self.paths, name, host_address(config.octet, i))
                for i, name in enumerate(config.host_names(), start=1)]

    def host(self, name: str) -> LabHost:
        for host in self.hosts:
            if host.name == name:
                return host
        raise LabError(f"lab {self.name} has no host {name}")

    def daemon_pid(self) -> int | None:
        return read_pid_file(self.paths.daemon_pid)

    def is_up(self) -> bool:
        return self.daemon_pid() is not None

    # -- control socket ---------------------------------------------------------------

    def _control(self, cmd: str, timeout: float = 10, **fields: Any) -> dict[str, Any]:
        try:
            with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
                sock.settimeout(timeout)
                sock.connect(str(self.paths.control))
                sock.sendall(json.dumps({"cmd": cmd, **fields}).encode() + b"\n")
                data = b""
                while not data.endswith(b"\n"):
                    chunk = sock.recv(65536)
                    if not chunk:
                        break
                    data += chunk
        except OSError as err:
            raise LabError(f"lab {self.name}: its daemon does not answer ({err})") from err
        reply: dict[str, Any] = json.loads(data or b"{}")
        return reply

    def _answers(self) -> bool:
        try:
            self._control("status", timeout=5)
        except LabError:
            return False
        return True

    @contextmanager
    def _locked(self) -> Iterator[None]:
        """One `up`/`down`/`reset` at a time per lab (several pytest sessions may race).
        The lock file goes away with the lab; a waiter that finds its file replaced
        locks the new one."""
        self.paths.dir.parent.mkdir(parents=True, exist_ok=True)
        lock = self.paths.dir.parent / f".{self.name}.lock"
        while True:
            handle = open(lock, "a")
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                if os.stat(lock).st_ino == os.fstat(handle.fileno()).st_ino:
                    break
            except OSError:
                pass
            handle.close()
        try:
            yield
        finally:
            if not self.paths.dir.exists():
                lock.unlink(missing_ok=True)
            handle.close()

    # -- lifecycle --------------------------------------------------------------------

    def up(self, count: int, delay_ms: int = 0, log: Log | None = None,
           releases: tuple[str, ...] = (), light: bool = False) -> None:
        """Bring the lab up, or check that the running one matches; harmless when repeated.
        `releases` is the Debian release of h1..hN (see releases.py; empty: all bookworm).
        `light`: sshd as each host's only process, no systemd (see boot.py), for scale."""
        kind = "light" if light else "systemd"
        say = log or (lambda _msg: None)
        validate_count(count)
        releases = _host_releases(releases, count)
        validate_delay(delay_ms)
        _require_root()
        _require_tools()
        _require_cgroup()
        with self._locked():
            config = self.config()
            if self.is_up() and config is not None and self._answers():
                wanted = (self.octet, count, delay_ms, kind)
                if (config.octet, config.count, config.delay_ms, config.kind) != wanted:
                    raise LabError(
                        f"lab {self.name} is already up with {config.count} {config.kind} hosts on "
                        f"127.0.{config.octet}.x, delay {config.delay_ms} ms: run "
                        f"`pyengine lab down --name {self.name}` first"
                    )
                running = tuple(config.release_of(h) for h in config.host_names())
                if running != releases:
                    raise LabError(
                        f"lab {self.name} is already up with releases {','.join(running)}: "
                        f"run `pyengine lab down --name {self.name}` first"
                    )
                self._control("start")  # boots hosts that were powered off
                self._wait_ready(config, say)
                return
            self._teardown(say)  # leftovers of a lab whose daemon died
            self._check_octet_free()
            if kind == "systemd":
                _check_inotify_budget(count)  # light hosts hold no inotify instance
            needed = [r for r in RELEASES if r in releases]
            if not all(image_mod.image_ready(release) for release in needed):
                image_mod.require_debootstrap()
            images = {release: str(image_mod.ensure_image(say, release)) for release in needed}
            default = images.get(DEFAULT_RELEASE) or images[needed[0]]
            config = LabConfig(self.name, self.octet, count, delay_ms, default, releases, images,
                               kind)
            self._create_state(config, say)
            self._start_daemon()
            self._wait_ready(config, say)

    def reset(self, log: Log | None = None, hosts: list[str] | None = None) -> None:
        """Hosts back to pristine (all, or the named ones): upper layer wiped, seed
        restored, booted again."""
        say = log or (lambda _msg: None)
        _require_root()
        with self._locked():
            config = self.config()
            if config is None or not self.is_up():
                raise LabError(f"lab {self.name} is not up")
            # The daemon boots many hosts a few at a time: a big lab's reset takes longer.
            wait = 120 + len(hosts if hosts is not None else config.host_names())
            reply = self._control("reset", timeout=wait, hosts=hosts)
            if not reply.get("ok"):
                raise LabError(f"lab {self.name}: reset failed for {', '.join(reply['failed'])}")
            if hosts is not None and sorted(reply.get("reset", [])) != sorted(hosts):
                raise LabError(f"lab {self.name}: its daemon reset {reply.get('reset', 'all')} "
                               f"instead of {hosts} (restart the lab to update it)")
            self._wait_ready(config, say)

    def reset_host(self, name: str, log: Log | None = None) -> None:
        """One host back to pristine; the others keep running untouched."""
        self.reset(log, hosts=[name])

    def down(self, log: Log | None = None) -> None:
        """Stop what this lab started and remove its state directory (the image cache stays)."""
        say = log or (lambda _msg: None)
        _require_root()
        with self._locked():
            self._teardown(say)

    def status(self) -> LabStatus:
        config = self.config()
        daemon = self.daemon_pid()
        if config is None:
            return LabStatus(self.name, up=False)
        states: dict[str, Any] = {}
        if daemon is not None:
            try:
                states = self._control("status").get("hosts", {})
            except LabError:
                states = {}
        hosts = []
        for host in self.hosts:
            info = states.get(host.name, {})
            hosts.append(HostStatus(host.name, host.address, host.port, host.pid,
                                    info.get("state", "down"), int(info.get("boots", 0)),
                                    config.release_of(host.name)))
        up = daemon is not None and all(h.state == "running" for h in hosts)
        return LabStatus(self.name, up, config.octet, config.delay_ms, daemon, hosts, config.kind)

    # -- helpers ----------------------------------------------------------------------

    def _check_octet_free(self) -> None:
        root = self.paths.dir.parent
        if not root.is_dir():
            return
        for other in sorted(root.iterdir()):
            if other.name == self.name or not other.is_dir():
                continue
            lab = Lab(other.name, state_root=root) if _valid_name(other.name) else None
            config = lab.config() if lab else None
            if lab and config and config.octet == self.octet and lab.is_up():
                raise LabError(
                    f"octet {self.octet} is used by lab {other.name}: choose another --octet"
                )

    def _create_state(self, config: LabConfig, say: Log) -> None:
        paths = self.paths
        paths.dir.mkdir(parents=True, exist_ok=True)
        os.chmod(paths.dir, 0o700)
        say(f"lab {self.name}: preparing {config.count} hosts on 127.0.{config.octet}.x")
        client = new_ed25519(f"pyengine-lab-{self.name}")
        paths.private_key.write_bytes(client.private)
        os.chmod(paths.private_key, 0o600)
        paths.public_key.write_text(client.public + "\n")
        known: list[str] = []

        def make_host(index: int, name: str) -> list[str]:
            image = Path(config.image_of(name))
            homes = {user: home for user, (_uid, _gid, home) in passwd_ids(image).items()}
            keys = new_host_keys(name)
            write_seed(paths.host_seed(name), host_seed_files(name, keys, client.public, homes),
                       image)
            for sub in (paths.host_upper(name), paths.host_work(name), paths.host_root(name)):
                sub.mkdir(parents=True, exist_ok=True)
            apply_seed(paths.host_seed(name), paths.host_upper(name))
            return known_hosts_lines(host_address(config.octet, index), SSH_PORT, keys)

        with ThreadPoolExecutor(max_workers=4) as pool:
            for lines in pool.map(lambda a: make_host(*a),
                                  enumerate(config.host_names(), start=1)):
                known.extend(lines)
        paths.known_hosts.write_text("\n".join(known) + "\n")
        paths.inventory.write_text(render_inventory(config, paths.private_key, paths.known_hosts))
        write_boot_script(paths.boot_script)
        paths.config.write_text(config.to_json())

    def _start_daemon(self) -> None:
        # `sh -c '... &'` detaches the daemon (the shell exits at once), so a long-lived
        # caller such as pytest never leaves it a zombie.
        log = self.paths.daemon_log
        subprocess.run(
            ["/bin/sh", "-c", 'log=$1; shift; "$@" </dev/null >>"$log" 2>&1 &',
             "sh", str(log), sys.executable, "-m", "pyengine.lab.daemon", self.name],
            check=True, start_new_session=True,
            env={**os.environ, "PYENGINE_LAB_STATE_ROOT": str(self.paths.dir.parent)},
        )

    def _wait_ready(self, config: LabConfig, say: Log) -> None:
        deadline = time.monotonic() + BOOT_TIMEOUT
        while self.daemon_pid() is None:
            if time.monotonic() > deadline or not self._daemon_may_start():
                raise LabError(f"lab {self.name}: daemon did not start: {self._log_tail()}")
            time.sleep(0.05)
        pending = {h.name: h for h in self.hosts}

        def ready(host: LabHost) -> bool:
            return _ssh_banner(host.address, host.port)

        total, told = len(pending), time.monotonic()
        with ThreadPoolExecutor(max_workers=min(16, len(pending))) as pool:
            while pending:
                batch = list(pending.values())
                for host, ok in zip(batch, pool.map(ready, batch), strict=True):
                    if ok:
                        del pending[host.name]
                if not pending:
                    break
                if time.monotonic() - told >= PROGRESS_EVERY:
                    told = time.monotonic()
                    say(f"lab {self.name}: {total - len(pending)}/{total} hosts answer")
                if self.daemon_pid() is None:
                    raise LabError(f"lab {self.name}: daemon exited: {self._log_tail()}")
                failed = self._failed_hosts()
                if failed or time.monotonic() > deadline:
                    bad = failed or sorted(pending)
                    console = self.paths.host_console(bad[0])
                    raise LabError(
                        f"lab {self.name}: {', '.join(bad)} did not come up; see {console} "
                        f"and {self.paths.daemon_log}{_inotify_hint()}"
                    )
                time.sleep(0.2)
            # sshd answers before systemd has finished booting; wait for that too, so a test
            # that starts right away sees a settled host ("running" or "degraded"). A light
            # host has nothing but sshd: it is settled once sshd answers.
            if config.kind == "light":
                states = ["running"] * len(self.hosts)
            else:
                states = list(pool.map(_wait_booted, self.hosts))
        unsettled = [f"{h.name} ({s})" for h, s in zip(self.hosts, states, strict=True)
                     if s not in ("running", "degraded")]
        if unsettled:
            raise LabError(f"lab {self.name}: systemd did not finish booting on "
                           f"{', '.join(unsettled)}")
        say(f"lab {self.name}: {config.count} hosts up at 127.0.{config.octet}.1-{config.count}")

    def _failed_hosts(self) -> list[str]:
        try:
            hosts = self._control("status").get("hosts", {})
        except LabError:
            return []
        return sorted(name for name, info in hosts.items() if info.get("state") == "failed")

    def _daemon_may_start(self) -> bool:
        """False once the daemon log says it gave up (bind failure, ...)."""
        return "ERROR" not in self._log_tail()

    def _log_tail(self) -> str:
        try:
            lines = self.paths.daemon_log.read_text(errors="replace").strip().splitlines()
        except FileNotFoundError:
            return "(no daemon log)"
        return lines[-1] if lines else "(empty daemon log)"

    def _teardown(self, say: Log) -> None:
        """End the daemon and every host process of this lab, then remove its state."""
        paths = self.paths
        daemon = self.daemon_pid()
        if daemon is not None:
            stamp = start_time(daemon)
            try:
                self._control("stop", timeout=5)
            except LabError:
                pass
            if not wait_gone(daemon, stamp, 40):
                os.kill(daemon, signal.SIGKILL)
                wait_gone(daemon, stamp, 5)
        for host in self.hosts:
            pid = host.pid
            if pid is not None:
                stamp = start_time(pid)
                os.kill(pid, signal.SIGKILL)
                wait_gone(pid, stamp, 10)
        _kill_cgroup_tree(paths.cgroup())
        _remove_cgroup_tree(paths.cgroup())
        with _suppress_missing():
            paths.cgroup().parent.rmdir()  # only if no other lab uses it
        if paths.dir.exists():
            _remove_tree(paths.dir)
            say(f"lab {self.name}: down")


# A booted host's systemd and journald hold two inotify instances (measured: 14 hosts
# of five labs, 28 instances); the margin keeps a little for sshd, dbus and the tests.
INOTIFY_PER_HOST = 2
INOTIFY_MARGIN = 8


def _inotify_usage() -> tuple[int, int] | None:
    """(instances root holds now, the machine's fs.inotify.max_user_instances), or None."""
    try:
        limit = int(Path("/proc/sys/fs/inotify/max_user_instances").read_text())
    except (OSError, ValueError):
        return None
    used = 0
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            if proc.stat().st_uid != 0:
                continue
            used += sum(1 for fd in (proc / "fd").iterdir()
                        if os.readlink(fd) == "anon_inode:inotify")
        except OSError:
            continue
    return used, limit


def _check_inotify_budget(count: int) -> None:
    """Refuse, before anything starts, a lab the machine's inotify limit cannot boot: past
    it systemd in the extra hosts stalls at "initializing" and the cause is hard to see.
    The limit is the machine's own setting, which the lab must not raise."""
    usage = _inotify_usage()
    if usage is None:
        return
    used, limit = usage
    room = max(0, (limit - used - INOTIFY_MARGIN) // INOTIFY_PER_HOST)
    if count > room:
        raise LabError(
            f"a lab of {count} hosts needs about {count * INOTIFY_PER_HOST} inotify instances; "
            f"root uses {used} of the machine's {limit} (fs.inotify.max_user_instances), "
            f"room for {room} more hosts: use -n {room} or fewer, take down labs that are not "
            f"needed, or raise the limit yourself (sysctl fs.inotify.max_user_instances=1024)")


def _inotify_hint() -> str:
    """systemd stalls at boot when root has no inotify instance left (a machine-wide limit
    that every lab's hosts share and the lab must not raise): say so when that is the case."""
    usage = _inotify_usage()
    if usage is None or usage[0] < usage[1] - INOTIFY_MARGIN:
        return ""
    return (f" (root uses {usage[0]} of the machine's {usage[1]} inotify instances "
            "(fs.inotify.max_user_instances): take down labs that are not needed)")


def _host_releases(releases: tuple[str, ...], count: int) -> tuple[str, ...]:
    """One release per host: none given means the default everywhere."""
    if not releases:
        return (DEFAULT_RELEASE,) * count
    if len(releases) != count:
        raise LabError(f"{len(releases)} releases given for {count} hosts")
    for release in releases:
        image_mod.check_release(release)
    return tuple(releases)


def _valid_name(name: str) -> bool:
    try:
        validate_name(name)
    except LabError:
        return False
    return True


@contextmanager
def _suppress_missing() -> Iterator[None]:
    try:
        yield
    except OSError:
        pass


def _kill_cgroup_tree(top: Path) -> None:
    """Every process left in this lab's cgroups is one of ours (exec'd commands included)."""
    if not top.is_dir():
        return
    for _ in range(50):
        pids: list[int] = []
        for procs in top.rglob("cgroup.procs"):
            with _suppress_missing():
                pids.extend(int(p) for p in procs.read_text().split())
        if not pids:
            return
        for pid in pids:
            with _suppress_missing():
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.1)


def _remove_tree(state: Path) -> None:
    """The state directory, hosts in parallel: a big lab has thousands of small seed and
    upper-layer files, and on a busy disk each unlink waits (250 hosts: ~12,000 entries)."""
    hosts = state / "hosts"
    if hosts.is_dir():
        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(lambda host: shutil.rmtree(host, ignore_errors=True),
                          list(hosts.iterdir())))
    shutil.rmtree(state)


def _remove_cgroup_tree(top: Path) -> None:
    if not top.is_dir():
        return
    dirs = sorted((p for p in top.rglob("*") if p.is_dir()), key=lambda p: len(p.parts),
                  reverse=True)
    for directory in [*dirs, top]:
        with _suppress_missing():
            directory.rmdir()


def default_inventory_path() -> Path | None:
    """The default lab's inventory if that lab is up (the executor's target without -i)."""
    try:
        lab = Lab(DEFAULT_NAME)
    except LabError:
        return None
    if lab.inventory_path.is_file() and lab.is_up():
        return lab.inventory_path
    return None
