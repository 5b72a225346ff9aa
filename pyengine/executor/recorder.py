"""A task's outcome on one host: its value, what it changes in the host's state, its record.

After a task's raw results are back (or were decided on the controller), the
recorder applies changed_when/failed_when, stores `register` and facts, notifies
handlers, queues inventory changes, appends the TaskResult and tells the reporter.
When the task failed, `after_failure` says where the host goes on (rescue, always,
or nowhere: the host failed).
"""

from __future__ import annotations

from typing import Any

from pyengine.errors import PyengineError
from pyengine.executor import program as prg
from pyengine.executor.events import Reporter
from pyengine.executor.hoststate import HostState
from pyengine.executor.inventory_changes import InventoryChanges
from pyengine.executor.outcome import (
    apply_conditions,
    censor,
    combine_loop,
    message_of,
    status_of,
)
from pyengine.executor.plan import Planned
from pyengine.executor.results import FAILED, TaskResult
from pyengine.executor.stops import HOST_FAILED
from pyengine.masking import mask
from pyengine.templating import wrap_unsafe

_HIDDEN = {"invocation", "_ansible_no_log"}
# Actions whose `ansible_facts` are plain variables, not host facts.
_VARIABLE_ACTIONS = ("set_fact", "include_vars")


class TaskRecorder:
    """Records task outcomes for one host of one play."""

    def __init__(self, state: HostState, play_name: str, reporter: Reporter,
                 inventory_changes: InventoryChanges) -> None:
        self.state = state
        self.play_name = play_name
        self.reporter = reporter
        self.inventory_changes = inventory_changes

    def record(self, planned: Planned, raw: list[dict[str, Any]],
               duration: float | None = None) -> bool:
        """Store the task's outcome; True when it failed and the failure is not ignored.

        `raw`: one result per loop item (one without a loop); `duration` overrides the
        sum of the items' `_duration_s` (a task that ran alone is timed by its caller).
        """
        task = planned.task
        value = task_value(planned, raw)
        durations = [r.pop("_duration_s", 0.0) for r in raw if isinstance(r, dict)]
        for r in value.get("results", []) if planned.looped else []:
            r.pop("_duration_s", None)
        value.pop("_duration_s", None)
        if task.register:
            # Output from a host is data, never a template (see templating/unsafe.py).
            self.state.runtime[task.register] = wrap_unsafe(value)
        facts = facts_of(planned, value)
        if facts:
            if task.action in _VARIABLE_ACTIONS:
                self.state.runtime.update(facts)
            else:
                self.state.set_facts(wrap_unsafe(facts))
        status = status_of(value)
        if status != FAILED and InventoryChanges.wanted_by(value):
            self.inventory_changes.record(self.state.name, value)
        if value.get("changed") and status != FAILED and task.notify:
            self._notify(planned, task.notify)
        shown = censor(value) if planned.no_log else value
        ignored = status == FAILED and planned.ignore_errors
        tr = TaskResult(
            name=mask(planned.templar.label(task.display_name)), module=task.action, status=status,
            changed=bool(value.get("changed")),
            duration_s=round(duration if duration is not None else sum(durations), 4),
            msg=mask(message_of(shown)), tags=sorted(task.tags), play=self.play_name,
            diff=mask(_diff_of(shown)), result=mask(_public(shown)), ignored=ignored,
            handler=task.is_handler, origin=str(task.origin), check_mode=planned.check_mode,
        )
        self.state.result.tasks.append(tr)
        self.reporter.task_done(self.state.name, tr, shown)
        return status == FAILED and not ignored

    def after_failure(self, planned: Planned, prog: prg.Program) -> prg.Cursor | str:
        """Where the host goes on after `planned` failed: a rescue or always section's
        cursor, or HOST_FAILED. Sets `ansible_failed_task` / `ansible_failed_result`."""
        name = planned.templar.label(planned.task.display_name)
        self.state.runtime["ansible_failed_task"] = {"name": name,
                                                     "action": planned.task.action}
        last = self.state.result.tasks[-1]
        self.state.runtime["ansible_failed_result"] = last.result
        nxt = prg.fail_at(prog, planned.cursor)
        if nxt is None:
            return HOST_FAILED
        cursor, rescued = nxt
        if rescued:
            last.rescued = True
        return cursor

    def _notify(self, planned: Planned, names: list[str]) -> None:
        for name in names:
            try:
                rendered = planned.templar.render(name)
            except PyengineError:
                rendered = name
            self.state.notified.add(str(rendered))


def task_value(planned: Planned, raw: list[dict[str, Any]]) -> dict[str, Any]:
    """What `register` stores: the result after changed_when/failed_when (per loop item,
    combined as Ansible does for a loop)."""
    if planned.looped:
        finished = []
        for slot, r in zip(planned.slots, raw, strict=False):
            r = apply_conditions(planned.task, planned.templar_for(slot), r)
            item = dict(r)
            if slot.item_vars:
                loop_var = slot.item_vars.get("ansible_loop_var", "item")
                item[loop_var] = slot.item_vars.get(loop_var)
                item["ansible_loop_var"] = loop_var
                if slot.label:
                    item["_label"] = slot.label
            finished.append(item)
        return combine_loop(finished)
    r = raw[0] if raw else {"failed": True, "msg": "no result"}
    return apply_conditions(planned.task, planned.templar, r)


def facts_of(planned: Planned, value: dict[str, Any]) -> dict[str, Any]:
    """Variables a result sets on the host (set_fact, include_vars, modules' ansible_facts)."""
    if value.get("failed") or value.get("skipped"):
        return {}
    out: dict[str, Any] = {}
    if planned.looped:
        for r in value.get("results", []):
            if isinstance(r.get("ansible_facts"), dict) and not r.get("failed"):
                out.update(r["ansible_facts"])
        return out
    facts = value.get("ansible_facts")
    return dict(facts) if isinstance(facts, dict) else {}


def _diff_of(result: dict[str, Any]) -> Any:
    if "diff" in result and result["diff"]:
        return result["diff"]
    diffs = [r.get("diff") for r in result.get("results", []) if isinstance(r, dict)
             and r.get("diff")]
    return diffs or None


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in _HIDDEN}
