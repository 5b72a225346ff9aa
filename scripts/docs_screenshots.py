"""Make the README's pictures of the morning (docs/morning-*.png) with headless Chromium.

    .venv/bin/python scripts/docs_screenshots.py AUDIT.json

AUDIT.json is the --report-json of a real baseline audit (`pyengine run
playbooks/baseline-linux.yml --check --report-json AUDIT.json` on lab hosts). Its hosts
are replicated into a 40-host fleet of four clients, each copy passing a different share
of the controls it failed (so the picture shows a fleet, not three identical hosts); the
terminal summary of that fleet is rendered by rich and photographed. The report picture
is the 50-host, 30-run history of tests/unit/test_report_browser.py.
"""

from __future__ import annotations

import copy
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "unit"))

from pyengine.report.compliance_summary import print_summary  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser") or "chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
         "--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]


def fleet(report: dict, clients: tuple[str, ...] = ("acme", "globex", "initech", "umbrella"),
          size: int = 40) -> dict:
    """The audit's hosts replicated to `size` hosts; copy n passes some failing controls."""
    source = list(report["hosts"].values())
    out = dict(report, hosts={})
    for n in range(size):
        host = copy.deepcopy(source[n % len(source)])
        client = clients[n % len(clients)]
        for index, task in enumerate(host.get("tasks") or []):
            # a different share of would-change controls passes on each copy
            if task.get("changed") and (index * 7 + n * 3) % 10 < (n % 7):
                task.update(changed=False, status="ok", msg="")
        extra = host.setdefault("extra", {})
        extra["client"] = client
        if client != clients[0]:  # the waivers are the first client's group_vars
            extra.pop("waivers", None)
        out["hosts"][f"{client}-{'web' if n % 3 else 'db'}{n:02d}"] = host
    return out


def shoot(url: str, target: Path, size: str, profile: Path) -> None:
    subprocess.run([CHROMIUM, *FLAGS, f"--user-data-dir={profile}", f"--screenshot={target}",
                    f"--window-size={size}", url], check=True, capture_output=True,
                   timeout=120)


def main(audit: str) -> None:
    docs = ROOT / "docs"
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        report = fleet(json.loads(Path(audit).read_text()))
        console = Console(record=True, width=100, file=open(tmp / "out.txt", "w"),  # noqa: SIM115
                          force_terminal=True, color_system="truecolor")
        print_summary(report, console, report_path=".pyengine/nightly.json")
        (tmp / "summary.html").write_text(console.export_html(inline_styles=True).replace(
            "<body>", '<body style="background:#fff;color:#111827;margin:0;padding:12px">'
        ).replace("<pre ", '<pre style="font-size:13px;margin:0" '))
        shoot((tmp / "summary.html").as_uri(), docs / "morning-terminal.png", "820,640",
              tmp / "profile")
        from test_report_browser import _fleet_history

        from pyengine.history.db import HistoryDB
        from pyengine.report.html import render_html
        from pyengine.report.posture import client_trends, collect_postures, parse_since

        _fleet_history(tmp / "history.sqlite")
        with HistoryDB(tmp / "history.sqlite") as db:
            page = render_html(collect_postures(db, parse_since("2026-10-01")),
                               since="2026-10-01", trends=client_trends(db))
        (tmp / "report.html").write_text(page)
        shoot((tmp / "report.html").as_uri(), docs / "morning-report.png", "1000,900",
              tmp / "profile")
    for name in ("morning-terminal.png", "morning-report.png"):
        print(f"wrote docs/{name} ({(docs / name).stat().st_size // 1024} KiB)")


if __name__ == "__main__":
    main(sys.argv[1])
