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
from markupsafe import escape

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
    drift_diffs: dict[str, str] = field(default_factory=dict)  # path -> short unified diff
    failed_tasks: list[str] = field(default_factory=list)
    trend_score: list[float] = field(default_factory=list)  # oldest first
    trend_changed: list[int] = field(default_factory=list)
    health_state: str | None = None  # ok | warn | crit; None: no health checks ran
    health_issues: list[dict[str, str]] = field(default_factory=list)  # worst first
    check_mode: bool = False  # its newest run was an audit (status "would change")
    waived_controls: list[dict[str, str]] = field(default_factory=list)  # id, title, reason


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


STATUS_RANK = {"unreachable": 0, "failed": 1, "would change": 2, "changed": 2, "ok": 2}


def severity(host: HostPosture) -> tuple[int, float, int, int, str]:
    """Worst first: unreachable, failed, then the lowest compliance score, the most
    failing controls, health crit/warn, then by name ("changed" is no worse than ok: an
    audit's would-change already lowers the score)."""
    return (STATUS_RANK.get(host.status, 4),
            host.compliance_score if host.compliance_score is not None else 101.0,
            -len(host.failing_controls), HEALTH_RANK.get(host.health_state or "ok", 2),
            host.host)


def client_header(rows: list[HostPosture]) -> dict[str, Any]:
    """A client's posture in the numbers a manager asks for first."""
    scores = [h.compliance_score for h in rows if h.compliance_score is not None]
    return {
        "hosts": len(rows),
        "score": round(sum(scores) / len(scores), 1) if scores else None,
        "failed": sum(1 for h in rows if h.status == "failed"),
        "unreachable": sum(1 for h in rows if h.unreachable),
        "security": sum(h.security_patches or 0 for h in rows),
        "pending": sum(h.pending_patches or 0 for h in rows),
        "reboot": sum(1 for h in rows if h.reboot_required),
        "drift": sum(1 for h in rows if h.drift),
        "health": sum(1 for h in rows if h.health_state in ("warn", "crit")),
        "waived": sum(len(h.waived_controls) for h in rows),
    }


def client_waivers(rows: list[HostPosture]) -> list[dict[str, Any]]:
    """The waivers in force for a client (from its hosts' newest runs): one entry per
    control, with the hosts it covers, soonest expiry first."""
    found: dict[str, dict[str, Any]] = {}
    for host in rows:
        for control in host.waived_controls:
            entry = found.setdefault(str(control.get("id")), {
                "id": control.get("id"), "title": control.get("title", ""),
                "reason": control.get("reason", ""), "expires": control.get("expires", ""),
                "hosts": []})
            entry["hosts"].append(host.host)
    return sorted(found.values(), key=lambda w: (str(w["expires"]), str(w["id"])))


def trend_chart(points: list[dict[str, Any]], key: str, title: str, colour: str,
                percent: bool = False, width: int = 300, height: int = 90) -> str:
    """A small inline-SVG line chart of one series over runs (oldest left): a dot per
    run with its value in a tooltip, the newest value printed. Empty without points."""
    values = [(p.get(key), p.get("started", "")) for p in points]
    known = [v for v, _ in values if v is not None]
    if not known:
        return ""
    low, high = (0.0, 100.0) if percent else (0.0, max(1.0, float(max(known))))
    pad, top, bottom = 6.0, 18.0, 6.0
    step = (width - 2 * pad) / max(1, len(values) - 1)

    def y(v: float) -> float:
        return top + (1 - (float(v) - low) / (high - low)) * (height - top - bottom)

    coords = [(pad + i * step, y(v), v, when) for i, (v, when) in enumerate(values)
              if v is not None]
    line = " ".join(f"{x:.1f},{yy:.1f}" for x, yy, _, _ in coords)
    unit = "%" if percent else ""
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="2.5" fill="{colour}">'
        f"<title>{escape(str(when)[:16])}: {v:g}{unit}</title></circle>"
        for x, yy, v, when in coords)
    last = f"{known[-1]:g}{unit}"
    return (
        f'<svg class="trend" data-series="{key}" data-points="{len(coords)}" '
        f'viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{escape(title)}: {len(coords)} runs, last {last}">'
        f'<text x="{pad}" y="12" class="t">{escape(title)} · last {len(values)} run'
        f'{"s" if len(values) != 1 else ""}</text>'
        f'<text x="{width - pad}" y="12" text-anchor="end" class="v">{last}</text>'
        f'<line x1="{pad}" y1="{height - bottom}" x2="{width - pad}" y2="{height - bottom}" '
        f'stroke="#e5e7eb"/>'
        f'<polyline fill="none" stroke="{colour}" stroke-width="2" points="{line}"/>'
        f"{dots}</svg>")


TEMPLATE = Path(__file__).with_name("templates") / "report.html.j2"


def render_html(hosts: list[HostPosture], since: str, generated: datetime | None = None,
                trends: dict[str, list[dict[str, Any]]] | None = None) -> str:
    """The whole page; every value is HTML-escaped and masked. `trends` are each client's
    points over its last runs (report.posture.client_trends)."""
    env = Environment(autoescape=select_autoescape(default=True))
    env.globals["spark"] = sparkline
    env.globals["chart"] = trend_chart
    by_client: dict[str, list[HostPosture]] = {}
    for posture in sorted(hosts, key=lambda h: (h.client, severity(h))):
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
        headers={client: client_header(rows) for client, rows in by_client.items()},
        waivers={client: client_waivers(rows) for client, rows in by_client.items()},
        trends=trends or {},
        control_number=lambda cid: str(cid).split("_", 1)[-1],
        totals=totals,
        since=since,
        generated=(generated or datetime.now(timezone.utc)).strftime("%Y-%m-%d %H:%M UTC"),
    )
    return str(mask(page))
