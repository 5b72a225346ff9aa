"""Planning: turn one task into what a batch carries, on the controller.

A task is planned with the variables known at that moment (facts, extra vars,
results already processed, and the speculative `set_fact`s of the batch being
filled). Its loop is expanded, `when` is evaluated per item, arguments are
rendered, controller actions of kind `local` run right here and `transform`
actions become target module calls. What comes out is a `Planned`: agent items
to send plus results already decided (skipped items, local actions, render errors).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

from pyengine import modspec
from pyengine.actions.base import (
    LOCAL,
    SEQUENCED,
    TRANSFORM,
    ActionContext,
    ActionFailed,
    load_action,
)
from pyengine.booleans import boolean_word, is_true
from pyengine.errors import PyengineError
from pyengine.executor.program import Cursor
from pyengine.masking import register_secret, register_tree
from pyengine.playbook.model import Task
from pyengine.templating import Templar, is_template, template_variables

# Flow-control "actions" the host worker handles itself.
FLOW = {"meta", "include_tasks", "import_tasks", "include_role", "import_role"}

MODULE = "module"  # agent items to send
DONE = "done"  # result fully decided on the controller (skipped, local action, error)
SEQ = "sequenced"  # runs alone after the batch is flushed (reboot, until, delegate, ...)
FLOW_KIND = "flow"


@dataclass
class Slot:
    """One loop item of a task (or the task itself when it has no loop)."""

    item_vars: dict[str, Any]
    label: str = ""
    agent_items: list[dict[str, Any]] = field(default_factory=list)
    result: dict[str, Any] | None = None  # decided on the controller
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class Planned:
    task: Task
    cursor: Cursor
    kind: str
    templar: Templar
    slots: list[Slot] = field(default_factory=list)
    looped: bool = False
    ends_batch: bool = False
    check_mode: bool = False
    diff: bool = False
    ignore_errors: bool = False
    no_log: bool = False
    action: Any = None  # the action module for local/transform/sequenced
    session_key: tuple[bool, str | None] = (False, None)

    def templar_for(self, slot: Slot) -> Templar:
        """The templar of one loop item (the task's, with the item's variables)."""
        return self.templar.child(slot.item_vars) if slot.item_vars else self.templar


class PlanContext(Protocol):
    """What planning needs from the play and the host (implemented by the worker)."""

    host: str
    check_mode: bool
    diff: bool

    def action_context(self, task: Task, args: dict[str, Any], templar: Templar,
                       check_mode: bool, diff: bool) -> ActionContext:
        """The context a controller action runs with."""

    def normalize(self, module: str, args: dict[str, Any], task: Task) -> dict[str, Any]:
        """Validate and normalise rendered arguments (aliases, types, defaults)."""


def task_references(task: Task) -> set[str]:
    """Every variable name the task's rendering reads (before it runs)."""
    names: set[str] = set()
    names |= template_variables(task.args)
    names |= template_variables(task.environment)
    names |= template_variables(task.loop)
    names |= template_variables(task.loop_control.get("label"))
    for cond in task.when:
        names |= template_variables(cond, expression=True) if isinstance(cond, str) else set()
    for value in (task.ignore_errors, task.no_log, task.delegate_to, task.retries, task.delay):
        if isinstance(value, str):
            names |= template_variables(value)
    if task.become.user:
        names |= template_variables(task.become.user)
    # Arguments that are expressions, not templates.
    if task.action == "assert":
        that = task.args.get("that", task.args.get("_raw_params"))
        names |= template_variables(that if isinstance(that, list) else [that], expression=True)
    if task.action == "debug" and isinstance(task.args.get("var"), str):
        names |= template_variables(task.args["var"], expression=True)
    return names


