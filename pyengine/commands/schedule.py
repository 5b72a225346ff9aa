"""`pyengine schedule install|status|remove`: the nightly job under systemd or cron."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import click

from pyengine.errors import PyengineError
from pyengine.schedule.units import Schedule, cron_entry, service_unit, timer_unit


def _has_systemd(root: Path) -> bool:
    return (root / "run" / "systemd" / "system").is_dir()


def _pyengine_argv() -> list[str]:
    found = shutil.which("pyengine")
    return [found] if found else [sys.executable, "-m", "pyengine"]


def _paths(root: Path, name: str) -> dict[str, Path]:
    unit_dir = root / "etc" / "systemd" / "system"
    return {
        "service": unit_dir / f"{name}.service",
        "timer": unit_dir / f"{name}.timer",
        "cron": root / "etc" / "cron.d" / name,
    }


def _write(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.chmod(0o644)
    tmp.replace(path)


def _systemctl(*args: str) -> None:
    proc = subprocess.run(["systemctl", *args], capture_output=True, text=True)
    if proc.returncode != 0:
        raise PyengineError(f"systemctl {' '.join(args)} failed: {proc.stderr.strip()}")


NAME_OPTION = click.option("--name", default="pyengine-nightly", show_default=True,
                           help="Name of the timer and service (or cron file).")
ROOT_OPTION = click.option("--root", type=click.Path(file_okay=False, path_type=Path),
                           default=Path("/"), help="The root the units were installed under.")


@click.group()
def schedule() -> None:
    """Run a playbook every night with a lock, logging to the journal or a file."""


@schedule.command()
@click.option("--at", "at", default="02:00", show_default=True, help="Time of day, HH:MM.")
@click.option("--playbook", default="playbooks/nightly.yml", show_default=True)
@click.option("-i", "--inventory", "inventories", multiple=True, help="Inventory file(s).")
@NAME_OPTION
@click.option("--init", "init", type=click.Choice(["auto", "systemd", "cron"]), default="auto",
              show_default=True, help="Scheduler to use; auto picks systemd when it runs.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"),
              help="Install under this root (for packaging or inspection; implies --no-enable).")
@click.option("--enable/--no-enable", default=True, help="Enable and start the timer now.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="EnvironmentFile for secrets such as PYENGINE_VAULT_PASSWORD_FILE.")
@click.option("--submit", "submit", is_flag=True,
              help="Submit the nightly run to the workers (pyengine submit --wait) instead "
                   "of running it here; broker and history from the env file.")
@click.option("--split", default="site", show_default=True, metavar="client|site|N",
              help="With --submit: how the hosts are split into jobs.")
def install(at: str, playbook: str, inventories: tuple[str, ...], name: str, init: str,
            root: Path, enable: bool, env_file: Path | None, submit: bool, split: str) -> None:
    """Write (and enable) the timer and service, or a cron entry without systemd."""
    project = Path.cwd()
    report = str(project / ".pyengine" / f"{name}.json")
    if submit:
        if not inventories:
            raise PyengineError("schedule install --submit needs -i INVENTORY")
        command = [*_pyengine_argv(), "submit", playbook, "--split", split, "--wait",
                   "--report-json", report]
    else:
        command = [*_pyengine_argv(), "run", str(project / playbook), "--lock", "--quiet",
                   "--report-json", report]
    for inventory in inventories:
        command += ["-i", str(Path(inventory).resolve())]
    sched = Schedule(at=at, project_dir=project, command=command, name=name,
                     environment_file=env_file)
    use_systemd = init == "systemd" or (init == "auto" and _has_systemd(root))
    paths = _paths(root, name)
    live = root == Path("/") and enable
    if use_systemd:
        _write(paths["service"], service_unit(sched))
        _write(paths["timer"], timer_unit(sched))
        if live:
            _systemctl("daemon-reload")
            _systemctl("enable", "--now", f"{name}.timer")
        click.echo(f"installed {paths['timer']} and {paths['service']} (daily at {at})")
    else:
        _write(paths["cron"], cron_entry(sched))
        click.echo(f"installed {paths['cron']} (daily at {at})")


@schedule.command("install-worker")
@click.option("--site", default=None, metavar="NAME", help="The site queue this worker takes.")
@click.option("--root", type=click.Path(file_okay=False, path_type=Path), default=Path("/"),
              help="Install under this root (for packaging or inspection; implies --no-enable).")
@click.option("--enable/--no-enable", default=True, help="Enable and start the service now.")
@click.option("--env-file", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="EnvironmentFile: PYENGINE_BROKER, PYENGINE_HISTORY_DB, "
                   "PYENGINE_VAULT_PASSWORD_FILE (this machine's own secrets).")
def install_worker(site: str | None, root: Path, enable: bool, env_file: Path | None) -> None:
    """Write (and start) a systemd service running `pyengine worker` in this checkout."""
    from pyengine.schedule.units import worker_unit

    name = f"pyengine-worker-{site}" if site else "pyengine-worker"
    command = [*_pyengine_argv(), "worker", "--name", name]
    if site:
        command += ["--site", site]
    path = root / "etc" / "systemd" / "system" / f"{name}.service"
    _write(path, worker_unit(Path.cwd(), command, name, environment_file=env_file))
    if root == Path("/") and enable:
        _systemctl("daemon-reload")
        _systemctl("enable", "--now", f"{name}.service")
    click.echo(f"installed {path}")


@schedule.command()
@NAME_OPTION
@ROOT_OPTION
def status(name: str, root: Path) -> None:
    """Say what is installed and, under systemd, when it runs next."""
    paths = _paths(root, name)
    if paths["timer"].exists():
        click.echo(f"systemd timer {paths['timer']}")
        if root == Path("/") and _has_systemd(root):
            proc = subprocess.run(["systemctl", "list-timers", "--all", "--no-pager",
                                   f"{name}.timer"], capture_output=True, text=True)
            click.echo(proc.stdout.rstrip())
    elif paths["cron"].exists():
        click.echo(f"cron entry {paths['cron']}:")
        click.echo(paths["cron"].read_text().rstrip())
    else:
        click.echo(f"{name}: not scheduled")


@schedule.command()
@NAME_OPTION
@ROOT_OPTION
def remove(name: str, root: Path) -> None:
    """Disable and delete the timer, service or cron entry."""
    paths = _paths(root, name)
    if paths["timer"].exists() and root == Path("/") and _has_systemd(root):
        _systemctl("disable", "--now", f"{name}.timer")
    removed = [p for p in paths.values() if p.exists()]
    for path in removed:
        path.unlink()
    if removed and root == Path("/") and _has_systemd(root):
        _systemctl("daemon-reload")
    click.echo("removed " + ", ".join(map(str, removed)) if removed else f"{name}: not scheduled")
