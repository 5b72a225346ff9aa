"""Flow control a host runs itself: meta directives, include_tasks/include_role at run
time (also in a loop), and handler flushes (notified handlers, in definition order,
once each, after the play's hosts met).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from pyengine.errors import PyengineError
from pyengine.executor import program as prg
from pyengine.executor.plan import FLOW_KIND, Planned
from pyengine.executor.steps import HostSteps
from pyengine.executor.stops import DONE_OK, END_HOST, END_PLAY, HOST_FAILED
from pyengine.playbook.model import Task, TaskOrBlock


def flow(w: HostSteps, planned: Planned, prog: prg.Program,
          position: tuple[int, ...]) -> prg.Cursor | str:
    task = planned.task
    nxt = prg.Cursor(planned.cursor.pc + 1, planned.cursor.frames)
    try:
        if task.when and not planned.templar.evaluate(task.when):
            w.record(planned, [{"changed": False, "skipped": True,
                                    "skip_reason": "Conditional result was False"}])
            return nxt
        args = planned.templar.render(task.args)
    except PyengineError as err:
        failed = w.record(planned, [{"failed": True, "msg": str(err)}])
        return w.after_failure(planned, prog) if failed else nxt
    if task.action == "meta":
        return meta(w, planned, args, nxt, position)
    if task.loop is not None:
        return include_loop(w, planned, prog, nxt, position)
    return include(w, planned, args, prog, nxt, position)


def meta(w: HostSteps, planned: Planned, args: dict[str, Any], nxt: prg.Cursor,
          position: tuple[int, ...]) -> prg.Cursor | str:
    what = str(args.get("_raw_params") or args.get("free_form") or "").strip()
    if what == "flush_handlers":
        how = flush_handlers(w, position + (planned.cursor.pc,))
        return nxt if how == DONE_OK else how
    if what == "noop" or what == "":
        return nxt
    if what == "clear_host_errors":
        # Hosts that failed earlier in this play take part in the next plays again
        # (after every host got here, as in the linear strategy).
        w.run.group.meet(w.host, position + (planned.cursor.pc,))
        for name in w.run.hosts:
            w.run.states[name].failed = False
        w.run.group.failed.clear()
        return nxt
    if what == "end_host":
        w.record(planned, [{"changed": False, "msg": "end_host conditional evaluated"
                                " to true, ending play for this host"}])
        return END_HOST
    if what == "end_play":
        w.record(planned, [{"changed": False, "msg": "ending play"}])
        w.run.end_play()
        return END_PLAY
    if what in ("refresh_inventory", "clear_facts", "reset_connection", "end_batch"):
        if what == "clear_facts":
            w.state.facts.clear()
        if what == "reset_connection":
            # The connection goes too: the next task logs in again with the host's
            # variables as they are now (a set_fact of ansible_user switches the user).
            w.state.close()
        return nxt
    failed = w.record(planned, [{"failed": True, "msg": f"unknown meta action {what!r}"}])
    return nxt if not failed else HOST_FAILED


MAX_INCLUDE_DEPTH = 128


def include(w: HostSteps, planned: Planned, args: dict[str, Any], prog: prg.Program,
             nxt: prg.Cursor, position: tuple[int, ...]) -> prg.Cursor | str:
    task = planned.task
    if len(position) >= MAX_INCLUDE_DEPTH:
        # Each include runs inside the one that included it: past this depth it is a
        # cycle (or a mistake), and Python's own stack would end it with a misleading
        # "nested too deeply" against a valid file.
        name = args.get("file") or args.get("_raw_params") or args.get("name")
        failed = w.record(planned, [{"failed": True, "msg": (
            f"{task.action} {name!r} at {task.origin}: includes nested more than "
            f"{MAX_INCLUDE_DEPTH} levels deep (an include cycle?)")}])
        return w.after_failure(planned, prog) if failed else nxt
    try:
        items = w.run.includes.load(task, args)
    except PyengineError as err:
        failed = w.record(planned, [{"failed": True, "msg": str(err)}])
        return w.after_failure(planned, prog) if failed else nxt
    w.record(planned, [{"changed": False, "msg": f"included {len(items)} task(s)"}])
    sub = prg.compile_tasks(items)
    how = w.run_program(sub, position + (planned.cursor.pc,))
    if how == HOST_FAILED:
        return w.after_failure(planned, prog)
    return nxt if how == DONE_OK else how


def include_loop(w: HostSteps, planned: Planned, prog: prg.Program, nxt: prg.Cursor,
                  position: tuple[int, ...]) -> prg.Cursor | str:
    """include_tasks/include_role with a loop: the file runs once per item."""
    task = planned.task
    try:
        items = planned.templar.render(task.loop)
    except PyengineError as err:
        failed = w.record(planned, [{"failed": True, "msg": str(err)}])
        return w.after_failure(planned, prog) if failed else nxt
    loop_var = str(task.loop_control.get("loop_var") or "item")
    index_var = task.loop_control.get("index_var")
    for index, value in enumerate(items or []):
        item_vars: dict[str, Any] = {loop_var: value}
        if index_var:
            item_vars[str(index_var)] = index

        single = replace(task, loop=None, vars={**task.vars, **item_vars})
        sub = Planned(single, planned.cursor, FLOW_KIND, planned.templar.child(item_vars))
        how = flow(w, sub, prog, position + (index,))
        if isinstance(how, str):
            return how
        if how != nxt:  # a failure moved the cursor (rescue/always)
            return how
    return nxt


def flush_handlers(w: HostSteps, position: tuple[int, ...]) -> str:
    """Run the notified handlers (in the order they are defined), once each."""
    w.run.group.meet(w.host, position)
    ran: set[int] = set()
    while True:
        todo = [h for i, h in enumerate(w.run.play.handlers)
                if i not in ran and is_notified(w, h)]
        if not todo:
            return DONE_OK
        for handler in todo:
            ran.add(w.run.play.handlers.index(handler))
        for handler in todo:
            w.state.notified.discard(handler.name or "")
            for topic in handler.listen:
                w.state.notified.discard(topic)
        how = w.run_program(prg.compile_tasks(list(todo)), position + (1,))
        if how != DONE_OK:
            return how


def run_handlers_now(w: HostSteps) -> None:
    """force_handlers: a failed host still runs what it notified (no meeting)."""
    todo: list[TaskOrBlock] = [h for h in w.run.play.handlers if is_notified(w, h)]
    w.state.notified.clear()
    if todo:
        w.run_program(prg.compile_tasks(todo), (1 << 30,))


def is_notified(w: HostSteps, handler: Task) -> bool:
    notified = w.state.notified
    if handler.name and handler.name in notified:
        return True
    if any(topic in notified for topic in handler.listen):
        return True
    return handler.action in notified  # a handler without name is notified by module
