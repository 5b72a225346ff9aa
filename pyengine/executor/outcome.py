"""From raw module results to a task's outcome: changed_when, failed_when, loops, no_log.

Pure functions over result dicts (plus the task's templar for the conditions),
so the Ansible rules they encode are easy to test on their own.
"""

from __future__ import annotations

from typing import Any

from pyengine.errors import PyengineError
from pyengine.executor.results import CHANGED, FAILED, OK, SKIPPED
from pyengine.playbook.model import Task
from pyengine.templating import Templar

CENSORED = ("the output has been hidden due to the fact that 'no_log: true' was specified"
            " for this result")


def apply_conditions(task: Task, templar: Templar, result: dict[str, Any]) -> dict[str, Any]:
    """changed_when then failed_when, with the registered name bound to this result."""
    if result.get("skipped") or (task.changed_when is None and task.failed_when is None):
        return result
    result = dict(result)
    bound = {task.register: result} if task.register else {}
    t = templar.child(bound) if bound else templar
    try:
        if task.changed_when is not None:
            result["changed"] = t.evaluate(task.changed_when)
        if task.failed_when is not None:
            failed = t.evaluate(task.failed_when)
            if failed and not result.get("failed"):
                result.setdefault("msg", "")
                result["failed_when_result"] = True
            result["failed"] = bool(failed)
            if not failed:
                result["failed_when_result"] = False
    except PyengineError as err:
        result["failed"] = True
        result["msg"] = f"error while evaluating conditional: {err}"
    return result


def until_met(task: Task, templar: Templar, result: dict[str, Any]) -> bool:
    if task.until is None:
        return not result.get("failed")
    bound = {task.register: result} if task.register else {}
    try:
        return (templar.child(bound) if bound else templar).evaluate(task.until)
    except PyengineError:
        return False


def combine_loop(results: list[dict[str, Any]]) -> dict[str, Any]:
    """A loop task's registered value: Ansible's {"results": [...], "changed", ...}."""
    out: dict[str, Any] = {"results": results, "changed": any(r.get("changed") for r in results)}
    if results and all(r.get("skipped") for r in results):
        out["skipped"] = True
        out["skip_reason"] = "All items skipped"
        out["msg"] = "All items skipped"
    elif not results:
        out["skipped"] = True
        out["skip_reason"] = "No items in the list"
        out["msg"] = "No items in the list"
    elif any(r.get("failed") for r in results):
        out["failed"] = True
        out["msg"] = "One or more items failed"
    else:
        out["msg"] = "All items completed"
    return out


def result_of(frame: dict[str, Any]) -> dict[str, Any]:
    """A module's result from the agent's answer frame, with its run time kept aside
    (`_duration_s`, taken out again when the task is recorded)."""
    result: dict[str, Any] = frame.get("result") or {}
    result.setdefault("changed", False)
    result["_duration_s"] = frame.get("duration_s", 0.0)
    return result


def merge_item_results(results: list[dict[str, Any]]) -> dict[str, Any]:
    """One task slot's result from its agent items: a transform action may have become
    several module calls (copy of a directory)."""
    if len(results) == 1:
        return results[0]
    merged: dict[str, Any] = {"changed": any(r.get("changed") for r in results),
                              "results": results}
    failed = [r for r in results if r.get("failed")]
    if failed:
        merged["failed"] = True
        merged["msg"] = failed[0].get("msg", "failed")
    merged["_duration_s"] = sum(r.get("_duration_s", 0.0) for r in results)
    return merged


def status_of(result: dict[str, Any]) -> str:
    if result.get("failed"):
        return FAILED
    if result.get("skipped"):
        return SKIPPED
    return CHANGED if result.get("changed") else OK


def censor(result: dict[str, Any]) -> dict[str, Any]:
    """What output and reports show of a no_log task's result."""
    out: dict[str, Any] = {"censored": CENSORED, "changed": bool(result.get("changed"))}
    for key in ("failed", "skipped"):
        if result.get(key):
            out[key] = True
    return out


def message_of(result: dict[str, Any]) -> str:
    """One line for the console and the report."""
    msg = result.get("msg")
    if isinstance(msg, str) and msg:
        return msg
    if result.get("censored"):
        return str(result["censored"])
    if result.get("skipped"):
        return str(result.get("skip_reason") or "skipped")
    if result.get("failed"):
        stderr = result.get("stderr") or result.get("module_stderr") or ""
        if stderr:
            return str(stderr).strip().splitlines()[-1][:300]
        if "rc" in result:
            return f"non-zero return code {result['rc']}"
        return "failed"
    if msg is not None and not isinstance(msg, str):
        return str(msg)
    return ""