def expand_references(names: set[str], variables: Mapping[str, Any],
                      cache: dict[str, set[str]]) -> set[str]:
    """`names` plus the names read by the templates those variables hold (transitively)."""
    seen: set[str] = set()
    todo = list(names)
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        if name not in cache:
            try:
                value = variables[name] if name in variables else None
            except Exception:  # noqa: BLE001 - a broken variable is reported when used
                value = None
            cache[name] = template_variables(value) if _has_template(value) else set()
        todo.extend(cache[name] - seen)
    return seen


def _has_template(value: Any) -> bool:
    # Plain data only: hostvars and other lazy mappings would render on iteration.
    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_has_template(v) for v in value.values())
    if isinstance(value, (list, tuple)):
        return any(_has_template(v) for v in value)
    return False


# Modules that return facts, and the names they set (as `ansible_facts.X`, `X`, `ansible_X`).
FACT_MODULES = {"package_facts": {"packages"}, "service_facts": {"services"}}
# Modules whose facts are not known in advance: nothing may be planned after them.
OPAQUE_FACT_MODULES = {"setup", "gather_facts"}


def produced_names(task: Task) -> set[str]:
    """Names this task sets only once it has run on the target (cuts later readers)."""
    names = {task.register} if task.register else set()
    for fact in fact_names(task):
        names |= {"ansible_facts", fact, f"ansible_{fact}"}
    return names


def fact_names(task: Task) -> set[str]:
    """The facts a task sets, where they are known before it runs."""
    if task.action == "getent":
        # getent sets getent_<database>; a templated database could be any of them.
        database = task.args.get("database")
        if isinstance(database, str) and "{" not in database:
            return {f"getent_{database}"}
        return {"getent_passwd", "getent_group", "getent_shadow", "getent_hosts",
                "getent_services", "getent_protocols", "getent_networks", "getent_gshadow"}
    return set(FACT_MODULES.get(task.action, ()))


def sets_unknown_facts(task: Task) -> bool:
    """True for modules whose facts cannot be named in advance: setup, and any
    `*_facts` module (an Ansible module run through the bridge, say)."""
    short = task.action.rsplit(".", 1)[-1]
    return task.action in OPAQUE_FACT_MODULES or (
        short.endswith("_facts") and task.action not in FACT_MODULES) or (
        "." in task.action and modspec.sets_facts(task.action))  # bridged, RETURN says so


def keyword_bool(value: Any, keyword: str) -> bool:
    """A boolean keyword's rendered value (check_mode, diff, ignore_errors, no_log, become).

    Strict, as Ansible's keywords are: a value that is no boolean word raises
    (PyengineError) so the task fails, instead of counting as "no" and, for check_mode,
    changing the host for real.
    """
    if value is None:
        return False
    answer = boolean_word(value)
    if answer is None:
        raise PyengineError(f"{keyword}: {value!r} is not a boolean (yes/no, true/false)")
    return answer


def _loop_items(task: Task, templar: Templar) -> list[Any] | None:
    if task.loop is None:
        return None
    items = templar.render(task.loop)
    if isinstance(items, str):
        raise PyengineError(f"loop must be a list, got the string {items[:60]!r}")
    if isinstance(items, Mapping):
        raise PyengineError("loop must be a list, got a dict (use dict2items)")
    return list(items or [])


def _constant_false(conds: list[str] | None) -> bool:
    """failed_when: false (the common 'never fail') needs no result to decide."""
    if conds is None:
        return True
    return all(isinstance(c, bool) and not c or str(c).strip().lower() in ("false", "no")
               for c in conds)


