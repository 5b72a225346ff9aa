"""`pyengine check-syntax PLAYBOOK [-i INVENTORY]`: everything a run checks before it
connects, without connecting: keywords, modules, module arguments, templates,
roles, imported files, handler names, and (with -i) that each play selects hosts."""

from __future__ import annotations

from typing import Any

import click

from pyengine.errors import PlaybookError, PlaybookErrors


@click.command("check-syntax")
@click.argument("playbooks", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("-i", "--inventory", "inventories", multiple=True,
              help="Also load this inventory and check each play's host pattern.")
def check_syntax(playbooks: tuple[str, ...], inventories: tuple[str, ...], **vault_opts: Any
                 ) -> None:
    """Validate playbooks (and an inventory) without connecting to anything."""
    from pyengine.commands.ansible_flags import playbook_path
    from pyengine.commands.vault_options import vault_from_options
    from pyengine.content.ansible_config import current_config
    from pyengine.inventory import load_inventory
    from pyengine.inventory.patterns import unmatched_terms
    from pyengine.playbook import load_playbook, walk

    vault = vault_from_options(**vault_opts)
    errors: list[PlaybookError] = []
    loaded = []
    for line in current_config().warnings:
        click.echo(f"warning: {line}", err=True)
    for path in map(playbook_path, playbooks):
        try:
            loaded.append(load_playbook(path, vault=vault))
        except PlaybookErrors as err:
            errors.extend(err.errors)
        except PlaybookError as err:
            errors.append(err)
    inv = None
    if inventories:
        try:
            inv = load_inventory(list(inventories), vault=vault)
        except PlaybookError as err:
            errors.append(err)
    if errors:
        # One line per problem, each on its own "error:" line, then the count.
        flat: list[PlaybookError] = []
        for problem in errors:
            flat.extend(problem.errors if isinstance(problem, PlaybookErrors) else [problem])
        for problem in flat[:-1]:
            click.echo(f"error: {PlaybookError.__str__(problem)}", err=True)
        last = flat[-1]
        raise PlaybookError(f"{last.message}{last.hint}" + (
            f"\n{len(flat)} problems found; nothing was run" if len(flat) > 1 else ""),
            last.file, last.line, last.column)
    for book in loaded:
        for warning in book.warnings:
            click.echo(f"warning: {warning}", err=True)
        tasks = 0
        for play in book.plays:
            tasks += sum(len(walk(part)) for part in (play.pre_tasks, play.roles, play.tasks,
                                                      play.post_tasks))
            if inv is not None and "{{" not in play.hosts:
                for term in unmatched_terms(inv, play.hosts):
                    click.echo(f"warning: {play.origin}: hosts pattern '{term}' matches no "
                               f"host or group", err=True)
        click.echo(f"{book.path}: ok ({len(book.plays)} play(s), {tasks} task(s))")


def _with_vault(command: click.Command) -> click.Command:
    from pyengine.commands.vault_options import vault_options

    return vault_options(command)  # type: ignore[no-any-return]


check_syntax = _with_vault(check_syntax)
