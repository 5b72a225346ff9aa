"""Per-host posture data derived from a run's task results, for history, reports and alerts.

Kept out of the executor: it reads only the JSON report's host entry, so the same
function serves the history database, the HTML page and the alerts.

- compliance: tasks tagged with a control id (`cis_5.2.4`, `win_1.1.4`, ...). A task
  run in check mode (audit; the task's own mode, else the run's) that would change fails;
  in an enforcing run a control that failed fails and one that applied passes. Skipped
  controls (switched off, not applicable) do not count. Score = passed / (passed + failed) * 100.
- patches: the last `patch` (or `win_updates`) result: pending and security counts,
  applied packages with from→to versions, reboot required.
- drift: paths the `backup` action found changed since the last backup of the host.
- health: the last `health` result: the host's state, each check's worst row
  (`summary`), every row (`checks`), listening ports; pyengine/health/ adds trends,
  new ports and the state changes the alerts send.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

CONTROL_TAG = re.compile(r"^(cis|win|ctl)_[0-9A-Za-z][0-9A-Za-z._-]*$")
PATCH_MODULES = {"patch", "win_updates"}


def control_ids(tags: list[str]) -> list[str]:
    return [t for t in tags if CONTROL_TAG.match(t)]


def control_rows(tasks: Iterable[Mapping[str, Any]], check_mode: bool) -> list[dict[str, Any]]:
    """One row per control id, in natural order: id, title, passed, detail (what would
    change or failed). The one place a control's pass or fail is decided."""
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
                                        "passed": True, "details": []})
            if failed:
                row["passed"] = False
                msg = str(task.get("msg") or "").strip()[:200]
                if msg and msg not in row["details"]:
                    row["details"].append(msg)
    return [{"id": row["id"], "title": row["title"], "passed": row["passed"],
             "detail": "; ".join(row["details"])}
            for row in sorted(rows.values(), key=lambda r: _natural(r["id"]))]


def compliance(tasks: list[dict[str, Any]], check_mode: bool) -> dict[str, Any] | None:
    """The score and the failing controls; None when the run had no control tasks."""
    rows = control_rows(tasks, check_mode)
    if not rows:
        return None
    passed = sum(1 for row in rows if row["passed"])
    failing = [{"id": row["id"], "title": row["title"], "detail": row["detail"]}
               for row in rows if not row["passed"]]
    return {"score": round(100.0 * passed / len(rows), 1), "passed": passed,
            "failed": len(rows) - passed, "failing": failing}


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


def host_extra(host: dict[str, Any], check_mode: bool, client: str = "") -> dict[str, Any]:
    """The `extra` dict stored with a host's run (docs/ARCHITECTURE.md)."""
    tasks = list(host.get("tasks") or [])
    extra: dict[str, Any] = {}
    if client:
        extra["client"] = client
    comp = compliance(tasks, check_mode)
    if comp is not None:
        extra["compliance"] = comp
    patch = patches(tasks)
    if patch is not None:
        extra["patches"] = patch
    changed_paths = drift(tasks)
    if changed_paths:
        extra["drift"] = changed_paths
    checked = health(tasks)
    if checked is not None:
        extra["health"] = checked
    return extra
