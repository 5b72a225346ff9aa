"""One host through one play, in its own thread: start its agent, walk the program,
and leave the play failed, unreachable or done (never by raising).
"""

from __future__ import annotations

import traceback

from pyengine.errors import HostUnreachable, PyengineError
from pyengine.executor import program as prg
from pyengine.executor.host import HostWorker
from pyengine.executor.hoststate import HostState
from pyengine.executor.play import PlayRun
from pyengine.executor.privilege import privilege_for
from pyengine.executor.results import FAILED, TaskResult
from pyengine.executor.stops import DONE_OK, HOST_FAILED, UNREACHED
from pyengine.masking import mask


def run_host(run: PlayRun, host: str, program: prg.Program) -> str:
    """Run the play's `program` on `host`; returns how it ended (DONE_OK, HOST_FAILED, ...)."""
    state = run.states[host]
    worker = HostWorker(run, state)
    how = DONE_OK
    try:
        if run.play.gather_facts or not state.facts:
            how = _start(run, worker)
        if how == DONE_OK:
            state.notified.clear()
            how = worker.run_program(program)
            if how == HOST_FAILED and run.play.force_handlers and state.notified:
                worker.run_handlers_now()
    except PyengineError as err:
        how = _host_error(run, state, str(err))
    except Exception as err:  # noqa: BLE001 - a bug must fail one host, not the run
        how = _host_error(run, state, f"internal error: {type(err).__name__}: {err}",
                          traceback.format_exc())
    finally:
        state.result.round_trips = state.round_trips
        if how == HOST_FAILED:
            state.failed = True
            run.policy.host_failed(host)
        run.group.leave(host)
        run.reporter.host_done(host, state.result)
    return how


def _start(run: PlayRun, worker: HostWorker) -> str:
    """Open the host's first agent session (its facts arrive with it)."""
    state = worker.state
    try:
        state.ops.key = privilege_for(run.play, None, worker.variables(None))
        state.session(state.ops.key)
        state.result.round_trips = state.round_trips
        return DONE_OK
    except HostUnreachable as err:
        state.mark_unreachable(None, err.reason, run.play_name, run.reporter)
        return UNREACHED
    except PyengineError as err:
        # The host answered but the agent could not start (python missing, sudo
        # refused): the host fails, with the reason.
        state.result.tasks.append(TaskResult(name="start agent", module="", status=FAILED,
                                             msg=mask(str(err)), play=run.play_name))
        run.reporter.task_done(state.name, state.result.tasks[-1], {"msg": str(err)})
        state.close()
        return HOST_FAILED


def _host_error(run: PlayRun, state: HostState, msg: str, detail: str = "") -> str:
    task = TaskResult(name=mask(state.current or "run"), module="", status=FAILED,
                      msg=mask(msg), play=run.play_name,
                      result=mask({"exception": detail}) if detail else {})
    state.result.tasks.append(task)
    run.reporter.task_done(state.name, task, {"msg": msg})
    state.close()
    return HOST_FAILED
