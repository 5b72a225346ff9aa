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

from collections.abc import Mapping
from typing import Any, NoReturn

from pyengine.actions.base import ActionContext
from pyengine.errors import HostUnreachable, PyengineError
from pyengine.executor import alone, flow
from pyengine.executor import program as prg
from pyengine.executor.hoststate import HostState
from pyengine.executor.outcome import merge_item_results, result_of
from pyengine.executor.plan import (
    DONE,
    FLOW_KIND,
    MODULE,
    SEQ,
    Planned,
    expand_references,
    failed_planning,
    plan_task,
    produced_names,
    task_references,
)
from pyengine.executor.play import PlayRun
from pyengine.executor.privilege import privilege_for
from pyengine.executor.recorder import TaskRecorder, facts_of, task_value
from pyengine.executor.stops import (
    DONE_OK,
    END_PLAY,
    HOST_FAILED,
    STOPPED,
    UNREACHED,
    Stop,
)
from pyengine.playbook.model import Task
from pyengine.templating import Templar


class HostWorker:
    """Runs one play's program on one host (one thread).

    Implements plan.PlanContext (for planning) and steps.HostSteps (for alone.py and
    flow.py); task outcomes go through its TaskRecorder.
    """

    def __init__(self, run: PlayRun, state: HostState) -> None:
        self.run = run
        self.state = state
        self.host = state.name
        self.check_mode = run.options.check
        self.diff = run.options.diff
        self.recorder = TaskRecorder(state, run.play_name, run.reporter,
                                     run.inventory_changes)
        self._ref_cache: dict[str, set[str]] = {}
        self.overlay: dict[str, Any] = {}  # set_facts of the batch being filled

    # -- variables -------------------------------------------------------------------
    def variables(self, task: Task | None) -> Mapping[str, Any]:
        """The task's variables: extra vars > this batch's set_facts > run results > play."""
        return self.run.vars.task_vars(self.state, task, self.overlay)

    def templar(self, task: Task | None, variables: Mapping[str, Any] | None = None) -> Templar:
        return Templar(variables if variables is not None else self.variables(task),
                       self.run.vars.search_paths(task))

    def action_context(self, task: Task, args: dict[str, Any], templar: Templar,
                       check_mode: bool, diff: bool) -> ActionContext:
        return ActionContext(self.host, task, args, templar, templar.variables,
                             self.run.play.basedir, host_ops=self.state.ops,
                             check_mode=check_mode, diff=diff)

    def normalize(self, module: str, args: dict[str, Any], task: Task) -> dict[str, Any]:
        return self.run.normalize(module, args, task)

    # -- main loop -------------------------------------------------------------------
    def run_program(self, prog: prg.Program, position: tuple[int, ...] = ()) -> str:
        """Run `prog` to its end; returns how it ended (DONE_OK, HOST_FAILED, ...)."""
        cur = prg.Cursor()
        try:
            while True:
                self._check_stop()
                cur, op, err = prg.advance(prog, cur)
                if err == HOST_FAILED:
                    return HOST_FAILED
                if op is None:
                    return DONE_OK
                if isinstance(op, prg.FlushHandlers):
                    how = self.flush_handlers(position + (cur.pc,))
                    if how != DONE_OK:
                        return how
                    cur = prg.Cursor(cur.pc + 1, cur.frames)
                    continue
                if self.run.policy.strict:
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
        except Stop as stop:
            return stop.how

    def _check_stop(self) -> None:
        group = self.run.group
        if group.interrupted:
            raise Stop(STOPPED)
        if group.aborted:
            raise Stop(STOPPED)
        if group.ended:
            raise Stop(END_PLAY)

    def _fill_batch(self, prog: prg.Program, cur: prg.Cursor
                    ) -> tuple[list[Planned], prg.Cursor]:
        """Plan tasks from `cur` on; returns the batch and where planning stopped."""
        batch: list[Planned] = []
        pending: set[str] = set()
        self.overlay = {}
        strict = self.run.policy.strict
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
            try:
                planned.session_key = privilege_for(self.run.play, task, variables)
            except PyengineError as problem:
                failed_planning(planned, problem)
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
        result = task_value(planned, [s.result or {} for s in planned.slots])
        facts = facts_of(planned, result)
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
            return flow.flow(self, first, prog, position)
        if first.kind == SEQ:
            return alone.sequenced(self, first, prog, position)
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
                    raw.append(_gathered(got))
            failed = self.recorder.record(planned, raw)
            if failed:
                return self.recorder.after_failure(planned, prog)
        last = batch[-1]
        return prg.Cursor(last.cursor.pc + 1, last.cursor.frames)

    def _send(self, batch: list[Planned]) -> dict[str, dict[str, Any]]:
        items: list[dict[str, Any]] = []
        key = next((p.session_key for p in batch if p.kind == MODULE), None)
        n = 0
        for index, planned in enumerate(batch):
            if planned.kind != MODULE:
                continue
            for slot in planned.slots:
                for item in slot.agent_items:
                    n += 1
                    item["id"] = f"t{planned.cursor.pc}.{n}"
                    item["task"] = index  # a failure stops the batch after this task's items
                    items.append(item)
        if not items or key is None:
            return {}
        out: dict[str, dict[str, Any]] = {}
        self.state.current = batch[0].task.display_name
        try:
            session = self.state.session(key)
            self.run.reporter.batch_sent(self.host, len(items), session.round_trips + 1)
            for frame in session.run_batch(items):
                out[str(frame.get("id"))] = result_of(frame)
        except HostUnreachable as err:
            if self.run.group.interrupted:
                raise Stop(STOPPED) from None
            self._unreachable(batch[0].task, err.reason, batch, out)
        except (OSError, EOFError) as err:  # the transport broke below the agent protocol
            if self.run.group.interrupted:
                raise Stop(STOPPED) from None
            self._unreachable(batch[0].task, f"connection lost: {err}", batch, out)
        except PyengineError as err:
            if self.run.group.interrupted:
                raise Stop(STOPPED) from None
            # The agent broke (not the network): the tasks not answered fail.
            for item in items:
                out.setdefault(str(item["id"]), {"failed": True, "changed": False,
                                                 "msg": str(err)})
        finally:
            self.state.current = None
            self.state.record_batch(len(items))
        return out

    def _unreachable(self, task: Task, reason: str, batch: list[Planned],
                     out: dict[str, dict[str, Any]]) -> NoReturn:
        # Keep what did come back (it ran), then mark the host unreachable at the first
        # task without an answer.
        for planned in batch:
            if planned.kind == DONE:
                continue
            ids = [i["id"] for s in planned.slots for i in s.agent_items]
            if ids and all(i in out for i in ids):
                raw = [_gathered([out[i] for i in (x["id"] for x in s.agent_items)])
                       if s.result is None else s.result for s in planned.slots]
                self.recorder.record(planned, raw)
                continue
            self.unreachable(planned.task, reason)
        self.unreachable(task, reason)

    # -- what alone.py and flow.py use (steps.HostSteps) ------------------------------
    def record(self, planned: Planned, raw: list[dict[str, Any]],
               duration: float | None = None) -> bool:
        """Store a task's outcome; True when it failed and the failure is not ignored."""
        return self.recorder.record(planned, raw, duration)

    def after_failure(self, planned: Planned, prog: prg.Program) -> prg.Cursor | str:
        """Where the host goes on after `planned` failed (a cursor, or HOST_FAILED)."""
        return self.recorder.after_failure(planned, prog)

    def unreachable(self, task: Task | None, reason: str) -> NoReturn:
        """Mark the host unreachable at `task` and end its walk."""
        self.state.mark_unreachable(task, reason, self.run.play_name, self.run.reporter)
        raise Stop(UNREACHED)

    def flush_handlers(self, position: tuple[int, ...]) -> str:
        return flow.flush_handlers(self, position)

    def run_handlers_now(self) -> None:
        """force_handlers: a failed host still runs what it notified."""
        flow.run_handlers_now(self)


def _gathered(got: list[dict[str, Any] | None]) -> dict[str, Any]:
    return merge_item_results([g or {} for g in got])
