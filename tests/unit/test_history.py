"""The SQLite run history: migrations, recording a JSON report, masking, queries."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine import masking
from pyengine.commands.history import history
from pyengine.history.db import SCHEMA_VERSION, HistoryDB, HistoryError


def _report(secret: str = "") -> dict:
    return {
        "version": 1,
        "playbook": "playbooks/demo.yml",
        "started": "2026-11-26T02:00:00+00:00",
        "finished": "2026-11-26T02:01:00+00:00",
        "exit_code": 2,
        "check_mode": False,
        "hosts": {
            "h1": {
                "ok": 2, "changed": 1, "failed": 1, "skipped": 0, "unreachable": False,
                "round_trips": 3,
                "tasks": [
                    {"name": "motd", "module": "copy", "status": "changed", "changed": True,
                     "duration_s": 0.2, "msg": "",
                     "diff": {"before": "a\n", "after": f"a\nb {secret}\n",
                              "after_header": "/etc/motd"}},
                    {"name": "boom", "module": "command", "status": "failed", "changed": False,
                     "duration_s": 0.1, "msg": f"non-zero return code: {secret}"},
                ],
            },
            "h2": {"ok": 0, "changed": 0, "failed": 0, "skipped": 0, "unreachable": True,
                   "round_trips": 0, "tasks": []},
        },
    }


def test_new_database_is_migrated_to_latest_schema(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        assert db.schema_version == SCHEMA_VERSION


def test_old_database_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    from pyengine.history import db as dbmod

    conn = sqlite3.connect(path)
    conn.executescript(dbmod.MIGRATIONS[0])
    conn.execute("PRAGMA user_version = 1")
    conn.execute(
        "INSERT INTO runs (playbook, started, finished, exit_code) VALUES ('old.yml', 'a', 'b', 0)"
    )
    conn.commit()
    conn.close()
    with HistoryDB(path) as db:
        assert db.schema_version == SCHEMA_VERSION
        assert [r.playbook for r in db.runs()] == ["old.yml"]


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(HistoryError, match="newer than this pyengine"):
        HistoryDB(path)


def test_record_run_stores_hosts_and_tasks_in_order(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        run_id = db.record_run(_report(), inventory="inv.yml", git_revision="abc", user="ops")
        run = db.runs()[0]
        assert (run.id, run.exit_code, run.user, run.git_revision) == (run_id, 2, "ops", "abc")
        hosts = {h["host"]: h for h in db.host_results(run_id)}
        assert hosts["h2"]["unreachable"] is True
        assert (hosts["h1"]["changed"], hosts["h1"]["round_trips"]) == (1, 3)
        tasks = db.task_results(run_id, "h1")
        assert [t["name"] for t in tasks] == ["motd", "boom"]
        assert tasks[0]["diff_summary"] == "/etc/motd: 1 -> 2 lines"
        assert tasks[1]["error"].startswith("non-zero return code")
        assert [r.id for r in db.runs(host="h2")] == [run_id]
        assert db.runs(host="nope") == []


def test_secrets_never_reach_the_database(tmp_path: Path) -> None:
    secret = "hunter2-vaulted"
    masking.register_secret(secret)
    try:
        path = tmp_path / "h.sqlite"
        with HistoryDB(path) as db:
            db.record_run(_report(secret))
        assert secret.encode() not in path.read_bytes()
        wal = path.with_name(path.name + "-wal")
        assert not wal.exists() or secret.encode() not in wal.read_bytes()
    finally:
        masking.clear_secrets()


def test_history_command_lists_runs_and_host_rows(tmp_path: Path) -> None:
    path = tmp_path / "h.sqlite"
    with HistoryDB(path) as db:
        db.record_run(_report(), user="ops")
    result = CliRunner().invoke(history, ["--db", str(path), "--host", "h1"])
    assert result.exit_code == 0, result.output
    assert "playbooks/demo.yml" in result.output and "ops" in result.output


def test_history_command_without_database_says_so(tmp_path: Path) -> None:
    result = CliRunner().invoke(history, ["--db", str(tmp_path / "none.sqlite")])
    assert result.exit_code == 0 and "no history yet" in result.output


def test_history_path_can_be_moved_by_environment(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from pyengine.history.db import default_history_path

    monkeypatch.setenv("PYENGINE_HISTORY_DB", str(tmp_path / "elsewhere.sqlite"))
    assert default_history_path() == tmp_path / "elsewhere.sqlite"
    assert default_history_path(tmp_path) == tmp_path / ".pyengine" / "history.sqlite"
    monkeypatch.delenv("PYENGINE_HISTORY_DB")
    assert default_history_path().name == "history.sqlite"
