"""The live view at fleet scale: with many hosts no per-task lines (failures still show),
one display with hosts done/running/failed and each running host's last task; a log
(not a terminal) gets one line per host; few hosts or -v keep the per-task lines."""

from __future__ import annotations

import io

from rich.console import Console

from pyengine.executor.results import HostResult, RunResult, TaskResult
from pyengine.report.console import ConsoleReporter
from pyengine.report.fleet_view import FleetView


def _task(name: str, status: str, msg: str = "") -> TaskResult:
    return TaskResult(name=name, module="lineinfile", status=status,
                      changed=status == "changed", msg=msg)


def _run(reporter: ConsoleReporter, hosts: list[str], fail: str | None = None) -> RunResult:
    reporter.run_start("site.yml", hosts)
    reporter.play_start("Harden", hosts, 3)
    run = RunResult(playbook="site.yml", started="2026-12-04T02:00:00+00:00")
    for host in hosts:
        result = HostResult(name=host)
        reporter.batch_sent(host, 3, 1)
        for index, status in enumerate(("ok", "changed", "failed" if host == fail else "ok")):
            task = _task(f"task {index} on {host}", status, "boom" if status == "failed"
                         else "")
            result.tasks.append(task)
            reporter.task_done(host, task, {})
        reporter.host_done(host, result)
        run.hosts[host] = result
    reporter.run_end(run)
    return run


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, force_terminal=terminal, width=140, color_system=None), buf


HOSTS = [f"h{i:02d}" for i in range(40)]


def test_many_hosts_in_a_log_give_a_line_per_host_not_per_task() -> None:
    console, buf = _console(terminal=False)
    _run(ConsoleReporter(console), HOSTS, fail="h07")
    lines = buf.getvalue().splitlines()
    assert not [line for line in lines if line.startswith("changed ")]
    failed = [line for line in lines if line.startswith("failed ")]
    assert failed == ["failed      h07 | task 2 on h07: boom"]
    done = [line for line in lines if line.startswith("host done")]
    assert len(done) == 40
    assert "host done   h07 | ok=2 changed=1 failed=1 · 8/40 hosts finished" in done[7]
    assert done[-1].startswith("host done   h39 | ok=3 changed=1 failed=0 · 40/40 hosts "
                               "finished · 0 running · 1 failed")
    assert "PLAY RECAP" in lines


def test_few_hosts_or_verbose_keep_per_task_lines() -> None:
    console, buf = _console(terminal=False)
    _run(ConsoleReporter(console), HOSTS[:3])
    assert sum(1 for line in buf.getvalue().splitlines() if line.startswith("changed ")) == 3
    console, buf = _console(terminal=False)
    _run(ConsoleReporter(console, verbosity=1), HOSTS)
    assert sum(1 for line in buf.getvalue().splitlines() if line.startswith("changed ")) == 40


def test_terminal_shows_one_fleet_display_and_the_recap() -> None:
    console, buf = _console(terminal=True)
    reporter = ConsoleReporter(console)
    _run(reporter, HOSTS, fail="h07")
    out = buf.getvalue()
    assert "changed     h" not in out  # no per-task lines
    assert "h07 | task 2 on h07: boom" in out
    assert "h39" in out  # the recap table names every host
    assert reporter._live is None  # the display stopped before the recap


def test_fleet_display_counts_and_running_hosts() -> None:
    view = FleetView([f"h{i}" for i in range(12)])
    view.play_start("Baseline", view.hosts, 110)
    for i in range(10):
        view.activity(f"h{i}", f"5.{i} control" if i else None)
    view.activity("h9", note="round trip 2: 40 task(s)")  # a batch after its last task
    view.host_done("h0", "done")
    view.host_done("h1", "failed")
    view.host_done("h2", "unreachable")
    assert view.counts() == {"done": 1, "running": 7, "failed": 1, "unreachable": 1,
                             "waiting": 2}
    console, buf = _console(terminal=True)
    console.print(view.render())
    text = buf.getvalue()
    assert "Baseline" in text and "3/12 hosts" in text and "running 7" in text
    assert "failed 1" in text and "unreachable 1" in text and "waiting 2" in text
    assert "h3  1/110  5.3 control" in text.replace("   ", "  ")
    assert "h9  1/110  round trip 2: 40 task(s)" in text.replace("   ", "  ")
    # a failure in an earlier play stays when a later play finishes the host
    view.play_start("Patch", view.hosts, 20)
    view.host_done("h1", "done")
    assert view.progress["h1"].state == "failed"


def test_check_mode_recap_says_would_change() -> None:
    console, buf = _console(terminal=False)
    reporter = ConsoleReporter(console)
    run = _run(reporter, HOSTS[:2])
    assert "check mode" not in buf.getvalue()
    run.check_mode = True
    reporter.print_recap(run)
    assert "check mode: nothing was changed; changed= counts what would change" in \
        buf.getvalue()
