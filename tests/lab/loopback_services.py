"""Redis and PostgreSQL started by a test on 127.0.0.1, with temp data and free ports.

Debian's packages (scripts/bootstrap.sh installs them) provide the binaries; nothing of
the machine's own services is used or changed: each server runs as a process of the
test, in a temp folder, and is stopped by its PID. PostgreSQL refuses to run as root,
so under root it runs as the `postgres` user through setpriv (which execs, so the PID
we hold is the server's own).
"""

from __future__ import annotations

import glob
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def redis_binary() -> str | None:
    return shutil.which("redis-server")


def postgres_bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


def missing_binaries() -> str:
    """Why the services cannot start here, or ''."""
    missing = []
    if redis_binary() is None:
        missing.append("redis-server")
    if postgres_bindir() is None:
        missing.append("postgresql (initdb)")
    return ", ".join(missing)


def _wait_port(port: int, proc: subprocess.Popen[bytes], what: str, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"{what} did not listen on 127.0.0.1:{port}")


def _stop(proc: subprocess.Popen[bytes], sig: int = signal.SIGTERM) -> None:
    if proc.poll() is None:
        os.kill(proc.pid, sig)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


@contextmanager
def redis_server() -> Iterator[str]:
    """A Redis on a free loopback port; yields its URL."""
    binary = redis_binary()
    assert binary is not None
    folder = tempfile.mkdtemp(prefix="pyengine-redis-")
    port = free_port()
    proc = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1",
                             "--dir", folder, "--save", "", "--appendonly", "no"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc, "redis-server")
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        _stop(proc)
        shutil.rmtree(folder, ignore_errors=True)


def _as_postgres(argv: list[str]) -> list[str]:
    if os.geteuid() != 0:
        return argv
    return ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups", "--", *argv]


@contextmanager
def postgres_server() -> Iterator[str]:
    """A PostgreSQL cluster in a temp folder on a free loopback port (trust auth for
    the `pyengine` role, loopback only); yields its URL."""
    bindir = postgres_bindir()
    assert bindir is not None
    # Not under pytest's tmp_path: its parents are root-only, the server runs as postgres.
    folder = Path(tempfile.mkdtemp(prefix="pyengine-pg-"))
    data = folder / "data"
    if os.geteuid() == 0:
        shutil.chown(folder, "postgres", "postgres")
    port = free_port()
    subprocess.run(_as_postgres([str(bindir / "initdb"), "-D", str(data), "-U", "pyengine",
                                 "--auth=trust", "-E", "UTF8", "--no-sync"]),
                   check=True, capture_output=True)
    proc = subprocess.Popen(_as_postgres([str(bindir / "postgres"), "-D", str(data),
                                          "-p", str(port), "-k", str(folder),
                                          "-c", "listen_addresses=127.0.0.1",
                                          "-c", "fsync=off"]),
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_port(port, proc, "postgres")
        url = f"postgresql://pyengine@127.0.0.1:{port}/postgres"
        _wait_ready(url)
        yield url
    finally:
        _stop(proc, signal.SIGINT)  # "fast" shutdown
        shutil.rmtree(folder, ignore_errors=True)


def _wait_ready(url: str, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            psycopg.connect(url, connect_timeout=2).close()
            return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.3)
