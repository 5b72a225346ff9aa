"""The HTML report as a person sees it: rendered by headless Chromium from a real history.

Chromium loads the file with the network disabled (the page must be self-contained),
prints the DOM after layout, and takes a screenshot (kept in the test's temp folder,
never committed).
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.commands.report import report
from pyengine.history.db import HistoryDB

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]

pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium not installed "
                                "(scripts/bootstrap.sh installs it)")


def _history(path: Path) -> None:
    def host(changed: int, failed: int, unreachable: bool, **extra: object) -> dict:
        return {"ok": 5, "changed": changed, "failed": failed, "skipped": 0,
                "unreachable": unreachable, "round_trips": 3, "extra": extra, "tasks": [
                    {"name": "apply patches", "module": "patch", "duration_s": 2.0,
                     "status": "failed" if failed else "ok", "changed": False,
                     "msg": "dpkg lock held" if failed else ""}]}

    with HistoryDB(path) as db:
        for day, score in (("24", 60.0), ("25", 75.0), ("26", 91.5)):
            db.record_run({"playbook": "nightly.yml", "started": f"2026-11-{day}T02:00:00+00:00",
                           "finished": f"2026-11-{day}T02:10:00+00:00", "exit_code": 2, "hosts": {
                "web1": host(1, 0, False, client="acme",
                             compliance={"score": score, "failing": [
                                 {"id": "cis_5.2.4", "title": "SSH MaxAuthTries"}]},
                             patches={"pending": 2, "security": 1, "reboot_required": True}),
                "db1": host(0, 1, False, client="acme"),
                "fs1": host(0, 0, True, client="globex", drift=["/etc/fstab"]),
            }})


def _chromium(*args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM or "chromium", *FLAGS, *args], capture_output=True,
                          text=True, timeout=timeout)


def test_page_renders_what_a_person_needs(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    _history(db)
    page = tmp_path / "report.html"
    result = CliRunner().invoke(report, ["--db", str(db), "-o", str(page), "--since",
                                         "2026-11-01"])
    assert result.exit_code == 0, result.output
    profile = tmp_path / "profile"
    dom = _chromium(f"--user-data-dir={profile}", "--dump-dom", page.as_uri()).stdout
    text = re.sub(r"<[^>]+>", " ", dom)
    text = re.sub(r"\s+", " ", text)
    assert "Client: acme" in text and "Client: globex" in text
    assert re.search(r"web1 .*? changed .*? 91\.5%", text)
    assert re.search(r"db1 .*? failed .*?apply patches: dpkg lock held", text)
    assert re.search(r"fs1 .*? unreachable", text)
    assert "cis_5.2.4 SSH MaxAuthTries" in text and "/etc/fstab" in text
    assert 'id="n-unreachable">1<' in dom and 'id="n-reboot">1<' in dom
    shot = tmp_path / "report.png"
    _chromium(f"--user-data-dir={profile}", f"--screenshot={shot}", "--window-size=1400,900",
              "--hide-scrollbars", page.as_uri())
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 20_000  # a real, non-blank page
