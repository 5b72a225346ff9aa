"""Tasks that run alone, after the batch before them was sent: sequenced controller
actions (reboot, pause, wait_for_connection, fetch, raw, script), `until` retries,
`delegate_to` and `run_once` (one host runs it, every host of the play records it).
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import Any

from pyengine.actions.base import SEQUENCED, ActionFailed
from pyengine.errors import HostUnreachable, PyengineError
from pyengine.executor import program as prg
from pyengine.executor.outcome import (
    apply_conditions,
    merge_item_results,
    result_of,
    until_met,
)
from pyengine.executor.plan import MODULE, Planned, Slot, plan_task
from pyengine.executor.steps import HostSteps
from pyengine.playbook.model import Task
from pyengine.reach import AgentSession


def sequenced(w: HostSteps, planned: Planned, prog: prg.Program,
               position: tuple[int, ...]) -> prg.Cursor | str:
    task = planned.task
    nxt = prg.Cursor(planned.cursor.pc + 1, planned.cursor.frames)
    if task.run_once:
        where = position + (planned.cursor.pc,)
        done = w.run.group.once.get(where)
        if done is not None:  # ran already, for hosts that started earlier (forks)
            failed = w.record(planned, done[0], 0.0)
            return w.after_failure(planned, prog) if failed else nxt
        meeting = w.run.group.meet(w.host, where)
        if meeting.leader != w.host:
            meeting.done.wait()
            if meeting.value is None:
                return nxt
            raw, started = meeting.value
            failed = w.record(planned, raw, time.monotonic() - started)
            return w.after_failure(planned, prog) if failed else nxt
        try:
            raw = run_alone(w, planned)
            meeting.value = (raw, time.monotonic())
            w.run.group.once[where] = meeting.value
        finally:
            meeting.done.set()
    else:
        started = time.monotonic()
        raw = run_alone(w, planned)
        failed = w.record(planned, raw, time.monotonic() - started)
        return w.after_failure(planned, prog) if failed else nxt
    failed = w.record(planned, raw)
    return w.after_failure(planned, prog) if failed else nxt


def run_alone(w: HostSteps, planned: Planned) -> list[dict[str, Any]]:
    """Plan again with run-time rendering allowed, then run each item by itself."""
    task = planned.task
    planned.kind = MODULE
    planned.slots = []
    templar = planned.templar
    replanned = plan_task(w, plain(task), planned.cursor, templar, alone=True)
    planned.looped = replanned.looped
    planned.slots = replanned.slots
    raw: list[dict[str, Any]] = []
    for slot in planned.slots:
        if slot.result is not None and not slot.agent_items:
            raw.append(slot.result)
            if slot.result.get("failed") and not planned.ignore_errors:
                break
            continue
        result = run_slot(w, planned, slot, replanned)
        raw.append(result)
        if result.get("failed") and not planned.ignore_errors:
            break
    return raw


def run_slot(w: HostSteps, planned: Planned, slot: Slot, replanned: Planned) -> dict[str, Any]:
    task = planned.task
    templar = planned.templar_for(slot)
    retries = int(templar.render(task.retries)) if task.retries is not None else 3
    delay = float(templar.render(task.delay)) if task.delay is not None else 5.0
    attempts = 1 + (max(retries, 0) if task.until is not None else 0)
    result: dict[str, Any] = {}
    for attempt in range(1, attempts + 1):
        result = run_once_slot(w, planned, slot)
        if task.until is None:
            return result
        checked = apply_conditions(task, templar, result)
        if until_met(task, templar, checked):
            result["attempts"] = attempt
            return result
        if attempt < attempts:
            time.sleep(delay)
    result = dict(result)
    result["attempts"] = attempts
    result["failed"] = True
    result.setdefault("msg", "")
    result["msg"] = f"retries exhausted ({attempts} attempts): {result['msg']}".rstrip(": ")
    return result


def run_once_slot(w: HostSteps, planned: Planned, slot: Slot) -> dict[str, Any]:
    task = planned.task
    action = planned.action
    if action is not None and action.KIND == SEQUENCED:
        templar = planned.templar_for(slot)
        ctx = w.action_context(task, slot.args, templar, planned.check_mode, planned.diff)
        try:
            w.state.current = task.display_name
            result: dict[str, Any] = action.run(ctx)
            return result
        except ActionFailed as err:
            return {"failed": True, "changed": False, "msg": err.msg, **err.data}
        except HostUnreachable as err:
            w.unreachable(task, err.reason)
        except (OSError, EOFError) as err:  # a socket timeout while the host comes back
            w.unreachable(task, f"connection lost: {err}")
        except PyengineError as err:
            return {"failed": True, "changed": False, "msg": str(err)}
        finally:
            w.state.current = None
    if slot.result is not None and not slot.agent_items:
        return slot.result
    results: list[dict[str, Any]] = []
    w.state.current = task.display_name
    try:
        session = delegate_session(w, planned) or w.state.session(planned.session_key)
        for n, item in enumerate(slot.agent_items):
            item["id"] = f"s{planned.cursor.pc}.{n}"
        w.run.reporter.batch_sent(w.host, len(slot.agent_items), session.round_trips + 1)
        results.extend(result_of(frame) for frame in session.run_batch(slot.agent_items))
        w.state.record_batch(len(slot.agent_items))
    except HostUnreachable as err:
        if task.delegate_to is not None:
            return {"failed": True, "unreachable": True, "changed": False, "msg": str(err)}
        w.unreachable(task, err.reason)
    except PyengineError as err:
        return {"failed": True, "changed": False, "msg": str(err)}
    finally:
        w.state.current = None
    if len(results) < len(slot.agent_items) and not any(r.get("failed") for r in results):
        results.append({"failed": True, "changed": False, "msg": "no result from the agent"})
    return merge_item_results(results)


def delegate_session(w: HostSteps, planned: Planned) -> AgentSession | None:
    """The delegate's session for a `delegate_to` task (None: the task runs here)."""
    target = planned.task.delegate_to
    if target is None:
        return None
    name = str(planned.templar.render(target))
    if name == w.host:
        return None
    return w.run.connections.delegate_session(name, w.host)


def plain(task: Task) -> Task:
    """The task without the keywords that made it run alone (so plan_task expands it)."""
    return replace(task, until=None, delegate_to=None, run_once=False)
