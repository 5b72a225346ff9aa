"""PowerShellSession over WinRM, against the WS-Management server of the tests.

The server does not run PowerShell (there is none here): its handler plays the runner's
side of the protocol in Python — it decodes the -EncodedCommand and the stdin payload
exactly as runner.ps1's bootstrap would, and answers in the runner's line format. What
is tested is pyengine's side: that values travel as data and never as script text,
that results, facts, noise and failures are parsed, and the round trips counted.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator

import pytest
from wsman_server import WSManServer

from pyengine.agent.powershell import (
    BOOTSTRAP,
    RUNNER_PATH,
    PowerShellSession,
    RunnerError,
    parse_output,
)
from pyengine.connection.winrm import WinRMConnection

NASTY = ["it's", 'say "hi"', "$env:PATH", "`backtick`", "two\nlines", "${x}", "@'here'@",
         "100%", "C:\\Program Files\\x", "ünïcödé"]


def _line(kind: str, data: object) -> bytes:
    return f"PYENGINE-{kind}:".encode() + base64.b64encode(json.dumps(data).encode()) + b"\r\n"


class FakeRunner:
    """Records each invocation and answers like runner.ps1 would."""

    def __init__(self) -> None:
        self.scripts: list[str] = []
        self.payloads: list[dict] = []
        self.noise = b""
        self.omit_done = False

    def __call__(self, line: str, arguments: str, stdin: bytes) -> tuple[bytes, bytes, int]:
        assert line == "powershell.exe"
        encoded = arguments.split("-EncodedCommand ")[1].strip()
        self.scripts.append(base64.b64decode(encoded).decode("utf-16-le"))
        payload = json.loads(base64.b64decode(stdin.strip()))
        self.payloads.append(payload)
        out = self.noise
        if payload["facts"]:
            out += _line("FACTS", {"ansible_os_family": "Windows",
                                   "ansible_distribution": "Microsoft Windows Server 2022",
                                   "pyengine_reboot_required": False})
        for task in payload["tasks"]:
            failed = task["module"] == "win_fail"
            out += _line("RESULT", {"id": task["id"], "duration_s": 0.01, "result": {
                "changed": not failed, "failed": failed, "echo": task["args"]}})
            if failed and not task["ignore_errors"]:
                break
        if not self.omit_done:
            out += _line("DONE", {})
        return out, b"", 0


@pytest.fixture
def runner() -> FakeRunner:
    return FakeRunner()


@pytest.fixture
def session(runner: FakeRunner) -> Iterator[PowerShellSession]:
    with WSManServer(runner, auth="basic") as server:
        conn = WinRMConnection("win1", {"host": "127.0.0.1", "port": server.port,
                                        "scheme": "http", "transport": "basic",
                                        "allow_unencrypted_basic": True,
                                        "user": "Administrator", "password": "Passw0rd!"})
        sources = {"win_ping": "param($Params, $Context)\n@{ changed = $false }\n",
                   "win_fail": "param($Params, $Context)\nthrow 'x'\n"}
        session = PowerShellSession(conn, module_source=sources.__getitem__)
        yield session
        session.close()


def _item(n: int, module: str = "win_ping", **args: object) -> dict:
    return {"id": str(n), "module": module, "args": args, "check_mode": False, "diff": False,
            "environment": {}, "ignore_errors": False, "no_log": False}


def test_start_returns_facts_in_one_round_trip(session: PowerShellSession,
                                               runner: FakeRunner) -> None:
    facts = session.start()
    assert facts["ansible_os_family"] == "Windows" and session.round_trips == 1
    assert runner.payloads[0]["runner"] == RUNNER_PATH.read_text(encoding="utf-8")
    assert runner.payloads[0]["tasks"] == []


def test_values_travel_as_data_never_as_script(session: PowerShellSession,
                                               runner: FakeRunner) -> None:
    session.start()
    args = {f"a{i}": value for i, value in enumerate(NASTY)}
    args["nested"] = {"list": NASTY, "n": 5, "flag": True}
    results = session.run_all([_item(1, **args)])
    assert results[0]["result"]["echo"] == args  # byte-exact round trip of every value
    assert set(runner.scripts) == {BOOTSTRAP}  # the only script text ever sent
    for value in NASTY:
        assert value not in runner.scripts[-1]


def test_batch_is_one_round_trip_and_ships_used_modules(session: PowerShellSession,
                                                       runner: FakeRunner) -> None:
    session.start()
    results = session.run_all([_item(1), _item(2), _item(3)])
    assert [r["id"] for r in results] == ["1", "2", "3"]
    assert session.round_trips == 2
    assert set(runner.payloads[-1]["modules"]) == {"win_ping"}


def test_failure_stops_the_batch_unless_ignored(session: PowerShellSession) -> None:
    session.start()
    results = session.run_all([_item(1), _item(2, "win_fail"), _item(3)])
    assert [r["id"] for r in results] == ["1", "2"] and results[1]["result"]["failed"]
    ignored = dict(_item(4, "win_fail"), ignore_errors=True)
    assert len(session.run_all([ignored, _item(5)])) == 2


def test_stray_output_becomes_a_warning(session: PowerShellSession, runner: FakeRunner) -> None:
    runner.noise = b"WARNING: something printed by a module\r\n"
    session.start()
    result = session.run_all([_item(1)])[0]["result"]
    assert "something printed by a module" in result["warnings"][0]


def test_runner_without_done_line_is_a_clear_error(session: PowerShellSession,
                                                   runner: FakeRunner) -> None:
    runner.omit_done = True
    with pytest.raises(RunnerError, match="PowerShell runner failed"):
        session.start()


def test_parse_output_ignores_garbled_lines() -> None:
    records, noise = parse_output(b"PYENGINE-RESULT:!!!notbase64\nPYENGINE-DONE:e30=\n")
    assert records == [("DONE", {})] and noise == ["PYENGINE-RESULT:!!!notbase64"]
