"""One host's walk through a play: fill a batch, send it, read the results, go on.

The worker looks ahead from its cursor and plans consecutive tasks into one
batch as long as their rendering needs nothing the batch itself will produce
(a `register`ed result of a task still in the batch). It stops filling at:
a task reading such a name, a task that must run alone (reboot, pause,
wait_for_connection, fetch, raw, script, `until`, `delegate_to`, `run_once`,
include_tasks, meta), a task whose failure only the controller can judge
(`failed_when`), a change of privilege (become) and a handler flush. The
batch goes to the agent in ONE round trip; results are processed in order,
and when one fails the cursor recorded with that task says where rescue or
always take over — the agent has not run anything after it.
"""

from __future__ import annotations

import time
from collections import ChainMap
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pyengine.actions.base import ActionContext, ActionFailed
from pyengine.errors import HostUnreachable, PyengineError
from pyengine.executor import program as prg
from pyengine.executor.outcome import (
    apply_conditions,
    censor,
    combine_loop,
    message_of,
    status_of,
    until_met,
)
from pyengine.executor.plan import (
    DONE,
    FLOW_KIND,
    MODULE,
    SEQ,
    PlanContext,
    Planned,
    Slot,
    as_bool,
    expand_references,
    plan_task,
    produced_names,
    task_references,
)
from pyengine.executor.results import FAILED, SKIPPED, UNREACHABLE, TaskResult
from pyengine.masking import mask
from pyengine.playbook.model import Task, TaskOrBlock
from pyengine.templating import Templar

if TYPE_CHECKING:
    from pyengine.executor.play import HostState, PlayRun

# How a program run ended for a host.
DONE_OK = "ok"
HOST_FAILED = "failed"
END_HOST = "end_host"
END_PLAY = "end_play"
UNREACHED = "unreachable"
STOPPED = "stopped"  # any_errors_fatal / max_fail_percentage / Ctrl-C


class _Stop(Exception):
    def __init__(self, how: str) -> None:
        super().__init__(how)
        self.how = how


