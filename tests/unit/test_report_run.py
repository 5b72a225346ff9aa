"""Console, recap and JSON report: pure functions of a RunResult, always masked."""

from __future__ import annotations

import io
import json
from pathlib import Path

from rich.console import Console

from pyengine.executor.results import HostResult, RunResult, TaskResult
from pyengine.masking import clear_secrets, register_secret
from pyengine.report.console import ConsoleReporter, diff_text
from pyengine.report.json_report import report_dict, write_report
from pyengine.report.recap import recap_lines


def sample_run() -> RunResult:
    run = RunResult(playbook="site.yml", started="2026-01-01T00:00:00+00:00",
                    finished="2026-01-01T00:00:05+00:00")
    h1 = run.host("h1")
    h1.tasks = [
        TaskResult("copy motd", "copy", "changed", changed=True, msg="file created",
                   diff={"before": "a\n", "after": "b\n", "before_header": "/etc/motd",
                         "after_header": "/etc/motd"}),
        TaskResult("check", "command", "ok"),
        TaskResult("maybe", "command", "skipped"),
        TaskResult("boom", "command", "failed", msg="password hunter2 leaked", ignored=True),
    ]
    h1.round_trips = 2
    h1.batches = [3]
    h2 = run.host("h2")
    h2.unreachable = True
    h2.unreachable_msg = "connection refused"
    h2.tasks = [TaskResult("connect", "", "unreachable", msg="connection refused")]
    return run


def test_counts_follow_ansible_recap_rules() -> None:
    run = sample_run()
    h1 = run.hosts["h1"]
    # changed counts as ok too; an ignored failure counts as ok, not failed
    assert (h1.ok, h1.changed, h1.failed, h1.skipped) == (3, 1, 0, 1)
    assert run.exit_code == 4  # unreachable wins over everything


def test_exit_code_two_when_a_task_failed() -> None:
    run = sample_run()
    del run.hosts["h2"]
    run.hosts["h1"].tasks.append(TaskResult("real", "command", "failed"))
    assert run.exit_code == 2


def test_json_report_has_the_documented_shape_and_is_masked(tmp_path: Path) -> None:
    register_secret("hunter2")
    try:
        path = write_report(sample_run(), tmp_path / "r.json")
        data = json.loads(path.read_text())
    finally:
        clear_secrets()
    assert {"version", "playbook", "started", "finished", "exit_code", "check_mode",
            "hosts"} <= set(data)
    h1 = data["hosts"]["h1"]
    assert {"ok", "changed", "failed", "skipped", "unreachable", "round_trips",
            "tasks"} <= set(h1)
    assert h1["round_trips"] == 2
    task = h1["tasks"][0]
    assert {"name", "module", "status", "changed", "duration_s", "msg"} <= set(task)
    assert "hunter2" not in path.read_text()
    assert data["exit_code"] == 4


def test_report_dict_is_a_pure_function() -> None:
    run = sample_run()
    assert report_dict(run) == report_dict(run)


def test_plain_output_has_one_line_per_changed_or_failed_task_and_a_recap() -> None:
    buf = io.StringIO()
    reporter = ConsoleReporter(Console(file=buf, width=200), live=False, show_diff=True)
    run = sample_run()
    reporter.play_start("site", ["h1", "h2"], 4)
    for task in run.hosts["h1"].tasks:
        reporter.task_done("h1", task, task.result)
    reporter.host_unreachable("h2", "connection refused")
    reporter.run_end(run)
    out = buf.getvalue()
    assert "changed     h1 | copy motd" in out
    assert "failed      h1 | boom: password hunter2 leaked (ignored)" in out
    assert "check" not in out.split("PLAY RECAP")[0]  # ok tasks only with -v
    assert "-a\n+b" in out  # the diff
    assert "unreachable h2 | connection refused" in out
    assert ("h1 : ok=3 changed=1 unreachable=0 failed=0 skipped=1 rescued=0 ignored=1 "
            "round_trips=2") in out


def test_verbose_shows_ok_tasks_and_batches() -> None:
    buf = io.StringIO()
    reporter = ConsoleReporter(Console(file=buf, width=200), verbosity=2, live=False)
    reporter.batch_sent("h1", 12, 2)
    reporter.task_done("h1", TaskResult("check", "command", "ok"), {})
    out = buf.getvalue()
    assert "batch       h1 | 12 task(s) in round trip 2" in out
    assert "ok          h1 | check" in out


def test_console_masks_secrets() -> None:
    register_secret("topsecret99")
    try:
        buf = io.StringIO()
        reporter = ConsoleReporter(Console(file=buf, width=200), live=False)
        reporter.task_done("h1", TaskResult("t", "command", "failed", msg="x topsecret99"), {})
    finally:
        clear_secrets()
    assert "topsecret99" not in buf.getvalue()


def test_diff_text_of_a_list_and_of_prepared() -> None:
    assert diff_text([{"prepared": "P"}, {"before": "x", "after": "y"}]).startswith("P\n---")
    assert diff_text(None) == ""


def test_recap_lines_align_names() -> None:
    lines = recap_lines(sample_run())
    assert lines[0].index(":") == lines[1].index(":")


def test_live_terminal_output_renders_a_table() -> None:
    buf = io.StringIO()
    console = Console(file=buf, width=120, force_terminal=True)
    reporter = ConsoleReporter(console, live=True)
    reporter.play_start("site", ["h1"], 2)
    reporter.task_done("h1", TaskResult("copy motd", "copy", "changed", changed=True), {})
    reporter.host_done("h1", HostResult("h1"))
    reporter.run_end(sample_run())
    out = buf.getvalue()
    assert "PLAY RECAP" in out and "copy motd" in out
