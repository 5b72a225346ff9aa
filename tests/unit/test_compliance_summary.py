"""The compliance view at fleet scale: the summary fits one screen for 40 hosts, controls
are aggregated over hosts, waivers show as waived (and expire), looped task names read
as rendered titles, and `pyengine compliance` prints the summary or the full tables."""

from __future__ import annotations

import io
import json
import re
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from pyengine.commands.main import cli
from pyengine.commands.records import full_report
from pyengine.report.compliance import print_compliance
from pyengine.report.compliance_summary import fleet_compliance, print_summary
from pyengine.report.compliance_waivers import normalize_waivers
from pyengine.report.extra import compliance, control_rows, control_title

MINLEN = "5.3.3.2.2 pwquality minlen"


def task(name: str, tag: str, status: str = "ok", changed: bool = False,
         result: dict | None = None) -> dict:
    return {"name": name, "tags": [tag], "status": status, "changed": changed,
            "msg": "would set minlen = 14" if changed else "", "result": result or {}}


def host_tasks(index: int) -> list[dict]:
    """20 controls; minlen fails on all but hosts 0-2, a few others on some hosts."""
    tasks = [task(MINLEN, "cis_5.3.3.2.2", "changed", changed=index > 2)]
    for n in range(1, 20):
        tasks.append(task(f"1.{n} control number {n}", f"cis_1.{n}", "changed",
                          changed=(index + n) % 7 == 0))
    return tasks


def fleet_report(hosts: int = 40, clients: int = 4, waivers: dict | None = None) -> dict:
    return {"check_mode": True, "started": "2026-12-04T02:00:00+00:00", "hosts": {
        f"host{i:02d}": {"tasks": host_tasks(i), "unreachable": False,
                         "extra": {"client": f"client{i % clients}",
                                   "waivers": (waivers or {}).get(f"host{i:02d}", [])}}
        for i in range(hosts)}}


def render(report: dict, path: str | None = "nightly.json") -> str:
    buf = io.StringIO()
    print_summary(report, Console(file=buf, width=120, color_system=None), report_path=path)
    return buf.getvalue()


def test_summary_of_40_hosts_fits_in_40_lines_with_controls_aggregated() -> None:
    text = render(fleet_report())
    lines = text.splitlines()
    assert len(lines) <= 40
    assert "Compliance: 40 hosts, 4 clients (audit run" in lines[0]
    # the most widespread failure first, counted over the hosts that checked it
    failing = [line for line in lines if "fails on" in line]
    assert failing[0].strip() == "5.3.3.2.2 pwquality minlen: fails on 37 of 40 hosts"
    # per client (40 hosts), not per host
    assert sum(1 for line in lines if re.match(r"\s+client\d\s+10 hosts", line)) == 4
    assert not any(line.strip().startswith("host05 ") for line in lines)
    assert "pyengine compliance nightly.json --host HOST (or --all)" in text


def test_summary_never_exceeds_its_budget_with_many_failing_controls() -> None:
    report = fleet_report(hosts=60, clients=30)
    for i, host in enumerate(report["hosts"].values()):
        host["tasks"] += [task(f"9.{n} extra {n}", f"cis_9.{n}", "changed", changed=True)
                          for n in range(50)]
        host["unreachable"] = i == 0
    lines = render(report).splitlines()
    assert len(lines) <= 40
    assert any(re.match(r"\s+… and \d+ more controls", line) for line in lines)
    assert any("more clients" in line for line in lines)


def test_few_hosts_get_one_score_line_each_worst_first() -> None:
    lines = render(fleet_report(hosts=3, clients=1), path=None).splitlines()
    rows = [line for line in lines if re.match(r"\s+host0\d\s+", line)]
    assert len(rows) == 3
    scores = [float(re.findall(r"([\d.]+)%", row)[0]) for row in rows]
    assert scores == sorted(scores) and scores[0] < 100  # worst first
    assert any("--report-json FILE" in line for line in lines)


def test_waived_control_is_waived_not_failed_and_listed() -> None:
    waiver = [{"control": "5.3.3.2.2", "reason": "ERP needs short passwords",
               "expires": "2027-03-01"}]
    report = fleet_report(waivers={f"host{i:02d}": waiver for i in range(10)})
    fleet = fleet_compliance(report)
    minlen = next(c for c in fleet.controls if c.id == "cis_5.3.3.2.2")
    assert len(minlen.failing) == 37 - 7  # hosts 3-9 waived, hosts 0-2 pass
    assert sorted(fleet.waivers["cis_5.3.3.2.2"]["hosts"]) == [f"host{i:02d}"
                                                               for i in range(3, 10)]
    text = render(report)
    assert "fails on 30 of 40 hosts" in text
    assert "Waived (1 control, not counted as failed):" in text
    assert "5.3.3.2.2 pwquality minlen: 7 hosts, until 2027-03-01 (ERP needs short" in text
    soon = [{"control": "5.3.3.2.2", "reason": "r", "expires": "2026-12-20"}]
    text = render(fleet_report(waivers={"host05": soon}))  # the run started 2026-12-04
    assert "5.3.3.2.2 pwquality minlen: 1 host, until 2026-12-20 (expires in 16 days) (r)" \
        in text
    # the full table of a waived host says waived, with the reason
    buf = io.StringIO()
    print_compliance(report, Console(file=buf, width=200, color_system=None),
                     hosts=["host05"])
    table = buf.getvalue()
    assert "1 waived" in table
    row = next(line for line in table.splitlines() if "pwquality minlen" in line)
    assert "waived" in row and "FAIL" not in row and "ERP needs short passwords" in row


