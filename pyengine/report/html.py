"""The morning report: one self-contained HTML page (no external assets) from the history.

Per client (inventory group) and per host: last run status, baseline compliance
score and failing controls, pending/applied patches, reboot-required, config drift
from the git backups, unreachable hosts, the health state, and small inline-SVG trend
charts over the last runs; per client, the health rows that need attention, worst first.
Pure function of the data it is given; the CLI reads the history.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from jinja2 import Environment, select_autoescape

from pyengine.masking import mask


@dataclass
class HostPosture:
    """One host's state as of its newest run in the window, plus its trend."""

    host: str
    client: str
    last_run: int
    last_started: str
    status: str  # ok | changed | failed | unreachable
    ok: int = 0
    changed: int = 0
    failed: int = 0
    unreachable: bool = False
    compliance_score: float | None = None
    failing_controls: list[dict[str, str]] = field(default_factory=list)
    pending_patches: int | None = None
    security_patches: int | None = None
    applied_patches: list[dict[str, str]] = field(default_factory=list)
    reboot_required: bool = False
    drift: list[str] = field(default_factory=list)
    failed_tasks: list[str] = field(default_factory=list)
    trend_score: list[float] = field(default_factory=list)  # oldest first
    trend_changed: list[int] = field(default_factory=list)
    health_state: str | None = None  # ok | warn | crit; None: no health checks ran
    health_issues: list[dict[str, str]] = field(default_factory=list)  # worst first


HEALTH_RANK = {"crit": 0, "warn": 1, "ok": 2}


def attention(hosts: list[HostPosture]) -> list[dict[str, str]]:
    """What needs a person this week: every health row that is not ok, worst first
    (crit before warn, then the soonest filesystem to fill or certificate to expire)."""
    items = [{"host": h.host, **issue} for h in hosts for issue in h.health_issues]

    def key(item: dict[str, str]) -> tuple[int, float, str, str]:
        try:
            value = float(item.get("value", "")) if item.get("check") in (
                "trend", "certs") else float("inf")
        except ValueError:
            value = float("inf")
        return (HEALTH_RANK.get(item.get("state", ""), 3), value, item["host"],
                item.get("check", ""))

    return sorted(items, key=key)


def host_status(counts: dict[str, Any]) -> str:
    """The single word a row is coloured by."""
    if counts.get("unreachable"):
        return "unreachable"
    if counts.get("failed"):
        return "failed"
    if counts.get("changed"):
        return "changed"
    return "ok"


def sparkline(values: list[float], width: int = 120, height: int = 24) -> str:
    """An inline SVG polyline of the values (empty string for fewer than two points)."""
    if len(values) < 2:
        return ""
    low, high = min(values), max(values)
    span = (high - low) or 1.0
    step = width / (len(values) - 1)
    points = " ".join(
        f"{i * step:.1f},{height - 2 - (v - low) / span * (height - 4):.1f}"
        for i, v in enumerate(values)
    )
    return (
        f'<svg class="spark" width="{width}" height="{height}" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="trend"><polyline fill="none" stroke="#2563eb" stroke-width="2" '
        f'points="{points}"/></svg>'
    )


TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"


def render_html(hosts: list[HostPosture], since: str, generated: datetime | None = None) -> str:
    """The whole page; every value is HTML-escaped and masked."""
    env = Environment(autoescape=select_autoescape(default=True))
    env.globals["spark"] = sparkline
    by_client: dict[str, list[HostPosture]] = {}
    for posture in sorted(hosts, key=lambda h: (h.client, h.host)):
        by_client.setdefault(posture.client, []).append(posture)
    totals = {
        "failed": sum(1 for h in hosts if h.status == "failed"),
        "unreachable": sum(1 for h in hosts if h.unreachable),
        "reboot": sum(1 for h in hosts if h.reboot_required),
        "drift": sum(1 for h in hosts if h.drift),
        "pending": sum(h.pending_patches or 0 for h in hosts),
        "health": sum(1 for h in hosts if h.health_state in ("warn", "crit")),
    }
    page = env.from_string(TEMPLATE.read_text(encoding="utf-8")).render(
        hosts=hosts,
        clients=list(by_client.items()),
        attention={client: attention(rows) for client, rows in by_client.items()},
        totals=totals,
        since=since,
        generated=(generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return str(mask(page))
