"""Per-host posture data derived from a run's task results, for history, reports and alerts.

Kept out of the executor: it reads only the JSON report's host entry, so the same
function serves the history database, the HTML page and the alerts.

- compliance: tasks tagged with a control id (`cis_5.2.4`, `win_1.1.4`, ...). A task
  run in check mode (audit; the task's own mode, else the run's) that would change fails;
  in an enforcing run a control that failed fails and one that applied passes. Skipped
  controls (switched off, not applicable) do not count. A failing control the host's
  `baseline_waivers` waive (report/compliance_waivers.py) is *waived*: neither passed nor
  failed, until its waiver expires. Score = passed / (passed + failed) * 100.
- patches: the last `patch` (or `win_updates`) result: pending and security counts,
  applied packages with from→to versions, reboot required.
- drift: paths the `backup` action found changed since the last backup of the host.
- health: the last `health` result: the host's state, each check's worst row
  (`summary`), every row (`checks`), listening ports; pyengine/health/ adds trends,
  new ports and the state changes the alerts send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import date
from typing import Any

from pyengine.report.compliance_waivers import is_expired, waiver_for

CONTROL_TAG = re.compile(r"^(cis|win|ctl)_[0-9A-Za-z][0-9A-Za-z._-]*$")
PATCH_MODULES = {"patch", "win_updates"}


def control_ids(tags: list[str]) -> list[str]:
    return [t for t in tags if CONTROL_TAG.match(t)]


def control_rows(tasks: Iterable[Mapping[str, Any]], check_mode: bool,
                 waivers: Sequence[Mapping[str, Any]] | None = None,
                 on: date | None = None) -> list[dict[str, Any]]:
    """One row per control id, in natural order: id, title, passed, waived, waiver,
    detail (what would change or failed). The one place a control's pass, fail or
    waiver is decided; `on` is the date waivers' expiry is judged against."""
    rows: dict[str, dict[str, Any]] = {}
    for task in tasks:
        ids = control_ids(list(task.get("tags") or []))
        status = task.get("status")
        if not ids or status in ("skipped", None) or task.get("handler"):
            continue
        # a task's own check mode when the report has it (a play with `check_mode:`)
        audit = bool(task.get("check_mode", check_mode))
        failed = status in ("failed", "unreachable") or (audit and bool(task.get("changed")))
        for cid in ids:
            row = rows.setdefault(cid, {"id": cid, "title": str(task.get("name", "")),
                                        "passed": True, "details": [],
                                        "task": task})
            if failed:
                row["passed"] = False
                msg = str(task.get("msg") or "").strip()[:200]
                if msg and msg not in row["details"]:
                    row["details"].append(msg)
    out = []
    for row in sorted(rows.values(), key=lambda r: _natural(r["id"])):
        waiver = waiver_for(row["id"], list(waivers or [])) if not row["passed"] else None
        waived = waiver is not None and not is_expired(waiver, on or date.today())
        if waiver is not None and not waived:
            row["details"].insert(0, f"waiver expired {waiver.get('expires')}")
        out.append({"id": row["id"], "title": control_title(row["title"], row["task"]),
                    "passed": row["passed"], "waived": waived,
                    "waiver": dict(waiver) if waiver is not None else None,
                    "detail": "; ".join(row["details"])})
    return out


def control_title(name: str, task: Mapping[str, Any]) -> str:
    """A control's title from its task name. Names are rendered where results are made,
    but a looped task's name cannot see `item` (as in Ansible): render those parts once
    per loop item from the result, so `journald {{ item.key }}` reads `journald Storage,
    Compress`; what still cannot be rendered becomes "…"."""
    if "{{" not in name:
        return name
    start, end = name.index("{{"), name.rindex("}}") + 2
    middle = name[start:end]
    items = [r for r in ((task.get("result") or {}).get("results") or [])
             if isinstance(r, Mapping) and "item" in r]
    rendered: list[str] = []
    for result in items:
        text = _render_item(middle, result.get(str(result.get("ansible_loop_var") or "item")))
        if text is not None and text not in rendered:
            rendered.append(text)
    if rendered:
        joined = ", ".join(rendered)
        if len(joined) > 60:
            joined = joined[:59] + "…"
        return name[:start] + joined + name[end:]
    return re.sub(r"\{\{.*?\}\}", "…", name)


