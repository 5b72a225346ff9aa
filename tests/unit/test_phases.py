"""Per-host phase timings (issue 17): where a host's time went, in the JSON report and at
-vv, and the controller's own CPU and memory in the report and the -v recap."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from typing import Any

from rich.console import Console

from pyengine.agent.session import PythonAgentSession
from pyengine.connection.base import Connection
from pyengine.connection.local import LocalConnection
from pyengine.executor.hoststate import PHASE_ORDER, HostState, add_phases
from pyengine.executor.results import HostResult, RunResult
from pyengine.paths import builtin_modules_dir
from pyengine.report.console import ConsoleReporter
from pyengine.report.json_report import report_dict


def _source(name: str) -> str:
    return (builtin_modules_dir() / f"{name}.py").read_text()


def _state(tmp_path: Path) -> HostState:
    def open_connection() -> Connection:
        conn = LocalConnection("h1")
        conn.phases["connect"] = 0.25  # as ssh.py records its handshake
        conn.phases["auth"] = 0.125
        return conn

    def open_session(conn: Connection, key: Any) -> PythonAgentSession:
        return PythonAgentSession(conn, module_source=_source, python=sys.executable)

    return HostState("h1", HostResult("h1"), open_connection, open_session)


def _item(n: int, path: Path) -> dict[str, Any]:
    return {"id": n, "module": "file", "args": {"path": str(path), "state": "directory"},
            "check_mode": False, "diff": False, "environment": {}, "ignore_errors": False,
            "no_log": False}


def test_a_real_agent_run_reports_every_phase_in_order(tmp_path: Path) -> None:
    state = _state(tmp_path)
    session = state.session((False, None))
    assert state.facts  # the agent started and answered with facts
    for n in (1, 2):
        results = list(session.run_batch([_item(n, tmp_path / f"d{n}")]))
        assert results[0]["result"].get("failed") is not True, results
    state.close()
    phases = state.result.phases
    assert list(phases) == [k for k in PHASE_ORDER if k in phases]
    assert {"connect", "auth", "agent_start", "facts", "batches", "teardown"} <= set(phases)
    assert phases["connect"] == 0.25 and phases["auth"] == 0.125
    assert len(phases["batches"]) == 2 and all(b > 0 for b in phases["batches"])
    assert phases["agent_start"] > 0 and phases["facts"] > 0 and phases["teardown"] > 0
    # The agent's own gathering is part of the facts exchange the controller waited for.
    assert 0 <= phases["facts_on_target"] <= phases["facts"]
    state.close()  # closing again adds nothing
    assert state.result.phases == phases


def test_reconnects_add_up_and_batches_append() -> None:
    into: dict[str, Any] = {}
    add_phases(into, {"connect": 0.1, "auth": 0.2, "batches": [0.5]})
    add_phases(into, {"teardown": 0.3, "connect": 0.05, "batches": [0.25]})
    add_phases(into, {"teardown": 9.0, "agent_start": 0.4}, skip=("teardown",))
    assert into == {"connect": 0.15, "auth": 0.2, "agent_start": 0.4, "batches": [0.5, 0.25],
                    "teardown": 0.3}
    assert list(into) == ["connect", "auth", "agent_start", "batches", "teardown"]


def _run() -> RunResult:
    run = RunResult(playbook="site.yml", started="2026-01-01T00:00:00+00:00")
    host = run.host("h1")
    host.phases = {"connect": 0.0512, "auth": 0.0301, "agent_start": 0.2,
                   "facts": 0.06, "batches": [0.31, 0.02], "teardown": 0.004}
    run.host("h2")  # unreachable before any phase: no timings
    run.controller_cpu_s = 1.234
    run.controller_max_rss_mb = 71.5
    return run


def test_json_report_carries_phases_and_the_controller_cost() -> None:
    data = json.loads(json.dumps(report_dict(_run())))
    assert data["hosts"]["h1"]["phases"]["batches"] == [0.31, 0.02]
    assert data["hosts"]["h1"]["phases"]["connect"] == 0.0512
    assert data["hosts"]["h2"]["phases"] == {}
    assert data["controller"] == {"cpu_s": 1.234, "max_rss_mb": 71.5}


def _console(verbosity: int) -> str:
    out = io.StringIO()
    reporter = ConsoleReporter(Console(file=out, width=200), verbosity=verbosity, live=False)
    reporter.run_end(_run())
    return out.getvalue()


def test_vv_shows_each_hosts_phases_and_v_the_controller_cpu() -> None:
    plain = _console(0)
    assert "phases" not in plain and "controller:" not in plain
    once = _console(1)
    assert "controller: 1.23 s CPU (process time), peak RSS 72 MB, 2 host(s)" in once
    assert "phases" not in once
    twice = _console(2)
    assert ("phases      h1 | connect 0.051s, auth 0.030s, agent start 0.200s, "
            "facts 0.060s, batches 0.310s+0.020s, teardown 0.004s") in twice
    assert "phases      h2" not in twice


class _SlowGoodbye(LocalConnection):
    """A connection whose close waits for the other hosts' closes (a barrier): it only
    passes when the hosts are closed side by side, as after a run's last result."""

    def __init__(self, name: str, barrier: Any, passed: list[str]) -> None:
        super().__init__(name)
        self.barrier = barrier
        self.passed = passed

    def close(self) -> None:
        self.barrier.wait(timeout=20)
        self.passed.append(self.host)


def test_hosts_are_closed_side_by_side_after_the_run() -> None:
    import threading

    from pyengine.executor.run import close_in_parallel

    barrier = threading.Barrier(6)
    passed: list[str] = []
    states = []
    for n in range(6):
        state = HostState(f"h{n}", HostResult(f"h{n}"), lambda: LocalConnection("x"),
                          lambda conn, key: PythonAgentSession(conn))
        state.connection = _SlowGoodbye(f"h{n}", barrier, passed)
        states.append(state)
    idle = HostState("never-connected", HostResult("idle"), lambda: LocalConnection("x"),
                     lambda conn, key: PythonAgentSession(conn))
    close_in_parallel([*states, idle])
    assert sorted(passed) == [f"h{n}" for n in range(6)]
    assert all(s.connection is None and "teardown" in s.result.phases for s in states)
    assert idle.result.phases == {}
