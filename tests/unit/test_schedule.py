"""Schedule units and the CLI writing them under a temporary root (never the machine's)."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.commands.schedule import schedule
from pyengine.errors import PyengineError
from pyengine.schedule.units import Schedule, cron_entry, service_unit, timer_unit


def _sched(**kw: object) -> Schedule:
    values: dict = {"at": "02:30", "project_dir": Path("/srv/msp"),
                    "command": ["/opt/pyengine/bin/pyengine", "run", "nightly.yml", "--lock"]}
    values.update(kw)
    return Schedule(**values)


def test_timer_runs_daily_and_catches_up() -> None:
    text = timer_unit(_sched())
    assert "OnCalendar=*-*-* 02:30:00" in text and "Persistent=true" in text
    assert "WantedBy=timers.target" in text


def test_service_quotes_every_word_for_systemd() -> None:
    text = service_unit(_sched(command=["/bin/pe", "run", "my book.yml", "-e", "x=$HOME 50%"]))
    assert 'ExecStart=/bin/pe run "my book.yml" -e "x=$$HOME 50%%"' in text
    assert "WorkingDirectory=/srv/msp" in text and "SuccessExitStatus=2 4 5" in text


def test_cron_entry_escapes_percent_and_logs_to_file() -> None:
    line = cron_entry(_sched(command=["/bin/pe", "run", "a%b.yml"])).splitlines()[-1]
    assert line.startswith("30 2 * * * root cd /srv/msp && /bin/pe run a\\%b.yml")
    assert line.endswith(">> /srv/msp/.pyengine/pyengine-nightly.log 2>&1")


@pytest.mark.parametrize("at", ["24:00", "2am", "02:60", ""])
def test_bad_time_is_refused(at: str) -> None:
    with pytest.raises(PyengineError, match="expected HH:MM"):
        _sched(at=at)


def test_install_status_remove_under_a_root(tmp_path: Path) -> None:
    root = tmp_path / "root"
    (root / "run" / "systemd" / "system").mkdir(parents=True)
    runner = CliRunner()
    result = runner.invoke(schedule, ["install", "--at", "03:15", "--root", str(root),
                                      "--no-enable"])
    assert result.exit_code == 0, result.output
    timer = root / "etc/systemd/system/pyengine-nightly.timer"
    assert "OnCalendar=*-*-* 03:15:00" in timer.read_text()
    service = (root / "etc/systemd/system/pyengine-nightly.service").read_text()
    assert " run " in service and "--lock" in service
    assert "systemd timer" in runner.invoke(schedule, ["status", "--root", str(root)]).output
    result = runner.invoke(schedule, ["remove", "--root", str(root)])
    assert result.exit_code == 0 and not timer.exists()


def test_install_without_systemd_writes_cron(tmp_path: Path) -> None:
    result = CliRunner().invoke(schedule, ["install", "--root", str(tmp_path), "--no-enable"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "etc/cron.d/pyengine-nightly").read_text().splitlines()[-1].startswith(
        "0 2 * * * root cd ")
