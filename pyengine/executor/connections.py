"""A play's connections and agent sessions: each host's own, and delegates'.

The play's `remote_user` and `connection` keywords count only where the host's
variables say nothing (Ansible's order); everything else comes from the host's
variables through pyengine/reach.py.
"""

from __future__ import annotations

import threading
from collections import ChainMap
from collections.abc import Mapping
from typing import Any

from pyengine.connection.base import Connection
from pyengine.connection.local import LocalConnection
from pyengine.executor.contracts import RunOptions, Sources
from pyengine.executor.hoststate import HostState
from pyengine.executor.playvars import PlayVariables
from pyengine.executor.privilege import NO_BECOME
from pyengine.executor.results import HostResult
from pyengine.playbook.model import Play
from pyengine.reach import AgentSession, Privilege, open_agent_session

LOCAL_NAMES = ("localhost", "127.0.0.1")


class PlayConnections:
    """Opens connections and sessions for the hosts of one play (and its delegates)."""

    def __init__(self, play: Play, sources: Sources, options: RunOptions,
                 variables: PlayVariables) -> None:
        self.play = play
        self.sources = sources
        self.options = options
        self.variables = variables
        self._delegates: dict[tuple[str, str], HostState] = {}
        self._lock = threading.Lock()

    def connection_vars(self, host: str) -> Mapping[str, Any]:
        """The host's variables with the play's connection keywords below them."""
        view = self.variables.host_view(host)
        keywords: dict[str, Any] = {}
        if self.play.remote_user and "ansible_user" not in view:
            keywords["ansible_user"] = self.play.remote_user
        if self.play.connection and "ansible_connection" not in view:
            keywords["ansible_connection"] = self.play.connection
        return ChainMap(keywords, view)  # type: ignore[arg-type]

    def open_connection(self, host: str) -> Connection:
        connection = self.sources.connection(host, self.connection_vars(host))
        if self.options.persist > 0:  # run --persist: SSH through the owner, kept warm
            from pyengine.persist.client import persisted

            return persisted(connection, self.options.persist)
        return connection

    def open_session(self, host: str, connection: Connection, privilege: Privilege
                     ) -> AgentSession:
        return open_agent_session(connection, self.variables.host_view(host),
                                  self.sources.module_source, privilege=privilege,
                                  become_password=self.options.become_password,
                                  module_source_ps1=self.sources.module_source_ps1)

    def delegate_session(self, name: str, for_host: str) -> AgentSession:
        """The agent on a delegate host (localhost: the controller, no SSH), one per
        delegating host: a session serves one thread at a time."""
        with self._lock:
            state = self._delegates.get((name, for_host))
            if state is None:
                state = self._delegate_state(name)
                self._delegates[(name, for_host)] = state
        return state.session(NO_BECOME)

    def close_delegates(self) -> None:
        with self._lock:  # worker threads may still add delegates during an interrupt
            states = list(self._delegates.values())
        for state in states:
            state.close()

    def _delegate_state(self, name: str) -> HostState:
        def open_connection() -> Connection:
            if name in LOCAL_NAMES:
                return LocalConnection(name)
            return self.open_connection(name)

        return HostState(name, HostResult(name), open_connection,
                         lambda conn, key: self.open_session(name, conn, key))
