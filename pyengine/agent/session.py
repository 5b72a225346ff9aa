"""The controller side of the agent protocol: one `PythonAgentSession` per POSIX host.

Start-up (one exec channel for the whole run, nothing written to the target's disk):
  1. `open_agent([sudo -H -S ... -u USER] python3 -c BOOTSTRAP)`. The bootstrap writes
     HELLO_MARK on stderr, then reads `<length>\\n<agent.py source>` from stdin and runs
     it. With a become password, sudo is given a random prompt (`-p`); the session waits
     for it on stderr and answers with the password on stdin (sudo does not echo it; it
     is registered with `pyengine.masking` and never logged). A second prompt means the
     password was wrong: the channel is closed and `BecomeError` raised.
  2. Frames both ways: 4-byte big-endian length + UTF-8 JSON. The first request,
     `{"op": "hello", "libs": {"runtime": LIB, "facts": LIB}}` (LIB: `{"zlib": base64 of
     the zlib-compressed source}`), is answered with
     `{"op": "facts", "facts": {...}}` (the `ansible_*` host facts).
  3. `{"op": "batch", "modules": {NAME: {"sha", "source"}}, "tasks": [ITEM...]}`; each
     module source travels once per run (cached by name + sha1 on both sides). The agent
     streams `{"op": "result", "id", "result", "duration_s"}` per task as it finishes and
     ends with `{"op": "done", "ran", "stopped"}`; it stops after the first failed task
     whose item does not say `ignore_errors`. A module with helper files (a native
     module's `modules/module_utils/` imports, a bridged Ansible module's pack) names
     them by sha in its spec; the batch's `"files"` carries each content once per agent
     (base64 of zlib), and `"libs"` brings `ansible_run.py` with the first Ansible module.
  4. `{"op": "exit"}` -> `{"op": "bye"}`; the agent exits. It exits on EOF too; a task's
     temp folder (`m.tmpdir`) lives only while the task runs and is removed even on
     SIGHUP/SIGTERM, so a dropped channel leaves no files.

`round_trips` counts the exchanges (start = 1, each batch = 1): what a WAN link pays.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import struct
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any, NoReturn

from pyengine.agent import streams
from pyengine.agent.bundle import ANSIBLE, NATIVE, ModuleCode, native_code
from pyengine.connection.base import AgentChannel, Connection
from pyengine.errors import EXIT_TASK_FAILED, HostUnreachable, PyengineError
from pyengine.masking import register_secret

AGENT_DIR = Path(__file__).resolve().parent
HELLO_MARK = "PYENGINE-AGENT-HELLO"
# The agent's first bytes on stdout (agent.py writes the same): anything before them came
# from the user's shell startup files and is skipped.
AGENT_MAGIC = b"\n#PYENGINE-AGENT-1#\n"
MAX_FRAME = 256 * 1024 * 1024
_HEADER = struct.Struct(">I")

# Kept on one line and short: it is visible in `ps` on the target while the agent runs.
BOOTSTRAP = (
    "import sys\nif sys.version_info<(3,7):sys.exit('pyengine needs Python 3.7+ on the host,"
    " found '+sys.version.split()[0])\n"
    "sys.stderr.write('" + HELLO_MARK + "\\n');sys.stderr.flush();"
    "i=sys.stdin.buffer;n=int(i.readline());"
    "exec(compile(i.read(n),'pyengine/agent/agent.py','exec'))"
)

# python="auto": the first of these that exists runs the bootstrap (given as $1), as
# Ansible's interpreter discovery would pick (RHEL 8's platform-python included).
# $1: the user to become, $2: how many words of "$@" after them are the sudo prefix.
SKIP_BECOME_IF_ALREADY = 'u=$1; n=$2; shift 2; [ "$(id -un)" = "$u" ] && shift "$n"; exec "$@"'
DISCOVER_PYTHON = (
    "for p in python3 /usr/bin/python3 /usr/libexec/platform-python python3.13 python3.12"
    " python3.11 python3.10 python3.9 python3.8 python3.7; do"
    ' command -v "$p" >/dev/null 2>&1 && exec "$p" -c "$1"; done;'
    " echo 'pyengine: no python3 interpreter found' >&2; exit 127"
)

# A batch item as the executor builds it (docs/ARCHITECTURE.md, "Agent sessions").
ITEM_KEYS = ("id", "module", "args", "check_mode", "diff", "environment", "ignore_errors",
             "no_log", "task")


class AgentError(PyengineError):
    """The agent could not start or broke the protocol (the host itself answered)."""

    exit_code = EXIT_TASK_FAILED


class BecomeError(AgentError):
    """sudo refused: a password is needed, the password is wrong, or the user may not."""


def _read_lib(name: str) -> str:
    return (AGENT_DIR / f"{name}.py").read_text(encoding="utf-8")


@functools.cache
def _packed_lib(name: str) -> dict[str, str]:
    """A lib as the agent loads it: zlib-compressed, base64 (a third of the bytes; the
    start-up write then also stays below a local pipe's 64 KiB buffer). Packed once per
    process: every host gets the same bytes."""
    raw = _read_lib(name).encode("utf-8")
    return {"zlib": base64.b64encode(zlib.compress(raw, 9)).decode("ascii")}


@functools.cache
def _agent_code_digest() -> str:
    """The agent's own code as one digest: a warm agent started by another pyengine
    version (other agent, runtime or facts code) is never reused."""
    digest = hashlib.sha256()
    for name in ("agent", "runtime", "facts", "ansible_run"):
        digest.update(_read_lib(name).encode("utf-8"))
    return digest.hexdigest()


def ansible_facts_namespace(facts: dict[str, Any]) -> dict[str, Any]:
    """The `ansible_facts` dict (keys without the `ansible_` prefix), as Ansible exposes it."""
    out: dict[str, Any] = {}
    for key, value in facts.items():
        out[key[len("ansible_"):] if key.startswith("ansible_") else key] = value
    return out


class PythonAgentSession:
    """One agent process on one host, reached through `connection`.

    `module_source(name) -> str | ModuleCode` returns a module's source text or its
    `bundle.ModuleCode` (helper files, an Ansible module's pack); the executor passes the
    module resolver. A plain source gets the built-in `modules/module_utils/` helpers it
    imports. Each module, helper file and lib is shipped once per agent (sha1-cached).
    """

    def __init__(
        self,
        connection: Connection,
        module_source: Callable[[str], str | ModuleCode] | None = None,
        become: bool = False,
        become_user: str | None = None,
        become_password: str | None = None,
        python: str = "python3",
        become_exe: str = "sudo",
        start_timeout: float = 60.0,
        task_timeout: float | None = None,
    ) -> None:
        self.connection = connection
        self.host = connection.host
        self.module_source = module_source
        self.become = become
        self.become_user = become_user or "root"
        self.become_password = become_password
        if become_password:
            register_secret(become_password)
        self.python = python or "python3"
        self.become_exe = become_exe
        self.start_timeout = start_timeout
        self.task_timeout = task_timeout
        self.round_trips = 0
        self.streams_sent = 0  # big files sent on a task's request (streams.py)
        self.facts: dict[str, Any] = {}
        self.agent_pid: int | None = None
        self._channel: AgentChannel | None = None
        self._shipped: set[tuple[str, str]] = set()
        # name -> (sha, wire spec, {file sha: packed source}); see `_source`
        self._sources: dict[str, tuple[str, dict[str, Any], dict[str, str]]] = {}
        self._in_batch = False
        self._pending = bytearray()
        self.warnings: list[str] = []
        self._prompt = f"[pyengine-sudo-{secrets.token_hex(8)}]"
        # Seconds per phase, as the controller waited for them: "agent_start" (exec until
        # the agent's first bytes), "facts" (then until the facts), "teardown" (close),
        # "batches" (one entry per run_batch round trip). The executor reports them.
        self.phases: dict[str, Any] = {"batches": []}

    # -- start -----------------------------------------------------------------------
    def argv(self) -> list[str]:
        """The command that starts the bootstrap (quoted by the connection, not here)."""
        if self.python.startswith("auto"):  # ansible_python_interpreter: auto, auto_silent
            cmd = ["/bin/sh", "-c", DISCOVER_PYTHON, "sh", BOOTSTRAP]
        else:
            cmd = [self.python, "-c", BOOTSTRAP]
        if not self.become:
            return cmd
        sudo = [self.become_exe, "-H", "-S"]
        if self.become_password:
            sudo += ["-p", self._prompt]
        else:
            sudo += ["-n"]
        sudo += ["-u", self.become_user]
        # Becoming the user the login already is needs no sudo (a minimal host reached
        # as root often has none): the target decides, so no extra round trip is spent.
        return ["/bin/sh", "-c", SKIP_BECOME_IF_ALREADY, "sh", self.become_user,
                str(len(sudo))] + sudo + cmd

    def start(self) -> dict[str, Any]:
        """Start the agent, ship it and the runtime, and return the host's facts."""
        if self._channel is not None:
            return self.facts
        self.connection.connect()
        self._shipped.clear()  # a new agent has no modules yet (after a lost one too)
        self._pending = bytearray()
        started = time.perf_counter()
        channel = self._open_channel()
        if channel.warm_state is not None:  # a warm agent (run --persist): facts only
            return self.facts
        try:
            if self.become and self.become_password:
                # sudo reads the password from the same stdin: wait for its prompt first.
                self._wait_for_bootstrap(channel)
            # Otherwise everything is sent at once and sits in the channel until the
            # bootstrap reads it: starting the agent costs one round trip, not two.
            source = _read_lib("agent").encode("utf-8")
            hello = json.dumps({"op": "hello", "libs": {
                "runtime": _packed_lib("runtime"), "facts": _packed_lib("facts")}}).encode()
            self.round_trips += 1
            try:
                channel.write(f"{len(source)}\n".encode() + source
                              + _HEADER.pack(len(hello)) + hello)
                found = self._skip_to_magic(channel)
            except TimeoutError as err:
                raise AgentError(f"{self.host}: the agent did not start within "
                                 f"{self.start_timeout:g}s{self._stderr_tail(channel)}") from err
            except (EOFError, OSError):
                found = False
            if not found:  # the command ended before the agent answered
                self._start_failed(channel, channel.stderr_so_far().decode("utf-8", "replace"))
            self._channel = channel
            answered = time.perf_counter()
            _add_phase(self.phases, "agent_start", answered - started)
            reply = self._recv(self.start_timeout)
            _add_phase(self.phases, "facts", time.perf_counter() - answered)
        except BaseException:
            self._channel = None
            channel.close()
            raise
        if reply.get("op") != "facts":
            self._channel = None
            channel.close()
            raise AgentError(f"{self.host}: the agent failed to start: {reply.get('msg', reply)}")
        self.facts = reply.get("facts") or {}
        self.agent_pid = reply.get("pid")
        return self.facts

    def identity(self) -> dict[str, Any]:
        """What makes this agent what it is, beside its connection: a warm agent is reused
        only by a session with the same (the password as a digest, kept in memory)."""
        password = self.become_password or ""
        return {"code": _agent_code_digest(), "python": self.python, "become": self.become,
                "become_user": self.become_user if self.become else "",
                "become_exe": self.become_exe,
                "become_password": hashlib.sha256(password.encode()).hexdigest()
                if password else ""}

    def _open_channel(self) -> AgentChannel:
        """A new agent's channel, or a warm agent already answering with fresh facts. A
        warm agent that died while idle is dropped and the next one asked for (at last a
        new agent), so a dead entry costs a reconnect, never a failed run."""
        for _ in range(4):
            channel = self.connection.open_reusable_agent(self.argv(), self.identity())
            if channel.warm_state is None or self._start_warm(channel):
                return channel
        return self.connection.open_agent(self.argv())

    def _start_warm(self, channel: AgentChannel) -> bool:
        """Facts from a warm agent (its libs are loaded: `hello` without them re-gathers)."""
        state = channel.warm_state or {}
        self._channel = channel
        self._shipped = {(str(a), str(b)) for a, b in state.get("shipped") or []}
        asked = time.perf_counter()
        try:
            self.round_trips += 1
            self._send({"op": "hello"})
            reply = self._recv(self.start_timeout)
        except PyengineError:
            self._channel = None
            self._shipped.clear()
            return False
        if reply.get("op") != "facts":
            self._channel = None
            self._shipped.clear()
            channel.close()
            return False
        _add_phase(self.phases, "facts", time.perf_counter() - asked)
        self.facts = reply.get("facts") or {}
        self.agent_pid = reply.get("pid")
        return True

    def _skip_to_magic(self, channel: AgentChannel) -> bool:
        """Read up to the agent's first output; what came before it is noise from the
        user's shell startup files (kept in `warnings`). False if the stream ended."""
        seen = b""
        while True:
            chunk = channel.read(65536, self.start_timeout)
            if not chunk:
                return False
            seen += chunk
            at = seen.find(AGENT_MAGIC)
            if at >= 0:
                self._pending = bytearray(seen[at + len(AGENT_MAGIC):])
                if seen[:at].strip():
                    noise = seen[:at].decode("utf-8", "replace").strip()
                    self.warnings.append(
                        f"{self.host}: output before the agent started (shell startup files?):"
                        f" {noise[:200]}"
                    )
                return True
            if len(seen) > 1 << 20:
                raise AgentError(f"{self.host}: 1 MiB of unexpected output instead of the agent")

    def _read_exactly(self, n: int, timeout: float | None) -> bytes:
        assert self._channel is not None
        if self._pending:
            head = bytes(self._pending[:n])
            del self._pending[:n]
            if len(head) == n:
                return head
            return head + self._channel.read_exactly(n - len(head), timeout)
        return self._channel.read_exactly(n, timeout)

    def _wait_for_bootstrap(self, channel: AgentChannel) -> None:
        """Read stderr until the bootstrap says hello; answer sudo's prompt on the way."""
        deadline = time.monotonic() + self.start_timeout
        seen = ""
        answered = False
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AgentError(
                    f"{self.host}: the agent did not start within {self.start_timeout:g}s"
                    f"{self._stderr_tail(seen)}"
                )
            chunk = channel.read_stderr(min(left, 0.5))
            if chunk is None:  # stderr ended: the command exited before the agent ran
                self._start_failed(channel, seen)
            seen += chunk.decode("utf-8", "replace")
            if HELLO_MARK in seen:
                return
            if self._prompt in seen:
                if answered or not self.become_password:
                    self._wrong_password(channel)
                channel.write(self.become_password.encode("utf-8") + b"\n")
                answered = True
                seen = seen.split(self._prompt, 1)[1]
            if "Sorry, try again" in seen or "incorrect password" in seen:
                self._wrong_password(channel)

    def _wrong_password(self, channel: AgentChannel) -> NoReturn:
        channel.close()
        raise BecomeError(
            f"{self.host}: become: incorrect sudo password for becoming "
            f"'{self.become_user}' (check ansible_become_password / --ask-become-pass)"
        )

    def _start_failed(self, channel: AgentChannel, seen: str) -> NoReturn:
        status = channel.exit_status(2.0)
        # The exit status can arrive before the last of stderr ("doas: not found"): read
        # stderr to its end (briefly) so the reason below is decided on all of it.
        deadline = time.monotonic() + 2.0
        while time.monotonic() < deadline and channel.read_stderr(0.2) is not None:
            pass
        full = channel.stderr_so_far().decode("utf-8", "replace")
        text = (full if len(full) >= len(seen) else seen).replace(HELLO_MARK, "").strip()
        if not self.connection.connected:
            raise HostUnreachable(self.host, f"connection lost starting the agent{_tail(text)}")
        if self.become and "a password is required" in text:
            raise BecomeError(
                f"{self.host}: become: sudo needs a password to become '{self.become_user}'"
                " (set ansible_become_password or use --ask-become-pass)"
            )
        if self.become and ("not in the sudoers" in text or "not allowed to" in text):
            raise BecomeError(f"{self.host}: become: sudo refused{_tail(text)}")
        if "needs Python 3.7+" in text:
            last = text.splitlines()[-1]
            raise AgentError(f"{self.host}: {last} (set ansible_python_interpreter)")
        python_missing = f"{self.python}: command not found" in text or (
            f"{self.python}: not found" in text)
        if self.become and not python_missing and f"{self.become_exe}:" in text and (
                "not found" in text):
            raise BecomeError(f"{self.host}: become: {self.become_exe!r} not found on the host")
        if "no python3 interpreter found" in text:
            raise AgentError(f"{self.host}: cannot start the agent: no Python 3 found on the"
                             " host (install python3 or set ansible_python_interpreter)")
        if status == 127 or python_missing:
            raise AgentError(
                f"{self.host}: cannot start the agent: {self.python!r} not found on the host"
                " (set ansible_python_interpreter)"
            )
        raise AgentError(f"{self.host}: the agent did not start (exit {status}){_tail(text)}")

    # -- batches ---------------------------------------------------------------------
    def _source(self, name: str) -> tuple[str, dict[str, Any], dict[str, str]]:
        """(sha, the module as the batch names it, its helper files by sha, packed)."""
        if name not in self._sources:
            if self.module_source is None:
                raise AgentError(f"{self.host}: no module source resolver for {name!r}")
            code = self.module_source(name)
            if isinstance(code, str):
                code = native_code(code, name)
            self._sources[name] = wire_spec(code)
        return self._sources[name]

    def run_batch(self, items: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """Send a batch in one round trip; yield `{"id", "result", "duration_s"}` per task.

        Results arrive while later tasks still run (the caller can show progress live).
        The agent stops after the first failed task not marked `ignore_errors`, so fewer
        results than items come back then. A dropped channel raises HostUnreachable.
        """
        if self._channel is None:
            self.start()
        self._drain()
        tasks: list[dict[str, Any]] = []
        modules: dict[str, dict[str, str]] = {}
        files: dict[str, str] = {}
        libs: dict[str, dict[str, str]] = {}
        for item in items:
            name = item["module"]
            sha, spec, packed = self._source(name)
            if (name, sha) not in self._shipped:
                modules[name] = spec
                files.update({k: v for k, v in packed.items()
                              if ("file", k) not in self._shipped})
                if spec.get("kind") == ANSIBLE and ("lib", "ansible_run") not in self._shipped:
                    libs["ansible_run"] = _packed_lib("ansible_run")
            task = {key: item.get(key) for key in ITEM_KEYS}
            task["sha"] = sha
            tasks.append(task)
        if not tasks:
            return
        self.round_trips += 1
        self._in_batch = True
        sent = time.perf_counter()
        message: dict[str, Any] = {"op": "batch", "modules": modules, "tasks": tasks}
        if files:
            message["files"] = files
        if libs:
            message["libs"] = libs
        self._send(message)
        self._shipped.update((name, spec["sha"]) for name, spec in modules.items())
        self._shipped.update(("file", sha) for sha in files)
        self._shipped.update(("lib", lib) for lib in libs)
        while True:
            reply = self._recv(self.task_timeout)
            op = reply.get("op")
            if op == "result":
                yield {"id": reply.get("id"), "result": reply.get("result") or {},
                       "duration_s": reply.get("duration_s", 0.0)}
            elif op == "done":
                self._in_batch = False
                self.phases["batches"].append(time.perf_counter() - sent)
                return
            elif op == "need":  # a task asks for a streamed controller file
                self._send_stream(str(reply.get("ref")))
            else:
                self._in_batch = False
                raise AgentError(f"{self.host}: agent error: {reply.get('msg', reply)}")

    def _send_stream(self, ref: str) -> None:
        """Send a registered controller file in bounded chunks (memory does not grow with
        the file's size or the number of hosts: one chunk per host at a time)."""
        self.streams_sent += 1
        path = streams.path_of(ref)
        if path is None:
            self._send({"op": "chunk", "error": f"no streamed file {ref}"})
            return
        try:
            with open(path, "rb") as fh:
                while True:
                    block = fh.read(streams.CHUNK)
                    if not block:
                        break
                    self._send({"op": "chunk", "data": base64.b64encode(block).decode("ascii")})
        except OSError as err:
            self._send({"op": "chunk", "error": f"cannot read {path}: {err.strerror}"})
            return
        self._send({"op": "chunk", "end": True})

    def run_all(self, items: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
        """`run_batch` collected into a list (for callers that need no live progress)."""
        return list(self.run_batch(items))

    def _drain(self) -> None:
        """Skip what is left of a batch whose generator the caller abandoned."""
        while self._in_batch:
            reply = self._recv(self.task_timeout)
            if reply.get("op") == "need":
                self._send({"op": "chunk", "error": "the batch was abandoned"})
            elif reply.get("op") in ("done", "error"):
                self._in_batch = False

    # -- framing ---------------------------------------------------------------------
    def _send(self, message: dict[str, Any]) -> None:
        assert self._channel is not None
        body = json.dumps(message, separators=(",", ":"), default=_json_default).encode("utf-8")
        try:
            self._channel.write(_HEADER.pack(len(body)) + body)
        except (EOFError, OSError) as err:
            raise self._lost(f"cannot send to the agent: {err}") from err

    def _recv(self, timeout: float | None) -> dict[str, Any]:
        assert self._channel is not None
        try:
            header = self._read_exactly(_HEADER.size, timeout)
            if len(header) < _HEADER.size:
                raise self._lost("the agent's channel closed")
            (size,) = _HEADER.unpack(header)
            if size > MAX_FRAME:
                raise self._lost(f"protocol error: a {size}-byte frame announced")
            body = self._read_exactly(size, timeout)
        except TimeoutError as err:
            # The agent is stuck in a task: give up on it (it sees EOF and ends after).
            self._lost("timed out")
            raise AgentError(
                f"{self.host}: no answer from the agent within {timeout:g}s"
            ) from err
        except OSError as err:
            raise self._lost(f"reading from the agent failed: {err}") from err
        if len(body) < size:
            raise self._lost("the agent's channel closed mid-message")
        try:
            message: dict[str, Any] = json.loads(body.decode("utf-8"))
        except ValueError as err:
            raise self._lost(f"protocol error: {err}") from err
        return message

    def _lost(self, what: str) -> PyengineError:
        channel, self._channel = self._channel, None
        self._in_batch = False
        stderr = channel.stderr_so_far().decode("utf-8", "replace") if channel else ""
        if channel is not None:
            channel.close()
        if not self.connection.connected:
            return HostUnreachable(self.host, f"{what} (connection lost)")
        return AgentError(f"{self.host}: {what}{_tail(stderr)}")

    # -- end -------------------------------------------------------------------------
    def close(self) -> None:
        """Ask the agent to exit (it removes its temp folder) and close the channel."""
        channel, self._channel = self._channel, None
        if channel is None:
            return
        started = time.perf_counter()
        try:
            if not self._in_batch and channel.detach({"shipped": sorted(self._shipped)}):
                return  # kept warm for the next run (run --persist)
            if not self._in_batch:
                # The agent's "bye" is not waited for: it exits on this request, or on the
                # EOF behind it if the channel closes first, and owns no files between tasks.
                body = json.dumps({"op": "exit"}).encode()
                channel.write(_HEADER.pack(len(body)) + body)
        except (EOFError, OSError, TimeoutError):
            pass
        finally:
            self._in_batch = False
            channel.close()
            _add_phase(self.phases, "teardown", time.perf_counter() - started)

    def __enter__(self) -> PythonAgentSession:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _stderr_tail(self, seen: str | AgentChannel) -> str:
        if not isinstance(seen, str):
            seen = seen.stderr_so_far().decode("utf-8", "replace")
        return _tail(seen.replace(HELLO_MARK, ""))


def wire_spec(code: ModuleCode) -> tuple[str, dict[str, Any], dict[str, str]]:
    """A module as a batch carries it: (sha, spec, {file sha: base64(zlib(source))}).

    The spec names its helper files by sha ({relpath: sha}); their contents travel in the
    batch's "files" only the first time (an ansible.module_utils file shared by several
    bridged modules, or a native helper, is sent once per agent).
    """
    names: dict[str, str] = {}
    packed: dict[str, str] = {}
    for rel, text in sorted(code.files.items()):
        raw = text.encode("utf-8")
        file_sha = hashlib.sha1(raw).hexdigest()
        names[rel] = file_sha
        packed[file_sha] = base64.b64encode(zlib.compress(raw, 6)).decode("ascii")
    spec: dict[str, Any] = {"source": code.source}
    if code.kind != NATIVE or names:
        spec.update({"kind": code.kind, "files": names, "entry": code.entry,
                     "meta": code.meta})
    digest = hashlib.sha1(json.dumps(spec, sort_keys=True).encode("utf-8")).hexdigest()
    spec["sha"] = digest
    return digest, spec, packed


def _add_phase(phases: dict[str, Any], name: str, seconds: float) -> None:
    phases[name] = phases.get(name, 0.0) + seconds


def _json_default(value: Any) -> Any:
    """Task arguments may hold YAML dates, sets or bytes: send them as JSON can carry them."""
    if isinstance(value, (set, frozenset, tuple)):
        return list(value)
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _tail(text: str, limit: int = 300) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if not lines:
        return ""
    joined = " | ".join(lines[-3:])
    return ": " + (joined if len(joined) <= limit else "..." + joined[-limit:])
