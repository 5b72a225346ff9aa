"""The one connection interface every transport implements (ssh, local, winrm).

The executor never knows which transport it holds: it calls `connect()`, runs
commands, moves files, and opens the agent's byte stream with `open_agent()`.
Options are declared in `OPTIONS` (name -> description) so `pyengine doc
--connections` can list them without connecting anywhere.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from typing import Any, ClassVar

from pyengine.errors import EXIT_TASK_FAILED, HostUnreachable, PyengineError


@dataclass(frozen=True)
class CommandResult:
    """What one command gave back; stdout/stderr are bytes (decode where text is wanted)."""

    rc: int
    stdout: bytes
    stderr: bytes

    @property
    def ok(self) -> bool:
        return self.rc == 0

    def text(self) -> str:
        """stdout as text (undecodable bytes replaced), for messages and facts."""
        return self.stdout.decode("utf-8", "replace")


class HostKeyError(HostUnreachable):
    """The host's SSH key is unknown or changed: refused before any credential is sent."""


class CommandTimeout(PyengineError):
    """A command did not finish within its timeout; the channel was closed."""

    exit_code = EXIT_TASK_FAILED


class AgentChannel(abc.ABC):
    """A bidirectional byte stream to one process on the target (one SSH exec channel).

    stdout carries the agent's frames; stderr is drained in the background (so a chatty
    process can never stall the channel) and read with `read_stderr`.
    """

    # A warm agent (`run --persist`, pyengine/persist) says here what it already holds;
    # None for an agent this channel just started.
    warm_state: dict[str, Any] | None = None

    def detach(self, state: dict[str, Any]) -> bool:
        """Leave the process running for a later run (only a persisted channel can; the
        session then skips `exit`). False: close it as usual."""
        return False

    @abc.abstractmethod
    def write(self, data: bytes) -> None:
        """Send all of `data` to the process's stdin."""

    @abc.abstractmethod
    def read(self, n: int, timeout: float | None = None) -> bytes:
        """Up to `n` bytes of stdout; b"" at end of stream; TimeoutError after `timeout`."""

    @abc.abstractmethod
    def read_stderr(self, timeout: float = 0.0) -> bytes | None:
        """New stderr bytes (waiting up to `timeout` for some); None once stderr has ended."""

    @abc.abstractmethod
    def stderr_so_far(self) -> bytes:
        """Everything the process wrote to stderr until now (for error messages)."""

    @abc.abstractmethod
    def exit_status(self, timeout: float = 0.0) -> int | None:
        """The exit status once the process has ended (waiting up to `timeout`), else None."""

    @abc.abstractmethod
    def close(self) -> None:
        """Close stdin and the stream; the process sees EOF and must clean up and exit."""

    def read_exactly(self, n: int, timeout: float | None = None) -> bytes:
        """Exactly `n` bytes, or fewer only when the stream ended."""
        chunks: list[bytes] = []
        left = n
        while left > 0:
            chunk = self.read(left, timeout)
            if not chunk:
                break
            chunks.append(chunk)
            left -= len(chunk)
        return b"".join(chunks)


class Connection(abc.ABC):
    """One host's connection, opened once per run and shared by every task on that host."""

    name: ClassVar[str] = "base"
    OPTIONS: ClassVar[dict[str, str]] = {}

    def __init__(self, host: str, options: dict[str, Any] | None = None) -> None:
        self.host = host
        self.options: dict[str, Any] = dict(options or {})
        # Seconds spent per phase ("connect": TCP + handshake, "auth"), summed over
        # reconnects; the executor copies them into the host's result (JSON report, -vv).
        self.phases: dict[str, float] = {}
        unknown = sorted(set(self.options) - set(self.OPTIONS))
        if unknown:
            raise PyengineError(
                f"{host}: unknown {self.name} connection option(s): {', '.join(unknown)}"
                f" (known: {', '.join(sorted(self.OPTIONS))})"
            )

    def option(self, name: str, default: Any = None) -> Any:
        value = self.options.get(name)
        return default if value is None else value

    @abc.abstractmethod
    def connect(self) -> None:
        """Open the transport (idempotent); raises HostUnreachable / HostKeyError."""

    @abc.abstractmethod
    def run(
        self, argv: list[str], data: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        """Run `argv` (a list, quoted here and nowhere else) with `data` on stdin."""

    @abc.abstractmethod
    def put(self, data: bytes, path: str, mode: int | None = None) -> None:
        """Write `data` to `path` on the target (as the connecting user)."""

    @abc.abstractmethod
    def get(self, path: str) -> bytes:
        """Read the file at `path` on the target."""

    @abc.abstractmethod
    def open_agent(self, argv: list[str]) -> AgentChannel:
        """Start `argv` on the target on its own channel and return its byte stream."""

    def open_reusable_agent(self, argv: list[str], identity: dict[str, Any]) -> AgentChannel:
        """`open_agent`, or an already running agent started with the same `identity`
        (python, become, ...) when the connection keeps agents warm (pyengine/persist)."""
        return self.open_agent(argv)

    @abc.abstractmethod
    def close(self) -> None:
        """Close every channel and the transport (idempotent)."""

    @property
    def connected(self) -> bool:
        return False

    def __enter__(self) -> Connection:
        self.connect()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
