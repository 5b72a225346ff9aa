"""The lab daemon: one process per lab that owns everything the lab runs.

It holds each host's network namespace, supervises each host's boot, forwards
127.0.<octet>.N:22 into the hosts, serves the apt proxy inside them and answers the
CLI on a unix socket (status, reset, stop). All of it runs on one event loop: the
daemon's threads do not grow with the number of hosts (a thread only while an apt
request or a reset's wipe runs), and its descriptors grow by FDS_PER_HOST per host.
Its PID and every host's PID 1 are recorded in the state directory, so `lab down` ends
exactly what this lab started.

Run as `python -m pyengine.lab.daemon NAME` by `Lab.up()`; not meant to be run by hand.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import signal
import socket
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pyengine.lab.aptproxy import AptProxy
from pyengine.lab.config import (
    APT_PROXY_PORT,
    SSH_PORT,
    STATE_ROOT,
    LabConfig,
    LabPaths,
    host_address,
)
from pyengine.lab.forward import Forwarder
from pyengine.lab.netns import HostNetwork
from pyengine.lab.procs import write_pid_file
from pyengine.lab.supervisor import BOOT_CONCURRENCY, HostSupervisor

log = logging.getLogger("pyengine.lab")
# A namespace descriptor, the forwarder's and the apt proxy's listening sockets, a pidfd,
# and two sockets for one open SSH connection.
FDS_PER_HOST = 6


def _inner_listener(port: int) -> socket.socket:
    """Made inside a host's namespace: the apt proxy's socket at the host's 127.0.0.1."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(64)
    sock.setblocking(False)
    return sock


def _raise_fd_limit(count: int) -> None:
    """Per host the daemon holds a namespace, two listening sockets and a pidfd, and two
    sockets per open connection: lift its own soft limit to the hard one, or say why not."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = FDS_PER_HOST * count + 64
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise SystemExit(f"a lab of {count} hosts needs about {needed} open files; this "
                         f"process may open {hard} (ulimit -Hn): use fewer hosts")


class _ProxyPort:
    """One host's apt proxy port, accepted from the event loop; a thread runs only while
    a request is being served (apt is rare), so idle hosts cost the daemon no thread."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.server = AptProxy(sock).server
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._loop.add_reader(self.sock.fileno(), self._accept)

    def _accept(self) -> None:
        try:
            conn, addr = self.sock.accept()
        except OSError:  # BlockingIOError (another accept won) or a dropped client
            return
        conn.setblocking(True)
        self.server.process_request(conn, addr)

    def close(self) -> None:
        if self._loop is not None and not self._loop.is_closed():
            self._loop.remove_reader(self.sock.fileno())
        self.server.server_close()


