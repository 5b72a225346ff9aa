"""The history location: a path, sqlite:///FILE or postgresql://, and what each means."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.errors import PyengineError
from pyengine.history.db import HistoryDB
from pyengine.history.dialect import PostgresDialect, dialect_for, display, exists, sqlite_path


def test_a_plain_path_and_a_sqlite_url_are_the_same_embedded_file(tmp_path: Path) -> None:
    file = tmp_path / "h.sqlite"
    with HistoryDB(str(file)) as db:
        db.record_run({"playbook": "a.yml", "started": "s", "finished": "f", "hosts": {}})
    with HistoryDB(f"sqlite:///{file}") as db:
        assert [r.playbook for r in db.runs()] == ["a.yml"]
    assert sqlite_path(f"sqlite:///{file}") == file
    assert exists(str(file)) and not exists(str(tmp_path / "none.sqlite"))


def test_a_url_password_is_never_shown() -> None:
    shown = display("postgresql://pyengine:s3cret@db.example:5433/hist")
    assert "s3cret" not in shown and shown == "postgresql://pyengine:***@db.example:5433/hist"


def test_an_unknown_kind_is_one_clear_error() -> None:
    with pytest.raises(PyengineError, match="unknown kind 'mysql'"):
        dialect_for("mysql://x/y")


def test_postgres_spelling_of_the_sqlite_migrations() -> None:
    try:
        dialect = PostgresDialect()
    except PyengineError:
        pytest.skip("psycopg is not installed (the `distributed` extra)")
    ddl = dialect.ddl("id INTEGER PRIMARY KEY AUTOINCREMENT, value REAL")
    assert ddl == "id SERIAL PRIMARY KEY, value DOUBLE PRECISION"
    assert dialect.sql("a = ? AND b = ?") == "a = %s AND b = %s"


def test_leases_keep_a_second_worker_off_a_running_job(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        assert db.claim_job("j1", "s1", ["h1", "h2"], "w1", ttl=60).outcome == "run"
        busy = db.claim_job("j1", "s1", ["h2"], "w2", ttl=60)
        assert busy.outcome == "busy" and busy.holder == "w1 (j1)"
        db.finish_job("j1", "w1", "done", run_id=7, exit_code=2)
        again = db.claim_job("j1", "s1", ["h1", "h2"], "w2", ttl=60)
        assert (again.outcome, again.run_id, again.exit_code) == ("done", 7, 2)


def test_an_expired_lease_is_taken_over_and_the_job_says_so(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        assert db.claim_job("j1", "s1", ["h1"], "w1", ttl=-1).outcome == "run"
        taken = db.claim_job("j1", "s1", ["h1"], "w2", ttl=60)
        assert taken.outcome == "run" and "taken over from w1" in taken.note
        (job,) = db.jobs("s1")
        assert job["attempts"] == 2 and job["worker"] == "w2"


def test_recording_a_jobs_run_finishes_the_job_in_the_same_transaction(tmp_path: Path) -> None:
    with HistoryDB(tmp_path / "h.sqlite") as db:
        db.claim_job("j1", "s1", ["h1"], "w1", ttl=60)
        run_id = db.record_run({"playbook": "a.yml", "started": "s", "finished": "f",
                                "exit_code": 2, "hosts": {"h1": {"ok": 1, "failed": 1}}},
                               job=("j1", "w1"))
        (job,) = db.jobs("s1")
        assert (job["state"], job["run_id"], job["exit_code"]) == ("done", run_id, 2)
        assert db.claim_job("j2", "s1", ["h1"], "w2", ttl=60).outcome == "run"  # released
