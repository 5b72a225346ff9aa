"""Days until a filesystem is full, from the usage the run history recorded.

A least-squares line through the recent samples (percent used against time) gives the
growth rate; the days until 100% at that rate is what the morning reader acts on. Too
few samples, too short a span or a flat or shrinking usage give no estimate: a guess
from one night's noise would alert for nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone


@dataclass(frozen=True)
class Trend:
    """Growth of one filesystem: percent points per day and days until 100%."""

    rate_per_day: float
    days_until_full: float | None
    samples: int


def parse_time(text: str) -> float | None:
    """Epoch seconds of an ISO-8601 timestamp (naive means UTC), None when unreadable."""
    try:
        stamp = datetime.fromisoformat(text)
    except (TypeError, ValueError):
        return None
    if stamp.tzinfo is None:
        stamp = stamp.replace(tzinfo=timezone.utc)
    return stamp.timestamp()


def growth(points: Sequence[tuple[float, float]], min_samples: int = 3,
           min_span_days: float = 0.5) -> Trend | None:
    """The trend of (epoch seconds, percent used) points; None when they cannot tell."""
    if len(points) < min_samples:
        return None
    xs = [t / 86400.0 for t, _ in points]
    ys = [v for _, v in points]
    if max(xs) - min(xs) < min_span_days:
        return None
    mean_x, mean_y = sum(xs) / len(xs), sum(ys) / len(ys)
    var = sum((x - mean_x) ** 2 for x in xs)
    if var == 0:
        return None
    slope = sum((x - mean_x) * (y - mean_y) for x, y in zip(xs, ys, strict=True)) / var
    last = points[-1][1]
    if slope <= 1e-6:
        return Trend(round(slope, 3), None, len(points))
    return Trend(round(slope, 3), round(max(0.0, (100.0 - last) / slope), 1), len(points))


def trend_state(days: float | None, warn_days: float, crit_days: float) -> str:
    """ok/warn/crit of a days-until-full estimate (no estimate is ok)."""
    if days is None:
        return "ok"
    if days <= crit_days:
        return "crit"
    return "warn" if days <= warn_days else "ok"