def test_expired_waiver_counts_as_failed_again() -> None:
    tasks = host_tasks(5)
    waiver = [{"control": "cis_5.3.3.2.2", "reason": "r", "expires": "2026-12-04"}]
    from datetime import date
    row = next(r for r in control_rows(tasks, True, waiver, date(2026, 12, 4))
               if r["id"] == "cis_5.3.3.2.2")
    assert not row["passed"] and not row["waived"]
    assert row["detail"].startswith("waiver expired 2026-12-04")
    still = next(r for r in control_rows(tasks, True, waiver, date(2026, 12, 3))
                 if r["id"] == "cis_5.3.3.2.2")
    assert still["waived"]
    summary = compliance(tasks, True, waiver, date(2026, 12, 3))
    assert summary is not None and summary["waived"] == 1
    assert summary["waived_controls"][0]["reason"] == "r"
    assert all(f["id"] != "cis_5.3.3.2.2" for f in summary["failing"])


def test_waiver_entries_need_control_reason_and_expiry() -> None:
    from datetime import date
    found, problems = normalize_waivers([
        {"control": "1.1", "reason": "ok", "expires": date(2027, 1, 1)},
        {"control": "1.2", "reason": "no date"},
        {"reason": "no control", "expires": "2027-01-01"},
        "text"])
    assert found == [{"control": "1.1", "reason": "ok", "expires": "2027-01-01"}]
    assert problems == ["baseline_waivers entry 2 (1.2): missing expires (YYYY-MM-DD)",
                        "baseline_waivers entry 3: missing control",
                        "baseline_waivers entry 4: not a mapping"]
    assert normalize_waivers("x")[1] == [
        "baseline_waivers must be a list of {control, reason, expires}"]


def test_looped_task_names_are_rendered_per_item() -> None:
    looped = {"result": {"results": [{"item": {"key": "Storage", "value": "persistent"}},
                                     {"item": {"key": "Compress", "value": "yes"}}]}}
    assert control_title("6.1.2.x journald {{ item.key }}={{ item.value }}", looped) == \
        "6.1.2.x journald Storage=persistent, Compress=yes"
    assert control_title("1.5.3 coredump keeps nothing ({{ item.key }})", looped) == \
        "1.5.3 coredump keeps nothing (Storage, Compress)"
    # no loop result to render from: the template does not show
    assert control_title("pwhistory remembers {{ missing }} passwords", {}) == \
        "pwhistory remembers … passwords"
    rows = control_rows([task("6.1.2.x journald {{ item.key }}", "cis_6.1.2.1", "ok",
                              result=looped["result"])], True)
    assert rows[0]["title"] == "6.1.2.x journald Storage, Compress"


def test_full_report_keeps_waivers_in_extra_and_judges_them(tmp_path: Path) -> None:
    from pyengine.executor.results import HostResult, RunResult, TaskResult

    run = RunResult(playbook="b.yml", started="2026-12-04T02:00:00+00:00", check_mode=True)
    host = HostResult(name="web1")
    host.tasks.append(TaskResult(name=MINLEN, module="lineinfile", status="changed",
                                 changed=True, tags=["cis_5.3.3.2.2"], check_mode=True))
    run.hosts["web1"] = host
    waiver = [{"control": "5.3.3.2.2", "reason": "r", "expires": "2027-01-01"}]
    report = full_report(run, 0, {"web1": "acme"}, {"web1": waiver})
    extra = report["hosts"]["web1"]["extra"]
    assert extra["waivers"] == waiver
    assert extra["compliance"]["waived"] == 1 and extra["compliance"]["failed"] == 0
    path = tmp_path / "r.json"
    path.write_text(json.dumps(report))
    runner = CliRunner()
    summary = runner.invoke(cli, ["compliance", str(path)])
    assert summary.exit_code == 0, summary.output
    assert "Waived (1 control," in summary.output
    full = runner.invoke(cli, ["compliance", str(path), "--host", "web1"])
    assert full.exit_code == 0 and "web1: compliance 100% (0 pass, 0 fail, 1 waived" in \
        full.output
    missing = runner.invoke(cli, ["compliance", str(path), "--host", "nope"])
    assert "no host nope in this report" in str(missing.exception)


def test_a_baseline_audited_by_its_play_inside_a_real_run_is_an_audit() -> None:
    """The nightly is a real run whose baseline play has `check_mode:` on: its summary
    says audit ("would change"), not enforcing."""
    from pyengine.report.compliance_summary import fleet_compliance

    task = {"name": "1.1 x", "tags": ["cis_1.1"], "status": "changed", "changed": True,
            "check_mode": True}
    report = {"check_mode": False, "hosts": {"h1": {"tasks": [task], "extra": {}}}}
    assert fleet_compliance(report).check_mode is True
    probe = {"name": "1.2 probe", "tags": ["cis_1.2"], "status": "ok", "changed": False,
             "check_mode": False}
    report["hosts"]["h1"]["tasks"].append(probe)  # a read-only probe outside check mode
    assert fleet_compliance(report).check_mode is True
    report["hosts"]["h1"]["tasks"] = [dict(task, check_mode=False)]
    assert fleet_compliance(report).check_mode is False