def plan_task(ctx: PlanContext, task: Task, cursor: Cursor, templar: Templar,
              alone: bool = False) -> Planned:
    """Plan `task` for one host with `templar` (the task's variables).

    `alone`: the task runs by itself now (after the batch was flushed); a sequenced
    action's slots then only get their rendered arguments.
    """
    planned = Planned(task, cursor, MODULE, templar, check_mode=ctx.check_mode, diff=ctx.diff)
    try:
        if task.check_mode is not None:
            planned.check_mode = keyword_bool(templar.render(task.check_mode), "check_mode")
        if task.diff is not None:
            planned.diff = keyword_bool(templar.render(task.diff), "diff")
        planned.ignore_errors = keyword_bool(templar.render(task.ignore_errors), "ignore_errors")
        planned.no_log = keyword_bool(templar.render(task.no_log), "no_log")
    except PyengineError as err:
        return failed_planning(planned, err)
    action = task.action
    if action in FLOW:
        planned.kind = FLOW_KIND
        planned.ends_batch = True
        return planned
    module = load_action(action)
    planned.action = module
    kind = module.KIND if module is not None else None
    sequenced = (
        kind == SEQUENCED or task.until is not None or task.delegate_to is not None
        or task.run_once
    )
    if sequenced and not alone:
        planned.kind = SEQ
        planned.ends_batch = True
        return planned
    try:
        loop = _loop_items(task, templar)
    except PyengineError as err:
        return failed_planning(planned, err)
    planned.looped = loop is not None
    loop_var = str(task.loop_control.get("loop_var") or "item")
    index_var = task.loop_control.get("index_var")
    values = loop if loop is not None else [None]
    # As in Ansible, a looped set_fact (or include_vars) sees what its earlier items set:
    # `acc: "{{ acc | default([]) + [item] }}"` accumulates instead of keeping the last.
    carried: dict[str, Any] = {}
    for index, value in enumerate(values):
        item_vars: dict[str, Any] = {}
        if loop is not None:
            item_vars = {loop_var: value, "ansible_loop_var": loop_var}
            if index_var:
                item_vars[str(index_var)] = index
            item_vars["ansible_loop"] = {
                "index": index + 1, "index0": index, "first": index == 0,
                "last": index == len(values) - 1, "length": len(values),
            }
        slot = _plan_slot(ctx, planned, kind, item_vars, value, loop is not None, carried)
        planned.slots.append(slot)
        done = slot.result or {}
        facts = done.get("ansible_facts")
        if kind == LOCAL and isinstance(facts, dict) and not done.get("failed"):
            carried.update(facts)
    if any(s.result is not None and s.result.get("failed") for s in planned.slots):
        planned.ends_batch = True
    if sets_unknown_facts(task):
        planned.ends_batch = True
    if any(key in (s.result or {}) for s in planned.slots for key in ("add_host", "add_group")):
        # The inventory changes when the result is recorded: the next task must be planned
        # after that, with the new `groups`, `group_names` and `hostvars`.
        planned.ends_batch = True
    if not _constant_false(task.failed_when):
        # The controller decides failure after the result is back, so nothing may run
        # after this task in the same round trip (the agent cannot know the verdict).
        planned.ends_batch = True
    if all(s.result is not None for s in planned.slots):
        planned.kind = DONE
    return planned


