"""What the executor keeps per host for the whole run (across plays).

Facts, registered results and set_facts live here, as do the host's
connection and agent sessions (one per privilege: become or not), so a
multi-play playbook connects once per host.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from typing import Any

from pyengine.agent.session import ansible_facts_namespace
from pyengine.connection.base import Connection
from pyengine.errors import HostUnreachable, PyengineError
from pyengine.executor.events import Reporter
from pyengine.executor.results import UNREACHABLE, HostResult, TaskResult
from pyengine.masking import mask
from pyengine.playbook.model import Task
from pyengine.reach import AgentSession, Privilege
from pyengine.templating import wrap_unsafe

SessionKey = Privilege


class HostState:
    """One host during a run; used by one thread at a time."""

    def __init__(
        self,
        name: str,
        result: HostResult,
        open_connection: Callable[[], Connection],
        open_session: Callable[[Connection, SessionKey], AgentSession],
    ) -> None:
        self.name = name
        self.result = result
        self.facts: dict[str, Any] = {}
        self.runtime: dict[str, Any] = {}  # register + set_fact + include_vars + facts
        self.notified: set[str] = set()
        self.current: str | None = None  # task being run (for Ctrl-C)
        self.failed = False
        self.unreachable = False
        self._open_connection = open_connection
        self._open_session = open_session
        self.connection: Connection | None = None
        self.sessions: dict[SessionKey, AgentSession] = {}
        self._sessions_lock = threading.Lock()
        self.closed = False
        self._closed_trips = 0
        self.ops = ActionHostOps(self)

    # -- sessions --------------------------------------------------------------------
    def open_connection(self) -> Connection:
        """The host's connection, created on first use (not yet connected)."""
        if self.connection is None:
            self.connection = self._open_connection()
        return self.connection

    def session(self, key: SessionKey) -> AgentSession:
        """The agent session for this privilege, started on first use (facts arrive)."""
        with self._sessions_lock:
            if self.closed:
                # Ctrl-C or SIGTERM closed this host from the main thread: its worker
                # thread must not open a new session behind the close.
                raise PyengineError(f"{self.name}: the run was interrupted")
            session = self.sessions.get(key)
            created = session is None
            if session is None:
                session = self._open_session(self.open_connection(), key)
                self.sessions[key] = session
        if created:
            self.set_facts(session.start())
        return session

    def set_facts(self, facts: Mapping[str, Any]) -> None:
        """Facts from the agent or a facts module: `X`, `ansible_facts.X` (and `ansible_X`
        for the agent's `ansible_*` names), as Ansible injects them."""
        facts = wrap_unsafe(dict(facts))  # from the host: data, never a template
        self.facts.update(facts)
        self.runtime.update(facts)
        self.runtime["ansible_facts"] = ansible_facts_namespace(self.facts)

    def close_sessions(self) -> None:
        # The main thread closes hosts on an interrupt while their worker threads may
        # still be opening sessions: take the sessions out under the lock, close outside it.
        with self._sessions_lock:
            sessions = list(self.sessions.values())
            self.sessions.clear()
        for session in sessions:
            self._closed_trips += session.round_trips
            try:
                session.close()
            except Exception:  # noqa: BLE001 - closing never fails a run
                pass
            # The session's own close is inside the host's teardown (timed in close()).
            add_phases(self.result.phases, session.phases, skip=("teardown",))
            gathered = session.facts.get("pyengine_facts_gather_s") if session.facts else None
            if isinstance(gathered, (int, float)):
                add_phases(self.result.phases, {"facts_on_target": float(gathered)})

    def interrupt(self) -> None:
        """Ctrl-C or SIGTERM, from the main thread: close for good, so the host's worker
        thread (still running) opens no session behind it."""
        with self._sessions_lock:
            self.closed = True
        self.close()

    def close(self) -> None:
        """Close the sessions and the connection; their phase timings go to the result."""
        started = time.perf_counter()
        had_sessions = bool(self.sessions)
        self.close_sessions()
        connection, self.connection = self.connection, None
        if connection is not None:
            try:
                connection.close()
            except Exception:  # noqa: BLE001
                pass
            add_phases(self.result.phases, connection.phases)
        if had_sessions or connection is not None:
            add_phases(self.result.phases, {"teardown": time.perf_counter() - started})

    @property
    def round_trips(self) -> int:
        with self._sessions_lock:
            open_sessions = list(self.sessions.values())
        return self._closed_trips + sum(s.round_trips for s in open_sessions)

    def record_batch(self, items: int) -> None:
        self.result.batches.append(items)
        self.result.round_trips = self.round_trips

    # -- outcomes --------------------------------------------------------------------
    def mark_unreachable(self, task: Task | None, reason: str, play_name: str,
                         reporter: Reporter) -> None:
        self.unreachable = True
        self.result.unreachable = True
        self.result.unreachable_msg = mask(reason)
        self.result.round_trips = self.round_trips
        name = task.display_name if task is not None else "connect"
        tr = TaskResult(name=mask(name), module=task.action if task else "", status=UNREACHABLE,
                        msg=mask(reason), play=play_name)
        self.result.tasks.append(tr)
        reporter.host_unreachable(self.name, mask(reason))
        self.close()


