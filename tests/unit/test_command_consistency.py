"""Commands that talk to hosts take -i the same way (repeatable; $PYENGINE_INVENTORY,
then ansible.cfg, then the running lab), and the history database option has one name
(--history-db; --db is a hidden alias kept for old scripts)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.commands import inventory_option
from pyengine.commands.main import cli
from pyengine.errors import PyengineError
from pyengine.history.db import HistoryDB
from pyengine.lab import lab as lab_module


@pytest.mark.parametrize("argv", [["run"], ["patch", "status"], ["backup", "restore"]])
def test_host_commands_share_the_inventory_option(argv: list[str]) -> None:
    out = CliRunner().invoke(cli, [*argv, "--help"], terminal_width=300).output
    assert "-i, --inventory INVENTORY" in out
    assert "Default: $PYENGINE_INVENTORY, then ansible.cfg's inventory, then the running " \
        "lab." in " ".join(out.split())


def test_inventory_order_given_env_config_lab(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lab_module, "default_inventory_path", lambda: Path("/lab/inv.yml"))
    monkeypatch.delenv("PYENGINE_INVENTORY", raising=False)
    paths = inventory_option.inventory_paths
    assert paths(("a.yml",), ["cfg"]) == ["a.yml"]
    assert paths((), ["cfg"]) == ["cfg"]
    assert paths((), []) == ["/lab/inv.yml"]
    monkeypatch.setenv("PYENGINE_INVENTORY", "e1:e2")
    assert paths((), ["cfg"]) == ["e1", "e2"]
    monkeypatch.delenv("PYENGINE_INVENTORY")
    monkeypatch.setattr(lab_module, "default_inventory_path", lambda: None)
    with pytest.raises(PyengineError, match="give -i INVENTORY, or run `pyengine lab up`"):
        paths((), [])


@pytest.mark.parametrize("command", ["history", "report"])
def test_history_database_option_has_one_name(command: str, tmp_path: Path) -> None:
    runner = CliRunner()
    assert "--history-db" in runner.invoke(cli, [command, "--help"]).output
    assert "--db" not in runner.invoke(cli, [command, "--help"]).output.replace(
        "--history-db", "")
    db = tmp_path / "h.sqlite"
    with HistoryDB(db) as store:
        store.record_run({"playbook": "p.yml", "started": "2026-12-01T02:00:00+00:00",
                          "finished": "2026-12-01T02:01:00+00:00", "exit_code": 0,
                          "hosts": {"h1": {"ok": 1, "changed": 0, "failed": 0, "skipped": 0,
                                           "unreachable": False, "tasks": []}}})
    extra = ["-o", str(tmp_path / "r.html"), "--since", "2026-11-01"] \
        if command == "report" else []
    for flag in ("--history-db", "--db"):  # the old name still works
        result = runner.invoke(cli, [command, flag, str(db), *extra])
        assert result.exit_code == 0, result.output
        assert ("p.yml" in result.output) if command == "history" else \
            ("(1 hosts)" in result.output)
