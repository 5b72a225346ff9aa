"""The HTML report as a person sees it: rendered by headless Chromium from a real history.

Chromium loads the file with the network disabled (the page must be self-contained),
prints the DOM after layout, and takes screenshots (kept in the test's temp folder, or
in $PYENGINE_SCREENSHOTS_DIR when set: that is how docs/ gets its images). Two fleets:
3 hosts over 3 runs, and 50 hosts of three clients over 30 generated nightly runs.
"""

from __future__ import annotations

import os
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


def _host(changed: int, failed: int, unreachable: bool, **extra: object) -> dict:
    return {"ok": 5, "changed": changed, "failed": failed, "skipped": 0,
            "unreachable": unreachable, "round_trips": 3, "extra": extra, "tasks": [
                {"name": "apply patches", "module": "patch", "duration_s": 2.0,
                 "status": "failed" if failed else "ok", "changed": False,
                 "msg": "dpkg lock held" if failed else ""}]}


def _history(path: Path) -> None:
    with HistoryDB(path) as db:
        for day, score in (("24", 60.0), ("25", 75.0), ("26", 91.5)):
            db.record_run({"playbook": "nightly.yml", "started": f"2026-11-{day}T02:00:00+00:00",
                           "finished": f"2026-11-{day}T02:10:00+00:00", "exit_code": 2, "hosts": {
                "web1": _host(1, 0, False, client="acme",
                              compliance={"score": score, "failing": [
                                  {"id": "cis_5.2.4", "title": "SSH MaxAuthTries"}],
                                  "waived_controls": [{"id": "cis_5.3.3.2.2",
                                                       "title": "pwquality minlen",
                                                       "reason": "ERP passwords",
                                                       "expires": "2027-03-01"}]},
                              patches={"pending": 2, "security": 1, "reboot_required": True,
                                       "applied": [{"name": "openssl", "from": "3.0.1",
                                                    "to": "3.0.2"}]}),
                "db1": _host(0, 1, False, client="acme"),
                "fs1": _host(0, 0, True, client="globex", drift=["/etc/fstab"],
                             drift_diffs={"/etc/fstab": "@@ -1 +1 @@\n-/dev/sda1 / ext4\n"
                                                        "+/dev/sdb1 / ext4"}),
            }})


CLIENTS = {"acme": 20, "globex": 20, "initech": 10}


def _fleet_history(path: Path, runs: int = 30) -> None:
    """50 hosts, 30 nightly audit runs: scores climb over the month; on the last night
    acme-web07 is unreachable, globex-db03 is the lowest score and initech-app02 failed."""
    with HistoryDB(path) as db:
        for night in range(runs):
            hosts = {}
            for client, count in CLIENTS.items():
                for n in range(count):
                    name = f"{client}-{'web' if n % 2 else 'db'}{n:02d}"
                    score = min(100.0, 55.0 + night + (n * 7) % 30)
                    if name == "globex-db02":
                        score = 35.0 + night / 2
                    last = night == runs - 1
                    failing = [{"id": f"cis_5.{k}", "title": f"control {k}"}
                               for k in range(int((100 - score) / 4))]
                    hosts[name] = _host(
                        3 if n % 3 == 0 else 0,
                        int(last and name == "initech-db02"),
                        last and name == "acme-web07",
                        client=client,
                        compliance={"score": score, "failing": failing},
                        patches={"pending": n % 4, "security": n % 2,
                                 "reboot_required": n % 9 == 0},
                        **({"drift": ["/etc/ssh/sshd_config"]} if n % 11 == 0 else {}))
            db.record_run({"playbook": "nightly.yml", "check_mode": True,
                           "started": f"2026-11-{night + 1:02d}T02:00:00+00:00",
                           "finished": f"2026-11-{night + 1:02d}T02:20:00+00:00",
                           "exit_code": 2, "hosts": hosts})


def _chromium(*args: str, timeout: float = 90) -> subprocess.CompletedProcess:
    return subprocess.run([CHROMIUM or "chromium", *FLAGS, *args], capture_output=True,
                          text=True, timeout=timeout)


def _render(tmp_path: Path, db: Path) -> tuple[Path, str, str]:
    page = tmp_path / "report.html"
    result = CliRunner().invoke(report, ["--history-db", str(db), "-o", str(page),
                                         "--since", "2026-10-01"])
    assert result.exit_code == 0, result.output
    dom = _chromium(f"--user-data-dir={tmp_path / 'profile'}", "--dump-dom",
                    page.as_uri()).stdout
    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", dom))
    return page, dom, text