def _render_item(template: str, item: Any) -> str | None:
    """One loop item's rendering of the templated part of a name (None if it fails)."""
    from jinja2 import TemplateError
    from jinja2.sandbox import SandboxedEnvironment

    try:
        text = SandboxedEnvironment().from_string(template).render(item=item)
    except (TemplateError, TypeError, ValueError, AttributeError):
        return None
    return text if text.strip() else None


def compliance(tasks: list[dict[str, Any]], check_mode: bool,
               waivers: Sequence[Mapping[str, Any]] | None = None,
               on: date | None = None) -> dict[str, Any] | None:
    """The score, the failing and the waived controls; None when the run had no control
    tasks."""
    rows = control_rows(tasks, check_mode, waivers, on)
    if not rows:
        return None
    passed = sum(1 for row in rows if row["passed"])
    waived = [{"id": row["id"], "title": row["title"], "reason": row["waiver"]["reason"],
               "expires": row["waiver"]["expires"]} for row in rows if row["waived"]]
    failing = [{"id": row["id"], "title": row["title"], "detail": row["detail"]}
               for row in rows if not row["passed"] and not row["waived"]]
    judged = passed + len(failing)
    summary: dict[str, Any] = {
        "score": round(100.0 * passed / judged, 1) if judged else 100.0, "passed": passed,
        "failed": len(failing), "failing": failing}
    if waived:
        summary.update(waived=len(waived), waived_controls=waived)
    return summary


def _natural(control: str) -> list[Any]:
    return [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", control)]


def patches(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The patch picture from the last patch task that ran on the host."""
    for task in reversed(tasks):
        if task.get("module") not in PATCH_MODULES or task.get("status") == "skipped":
            continue
        result = task.get("result") or {}
        if task.get("module") == "win_updates":
            return {"pending": int(result.get("found_update_count", 0)),
                    "security": None,
                    "applied": [{"name": u.get("title", ""), "from": "", "to": "installed"}
                                for u in (result.get("updates") or {}).values()
                                if u.get("installed")],
                    "reboot_required": bool(result.get("reboot_required"))}
        return {"pending": int(result.get("pending_count", 0)),
                "security": int(result.get("security_count", 0)),
                "applied": list(result.get("changes") or []),
                "reboot_required": bool(result.get("reboot_required"))}
    return None


def drift(tasks: list[dict[str, Any]]) -> list[str]:
    """Paths the backup action reported as changed on this host."""
    found: list[str] = []
    for task in tasks:
        if task.get("module") == "backup":
            found += list((task.get("result") or {}).get("drift") or [])
    return found


HEALTH_KEYS = ("state", "summary", "checks", "thresholds", "taken", "ran")


def health(tasks: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The last health result of the host (the listening ports apart from the rows)."""
    for task in reversed(tasks):
        if task.get("module") != "health" or task.get("status") in ("skipped", "failed"):
            continue
        result = task.get("result") or {}
        if "checks" not in result:
            continue
        found = {key: result[key] for key in HEALTH_KEYS if key in result}
        found["checks"] = [dict(row) for row in result.get("checks") or []]
        ports: list[Any] = []
        for row in found["checks"]:
            if row.get("check") == "ports":
                ports = list(row.pop("ports", None) or [])
        found["ports"] = ports
        return found
    return None


def drift_diffs(tasks: list[dict[str, Any]]) -> dict[str, str]:
    """path -> short unified diff of what drifted (the backup action's `drift_diffs`)."""
    found: dict[str, str] = {}
    for task in tasks:
        if task.get("module") == "backup":
            found.update((task.get("result") or {}).get("drift_diffs") or {})
    return found


def host_extra(host: dict[str, Any], check_mode: bool, client: str = "",
               waivers: Sequence[Mapping[str, Any]] | None = None,
               on: date | None = None) -> dict[str, Any]:
    """The `extra` dict stored with a host's run (docs/ARCHITECTURE.md); `waivers` are the
    host's valid baseline waivers, kept in `extra` so a later view judges the same."""
    tasks = list(host.get("tasks") or [])
    extra: dict[str, Any] = {}
    if client:
        extra["client"] = client
    if waivers:
        extra["waivers"] = [dict(w) for w in waivers]
    comp = compliance(tasks, check_mode, waivers, on)
    if comp is not None:
        extra["compliance"] = comp
    patch = patches(tasks)
    if patch is not None:
        extra["patches"] = patch
    changed_paths = drift(tasks)
    if changed_paths:
        extra["drift"] = changed_paths
        diffs = drift_diffs(tasks)
        if diffs:
            extra["drift_diffs"] = diffs
    checked = health(tasks)
    if checked is not None:
        extra["health"] = checked
    return extra
