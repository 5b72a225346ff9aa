"""`pyengine health [-i INV] [-l PATTERN]`: the health checks on demand, as a table.

The same `health` module and `health_*` variables as playbooks/health.yml and the
nightly step, one agent exchange per host, hosts in parallel. Read-only: nothing is
recorded (trends and alerts belong to the nightly run's history).
"""

from __future__ import annotations

import json
import sys
from typing import Any

import click

from pyengine.commands.inventory_option import inventory_option, inventory_paths
from pyengine.commands.vault_options import vault_from_options, vault_options
from pyengine.errors import EXIT_TASK_FAILED, EXIT_UNREACHABLE

STATE_STYLE = {"ok": "green", "warn": "yellow", "crit": "red", "failed": "red",
               "unreachable": "magenta", "skipped": "bright_black"}


def table_lines(rows: list[Any], every: bool = False) -> list[tuple[str, str]]:
    """(text, state) lines of the table: each host, then its checks that are not ok (all
    of them with `every`), worst first."""
    rank = {"crit": 0, "warn": 1, "ok": 2}
    width = max([len(r.host) for r in rows] + [4])
    lines = [(f"{'HOST':<{width}}  {'STATE':<11}  {'TIME':>5}  DETAIL", "")]
    for r in rows:
        bad = sorted(((c, s) for c, s in r.summary.items() if every or s["state"] != "ok"),
                     key=lambda cs: (rank.get(cs[1]["state"], 3), cs[0]))
        problems = sum(1 for s in r.summary.values() if s["state"] != "ok")
        first = f"{problems} of {len(r.summary)} checks need attention" if problems else (
            f"{len(r.summary)} checks ok" if r.summary else r.msg)
        lines.append((f"{r.host:<{width}}  {r.state:<11}  {r.seconds:>4.1f}s  {first}",
                      r.state))
        for check, info in bad:
            lines.append((f"{'':<{width}}  {'':<11}  {'':>5}  {info['state']:<4} {check}: "
                          f"{info['reason']}", info["state"]))
    return lines


@click.command()
@inventory_option
@click.option("-l", "--limit", default="all", show_default=True, help="Host pattern.")
@click.option("-a", "--all", "every", is_flag=True, help="Show every check, not only problems.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("--skip", multiple=True, help="Checks switched off (repeatable; adds to "
                                            "health_skip).")
@click.option("-f", "--forks", default=20, show_default=True, help="Hosts asked at once.")
@click.option("--trust-new-hosts", is_flag=True,
              help="Record unknown SSH host keys (trust on first use).")
@vault_options
def health(inventories: tuple[str, ...], limit: str, every: bool, as_json: bool,
           skip: tuple[str, ...], forks: int, trust_new_hosts: bool,
           **vault_opts: Any) -> None:
    """Run the health checks on the hosts now and print what needs attention.

    Thresholds are the hosts' health_* variables (see playbooks/health.yml). Exit code
    0 when every host answered (whatever its state), 2 when the module failed on a host,
    4 when a host was unreachable.
    """
    from pyengine.health.remote import collect
    from pyengine.inventory import load_inventory

    inventory = load_inventory(inventory_paths(inventories),
                               vault=vault_from_options(**vault_opts))
    skipped = [s for item in skip for s in item.split(",") if s]
    rows = collect(inventory, limit, skipped, forks=forks, trust_new_hosts=trust_new_hosts)
    if as_json:
        click.echo(json.dumps([r.as_dict() for r in rows], indent=2, sort_keys=True))
    else:
        for text, state in table_lines(rows, every):
            click.secho(text, fg=STATE_STYLE.get(state), bold=not state)
    if any(r.state == "unreachable" for r in rows):
        sys.exit(EXIT_UNREACHABLE)
    if any(r.state == "failed" for r in rows):
        sys.exit(EXIT_TASK_FAILED)