class LabDaemon:
    def __init__(self, paths: LabPaths, config: LabConfig) -> None:
        self.paths = paths
        self.config = config
        self.netns: dict[str, HostNetwork] = {}
        self.supervisors: dict[str, HostSupervisor] = {}
        self.forwarders: list[Forwarder] = []
        self.proxies: dict[str, _ProxyPort] = {}
        self.stop_event: asyncio.Event | None = None

    def prepare(self) -> list[tuple[Forwarder, socket.socket]]:
        """Namespaces, listening sockets and proxies; raises if an address is taken."""
        _raise_fd_limit(self.config.count)
        listeners = []
        boot_slots = asyncio.Semaphore(BOOT_CONCURRENCY)
        for index, host in enumerate(self.config.host_names(), start=1):
            ns = HostNetwork(host)
            ns_path = ns.start_namespace()
            self.netns[host] = ns
            fwd = Forwarder(host_address(self.config.octet, index), SSH_PORT, ns, SSH_PORT,
                            self.config.delay_ms)
            try:
                listeners.append((fwd, fwd.listening_socket()))
            except OSError as err:
                raise SystemExit(
                    f"cannot listen on {fwd.address}:{fwd.port}: {err.strerror} "
                    "(another lab or program uses this octet?)"
                ) from err
            self.forwarders.append(fwd)
            self.supervisors[host] = HostSupervisor(
                self.paths, host, Path(self.config.image_of(host)),
                self._network_for(host, ns_path), self.config.kind, boot_slots,
            )
        return listeners

    def _network_for(self, host: str, first: str) -> Callable[[], str]:
        """Before each boot (in the event loop): a fresh namespace (the first boot uses the
        one just made) with the apt proxy listening inside it."""
        ns = self.netns[host]
        boots = 0

        def network() -> str:
            nonlocal boots
            path = first if boots == 0 else ns.renew()
            boots += 1
            old = self.proxies.pop(host, None)
            if old is not None:
                old.close()  # its listening socket pins the old namespace
            proxy = _ProxyPort(ns.call(lambda: _inner_listener(APT_PROXY_PORT)))
            proxy.start()
            self.proxies[host] = proxy
            return path

        return network

    def status(self) -> dict[str, Any]:
        return {
            "pid": os.getpid(),
            "hosts": {
                name: {"pid": sup.pid, "state": sup.state, "boots": sup.boots}
                for name, sup in self.supervisors.items()
            },
        }

    async def reset(self, names: list[str] | None = None) -> dict[str, Any]:
        """Wipe and reboot the named hosts (all when None)."""
        chosen = {n: sup for n, sup in self.supervisors.items() if names is None or n in names}
        unknown = sorted(set(names or []) - set(self.supervisors))
        if unknown:
            return {"ok": False, "failed": unknown, "error": "unknown host"}
        marks = {name: sup.reset() for name, sup in chosen.items()}
        # Many hosts boot a few at a time (BOOT_CONCURRENCY): allow for the queue.
        wait = 60 + 0.5 * len(chosen)
        booted = await asyncio.gather(*(sup.wait_boots_past(marks[name], wait)
                                        for name, sup in chosen.items()))
        failed = [name for name, ok in zip(chosen, booted, strict=True) if not ok]
        return {"ok": not failed, "failed": failed, "reset": sorted(chosen)}

    async def stop_hosts(self) -> None:
        for sup in self.supervisors.values():
            sup.stop()
        deadline = time.monotonic() + 30
        for sup in self.supervisors.values():
            await sup.join(deadline - time.monotonic())

    async def handle_control(self, reader: asyncio.StreamReader,
                             writer: asyncio.StreamWriter) -> None:
        try:
            request = json.loads(await reader.readline() or b"{}")
            cmd = request.get("cmd")
            if cmd == "status":
                reply = self.status()
            elif cmd == "start":
                for sup in self.supervisors.values():
                    sup.start_if_down()
                reply = {"ok": True}
            elif cmd == "reset":
                reply = await self.reset(request.get("hosts"))
            elif cmd == "stop":
                reply = {"ok": True}
                assert self.stop_event is not None
                self.stop_event.set()
            else:
                reply = {"error": f"unknown command {cmd!r}"}
            writer.write(json.dumps(reply).encode() + b"\n")
            await writer.drain()
        except (OSError, ValueError) as err:
            log.warning("control: %s", err)
        finally:
            writer.close()

    async def serve(self, listeners: list[tuple[Forwarder, socket.socket]]) -> None:
        loop = asyncio.get_running_loop()
        # Only resets (wiping an upper layer) run in threads: a few are plenty.
        loop.set_default_executor(ThreadPoolExecutor(max_workers=4, thread_name_prefix="lab"))
        self.stop_event = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stop_event.set)
        for fwd, sock in listeners:
            await fwd.start(sock)
        self.paths.control.unlink(missing_ok=True)
        control = await asyncio.start_unix_server(self.handle_control, path=str(self.paths.control))
        os.chmod(self.paths.control, 0o600)
        for sup in self.supervisors.values():
            sup.start()  # all hosts boot in parallel, BOOT_CONCURRENCY boot scripts at a time
        log.info("lab %s: %d hosts booting", self.config.name, len(self.supervisors))
        await self.stop_event.wait()
        log.info("lab %s: stopping", self.config.name)
        control.close()
        for fwd in self.forwarders:
            fwd.close()
        await self.stop_hosts()
        for proxy in list(self.proxies.values()):
            proxy.close()
        self.proxies.clear()

    def close(self) -> None:
        for proxy in list(self.proxies.values()):
            proxy.close()
        for ns in self.netns.values():
            ns.stop()
        self.paths.control.unlink(missing_ok=True)


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m pyengine.lab.daemon NAME", file=sys.stderr)
        return 2
    paths = LabPaths(args[0], STATE_ROOT)
    logging.basicConfig(level=logging.INFO, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(message)s")
    config = LabConfig.from_json(paths.config.read_text())
    write_pid_file(paths.daemon_pid, os.getpid())
    daemon = LabDaemon(paths, config)
    try:
        listeners = daemon.prepare()
        asyncio.run(daemon.serve(listeners))
    except SystemExit as err:
        log.error("%s", err)
        return 1
    finally:
        daemon.close()
        paths.daemon_pid.unlink(missing_ok=True)
    log.info("lab %s: stopped", config.name)
    return 0


if __name__ == "__main__":
    sys.exit(main())
