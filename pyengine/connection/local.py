"""The `local` connection: the controller machine itself, through subprocesses.

Used for `hosts: localhost` plays and, in unit tests, to run the real agent as a
subprocess without SSH. Nothing here needs a shell: argv lists go to `subprocess`.
"""

from __future__ import annotations

import os
import selectors
import subprocess
from typing import Any, ClassVar

from pyengine.connection._stderr import StderrDrain
from pyengine.connection.base import AgentChannel, CommandResult, CommandTimeout, Connection
from pyengine.errors import PyengineError
from pyengine.paths import expand_user


class LocalAgentChannel(AgentChannel):
    """A subprocess's stdin/stdout pipes, stderr drained in the background."""

    def __init__(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        self.proc = subprocess.Popen(
            argv,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            start_new_session=True,  # a Ctrl-C on the controller must not hit the agent first
        )
        assert self.proc.stdin and self.proc.stdout and self.proc.stderr
        self._stdin = self.proc.stdin
        self._stdout_fd = self.proc.stdout.fileno()
        err_fd = self.proc.stderr.fileno()
        self._stderr = StderrDrain(lambda: os.read(err_fd, 65536), "local-agent-stderr")
        self._selector = selectors.DefaultSelector()
        self._selector.register(self._stdout_fd, selectors.EVENT_READ)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def write(self, data: bytes) -> None:
        try:
            self._stdin.write(data)
            self._stdin.flush()
        except (BrokenPipeError, ValueError, OSError) as err:
            raise EOFError(f"agent stdin closed: {err}") from err

    def read(self, n: int, timeout: float | None = None) -> bytes:
        if timeout is not None and not self._selector.select(timeout):
            raise TimeoutError(f"no output within {timeout:g}s")
        try:
            return os.read(self._stdout_fd, n)
        except OSError:
            return b""

    def read_stderr(self, timeout: float = 0.0) -> bytes | None:
        return self._stderr.read(timeout)

    def stderr_so_far(self) -> bytes:
        return self._stderr.so_far()

    def exit_status(self, timeout: float = 0.0) -> int | None:
        try:
            return self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            return None

    def close(self) -> None:
        for stream in (self.proc.stdin, self.proc.stdout):
            try:
                if stream:
                    stream.close()
            except OSError:
                pass
        try:
            self._selector.close()
        except (OSError, ValueError):
            pass
        # The agent exits on EOF; give it a moment to clean up, then make sure.
        if self.exit_status(2.0) is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.wait_ended(1.0)


class LocalConnection(Connection):
    """Runs everything on the controller itself, as the controller's user."""

    name = "local"
    OPTIONS: ClassVar[dict[str, str]] = {
        "command_timeout": "Seconds a command may run before it is stopped (default: none).",
        "env": "Extra environment variables for every command (a dict).",
    }

    def __init__(self, host: str = "localhost", options: dict[str, Any] | None = None) -> None:
        super().__init__(host, options)
        self._channels: list[LocalAgentChannel] = []
        self._open = False

    @property
    def connected(self) -> bool:
        return self._open

    def _env(self) -> dict[str, str] | None:
        extra = self.option("env")
        if not extra:
            return None
        env = dict(os.environ)
        env.update({str(k): str(v) for k, v in extra.items()})
        return env

    def connect(self) -> None:
        self._open = True

    def run(
        self, argv: list[str], data: bytes | None = None, timeout: float | None = None
    ) -> CommandResult:
        timeout = timeout if timeout is not None else self.option("command_timeout")
        try:
            proc = subprocess.run(
                argv, input=data or b"", capture_output=True, timeout=timeout, env=self._env()
            )
        except subprocess.TimeoutExpired as err:
            raise CommandTimeout(
                f"{self.host}: command {argv[0]!r} did not finish within {timeout:g}s"
            ) from err
        except FileNotFoundError as err:
            return CommandResult(127, b"", str(err).encode())
        return CommandResult(proc.returncode, proc.stdout, proc.stderr)

    def put(self, data: bytes, path: str, mode: int | None = None) -> None:
        target = expand_user(path)
        target.write_bytes(data)
        if mode is not None:
            os.chmod(target, mode)

    def get(self, path: str) -> bytes:
        return expand_user(path).read_bytes()

    def open_agent(self, argv: list[str]) -> AgentChannel:
        try:
            channel = LocalAgentChannel(argv, env=self._env())
        except OSError as err:
            raise PyengineError(f"{self.host}: cannot start {argv[0]!r}: {err}") from err
        self._channels.append(channel)
        return channel

    def close(self) -> None:
        channels, self._channels = self._channels, []
        for channel in channels:
            channel.close()
        self._open = False
