"""A whole playbook: plays in order, host threads, Ctrl-C, the RunResult.

Returns host -> HostResult and never raises for a failing or unreachable
host. Ctrl-C stops every host at its next step, closes the connections of the
hosts that were mid-task (which ends their agents: nothing stays on targets)
and records which hosts those were.
"""

from __future__ import annotations

import datetime
import resource
import threading
import time
from collections.abc import Callable

from pyengine.errors import PyengineError
from pyengine.executor.contracts import RunOptions, Sources
from pyengine.executor.events import Reporter
from pyengine.executor.failpolicy import fail_percentage
from pyengine.executor.hostrun import run_host
from pyengine.executor.hoststate import HostState
from pyengine.executor.play import PlayRun, new_run_result, play_program
from pyengine.executor.playvars import play_check_mode
from pyengine.executor.program import Program, TaskOp
from pyengine.executor.results import HostResult, RunResult
from pyengine.executor.serial import render_serial, serial_batches
from pyengine.playbook.model import Play, Playbook
from pyengine.templating import Templar


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


class Interrupted(Exception):
    """Ctrl-C: carries the partial result and the hosts that were mid-task."""

    def __init__(self, result: RunResult, mid_task: dict[str, str]) -> None:
        super().__init__("interrupted")
        self.result = result
        self.mid_task = mid_task


def run_playbook(playbook: Playbook, sources: Sources, options: RunOptions,
                 reporter: Reporter | None = None) -> RunResult:
    """Run every play; returns the per-host results (raises Interrupted on Ctrl-C)."""
    check_play_keywords(playbook, options)
    reporter = reporter or Reporter()
    result = new_run_result(str(playbook.path), _now(), options.check)
    states: dict[str, HostState] = {}
    current: list[PlayRun] = []
    try:
        _run_plays(playbook, sources, options, reporter, result, states, current)
        # Closing is part of the run: a signal that lands here is an interrupt too.
        result.finished = _now()
        _close_all(states, current)
        for name, state in states.items():
            result.hosts[name].round_trips = state.round_trips
        _controller_cost(result)
        reporter.run_end(result)
    except KeyboardInterrupt:
        mid = _interrupt(current, states)
        result.interrupted = True
        result.finished = _now()
        _close_all(states, current)
        _controller_cost(result)
        raise Interrupted(result, mid) from None
    except BaseException:
        _close_all(states, current)  # no agent stays on a host
        raise
    return result


