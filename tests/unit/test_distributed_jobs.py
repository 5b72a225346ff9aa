"""Splitting a submission into jobs, the combined exit code, and the single machine
needing none of the distributed packages."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from pyengine.distributed.jobs import (
    GENERAL_QUEUE,
    Job,
    reject_secret_extra_vars,
    site_queue,
    split_hosts,
)
from pyengine.distributed.recap import combine, recap_lines
from pyengine.errors import PyengineError

SITES = {"a1": "east", "a2": "east", "b1": "west", "c1": ""}
CLIENTS = {"a1": "acme", "a2": "acme", "b1": "acme", "c1": "globex"}


def _split(mode: str) -> list[tuple[str, str, list[str]]]:
    return split_hosts(list(SITES), mode, CLIENTS.__getitem__, SITES.__getitem__)


def test_split_by_site_sends_each_site_to_its_queue_and_the_rest_to_the_general_one() -> None:
    assert _split("site") == [("general", GENERAL_QUEUE, ["c1"]),
                              ("east", site_queue("east"), ["a1", "a2"]),
                              ("west", site_queue("west"), ["b1"])]


def test_split_by_client_and_in_shards() -> None:
    assert _split("client") == [("acme", GENERAL_QUEUE, ["a1", "a2", "b1"]),
                                ("globex", GENERAL_QUEUE, ["c1"])]
    assert [hosts for _, _, hosts in _split("3")] == [["a1", "a2", "b1"], ["c1"]]
    with pytest.raises(PyengineError, match="use client, site or a number"):
        _split("rack")


def test_a_job_travels_as_names_and_options_only() -> None:
    job = Job(id="s-1", submission="s", playbook="site.yml", inventories=["inv"],
              hosts=["a1", "a2"], extra_vars=["x=1"])
    assert Job.from_dict(job.to_dict()) == job and job.limit == "a1,a2"
    with pytest.raises(PyengineError, match="not sent through the broker"):
        reject_secret_extra_vars(["@secrets.yml"])


def test_the_combined_exit_code_is_runs_rule_over_every_host() -> None:
    ok = {"job": "1", "hosts": {"a1": {"ok": 3, "changed": 1}}, "exit_code": 0}
    failed = {"job": "2", "hosts": {"b1": {"ok": 1, "failed": 1}}, "exit_code": 2}
    down = {"job": "3", "hosts": {"c1": {"unreachable": True}}, "exit_code": 4}
    lost = {"job": "4", "hosts": {}, "exit_code": 1, "note": "no result"}
    assert combine("s", "p", [ok])["exit_code"] == 0
    assert combine("s", "p", [ok, failed])["exit_code"] == 2
    assert combine("s", "p", [ok, failed, down])["exit_code"] == 4
    assert combine("s", "p", [ok, lost])["exit_code"] == 2
    lines = recap_lines(combine("s", "p", [ok, down]))
    assert "a1 : ok=3 changed=1 unreachable=0 failed=0 skipped=0" in lines
    assert "c1 : ok=0 changed=0 unreachable=1 failed=0 skipped=0" in lines


def test_one_machine_needs_neither_celery_nor_psycopg(tmp_path: Path) -> None:
    code = textwrap.dedent(f"""
        import sys
        sys.modules["celery"] = None  # import fails as if not installed
        sys.modules["psycopg"] = None
        sys.modules["redis"] = None
        from pyengine.history.db import HistoryDB
        import pyengine.commands.run, pyengine.commands.submit, pyengine.commands.worker
        from pyengine.commands.main import COMMANDS
        with HistoryDB({str(tmp_path / "h.sqlite")!r}) as db:
            db.record_run({{"playbook": "a.yml", "started": "s", "finished": "f", "hosts": {{}}}})
            assert len(db.runs()) == 1
        from pyengine.errors import PyengineError
        try:
            HistoryDB("postgresql://x@127.0.0.1/db")
        except PyengineError as err:
            print(err)
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert "needs psycopg: pip install 'pyengine[distributed]'" in done.stdout


def test_the_alerts_judge_the_combined_report_like_a_runs() -> None:
    from pyengine.alerts import alert_reasons

    east = {"job": "1", "hosts": {"a1": {"ok": 2, "failed": 1, "extra": {}}}, "exit_code": 2}
    west = {"job": "2", "hosts": {"b1": {"unreachable": True, "extra": {"drift": ["x"]}}},
            "exit_code": 4}
    assert alert_reasons(combine("s", "p", [east, west])) == {
        "failed": ["a1"], "unreachable": ["b1"], "drift": ["b1"]}
