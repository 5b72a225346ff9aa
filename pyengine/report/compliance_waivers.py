"""Baseline waivers: a control a client accepts as failing, with a reason and an expiry.

An MSP cannot fix every control on every client (an application needs short passwords,
a legacy host keeps telnet until its replacement). A waiver lives in the inventory's
group_vars or host_vars, so it is reviewed in git like any other setting:

    baseline_waivers:
      - control: "5.3.3.2.2"        # the number, or the tag (cis_5.3.3.2.2)
        reason: "ERP login needs 8-character passwords (ticket ACME-123)"
        expires: 2027-03-01         # required: a waiver is never forever

A waived control that fails shows as *waived* (not failed) and counts neither way in the
score; the waiver is listed in the compliance view and the HTML page. From its expiry
date on (judged against the run's start date, so a report reads the same later) the
control counts as failed again, with "waiver expired" in its detail. An entry without a
control, a reason or a valid date is not a waiver: the control stays failed and the entry
is named as invalid.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime
from typing import Any

WAIVERS_VAR = "baseline_waivers"


def normalize_waivers(value: Any) -> tuple[list[dict[str, str]], list[str]]:
    """The waivers of a host's `baseline_waivers` value (JSON-ready) and the problems of
    the entries that are not valid waivers."""
    if value in (None, "", []):
        return [], []
    if not isinstance(value, list):
        return [], [f"{WAIVERS_VAR} must be a list of {{control, reason, expires}}"]
    waivers: list[dict[str, str]] = []
    problems: list[str] = []
    for index, entry in enumerate(value, 1):
        if not isinstance(entry, Mapping):
            problems.append(f"{WAIVERS_VAR} entry {index}: not a mapping")
            continue
        control = str(entry.get("control") or "").strip()
        reason = str(entry.get("reason") or "").strip()
        expires = _date(entry.get("expires"))
        missing = [k for k, v in (("control", control), ("reason", reason),
                                  ("expires (YYYY-MM-DD)", expires)) if not v]
        if missing:
            problems.append(f"{WAIVERS_VAR} entry {index}"
                            f"{' (' + control + ')' if control else ''}: "
                            f"missing {', '.join(missing)}")
            continue
        waivers.append({"control": control, "reason": reason, "expires": str(expires)})
    return waivers, problems


def _date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip()[:10])
    except ValueError:
        return None


def control_number(control_id: str) -> str:
    """`cis_5.3.3.2.2` -> `5.3.3.2.2` (what people write and read)."""
    return control_id.split("_", 1)[-1]


def waiver_for(control_id: str, waivers: list[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The waiver naming this control by tag or by number (the first one wins)."""
    number = control_number(control_id)
    for waiver in waivers:
        name = str(waiver.get("control", ""))
        if name in (control_id, number):
            return waiver
    return None


def is_expired(waiver: Mapping[str, Any], on: date) -> bool:
    """Expired from its expiry date on; an unreadable date counts as expired."""
    expires = _date(waiver.get("expires"))
    return expires is None or on >= expires


def run_date(started: Any) -> date:
    """The date a run started (today when the report does not say)."""
    parsed = _date(started)
    return parsed or date.today()
