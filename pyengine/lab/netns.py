"""A network namespace per host, held by the lab daemon as one open file descriptor.

The daemon holds the namespace (hosts join it), so no bind mount is needed to keep it,
and each boot gets a new namespace (`renew`). A socket belongs to the namespace it was
created in: `call` switches the calling thread into the host's namespace (setns), runs a
small function there (socket creation) and switches back, so the daemon then uses the
socket from its own namespace. No thread is kept per host: a lab of 250 hosts costs the
daemon 250 descriptors here, not 250 threads.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)
_home_fd: int | None = None
_home_lock = threading.Lock()


def _check(result: int, what: str) -> None:
    if result != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _home() -> int:
    """The daemon's own network namespace, opened once: every switch returns here."""
    global _home_fd
    with _home_lock:
        if _home_fd is None:
            _home_fd = os.open(f"/proc/{os.getpid()}/ns/net", os.O_RDONLY | os.O_CLOEXEC)
        return _home_fd


def _setns(fd: int) -> None:
    """setns(fd, CLONE_NEWNET) for the calling thread only (os.setns is 3.12+)."""
    _check(_libc.setns(fd, CLONE_NEWNET), "setns(CLONE_NEWNET)")


def _return_home(home: int) -> None:
    try:
        _setns(home)
    except OSError as err:  # never seen; a thread left in a host's network must not go on
        os.write(2, f"pyengine lab: cannot leave a host's network: {err}\n".encode())
        os._exit(70)


def _loopback_up() -> None:
    """`ip link set lo up` without a subprocess: a fresh namespace's lo starts down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


def _new_namespace() -> int:
    """A brand-new network namespace with its loopback up; returns a descriptor holding it."""
    home = _home()
    _check(_libc.unshare(CLONE_NEWNET), "unshare(CLONE_NEWNET)")
    try:
        _loopback_up()
        return os.open("/proc/thread-self/ns/net", os.O_RDONLY | os.O_CLOEXEC)
    finally:
        _return_home(home)


class HostNetwork:
    """One host's network namespace, kept alive by the daemon's open descriptor."""

    def __init__(self, label: str) -> None:
        self.label = label
        self._fd: int | None = None

    def start_namespace(self) -> str:
        """Make the namespace; return a path `nsenter --net=` can join."""
        self._fd = _new_namespace()
        return self.path

    @property
    def path(self) -> str:
        if self._fd is None:
            raise RuntimeError(f"{self.label}: no network namespace yet")
        return f"/proc/{os.getpid()}/fd/{self._fd}"

    def renew(self) -> str:
        """A brand-new namespace, as a rebooted machine starts with a fresh network stack
        (net.* sysctls back to defaults). The old one goes away once the old host's
        processes and sockets are gone. Returns the path of the new one."""
        old = self._fd
        self._fd = _new_namespace()
        if old is not None:
            os.close(old)
        return self.path

    def call(self, func: Callable[[], T]) -> T:
        """Run `func` (quick, no blocking I/O) in this namespace from the calling thread."""
        if self._fd is None:
            raise RuntimeError(f"{self.label}: no network namespace yet")
        home = _home()
        _setns(self._fd)
        try:
            return func()
        finally:
            _return_home(home)

    def stop(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
