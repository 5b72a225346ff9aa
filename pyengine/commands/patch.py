"""`pyengine patch status [-i INVENTORY]`: pending updates per host, security count,
reboot-required — as a table or JSON. Read-only on the hosts except for refreshing the
package metadata when it is older than --cache-valid-time (use --no-refresh to avoid)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

import click

from pyengine.commands.inventory_option import inventory_option, inventory_paths
from pyengine.commands.vault_options import vault_from_options, vault_options
from pyengine.errors import EXIT_TASK_FAILED, EXIT_UNREACHABLE
from pyengine.inventory import load_inventory
from pyengine.patching.render import print_details, print_table, to_json
from pyengine.patching.status import collect


@click.group()
def patch() -> None:
    """Patch management reports (the rollout itself is playbooks/patch.yml)."""


@patch.command()
@inventory_option
@click.option("-l", "--limit", default="all", show_default=True, help="Host pattern.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.option("-d", "--details", is_flag=True, help="Also list every pending package.")
@click.option("--json-file", type=click.Path(dir_okay=False, path_type=Path),
              help="Also write the JSON report to this file.")
@click.option("--refresh/--no-refresh", default=True, show_default=True,
              help="Refresh package metadata older than --cache-valid-time.")
@click.option("--cache-valid-time", default=3600, show_default=True,
              help="Seconds the package metadata counts as fresh.")
@click.option("--exclude", multiple=True, help="Glob of package names to report as excluded.")
@click.option("--apt-option", "apt_options", multiple=True, metavar="KEY=VALUE",
              help="apt configuration passed with -o (repeatable), e.g. a private sources "
                   "list; hosts' patch_apt_options variable adds to it.")
@click.option("-f", "--forks", default=10, show_default=True, help="Hosts asked at once.")
@click.option("--trust-new-hosts", is_flag=True,
              help="Record unknown SSH host keys (trust on first use).")
@vault_options
def status(inventories: tuple[str, ...], limit: str, as_json: bool, details: bool,
           json_file: Path | None,
           refresh: bool, cache_valid_time: int, exclude: tuple[str, ...],
           apt_options: tuple[str, ...], forks: int,
           trust_new_hosts: bool, **vault_opts: Any) -> None:
    """Show pending updates, security updates and reboot-required per host.

    The inventory variables `patch_exclude` and `patch_apt_options` (the ones
    playbooks/patch.yml uses) apply here too. Exit code 0 when every host answered,
    2 when the module failed on a host, 4 when a host was unreachable.
    """
    inventory = load_inventory(inventory_paths(inventories),
                               vault=vault_from_options(**vault_opts))
    args = {"update_cache": refresh, "cache_valid_time": cache_valid_time,
            "exclude": list(exclude), "apt_options": list(apt_options)}
    rows = collect(inventory, limit, args, forks=forks, trust_new_hosts=trust_new_hosts)
    text = to_json(rows)
    if json_file:
        json_file.write_text(text + "\n")
    if as_json:
        click.echo(text)
    else:
        print_table(rows)
        if details:
            print_details(rows)
    if any(r.status == "unreachable" for r in rows):
        sys.exit(EXIT_UNREACHABLE)
    if any(r.status == "failed" for r in rows):
        sys.exit(EXIT_TASK_FAILED)