def _controller_cost(result: RunResult) -> None:
    """What the run cost this process so far: CPU seconds (every thread, imports included)
    and peak RSS (Linux reports KiB)."""
    result.controller_cpu_s = round(time.process_time(), 3)
    result.controller_max_rss_mb = round(
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def check_play_keywords(playbook: Playbook, options: RunOptions) -> None:
    """Render each play's check_mode, serial and max_fail_percentage before anything
    connects: they depend only on play and extra vars, and one that cannot be rendered
    stops the run (a play must never guess whether it may change hosts)."""
    for play in playbook.plays:
        for keyword, render in (("check_mode", play_check_mode), ("serial", render_serial),
                                ("max_fail_percentage", fail_percentage)):
            try:
                render(play, options.extra_vars)
            except PyengineError as err:
                raise PyengineError(f"{play.origin}: play keyword {keyword}: {err}") from None


def _run_plays(playbook: Playbook, sources: Sources, options: RunOptions, reporter: Reporter,
               result: RunResult, states: dict[str, HostState], current: list[PlayRun]) -> None:
    announced = False
    for play in playbook.plays:
        hosts = sources.play_hosts(play)
        if not hosts:
            # As Ansible does: say so, since "0 hosts, exit 0" reads like success.
            result.plays_without_hosts.append(play.name or play.hosts)
            reporter.message(f"warning: play '{play.name or play.hosts}': no hosts matched "
                             f"'{play.hosts}', nothing ran")
        for host in hosts:
            if host not in states:
                states[host] = _new_state(host, result, lambda: current[-1])
        if not announced:
            reporter.run_start(str(playbook.path), hosts)
            for warning in playbook.warnings:
                reporter.message(f"warning: {warning}")
            announced = True
        live = [h for h in hosts if not states[h].failed and not states[h].unreachable]
        program = play_program(play)
        reporter.play_start(_play_label(play, sources, options), live, _count_tasks(program))
        for batch in serial_batches(live, render_serial(play, options.extra_vars)):
            run = PlayRun(play, batch, hosts, sources, options, reporter, states)
            current.append(run)
            _run_batch(run, program, options.forks)
            run.finish()
            if run.group.interrupted:
                raise KeyboardInterrupt
            if run.group.aborted and not run.ended:
                result.aborted_msg = run.group.aborted
                reporter.message(f"play stopped: {run.group.aborted}")
                return
            if run.ended:
                break
            if batch and all(states[h].failed or states[h].unreachable for h in batch):
                if play.serial:
                    reporter.message("all hosts of a serial batch failed: play stopped")
                    break


def _new_state(host: str, result: RunResult, run: Callable[[], PlayRun]) -> HostState:
    return HostState(
        host, result.host(host),
        lambda: run().connections.open_connection(host),
        lambda conn, key: run().connections.open_session(host, conn, key),
    )


def _run_batch(run: PlayRun, program: Program, forks: int) -> None:
    gate = threading.Semaphore(max(1, forks))
    threads: list[threading.Thread] = []
    errors: list[BaseException] = []

    def work(host: str) -> None:
        with gate:
            try:
                if run.group.interrupted:
                    run.group.leave(host)
                    return
                run.group.join(host)
                run_host(run, host, program)
            except BaseException as err:  # noqa: BLE001 - surfaced in the main thread
                errors.append(err)
                run.group.leave(host)

    if len(run.hosts) <= forks:
        # Every host starts at once: all of them count at the first meeting point (run_once,
        # a handler flush) even when a thread is scheduled late, so the first host of the
        # play leads. (With fewer forks, a host counts once it got its turn.)
        for host in run.hosts:
            run.group.join(host)
    for host in run.hosts:
        t = threading.Thread(target=work, args=(host,), name=f"host-{host}", daemon=True)
        threads.append(t)
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)
    if errors:
        raise errors[0]


def _interrupt(current: list[PlayRun], states: dict[str, HostState]) -> dict[str, str]:
    mid = {name: s.current for name, s in list(states.items()) if s.current}
    for run in current:
        run.group.interrupted = True
    for name, task in mid.items():
        states[name].result.interrupted_during = task
    for state in list(states.values()):
        # Unblocks a read on the channel (the agent exits on EOF), and no worker thread
        # that is still running opens a new session afterwards.
        state.interrupt()
    return {k: v for k, v in mid.items() if v}


def _close_all(states: dict[str, HostState], current: list[PlayRun]) -> None:
    close_in_parallel(list(states.values()))
    for run in current:
        run.connections.close_delegates()


CLOSING_THREADS = 64


def close_in_parallel(states: list[HostState]) -> None:
    """Close hosts side by side: each close waits about one round trip for its agent's
    goodbye, so one after the other 10 hosts at 50 ms cost 1 s after the last result
    (measured; issue 17). At most CLOSING_THREADS threads, each taking the next host."""
    pending = [s for s in states if s.connection is not None or s.sessions]
    if len(pending) <= 1:
        for state in pending:
            state.close()
        return
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not pending:
                    return
                state = pending.pop()
            state.close()  # never raises: closing is best effort

    threads = [threading.Thread(target=worker, name="close", daemon=True)
               for _ in range(min(len(pending), CLOSING_THREADS))]
    for t in threads:
        t.start()
    for t in threads:
        while t.is_alive():
            t.join(0.2)


def _count_tasks(program: Program) -> int:
    return sum(1 for op in program.ops if isinstance(op, TaskOp))


__all__ = ["run_playbook", "RunOptions", "Interrupted", "HostResult"]


def _play_label(play: Play, sources: Sources, options: RunOptions) -> str:
    """The play's name as Ansible shows it: rendered with the play's variables (no host's),
    as written when it cannot be."""
    name = play.name or play.hosts
    variables = {**play.vars, **options.extra_vars, "groups": sources.groups(),
                 "playbook_dir": str(play.basedir)}
    return Templar(variables).label(name)
