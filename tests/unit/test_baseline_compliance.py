"""The compliance table: every control's row (passing ones too), the same pass/fail rules
as report.extra, and the rich rendering after a run."""

from __future__ import annotations

import io

from rich.console import Console

from pyengine.report.compliance import control_rows, host_compliance, print_compliance


def task(name: str, tags: list[str], status: str, changed: bool = False, msg: str = "") -> dict:
    return {"name": name, "tags": tags, "status": status, "changed": changed, "msg": msg}


TASKS = [
    task("1.1.1.1 cramfs disabled", ["cis_1.1.1.1", "kernel_modules"], "changed", True,
         "would create /etc/modprobe.d/cis-cramfs.conf"),
    task("5.1.16 MaxAuthTries", ["cis_5.1.16", "ssh"], "ok"),
    task("5.1.20 root login", ["cis_5.1.20", "ssh"], "skipped"),
    task("preflight", ["always"], "ok", True),
    task("5.3.2.x stack", ["cis_5.3.2.2", "cis_5.3.2.4", "pam"], "failed", False, "boom"),
    task("5.3.2.2 profile", ["cis_5.3.2.2", "pam"], "ok"),
]


def test_check_mode_rows_include_passing_controls_in_natural_order() -> None:
    rows = control_rows(TASKS, check_mode=True)
    assert [r["id"] for r in rows] == ["cis_1.1.1.1", "cis_5.1.16", "cis_5.3.2.2",
                                       "cis_5.3.2.4"]
    by_id = {r["id"]: r for r in rows}
    assert by_id["cis_1.1.1.1"]["passed"] is False
    assert "would create" in by_id["cis_1.1.1.1"]["detail"]
    assert by_id["cis_5.1.16"]["passed"] is True
    # one failing task fails every control it is tagged with, even if another task passed
    assert by_id["cis_5.3.2.2"]["passed"] is False and by_id["cis_5.3.2.2"]["detail"] == "boom"


def test_enforcing_run_counts_an_applied_control_as_passed() -> None:
    rows = {r["id"]: r for r in control_rows(TASKS, check_mode=False)}
    assert rows["cis_1.1.1.1"]["passed"] is True


def test_score_matches_report_extra() -> None:
    data = host_compliance({"tasks": TASKS}, check_mode=True)
    assert data is not None
    assert (data["passed"], data["failed"]) == (1, 3) and data["score"] == 25.0
    assert len(data["controls"]) == 4
    assert host_compliance({"tasks": [task("x", ["always"], "ok")]}, True) is None


def test_rendering_prints_one_table_per_host_with_controls() -> None:
    report = {"check_mode": True, "hosts": {"h1": {"tasks": TASKS},
                                            "h2": {"tasks": [task("x", [], "ok")]}}}
    buf = io.StringIO()
    count = print_compliance(report, Console(file=buf, width=200, color_system=None))
    text = buf.getvalue()
    assert count == 1
    assert "h1: compliance 25% (1 pass, 3 fail, audit only)" in text
    assert "1.1.1.1" in text and "FAIL" in text and "pass" in text
    assert "h2" not in text
