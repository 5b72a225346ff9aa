"""`pyengine persist status|stop`: the warm connections of `run --persist`."""

from __future__ import annotations

import click

from pyengine.errors import PyengineError


@click.group("persist")
def persist() -> None:
    """List or close the warm SSH connections and agents kept by `run --persist`."""


@persist.command("status")
def status() -> None:
    """One line per warm connection: host, login, agents and the time left."""
    from pyengine.persist.client import ask
    from pyengine.persist.duration import format_duration

    try:
        reply = ask({"op": "status"})
    except OSError:
        click.echo("no warm connections (no owner process)")
        return
    rows = reply.get("connections") or []
    click.echo(f"owner pid {reply.get('pid')}: {len(rows)} warm connection(s)")
    for row in rows:
        agents = ", ".join(
            f"{a['as']} ({'busy' if a['busy'] else format_duration(a['expires_in']) + ' left'})"
            for a in row.get("agents") or []) or "no agent"
        state = "up" if row.get("up") else "down"
        click.echo(f"{row['host']}  {row['show']}  {state}, "
                   f"{format_duration(row['expires_in'])} left; agents: {agents}")


@persist.command("stop")
def stop() -> None:
    """Close every warm connection now (each agent is told to exit) and end the owner."""
    import os
    import time

    from pyengine.persist.client import ask

    try:
        reply = ask({"op": "stop"})
    except OSError:
        click.echo("no warm connections (no owner process)")
        return
    pid = int(reply.get("pid") or 0)
    deadline = time.monotonic() + 15.0
    while pid and time.monotonic() < deadline:
        try:
            os.kill(pid, 0)  # the owner runs as this user: asking is allowed
        except ProcessLookupError:
            click.echo(f"stopped (owner pid {pid})")
            return
        time.sleep(0.1)
    raise PyengineError(f"persist: the owner (pid {pid}) did not stop within 15s")