PHASE_ORDER = ("connect", "auth", "agent_start", "facts", "facts_on_target", "batches",
               "teardown")


def add_phases(into: dict[str, Any], phases: Mapping[str, Any],
               skip: tuple[str, ...] = ()) -> None:
    """Add a connection's or session's phase seconds to a host's (summed over reconnects
    and sessions; batches appended). Keys stay in PHASE_ORDER, values rounded to 0.1 ms."""
    for name, value in phases.items():
        if name in skip:
            continue
        if name == "batches":
            into.setdefault("batches", []).extend(round(v, 4) for v in value)
        else:
            into[name] = round(into.get(name, 0.0) + value, 4)
    ordered = {k: into[k] for k in PHASE_ORDER if k in into}
    ordered.update({k: v for k, v in into.items() if k not in ordered})
    into.clear()
    into.update(ordered)


class ActionHostOps:
    """actions.base.HostOps for sequenced actions (reboot, raw, wait_for_connection, ...)."""

    def __init__(self, state: HostState) -> None:
        self.state = state
        self.key: SessionKey = (False, None)  # the host's first session (set at its start)
        self._keys: list[SessionKey] = []  # the sessions to restart after drop_connection

    def _session(self) -> AgentSession:
        if self.state.sessions:
            return next(iter(self.state.sessions.values()))
        return self.state.session(self.key)

    def run_module(self, module: str, args: dict[str, Any], check_mode: bool = False,
                   diff: bool = False) -> dict[str, Any]:
        session = self._session()
        item = {"id": "op", "module": module, "args": args, "check_mode": check_mode,
                "diff": diff, "environment": None, "ignore_errors": True, "no_log": False}
        results = list(session.run_batch([item]))
        self.state.record_batch(1)
        if not results:
            return {"failed": True, "msg": "no result from the agent"}
        return dict(results[0].get("result") or {})

    def _connection(self) -> Connection:
        connection = self.state.open_connection()
        connection.connect()
        return connection

    def exec_raw(self, argv: list[str], data: bytes | None = None,
                 timeout: float | None = None) -> tuple[int, bytes, bytes]:
        res = self._connection().run(argv, data=data, timeout=timeout)
        return res.rc, res.stdout, res.stderr

    def put_file(self, data: bytes, path: str, mode: int | None = None) -> None:
        self._connection().put(data, path, mode)

    def get_file(self, path: str) -> bytes:
        return self._connection().get(path)

    def drop_connection(self) -> None:
        self._keys = list(self.state.sessions)
        self.state.close()

    def reconnect(self, timeout: float, delay: float = 1.0) -> dict[str, Any]:
        """Connect again until `timeout` (the host may be rebooting); restart the agents."""
        keys = self._keys or list(self.state.sessions) or [self.key]
        self.state.close()
        deadline = time.monotonic() + timeout
        last = ""
        while True:
            try:
                for key in keys:
                    self.state.session(key)
                return dict(self.state.facts)
            except (HostUnreachable, PyengineError, OSError) as err:
                last = str(err)
                self.state.close()
            if time.monotonic() + delay > deadline:
                raise HostUnreachable(self.state.name,
                                      f"not reachable again within {timeout:g}s: {last}")
            time.sleep(delay)
