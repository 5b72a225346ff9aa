"""`pyengine health`: the table (problems worst first, hosts that could not answer) and
its options, without hosts (the lab test runs it for real)."""

from __future__ import annotations

from click.testing import CliRunner

from pyengine.commands.health import table_lines
from pyengine.commands.main import cli
from pyengine.health.remote import HostHealth, from_result


def test_table_lists_each_hosts_problems_worst_first() -> None:
    rows = [
        from_result("web1", {"state": "crit", "summary": {
            "time": {"state": "warn", "reason": "offset +250.0 ms"},
            "disk": {"state": "crit", "reason": "/var 95.0% used"},
            "units": {"state": "ok", "reason": "no failed units"}}}, 1.24),
        from_result("db1", {"state": "ok", "summary": {
            "disk": {"state": "ok", "reason": "/ 20.0% used"}}}, 0.5),
        HostHealth("old", "unreachable", msg="old: connection refused"),
    ]
    lines = [text for text, _state in table_lines(rows)]
    assert lines[0].split() == ["HOST", "STATE", "TIME", "DETAIL"]
    assert lines[1].split()[:4] == ["web1", "crit", "1.2s", "2"]
    assert lines[2].split()[:3] == ["crit", "disk:", "/var"]
    assert lines[3].split()[:3] == ["warn", "time:", "offset"]
    assert lines[4].split() == ["db1", "ok", "0.5s", "1", "checks", "ok"]
    assert lines[5].split()[:2] == ["old", "unreachable"] and "connection refused" in lines[5]
    every = [text for text, _state in table_lines(rows, every=True)]
    assert any("ok   units: no failed units" in line for line in every)


def test_a_failed_module_is_a_failed_row() -> None:
    row = from_result("h", {"failed": True, "msg": "unknown health check(s) disks"}, 0.1)
    assert row.state == "failed" and row.msg.startswith("unknown health check")


def test_health_command_takes_the_shared_inventory_option() -> None:
    out = CliRunner().invoke(cli, ["health", "--help"], terminal_width=300).output
    assert "-i, --inventory INVENTORY" in out and "--skip" in out and "--json" in out