def _screenshot(tmp_path: Path, page: Path, name: str, size: str) -> bytes:
    folder = Path(os.environ.get("PYENGINE_SCREENSHOTS_DIR") or tmp_path)
    shot = folder / name
    _chromium(f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}",
              f"--window-size={size}", "--hide-scrollbars", page.as_uri())
    png = shot.read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n"
    return png


def _sections(dom: str) -> dict[str, str]:
    parts = re.split(r'<section class="client" data-client="([^"]+)">', dom)[1:]
    return dict(zip(parts[::2], parts[1::2], strict=True))


def _host_order(section: str) -> list[str]:
    return re.findall(r'<details class="host" id="host-([^"]+)"', section)


def test_page_renders_what_a_person_needs(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    _history(db)
    page, dom, text = _render(tmp_path, db)
    assert "Client: acme" in text and "Client: globex" in text
    sections = _sections(dom)
    assert _host_order(sections["acme"]) == ["db1", "web1"]  # the failed host first
    assert re.search(r"web1 changed 91\.5% 1 failing, 1 waived 2 pending \(1 security\)", text)
    assert re.search(r"db1 failed .*?apply patches: dpkg lock held", text)
    assert re.search(r"fs1 unreachable", text)
    assert "5.2.4 SSH MaxAuthTries" in text and "/etc/fstab" in text
    assert "5.3.3.2.2 pwquality minlen: ERP passwords (until 2027-03-01)" in text
    # the client's waivers, listed once under its header
    assert "Waived controls 5.3.3.2.2 pwquality minlen: ERP passwords — until 2027-03-01, " \
        "1 host" in text
    assert "openssl 3.0.1→3.0.2" in text
    assert re.search(r"Drift since the last backup /etc/fstab /etc/fstab @@ -1 \+1 @@ "
                     r"-/dev/sda1 / ext4 \+/dev/sdb1 / ext4", text)
    assert 'id="n-unreachable">1<' in dom and 'id="n-reboot">1<' in dom
    # the client's posture header and its score trend (3 runs)
    assert re.search(r"Client: acme 91\.5% compliance \(2 hosts\) 1 failed 0 unreachable "
                     r"1 security patches pending 1 reboot required 0 with drift", text)
    assert 'data-series="score" data-points="3"' in sections["acme"]
    png = _screenshot(tmp_path, page, "report-3-hosts.png", "1280,900")
    assert len(png) > 20_000  # a real, non-blank page


def test_fifty_hosts_over_thirty_runs(tmp_path: Path) -> None:
    db = tmp_path / "history.sqlite"
    _fleet_history(db)
    page, dom, text = _render(tmp_path, db)
    sections = _sections(dom)
    assert list(sections) == ["acme", "globex", "initech"]
    for client, count in CLIENTS.items():
        assert f"Client: {client}" in text
        assert len(_host_order(sections[client])) == count
        # a trend chart per client with a point for each of the 30 runs
        assert 'data-series="score" data-points="30"' in sections[client]
        assert len(re.findall(r"<circle", sections[client])) == 90  # 3 charts x 30
    # worst first: the unreachable host, then the failed one, then the lowest score
    assert _host_order(sections["acme"])[0] == "acme-web07"
    assert _host_order(sections["initech"])[0] == "initech-db02"
    assert _host_order(sections["globex"])[0] == "globex-db02"
    assert 'id="host-acme-web07" data-status="unreachable"' in dom
    # an audit run's changes are "would change", never "changed"
    assert "would change" in text and '<span class="status changed">' not in dom
    assert 'id="n-hosts">50<' in dom and 'id="n-unreachable">1<' in dom
    assert re.search(r"Client: acme \d+\.\d% compliance \(20 hosts\) 0 failed 1 unreachable",
                     text)
    desktop = _screenshot(tmp_path, page, "report-50-hosts.png", "1280,1600")
    phone = _screenshot(tmp_path, page, "report-phone.png", "390,844")
    assert len(desktop) > 50_000 and len(phone) > 10_000
    # printable: Chromium prints it to PDF with every host's details open (a copy of the
    # page without that print rule prints only the summary lines: fewer pages)
    closed = tmp_path / "closed.html"
    closed.write_text(page.read_text().replace("details.host::details-content",
                                               "details.none::details-content"))
    pages = {}
    for name, source in (("open", page), ("closed", closed)):
        pdf = tmp_path / f"{name}.pdf"
        _chromium(f"--user-data-dir={tmp_path / 'profile'}", f"--print-to-pdf={pdf}",
                  "--no-pdf-header-footer", source.as_uri())
        data = pdf.read_bytes()
        assert data[:5] == b"%PDF-"
        pages[name] = len(re.findall(rb"/Type\s*/Page\b", data))
    assert pages["open"] > pages["closed"] > 1
