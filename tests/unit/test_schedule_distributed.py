"""`schedule install --submit` and `schedule install-worker`, written under a temp root."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner

from pyengine.commands.schedule import schedule


def test_the_nightly_submission_replaces_the_local_run(tmp_path: Path) -> None:
    done = CliRunner().invoke(schedule, ["install", "--submit", "-i", "inventory",
                                         "--init", "systemd", "--root", str(tmp_path)])
    assert done.exit_code == 0, done.output
    service = (tmp_path / "etc/systemd/system/pyengine-nightly.service").read_text()
    start = next(line for line in service.splitlines() if line.startswith("ExecStart="))
    assert " submit playbooks/nightly.yml --split site --wait " in start
    assert " run " not in start and "-i " in start


def test_a_site_worker_is_a_restarting_service(tmp_path: Path) -> None:
    done = CliRunner().invoke(schedule, ["install-worker", "--site", "acme", "--root",
                                         str(tmp_path), "--env-file", "/etc/pyengine/worker"])
    assert done.exit_code == 0, done.output
    unit = (tmp_path / "etc/systemd/system/pyengine-worker-acme.service").read_text()
    assert "Restart=always" in unit and "EnvironmentFile=/etc/pyengine/worker" in unit
    assert " worker --name pyengine-worker-acme --site acme" in unit
    assert "WantedBy=multi-user.target" in unit
