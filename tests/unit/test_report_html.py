"""The HTML posture report: built from a real history file, self-contained, masked."""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine import masking
from pyengine.commands.report import report
from pyengine.errors import PyengineError
from pyengine.history.db import HistoryDB
from pyengine.report.html import sparkline
from pyengine.report.posture import collect_postures, parse_since

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=timezone.utc)


def _run(started: str, hosts: dict) -> dict:
    return {"playbook": "nightly.yml", "started": started, "finished": started, "exit_code": 0,
            "hosts": hosts}


def _host(changed: int = 0, failed: int = 0, unreachable: bool = False, **extra: object) -> dict:
    tasks = [{"name": "patch", "module": "patch", "status": "failed" if failed else "ok",
              "changed": False, "duration_s": 1.0, "msg": "dpkg lock held" if failed else ""}]
    return {"ok": 3, "changed": changed, "failed": failed, "skipped": 0,
            "unreachable": unreachable, "round_trips": 2, "tasks": tasks, "extra": extra}


@pytest.fixture
def history(tmp_path: Path) -> Path:
    path = tmp_path / "history.sqlite"
    with HistoryDB(path) as db:
        db.record_run(_run("2026-11-24T02:00:00+00:00", {
            "h1": _host(client="acme", compliance={"score": 61.0, "failing": []}),
            "h2": _host(client="acme"),
        }))
        db.record_run(_run("2026-11-25T02:00:00+00:00", {
            "h1": _host(changed=2, client="acme",
                        compliance={"score": 88.5, "failing": [
                            {"id": "cis_5.2.4", "title": "SSH MaxAuthTries"}]},
                        patches={"pending": 4, "security": 1, "reboot_required": True,
                                 "applied": [{"name": "openssl", "from": "1", "to": "2"}]},
                        drift=["/etc/ssh/sshd_config"]),
            "h2": _host(failed=1, client="acme"),
            "w1": _host(unreachable=True, client="globex"),
        }))
    return path


def test_posture_takes_newest_run_and_keeps_trend(history: Path) -> None:
    with HistoryDB(history) as db:
        postures = {p.host: p for p in collect_postures(db, parse_since("7d", NOW))}
    h1 = postures["h1"]
    assert (h1.status, h1.compliance_score, h1.trend_score) == ("changed", 88.5, [61.0, 88.5])
    assert (h1.pending_patches, h1.reboot_required, h1.drift) == (4, True, ["/etc/ssh/sshd_config"])
    assert postures["h2"].status == "failed"
    assert postures["h2"].failed_tasks == ["patch: dpkg lock held"]
    assert (postures["w1"].status, postures["w1"].client) == ("unreachable", "globex")


def test_window_excludes_older_runs(history: Path) -> None:
    with HistoryDB(history) as db:
        postures = collect_postures(db, datetime(2026, 11, 25, tzinfo=timezone.utc))
    assert {p.host: p.trend_changed for p in postures}["h1"] == [2]


def test_report_command_writes_self_contained_page(history: Path, tmp_path: Path) -> None:
    masking.register_secret("acme-secret-token")
    out = tmp_path / "report.html"
    result = CliRunner().invoke(report, ["--db", str(history), "-o", str(out), "--since",
                                         "2026-11-01"])
    masking.clear_secrets()
    assert result.exit_code == 0, result.output
    page = out.read_text()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page), "external asset"
    assert "<script" not in page
    assert 'id="host-h1" data-status="changed"' in page
    assert 'id="host-w1" data-status="unreachable"' in page
    assert "cis_5.2.4" in page and "openssl 1→2" in page
    assert 'id="n-unreachable">1<' in page and 'id="n-failed">1<' in page
    assert "<svg" in page  # h1 has a two-point trend


def test_bad_since_is_one_clear_error() -> None:
    with pytest.raises(PyengineError, match="expected a duration like 7d"):
        parse_since("yesterday-ish")


def test_sparkline_needs_two_points() -> None:
    assert sparkline([1.0]) == ""
    assert sparkline([1.0, 2.0]).startswith("<svg")
