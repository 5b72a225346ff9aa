"""The way in: 127.0.<octet>.N:22 on the machine, carried to 127.0.0.1:22 inside host N.

Each accepted connection gets an inner socket created in the host's network namespace
(a setns of a few microseconds, in the event loop) and bytes are copied both ways: one
event loop carries every host's connections, no thread per host or per connection.
With a delay D (no netem on this kernel), every chunk is held D ms per direction and
sent in order, so a request/response round trip grows by 2*D as over a WAN.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket

from pyengine.lab.netns import HostNetwork

CHUNK = 65536


def _new_socket() -> socket.socket:
    """Runs inside the host's namespace: the socket then belongs to the host's network."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setblocking(False)
    return sock


async def _pump(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, delay: float
) -> None:
    """Copy one direction; with a delay, a sender task releases each chunk when it is due."""
    loop = asyncio.get_running_loop()
    if delay <= 0:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    else:
        due: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def sender() -> None:
            while True:
                when, data = await due.get()
                wait = when - loop.time()
                if wait > 0:
                    await asyncio.sleep(wait)
                if not data:
                    return
                writer.write(data)
                await writer.drain()

        task = asyncio.create_task(sender())
        try:
            while True:
                data = await reader.read(CHUNK)
                due.put_nowait((loop.time() + delay, data))
                if not data:
                    break
            await task
        finally:
            task.cancel()
    with contextlib.suppress(OSError, RuntimeError):
        if writer.can_write_eof():
            writer.write_eof()


class Forwarder:
    """Listens on the machine's 127.0.<octet>.N:port for one host."""

    def __init__(self, address: str, port: int, netns: HostNetwork, inner_port: int,
                 delay_ms: int) -> None:
        self.address = address
        self.port = port
        self.netns = netns
        self.inner_port = inner_port
        self.delay = delay_ms / 1000.0
        self.server: asyncio.base_events.Server | None = None

    def listening_socket(self) -> socket.socket:
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((self.address, self.port))
        sock.listen(128)
        sock.setblocking(False)
        return sock

    async def start(self, sock: socket.socket) -> None:
        self.server = await asyncio.start_server(self._handle, sock=sock)

    async def _handle(self, client_r: asyncio.StreamReader,
                      client_w: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        try:
            inner = self.netns.call(_new_socket)
        except (OSError, RuntimeError):
            client_w.close()  # the host's namespace is being renewed (a reboot)
            return
        try:
            # Only the socket is made inside; connecting happens in the loop, so one slow
            # connect never holds up other connections.
            await asyncio.wait_for(loop.sock_connect(inner, ("127.0.0.1", self.inner_port)), 10)
        except (OSError, asyncio.TimeoutError):
            # The host is (re)booting: refuse like a real host whose sshd is not up yet.
            inner.close()
            client_w.close()
            return
        host_r, host_w = await asyncio.open_connection(sock=inner)
        for w in (client_w, host_w):
            sock = w.get_extra_info("socket")
            if sock is not None:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            await asyncio.gather(
                _pump(client_r, host_w, self.delay), _pump(host_r, client_w, self.delay)
            )
        except (OSError, asyncio.IncompleteReadError):
            pass
        finally:
            for w in (client_w, host_w):
                w.close()

    def close(self) -> None:
        if self.server is not None:
            self.server.close()