def _plan_slot(ctx: PlanContext, planned: Planned, kind: str | None, item_vars: dict[str, Any],
               value: Any, looped: bool, carried: dict[str, Any] | None = None) -> Slot:
    task = planned.task
    extra = {**(carried or {}), **item_vars}
    templar = planned.templar.child(extra) if extra else planned.templar
    slot = Slot(item_vars)
    try:
        if looped:
            label = task.loop_control.get("label")
            slot.label = str(templar.render(label)) if label is not None else _short(value)
        if task.when and not templar.evaluate(task.when):
            slot.result = {"changed": False, "skipped": True,
                           "skip_reason": "Conditional result was False",
                           "false_condition": _first_false(templar, task.when)}
            return slot
        args = templar.render(task.args)
        if not isinstance(args, dict):
            raise PyengineError("module arguments did not render to a mapping")
        if task.action == "copy" and args.get("src") and not is_true(args.get("remote_src")):
            kind = TRANSFORM  # the controller's file travels as bytes (pyengine/actions/_files)
            args = ctx.normalize("copy", args, task)
            actx = ctx.action_context(task, args, templar, planned.check_mode, planned.diff)
            from pyengine.actions._files import transform_copy

            environment = templar.render(task.environment) if task.environment else {}
            for module_name, module_args in transform_copy(actx):
                slot.agent_items.append(_item(module_name, ctx.normalize(
                    module_name, module_args, task), planned, environment))
            return slot
        args = ctx.normalize(task.action, args, task)
        slot.args = args
        if planned.no_log or kind is None:
            _register_templated_secrets(task.args, args, planned.no_log)
        if planned.no_log:
            _register_referenced_values(task.args, templar)
        environment = templar.render(task.environment) if task.environment else {}
        if kind == SEQUENCED:
            return slot  # runs later, alone, with these arguments
        if kind is None:
            slot.agent_items.append(_item(task.action, args, planned, environment))
        elif kind == TRANSFORM:
            actx = ctx.action_context(task, args, templar, planned.check_mode, planned.diff)
            for module_name, module_args in planned.action.transform(actx):
                slot.agent_items.append(_item(module_name, ctx.normalize(
                    module_name, module_args, task), planned, environment))
        elif kind == LOCAL:
            actx = ctx.action_context(task, args, templar, planned.check_mode, planned.diff)
            slot.result = planned.action.run(actx)
        else:
            raise PyengineError(f"action {task.action!r} has an unknown KIND {kind!r}")
    except ActionFailed as err:
        slot.result = {"failed": True, "changed": False, "msg": err.msg, **err.data}
    except PyengineError as err:
        slot.result = {"failed": True, "changed": False, "msg": str(err)}
    except Exception as err:  # noqa: BLE001 - a broken action fails its task, not the run
        import traceback

        slot.result = {"failed": True, "changed": False,
                       "msg": f"{task.action}: internal error: {type(err).__name__}: {err}",
                       "exception": traceback.format_exc()}
    return slot


def _item(module: str, args: dict[str, Any], planned: Planned,
          environment: dict[str, Any]) -> dict[str, Any]:
    # With failed_when the controller judges the result, so the agent must not stop on
    # the module's own failure (the batch ends after this task anyway).
    ignore = planned.ignore_errors or planned.task.failed_when is not None
    return {"module": module, "args": args, "check_mode": planned.check_mode,
            "diff": planned.diff, "environment": environment or None,
            "ignore_errors": ignore, "no_log": planned.no_log}


def failed_planning(planned: Planned, err: PyengineError) -> Planned:
    """The task fails on this host with `err`, decided on the controller (nothing runs)."""
    planned.kind = DONE
    planned.ends_batch = True
    planned.slots = [Slot({}, result={"failed": True, "changed": False, "msg": str(err)})]
    return planned


def _first_false(templar: Templar, conds: list[str]) -> str:
    for cond in conds:
        try:
            if not templar.evaluate(cond):
                return str(cond)
        except PyengineError:
            return str(cond)
    return ""


def _register_templated_secrets(raw: Any, rendered: Any, no_log: bool) -> None:
    """For no_log tasks: values that came from variables are secrets from now on."""
    if not no_log:
        return
    if isinstance(raw, str) and isinstance(rendered, str):
        if is_template(raw):
            register_secret(rendered)
    elif isinstance(raw, Mapping) and isinstance(rendered, Mapping):
        for key, value in raw.items():
            if key in rendered:
                _register_templated_secrets(value, rendered[key], no_log)
    elif isinstance(raw, (list, tuple)) and isinstance(rendered, (list, tuple)):
        for a, b in zip(raw, rendered, strict=False):
            _register_templated_secrets(a, b, no_log)


def _register_referenced_values(raw: Any, templar: Templar) -> None:
    """For no_log tasks: each variable the arguments use is secret on its own, so it stays
    masked where a later task shows it (not only the whole rendered argument)."""
    for name in template_variables(raw):
        if name in templar.variables:
            try:
                register_tree(templar.render(templar.variables[name]))
            except PyengineError:
                continue


def _short(value: Any, limit: int = 80) -> str:
    text = value if isinstance(value, str) else repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."