class HostWorker(PlanContext):
    """Runs one play's program on one host (one thread)."""

    def __init__(self, run: PlayRun, state: HostState) -> None:
        self.run = run
        self.state = state
        self.host = state.name
        self.check_mode = run.options.check
        self.diff = run.options.diff
        self._ref_cache: dict[str, set[str]] = {}
        self.overlay: dict[str, Any] = {}

    # -- variables -------------------------------------------------------------------
    def variables(self, task: Task | None) -> Mapping[str, Any]:
        """The task's variables: extra vars > this batch's set_facts > run results > play."""
        return ChainMap(
            self.run.extra_vars, self.overlay, self.state.runtime,
            self.run.magic_vars(self.state),
            self.run.base_vars(self.host, task),  # type: ignore[arg-type]
        )

    def templar(self, task: Task | None, variables: Mapping[str, Any] | None = None) -> Templar:
        return Templar(variables if variables is not None else self.variables(task),
                       self.run.search_paths(task))

    def action_context(self, task: Task, args: dict[str, Any], templar: Templar,
                       check_mode: bool, diff: bool) -> ActionContext:
        return ActionContext(self.host, task, args, templar, templar.variables,
                             self.run.play.basedir, check_mode, diff, host_ops=self.state.ops)

    def normalize(self, module: str, args: dict[str, Any], task: Task) -> dict[str, Any]:
        return self.run.sources.normalize(module, args, task)

    # -- main loop -------------------------------------------------------------------
    def run_program(self, prog: prg.Program, position: tuple[int, ...] = ()) -> str:
        """Run `prog` to its end; returns how it ended (DONE_OK, HOST_FAILED, ...)."""
        cur = prg.Cursor()
        try:
            while True:
                self._check_stop()
                cur, op, err = prg.advance(prog, cur)
                if err == prg.HOST_FAILED:
                    return HOST_FAILED
                if op is None:
                    return DONE_OK
                if isinstance(op, prg.FlushHandlers):
                    how = self.flush_handlers(position + (cur.pc,))
                    if how != DONE_OK:
                        return how
                    cur = prg.Cursor(cur.pc + 1, cur.frames)
                    continue
                if self.run.strict:
                    # any_errors_fatal / max_fail_percentage: every host finishes a task
                    # before any host starts the next one (Ansible's linear strategy).
                    self.run.group.meet(self.host, position + (cur.pc,))
                    self._check_stop()
                batch, stopped_at = self._fill_batch(prog, cur)
                if not batch:
                    cur = stopped_at
                    continue
                nxt = self._execute(batch, prog, position)
                if isinstance(nxt, str):
                    return nxt
                cur = nxt
        except _Stop as stop:
            return stop.how

    def _check_stop(self) -> None:
        group = self.run.group
        if group.interrupted:
            raise _Stop(STOPPED)
        if group.aborted:
            raise _Stop(STOPPED)
        if group.ended:
            raise _Stop(END_PLAY)

    def _fill_batch(self, prog: prg.Program, cur: prg.Cursor
                    ) -> tuple[list[Planned], prg.Cursor]:
        """Plan tasks from `cur` on; returns the batch and where planning stopped."""
        batch: list[Planned] = []
        pending: set[str] = set()
        self.overlay = {}
        strict = self.run.strict
        while True:
            op = prog.ops[cur.pc]
            assert isinstance(op, prg.TaskOp)
            task = op.task
            if not self.run.selected(task):
                cur, op2, err = prg.advance(prog, prg.Cursor(cur.pc + 1, cur.frames))
                if op2 is None or err or not isinstance(op2, prg.TaskOp):
                    return batch, cur
                continue
            variables = self.variables(task)
            if batch:
                refs = expand_references(task_references(task), variables, self._ref_cache)
                if refs & pending:
                    return batch, cur
            planned = plan_task(self, task, cur, self.templar(task, variables))
            if planned.kind in (SEQ, FLOW_KIND) and batch:
                return batch, cur
            planned.session_key = self.run.session_key(task, variables)
            if batch and planned.kind == MODULE and any(
                p.kind == MODULE and p.session_key != planned.session_key for p in batch
            ):
                return batch, cur
            batch.append(planned)
            if planned.kind == DONE:
                self._apply_known(planned)
            else:
                pending |= produced_names(task)
            if planned.ends_batch or strict:
                return batch, cur
            cur, op2, err = prg.advance(prog, prg.Cursor(cur.pc + 1, cur.frames))
            if op2 is None or err or not isinstance(op2, prg.TaskOp):
                return batch, cur

    def _apply_known(self, planned: Planned) -> None:
        """A task decided on the controller: later tasks of the batch see its effects."""
        result = self._task_value(planned, [s.result or {} for s in planned.slots])
        facts = _facts_of(planned, result)
        self.overlay.update(facts)
        if planned.task.register:
            self.overlay[planned.task.register] = result

    # -- execution -------------------------------------------------------------------
    def _execute(self, batch: list[Planned], prog: prg.Program,
                 position: tuple[int, ...]) -> prg.Cursor | str:
        if not batch:
            raise AssertionError("empty batch")
        first = batch[0]
        if first.kind == FLOW_KIND:
            return self._flow(first, prog, position)
        if first.kind == SEQ:
            return self._sequenced(first, prog, position)
        results = self._send(batch)
        self.overlay = {}
        for planned in batch:
            if planned.kind == DONE:
                raw = [s.result or {} for s in planned.slots]
            else:
                raw = []
                for slot in planned.slots:
                    if slot.result is not None:
                        raw.append(slot.result)
                        continue
                    got = [results.get(item["id"]) for item in slot.agent_items]
                    if any(g is None for g in got):
                        break  # the agent stopped before this item
                    raw.append(self._merge_items(planned, got))
            failed = self._record(planned, raw)
            if failed:
                return self._after_failure(planned, prog)
        last = batch[-1]
        return prg.Cursor(last.cursor.pc + 1, last.cursor.frames)

    def _send(self, batch: list[Planned]) -> dict[str, dict[str, Any]]:
        items: list[dict[str, Any]] = []
        key = next((p.session_key for p in batch if p.kind == MODULE), None)
        n = 0
        for planned in batch:
            if planned.kind != MODULE:
                continue
            for slot in planned.slots:
                for item in slot.agent_items:
                    n += 1
                    item["id"] = f"t{planned.cursor.pc}.{n}"
                    items.append(item)
        if not items or key is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        self.state.current = batch[0].task.display_name
        try:
            session = self.state.session(key)
            self.run.reporter.batch_sent(self.host, len(items), session.round_trips + 1)
            for frame in session.run_batch(items):
                result = frame.get("result") or {}
                result.setdefault("changed", False)
                result["_duration_s"] = frame.get("duration_s", 0.0)
                out[str(frame.get("id"))] = result
        except HostUnreachable as err:
            if self.run.group.interrupted:
                raise _Stop(STOPPED) from None
            self._unreachable(batch[0].task, err.reason, batch, out)
        except (OSError, EOFError) as err:  # the transport broke below the agent protocol
            if self.run.group.interrupted:
                raise _Stop(STOPPED) from None
            self._unreachable(batch[0].task, f"connection lost: {err}", batch, out)
        except PyengineError as err:
            if self.run.group.interrupted:
                raise _Stop(STOPPED) from None
            # The agent broke (not the network): the tasks not answered fail.
            for item in items:
                out.setdefault(str(item["id"]), {"failed": True, "changed": False,
                                                 "msg": str(err)})
        finally:
            self.state.current = None
            self.state.record_batch(len(items))
        return out

    def _unreachable(self, task: Task, reason: str, batch: list[Planned],
                     out: dict[str, dict[str, Any]]) -> None:
        # Keep what did come back (it ran), then mark the host unreachable at the first
        # task without an answer.
        for planned in batch:
            if planned.kind == DONE:
                continue
            ids = [i["id"] for s in planned.slots for i in s.agent_items]
            if ids and all(i in out for i in ids):
                raw = [self._merge_items(planned, [out[i] for i in
                                                   (x["id"] for x in s.agent_items)])
                       if s.result is None else s.result for s in planned.slots]
                self._record(planned, raw)
                continue
            self.state.mark_unreachable(planned.task, reason, self.run)
            raise _Stop(UNREACHED)
        self.state.mark_unreachable(task, reason, self.run)
        raise _Stop(UNREACHED)

    @staticmethod
    def _merge_items(planned: Planned, got: list[dict[str, Any] | None]) -> dict[str, Any]:
        results = [g or {} for g in got]
        if len(results) == 1:
            return results[0]
        # A transform action that became several module calls (copy of a directory).
        merged: dict[str, Any] = {"changed": any(r.get("changed") for r in results),
                                  "results": results}
        failed = [r for r in results if r.get("failed")]
        if failed:
            merged["failed"] = True
            merged["msg"] = failed[0].get("msg", "failed")
        merged["_duration_s"] = sum(r.get("_duration_s", 0.0) for r in results)
        return merged

    # -- results ---------------------------------------------------------------------
    def _task_value(self, planned: Planned, raw: list[dict[str, Any]]) -> dict[str, Any]:
        if planned.looped:
            finished = []
            for slot, r in zip(planned.slots, raw, strict=False):
                r = apply_conditions(planned.task, self._slot_templar(planned, slot), r)
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

    def _slot_templar(self, planned: Planned, slot: Slot) -> Templar:
        return planned.templar.child(slot.item_vars) if slot.item_vars else planned.templar

    def _record(self, planned: Planned, raw: list[dict[str, Any]],
                duration: float | None = None) -> bool:
        """Store the task's outcome; True when it failed and the failure is not ignored."""
        task = planned.task
        value = self._task_value(planned, raw)
        durations = [r.pop("_duration_s", 0.0) for r in raw if isinstance(r, dict)]
        for r in value.get("results", []) if planned.looped else []:
            r.pop("_duration_s", None)
        value.pop("_duration_s", None)
        if task.register:
            self.state.runtime[task.register] = value
        facts = _facts_of(planned, value)
        if facts:
            if planned.task.action in ("set_fact", "include_vars"):
                self.state.runtime.update(facts)
            else:
                self.state.set_facts(facts)
        status = status_of(value)
        if status != FAILED and ("add_group" in value or "add_host" in value):
            self.run.inventory_change(self.host, value)
        if value.get("changed") and status != FAILED and task.notify:
            self._notify(planned, task.notify)
        shown = censor(value) if planned.no_log else value
        ignored = status == FAILED and planned.ignore_errors
        tr = TaskResult(
            name=mask(task.display_name), module=task.action, status=status,
            changed=bool(value.get("changed")),
            duration_s=round(duration if duration is not None else sum(durations), 4),
            msg=mask(message_of(shown)), tags=sorted(task.tags), play=self.run.play_name,
            diff=mask(_diff_of(shown)), result=mask(_public(shown)), ignored=ignored,
            handler=task.is_handler, origin=str(task.origin), check_mode=planned.check_mode,
        )
        self.state.result.tasks.append(tr)
        self.run.reporter.task_done(self.host, tr, shown)
        return status == FAILED and not ignored

    def _notify(self, planned: Planned, names: list[str]) -> None:
        for name in names:
            try:
                rendered = planned.templar.render(name)
            except PyengineError:
                rendered = name
            self.state.notified.add(str(rendered))

    def _after_failure(self, planned: Planned, prog: prg.Program) -> prg.Cursor | str:
        self.state.runtime["ansible_failed_task"] = {"name": planned.task.display_name,
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

    # -- tasks that run alone --------------------------------------------------------
    def _sequenced(self, planned: Planned, prog: prg.Program,
                   position: tuple[int, ...]) -> prg.Cursor | str:
        task = planned.task
        nxt = prg.Cursor(planned.cursor.pc + 1, planned.cursor.frames)
        if task.run_once:
            where = position + (planned.cursor.pc,)
            done = self.run.group.once.get(where)
            if done is not None:  # ran already, for hosts that started earlier (forks)
                failed = self._record(planned, done[0], 0.0)
                return self._after_failure(planned, prog) if failed else nxt
            meeting = self.run.group.meet(self.host, where)
            if meeting.leader != self.host:
                meeting.done.wait()
                if meeting.value is None:
                    return nxt
                raw, started = meeting.value
                failed = self._record(planned, raw, time.monotonic() - started)
                return self._after_failure(planned, prog) if failed else nxt
            try:
                raw = self._run_alone(planned)
                meeting.value = (raw, time.monotonic())
                self.run.group.once[where] = meeting.value
            finally:
                meeting.done.set()
        else:
            started = time.monotonic()
            raw = self._run_alone(planned)
            failed = self._record(planned, raw, time.monotonic() - started)
            return self._after_failure(planned, prog) if failed else nxt
        failed = self._record(planned, raw)
        return self._after_failure(planned, prog) if failed else nxt

    def _run_alone(self, planned: Planned) -> list[dict[str, Any]]:
        """Plan again with run-time rendering allowed, then run each item by itself."""
        task = planned.task
        planned.kind = MODULE
        planned.slots = []
        templar = planned.templar
        replanned = plan_task(self, _plain(task), planned.cursor, templar, alone=True)
        planned.looped = replanned.looped
        planned.slots = replanned.slots
        raw: list[dict[str, Any]] = []
        for slot in planned.slots:
            if slot.result is not None and not slot.agent_items:
                raw.append(slot.result)
                if slot.result.get("failed") and not planned.ignore_errors:
                    break
                continue
            result = self._run_slot(planned, slot, replanned)
            raw.append(result)
            if result.get("failed") and not planned.ignore_errors:
                break
        return raw

    def _run_slot(self, planned: Planned, slot: Slot, replanned: Planned) -> dict[str, Any]:
        task = planned.task
        templar = self._slot_templar(planned, slot)
        retries = int(templar.render(task.retries)) if task.retries is not None else 3
        delay = float(templar.render(task.delay)) if task.delay is not None else 5.0
        attempts = 1 + (max(retries, 0) if task.until is not None else 0)
        result: dict[str, Any] = {}
        for attempt in range(1, attempts + 1):
            result = self._run_once_slot(planned, slot)
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

    def _run_once_slot(self, planned: Planned, slot: Slot) -> dict[str, Any]:
        task = planned.task
        action = planned.action
        if action is not None and getattr(action, "KIND", None) == "sequenced":
            templar = self._slot_templar(planned, slot)
            ctx = self.action_context(task, slot.args, templar, planned.check_mode,
                                      planned.diff)
            try:
                self.state.current = task.display_name
                result: dict[str, Any] = action.run(ctx)
                return result
            except ActionFailed as err:
                return {"failed": True, "changed": False, "msg": err.msg, **err.data}
            except HostUnreachable as err:
                self.state.mark_unreachable(task, err.reason, self.run)
                raise _Stop(UNREACHED) from None
            except (OSError, EOFError) as err:  # a socket timeout while the host comes back
                self.state.mark_unreachable(task, f"connection lost: {err}", self.run)
                raise _Stop(UNREACHED) from None
            except PyengineError as err:
                return {"failed": True, "changed": False, "msg": str(err)}
            finally:
                self.state.current = None
        if slot.result is not None and not slot.agent_items:
            return slot.result
        results: list[dict[str, Any]] = []
        self.state.current = task.display_name
        try:
            session = self._delegate_session(planned) or self.state.session(planned.session_key)
            for n, item in enumerate(slot.agent_items):
                item["id"] = f"s{planned.cursor.pc}.{n}"
            self.run.reporter.batch_sent(self.host, len(slot.agent_items),
                                         session.round_trips + 1)
            for frame in session.run_batch(slot.agent_items):
                r = frame.get("result") or {}
                r.setdefault("changed", False)
                r["_duration_s"] = frame.get("duration_s", 0.0)
                results.append(r)
            self.state.record_batch(len(slot.agent_items))
        except HostUnreachable as err:
            if task.delegate_to is not None:
                return {"failed": True, "unreachable": True, "changed": False, "msg": str(err)}
            self.state.mark_unreachable(task, err.reason, self.run)
            raise _Stop(UNREACHED) from None
        except PyengineError as err:
            return {"failed": True, "changed": False, "msg": str(err)}
        finally:
            self.state.current = None
        if len(results) < len(slot.agent_items) and not any(r.get("failed") for r in results):
            results.append({"failed": True, "changed": False, "msg": "no result from the agent"})
        return self._merge_items(planned, results)  # type: ignore[arg-type]

    def _delegate_session(self, planned: Planned) -> Any:
        target = planned.task.delegate_to
        if target is None:
            return None
        name = str(planned.templar.render(target))
        if name == self.host:
            return None
        return self.run.delegate_session(name, self.host)

    # -- flow control ----------------------------------------------------------------
    def _flow(self, planned: Planned, prog: prg.Program,
              position: tuple[int, ...]) -> prg.Cursor | str:
        task = planned.task
        nxt = prg.Cursor(planned.cursor.pc + 1, planned.cursor.frames)
        try:
            if task.when and not planned.templar.evaluate(task.when):
                self._record(planned, [{"changed": False, "skipped": True,
                                        "skip_reason": "Conditional result was False"}])
                return nxt
            args = planned.templar.render(task.args)
        except PyengineError as err:
            failed = self._record(planned, [{"failed": True, "msg": str(err)}])
            return self._after_failure(planned, prog) if failed else nxt
        if task.action == "meta":
            return self._meta(planned, args, nxt, position)
        if task.loop is not None:
            return self._include_loop(planned, prog, nxt, position)
        return self._include(planned, args, prog, nxt, position)

    def _meta(self, planned: Planned, args: dict[str, Any], nxt: prg.Cursor,
              position: tuple[int, ...]) -> prg.Cursor | str:
        what = str(args.get("_raw_params") or args.get("free_form") or "").strip()
        if what == "flush_handlers":
            how = self.flush_handlers(position + (planned.cursor.pc,))
            return nxt if how == DONE_OK else how
        if what == "noop" or what == "":
            return nxt
        if what == "clear_host_errors":
            # Hosts that failed earlier in this play take part in the next plays again
            # (after every host got here, as in the linear strategy).
            self.run.group.meet(self.host, position + (planned.cursor.pc,))
            for name in self.run.hosts:
                self.run.states[name].failed = False
            self.run.group.failed.clear()
            return nxt
        if what == "end_host":
            self._record(planned, [{"changed": False, "msg": "end_host conditional evaluated"
                                    " to true, ending play for this host"}])
            return END_HOST
        if what == "end_play":
            self._record(planned, [{"changed": False, "msg": "ending play"}])
            self.run.end_play()
            return END_PLAY
        if what in ("refresh_inventory", "clear_facts", "reset_connection", "end_batch"):
            if what == "clear_facts":
                self.state.facts.clear()
            if what == "reset_connection":
                self.state.close_sessions()
            return nxt
        failed = self._record(planned, [{"failed": True, "msg": f"unknown meta action {what!r}"}])
        return nxt if not failed else HOST_FAILED

    def _include(self, planned: Planned, args: dict[str, Any], prog: prg.Program,
                 nxt: prg.Cursor, position: tuple[int, ...]) -> prg.Cursor | str:
        task = planned.task
        try:
            items = self.run.load_include(task, args)
        except PyengineError as err:
            failed = self._record(planned, [{"failed": True, "msg": str(err)}])
            return self._after_failure(planned, prog) if failed else nxt
        self._record(planned, [{"changed": False, "msg": f"included {len(items)} task(s)"}])
        sub = prg.compile_tasks(items)
        how = self.run_program(sub, position + (planned.cursor.pc,))
        if how == HOST_FAILED:
            return self._after_failure(planned, prog)
        return nxt if how == DONE_OK else how

    def _include_loop(self, planned: Planned, prog: prg.Program, nxt: prg.Cursor,
                      position: tuple[int, ...]) -> prg.Cursor | str:
        """include_tasks/include_role with a loop: the file runs once per item."""
        task = planned.task
        try:
            items = planned.templar.render(task.loop)
        except PyengineError as err:
            failed = self._record(planned, [{"failed": True, "msg": str(err)}])
            return self._after_failure(planned, prog) if failed else nxt
        loop_var = str(task.loop_control.get("loop_var") or "item")
        index_var = task.loop_control.get("index_var")
        for index, value in enumerate(items or []):
            item_vars: dict[str, Any] = {loop_var: value}
            if index_var:
                item_vars[str(index_var)] = index
            from dataclasses import replace

            single = replace(task, loop=None, vars={**task.vars, **item_vars})
            sub = Planned(single, planned.cursor, FLOW_KIND, planned.templar.child(item_vars))
            how = self._flow(sub, prog, position + (index,))
            if isinstance(how, str):
                return how
            if how != nxt:  # a failure moved the cursor (rescue/always)
                return how
        return nxt

    # -- handlers --------------------------------------------------------------------
    def flush_handlers(self, position: tuple[int, ...]) -> str:
        """Run the notified handlers (in the order they are defined), once each."""
        self.run.group.meet(self.host, position)
        ran: set[int] = set()
        while True:
            todo = [h for i, h in enumerate(self.run.play.handlers)
                    if i not in ran and self._is_notified(h)]
            if not todo:
                return DONE_OK
            for handler in todo:
                ran.add(self.run.play.handlers.index(handler))
            for handler in todo:
                self.state.notified.discard(handler.name or "")
                for topic in handler.listen:
                    self.state.notified.discard(topic)
            how = self.run_program(prg.compile_tasks(list(todo)), position + (1,))
            if how != DONE_OK:
                return how

    def run_handlers_now(self) -> None:
        """force_handlers: a failed host still runs what it notified (no meeting)."""
        todo: list[TaskOrBlock] = [h for h in self.run.play.handlers if self._is_notified(h)]
        self.state.notified.clear()
        if todo:
            self.run_program(prg.compile_tasks(todo), (1 << 30,))

    def _is_notified(self, handler: Task) -> bool:
        notified = self.state.notified
        if handler.name and handler.name in notified:
            return True
        if any(topic in notified for topic in handler.listen):
            return True
        return handler.action in notified  # a handler without name is notified by module


def _plain(task: Task) -> Task:
    """The task without the keywords that made it run alone (so plan_task expands it)."""
    from dataclasses import replace

    return replace(task, until=None, delegate_to=None, run_once=False)


def _facts_of(planned: Planned, value: dict[str, Any]) -> dict[str, Any]:
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


_HIDDEN = {"invocation", "_ansible_no_log"}


def _public(result: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in result.items() if k not in _HIDDEN}


def iter_items(batch: list[Planned]) -> Iterator[dict[str, Any]]:
    for planned in batch:
        for slot in planned.slots:
            yield from slot.agent_items


__all__ = ["HostWorker", "DONE_OK", "HOST_FAILED", "END_HOST", "END_PLAY", "UNREACHED",
           "STOPPED", "SKIPPED", "UNREACHABLE", "as_bool"]
