"""The recap table: ok / changed / failed / skipped / unreachable per host."""

from __future__ import annotations

from typing import Any

from rich.table import Table
from rich.text import Text

from pyengine.executor.results import RunResult


def recap_rows(run: RunResult) -> list[tuple[str, int, int, int, int, bool, int]]:
    """(host, ok, changed, failed, skipped, unreachable, round_trips) per host, in run order."""
    return [(name, h.ok, h.changed, h.failed, h.skipped, h.unreachable, h.round_trips)
            for name, h in run.hosts.items()]


def recap_table(run: RunResult) -> Table:
    table = Table(title="PLAY RECAP", title_justify="left", show_edge=False, pad_edge=False)
    for column in ("host", "ok", "changed", "failed", "skipped", "unreachable", "round trips"):
        table.add_column(column, justify="left" if column == "host" else "right")
    for name, ok, changed, failed, skipped, unreachable, trips in recap_rows(run):
        style = "red" if failed or unreachable else ("yellow" if changed else "green")
        table.add_row(Text(name, style=style), str(ok),
                      Text(str(changed), style="yellow" if changed else ""),
                      Text(str(failed), style="red" if failed else ""), str(skipped),
                      Text("yes" if unreachable else "no", style="red" if unreachable else ""),
                      str(trips))
    return table


def phase_text(phases: dict[str, Any]) -> str:
    """`connect 0.052s, auth 0.031s, ..., batches 0.210s+0.015s, teardown 0.004s` (-vv)."""
    parts = []
    for name, value in phases.items():
        if isinstance(value, list):
            shown = "+".join(f"{v:.3f}s" for v in value) or "none"
        else:
            shown = f"{value:.3f}s"
        parts.append(f"{name.replace('_', ' ')} {shown}")
    return ", ".join(parts)


def controller_text(run: RunResult) -> str:
    """The controller's own cost (-v): process CPU seconds and peak RSS."""
    return (f"controller: {run.controller_cpu_s:.2f} s CPU (process time), "
            f"peak RSS {run.controller_max_rss_mb:.0f} MB, {len(run.hosts)} host(s)")


def recap_lines(run: RunResult) -> list[str]:
    """Plain text, Ansible's shape: `host : ok=3 changed=1 unreachable=0 failed=0 skipped=0`."""
    width = max((len(n) for n in run.hosts), default=0)
    return [
        f"{name:<{width}} : ok={ok} changed={changed} unreachable={int(unreachable)} "
        f"failed={failed} skipped={skipped} rescued={run.hosts[name].rescued} "
        f"ignored={run.hosts[name].ignored} round_trips={trips}"
        for name, ok, changed, failed, skipped, unreachable, trips in recap_rows(run)
    ]
