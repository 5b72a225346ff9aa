"""Shared pytest setup: the `lab` marker and the session's lab of Debian hosts.

Every lab test of a session (whoever wrote it) uses the one `lab` fixture: it brings
the lab up once, or reuses it when it is already up, and takes the lab it brought up
down at the end unless PYENGINE_KEEP_LAB=1. Settings (env): PYENGINE_TEST_LAB (name,
default "test"), PYENGINE_TEST_LAB_OCTET (default 9), PYENGINE_TEST_LAB_HOSTS (default 10).
A lab test must change only what it created on the hosts, or restore what it changed.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import pytest

from pyengine.lab import Lab


@pytest.fixture(scope="session", autouse=True)
def _history_outside_the_checkout(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Runs started by tests record their history in a temp folder, not in the checkout's
    .pyengine/ (tests change only lab hosts and temporary folders)."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PYENGINE_HISTORY_DB", str(tmp_path_factory.mktemp("history")
                                              / "history.sqlite"))
        yield


@pytest.fixture(scope="session", autouse=True)
def _ansible_state_outside_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """ansible-core (the differential tests, ansible-playbook on lab hosts, collection
    plugins loaded by runs) keeps its temp files and SSH control sockets under
    $ANSIBLE_HOME, by default ~/.ansible: tests keep it in a temp folder."""
    with pytest.MonkeyPatch.context() as env:
        env.setenv("ANSIBLE_HOME", str(tmp_path_factory.mktemp("ansible-home")))
        yield


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "lab: needs root and the lab of Debian target hosts (brought up once per session)",
    )


def _int_env(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        raise pytest.UsageError(f"{name} must be an integer") from None


def lab_settings() -> tuple[str, int, int]:
    """(name, octet, host count) of the session lab, from the environment."""
    return (
        os.environ.get("PYENGINE_TEST_LAB", "test"),
        _int_env("PYENGINE_TEST_LAB_OCTET", 9),
        _int_env("PYENGINE_TEST_LAB_HOSTS", 10),
    )


def skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (namespaces and overlay mounts); run pytest as root")


@pytest.fixture(scope="session")
def lab() -> Iterator[Lab]:
    """The session's lab (a `pyengine.lab.Lab` that is up): hosts h1..hN at
    127.0.<octet>.N:22, `lab.inventory_path`, `lab.known_hosts_path`, `lab.private_key_path`,
    `lab.hosts[i].exec([...])` for independent checks inside a host."""
    skip_unless_root()
    name, octet, count = lab_settings()
    the_lab = Lab(name, octet)
    was_up = the_lab.is_up()
    the_lab.up(count)
    yield the_lab
    # A lab that was already up (kept by an earlier session, or another session's that is
    # still running) is left as found.
    if not was_up and os.environ.get("PYENGINE_KEEP_LAB") != "1":
        the_lab.down()


@pytest.fixture
def webhook() -> Iterator[tuple[str, list[dict]]]:
    """A webhook receiver on loopback: (its URL, the JSON bodies it received)."""
    received: list[dict] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers["Content-Length"])
            received.append(json.loads(self.rfile.read(length)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hook", received
    finally:
        server.shutdown()
        server.server_close()
