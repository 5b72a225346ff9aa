"""`pyengine backup log|diff|drift|restore`: read the config history, put a file back."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import click
import yaml

from pyengine.backup.store import BackupStore, symlink_target
from pyengine.commands.inventory_option import inventory_option

REPO_OPTION = click.option(
    "--repo", type=click.Path(file_okay=False, path_type=Path), default=Path("config-backup"),
    show_default=True, help="The backup repository.",
)


@click.group()
def backup() -> None:
    """Configuration backups in git: history, drift and restore."""


@backup.command()
@click.argument("host")
@REPO_OPTION
@click.option("-n", "--last", default=20, show_default=True, help="How many commits.")
def log(host: str, repo: Path, last: int) -> None:
    """The backup commits that touched HOST, newest first."""
    for commit in BackupStore(repo, create=False).log(host, limit=last):
        paths = ", ".join(commit.hosts.get(host, []))
        click.echo(f"{commit.rev[:10]}  {commit.date}  {paths}")


@backup.command()
@click.argument("host")
@REPO_OPTION
@click.option("--since", default=None, help="A revision or a date (default: previous backup).")
def diff(host: str, repo: Path, since: str | None) -> None:
    """What changed in HOST's configuration (unified diff)."""
    text = BackupStore(repo, create=False).diff(host, since=since)
    click.echo(text.rstrip() if text else f"{host}: no change")


@backup.command()
@REPO_OPTION
@click.option("--since", default=None, help="Compare with this revision (default: last run).")
def drift(repo: Path, since: str | None) -> None:
    """Hosts whose configuration changed in the last backup run (or since a revision)."""
    store = BackupStore(repo, create=False)
    base = store.resolve_since(since) if since else None
    changes = store.drift(base)
    if not changes:
        click.echo("no drift")
    for host, paths in sorted(changes.items()):
        click.echo(f"{host}: {', '.join(paths)}")


@backup.command()
@click.argument("host")
@click.argument("path")
@REPO_OPTION
@click.option("--rev", default="HEAD", show_default=True, help="Revision to restore from.")
@inventory_option
@click.option("-C", "--check", is_flag=True, help="Show what would change; change nothing.")
@click.option("-D", "--diff", "show_diff", is_flag=True, help="Show the difference.")
@click.option("--trust-new-hosts", is_flag=True, help="Record unknown host keys (TOFU).")
def restore(host: str, path: str, repo: Path, rev: str, inventories: tuple[str, ...],
            check: bool, show_diff: bool, trust_new_hosts: bool) -> None:
    """Put PATH on HOST back as it was at REV, atomically (owner and mode kept)."""
    from pyengine.commands.main import main as pyengine_main
    from pyengine.errors import PyengineError
    from pyengine.masking import MASK

    if any(ch in host for ch in "*?[],:!&~") or host in ("all", "ungrouped"):
        raise PyengineError(
            f"backup restore takes one host name, not a pattern ({host!r}): each host's file "
            "is its own, so restore them one host at a time")
    store = BackupStore(repo, create=False)
    content = store.show(host, path, rev=rev)
    if MASK.encode() in content:
        raise PyengineError(
            f"{host}:{path} at {rev} holds masked secrets ({MASK}); restoring it would write the "
            "mask: deploy that file from its template instead"
        )
    with tempfile.TemporaryDirectory(prefix="pyengine-restore-") as tmp:
        source = Path(tmp) / "content"
        source.write_bytes(content)
        playbook = Path(tmp) / "restore.yml"
        playbook.write_text(yaml.safe_dump([{
            "name": f"Restore {path} on {host} from backup {rev}",
            "hosts": host,
            "gather_facts": False,
            "tasks": [_restore_task(path, content, source)],
        }], sort_keys=False))
        argv = ["run", str(playbook), "--limit", host]
        for inventory in inventories:
            argv += ["-i", inventory]
        if check:
            argv.append("--check")
        if show_diff:
            argv.append("--diff")
        if trust_new_hosts:
            argv.append("--trust-new-hosts")
        try:
            pyengine_main(argv)
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
    if code == 0 and not check:
        # Record the restore, so the repository's newest state is the host's state again
        # and the next backup shows no drift.
        _record_restore(store, host, path, content, rev)
    sys.exit(code)


def _restore_task(path: str, content: bytes, source: Path) -> dict[str, object]:
    """A copy of the file, or the symlink itself when the backup recorded a link (backup
    keeps a link as the one line `symlink -> TARGET`): a restore must not turn a link
    into a regular file holding that text."""
    link = symlink_target(content)
    if link is not None:
        return {"name": f"restore {path} (symlink to {link})",
                "file": {"src": link, "dest": path, "state": "link", "force": True}}
    return {"name": f"restore {path}", "copy": {"src": str(source), "dest": path}}


def _record_restore(store: BackupStore, host: str, path: str, content: bytes, rev: str) -> None:
    from pyengine.backup.store import host_relpath

    target = store.find_host_dir(host) / host_relpath(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(content)
    info = store.commit(run_label=f"restore {host}:{path} from {rev[:12]}")
    if info:
        click.echo(f"recorded the restore as backup commit {info.rev[:10]}")
