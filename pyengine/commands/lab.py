"""`pyengine lab up|status|reset|down|inventory-path`: the lab from the terminal."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import click

from pyengine.errors import LabError
from pyengine.lab.config import DEFAULT_NAME, DEFAULT_OCTET
from pyengine.lab.lab import Lab
from pyengine.lab.releases import DEFAULT_RELEASE, RELEASE_HELP, assign_releases, parse_release_spec

_name = click.option("--name", default=DEFAULT_NAME, show_default=True,
                     help="Lab name; several labs can run at once.")
_octet = click.option("--octet", type=int, default=DEFAULT_OCTET, show_default=True,
                      help="Hosts get 127.0.<octet>.N.")


def _lab_options(func: Callable[..., Any]) -> Callable[..., Any]:
    return _name(_octet(func))


def _say(msg: str) -> None:
    click.echo(msg, err=True)


@click.group()
def lab() -> None:
    """Disposable Debian 11, 12 and 13 hosts on this machine (needs root)."""


@lab.command()
@_lab_options
@click.option("-n", "count", type=int, default=None,
              help="Number of hosts.  [default: 3, or the sum of --release counts]")
@click.option("--delay-ms", type=int, default=0, show_default=True,
              help="Added latency per direction on SSH traffic (a WAN round trip adds 2x).")
@click.option("--release", "release", default=DEFAULT_RELEASE, show_default=True,
              help=RELEASE_HELP)
@click.option("--light", is_flag=True,
              help="Light hosts: sshd as the only process, no systemd (no systemctl); "
                   "no inotify instance each, so up to 254 hosts for scale tests.")
def up(name: str, octet: int, count: int | None, delay_ms: int, release: str,
       light: bool) -> None:
    """Bring the lab up (a second call only checks it)."""
    started = time.monotonic()
    spec = parse_release_spec(release)
    count = count if count is not None else spec.total or 3
    the_lab = Lab(name, octet)
    the_lab.up(count, delay_ms, log=_say, releases=assign_releases(spec, count), light=light)
    _say(f"ready in {time.monotonic() - started:.1f} s; inventory: {the_lab.inventory_path}")


@lab.command()
@_lab_options
def status(name: str, octet: int) -> None:
    """Show the lab's hosts and whether they run."""
    st = Lab(name, octet).status()
    if st.octet is None:
        click.echo(f"lab {name}: down")
        return
    if st.up:
        state = "up"
    elif st.daemon_pid:
        state = "degraded"
    elif any(h.pid for h in st.hosts):
        state = "broken: its daemon is gone (`lab up` or `lab down` repairs it)"
    else:
        state = "down"
    click.echo(f"lab {name}: {state} ({st.kind}, 127.0.{st.octet}.x, delay {st.delay_ms} ms, "
               f"daemon pid {st.daemon_pid or '-'})")
    for host in st.hosts:
        click.echo(f"  {host.name:<5} {host.address}:{host.port:<3} {host.state:<8} "
                   f"{host.release:<9} pid {host.pid or '-'}  boots {host.boots}")


@lab.command()
@_lab_options
def reset(name: str, octet: int) -> None:
    """Return every host to pristine (wipe its changes, boot it again)."""
    Lab(name, octet).reset(log=_say)


@lab.command()
@_lab_options
def down(name: str, octet: int) -> None:
    """Stop the lab's processes and remove its state."""
    Lab(name, octet).down(log=_say)


@lab.command("inventory-path")
@_lab_options
def inventory_path(name: str, octet: int) -> None:
    """Print the path of the lab's generated inventory file."""
    path = Lab(name, octet).inventory_path
    if not path.is_file():
        raise LabError(f"lab {name} has no inventory ({path}): run `pyengine lab up --name {name}`")
    click.echo(str(path))
