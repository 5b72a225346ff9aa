"""A network namespace per host, owned by a thread of the lab daemon.

The daemon holds the namespace (hosts join it), so no bind mount is needed to keep it,
and the forwarder always reaches a host through the same thread; each boot gets a new
namespace (`renew`). A socket belongs to the namespace it was created in: the thread
that lives in the host's namespace creates sockets there on request, and the daemon
then uses them from its own threads in the machine's namespace.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import queue
import socket
import struct
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, TypeVar

CLONE_NEWNET = 0x40000000
SIOCGIFFLAGS = 0x8913
SIOCSIFFLAGS = 0x8914
IFF_UP = 0x1

T = TypeVar("T")
_libc = ctypes.CDLL(None, use_errno=True)


def _unshare_net() -> None:
    """unshare(CLONE_NEWNET) for the calling thread only (os.unshare is 3.12+)."""
    if _libc.unshare(CLONE_NEWNET) != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"unshare(CLONE_NEWNET): {os.strerror(err)}")


def _loopback_up() -> None:
    """`ip link set lo up` without a subprocess: a fresh namespace's lo starts down."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sock:
        req = struct.pack("16sH22x", b"lo", 0)
        flags = struct.unpack("16sH22x", fcntl.ioctl(sock, SIOCGIFFLAGS, req))[1]
        fcntl.ioctl(sock, SIOCSIFFLAGS, struct.pack("16sH22x", b"lo", flags | IFF_UP))


class NetnsThread(threading.Thread):
    """Lives in a new network namespace; runs small calls (socket creation) inside it."""

    def __init__(self, label: str) -> None:
        super().__init__(name=f"netns-{label}", daemon=True)
        self._calls: queue.Queue[tuple[Callable[[], Any], Future[Any]] | None] = queue.Queue()
        self._ready: Future[str] = Future()

    def run(self) -> None:
        try:
            self._ready.set_result(self._fresh())
        except BaseException as err:  # reported to whoever waits in start_namespace()
            self._ready.set_exception(err)
            return
        while True:
            item = self._calls.get()
            if item is None:
                return
            func, fut = item
            try:
                fut.set_result(func())
            except BaseException as err:
                fut.set_exception(err)

    def _fresh(self) -> str:
        _unshare_net()
        _loopback_up()
        return f"/proc/{os.getpid()}/task/{threading.get_native_id()}/ns/net"

    def renew(self) -> str:
        """Move the thread into a brand-new namespace, as a rebooted machine starts with a
        fresh network stack (net.* sysctls back to defaults). The old namespace goes away
        once the old host's processes and sockets are gone. Returns the (same) /proc path,
        which now names the new namespace."""
        return self.call(self._fresh)

    def start_namespace(self, timeout: float = 10) -> str:
        """Start the thread; return the /proc path of its namespace (for `nsenter --net=`)."""
        self.start()
        return self._ready.result(timeout)

    def call(self, func: Callable[[], T], timeout: float = 10) -> T:
        fut: Future[T] = Future()
        self._calls.put((func, fut))
        return fut.result(timeout)

    def stop(self) -> None:
        self._calls.put(None)
