"""`pyengine run PLAYBOOK`: load and validate everything, then run it on the hosts.

Nothing connects before the playbook, inventory, variables files and module
arguments have all been checked (every problem is listed, exit 3). Without
`-i` the running default lab is the target (`pyengine lab up`).
"""

from __future__ import annotations

import signal
import sys
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from pyengine.commands.ansible_flags import ansible_options
from pyengine.commands.inventory_option import inventory_option
from pyengine.commands.run_options import record_options
from pyengine.commands.vault_options import vault_from_options, vault_options
from pyengine.errors import EXIT_INTERRUPTED, PlaybookError, PlaybookErrors, PyengineError
from pyengine.paths import expand_user


def parse_extra_vars(values: tuple[str, ...], vault: Any = None) -> dict[str, Any]:
    """-e k=v, -e @file.yml (vault-encrypted or holding !vault values), -e '{"json": 1}' /
    YAML mapping; later ones win."""
    from pyengine.modspec import parse_kv
    from pyengine.yamlload import load_yaml, load_yaml_text

    out: dict[str, Any] = {}
    for value in values:
        text = value.strip()
        if text.startswith("@"):
            data = load_yaml(expand_user(text[1:]), vault)
            if data is None:
                continue
            if not isinstance(data, dict):
                raise PlaybookError("extra vars file must hold a mapping", text[1:])
            out.update(data)
        elif text.startswith(("{", "---")):
            data = load_yaml_text(text, "-e")
            if not isinstance(data, dict):
                raise PlaybookError("extra vars must be a mapping", "-e")
            out.update(data)
        elif text:
            data, _ = parse_kv(text, None)
            if not data:
                raise PlaybookError(f"cannot read extra vars {text!r} (use k=v, @file or JSON)",
                                    "-e")
            out.update(data)
    return out


def _inventory_paths(given: tuple[str, ...], configured: list[str] | None = None
                     ) -> list[str]:
    from pyengine.commands.inventory_option import inventory_paths

    return inventory_paths(given, configured or [])


def _split_tags(values: tuple[str, ...]) -> set[str]:
    return {t.strip() for v in values for t in v.split(",") if t.strip()}


@click.command("run")
@click.argument("playbooks", nargs=-1, required=True, type=click.Path(dir_okay=False),
                metavar="PLAYBOOK...")
@inventory_option
@click.option("-l", "--limit", default=None, help="Only hosts matching this pattern.")
@click.option("-t", "--tags", multiple=True, help="Only tasks with these tags (comma list).")
@click.option("--skip-tags", multiple=True, help="Skip tasks with these tags (comma list).")
@click.option("-C", "--check", is_flag=True, help="Report what would change; change nothing.")
@click.option("-D", "--diff", is_flag=True, help="Show the differences of changed files.")
@click.option("-e", "--extra-vars", "extra", multiple=True, metavar="K=V|@FILE|JSON",
              help="Extra variables (highest precedence); repeatable.")
@click.option("-f", "--forks", default=None, type=click.IntRange(1, 1000),
              help="Hosts run at the same time (default: ansible.cfg's forks, else 50).")
@click.option("-v", "--verbose", "verbosity", count=True,
              help="-v shows every task's result, -vv also each batch (round trip).")
@click.option("--report-json", type=click.Path(dir_okay=False), default=None,
              help="Write the whole result as JSON (schema in docs/ARCHITECTURE.md).")
@click.option("--trust-new-hosts", is_flag=True,
              help="Trust-on-first-use: record unknown SSH host keys (changed keys are "
                   "always refused).")
@click.option("-K", "--ask-become-pass", is_flag=True, help="Prompt for the sudo password.")
@ansible_options
@record_options
@vault_options
def run(playbooks: tuple[str, ...], inventories: tuple[str, ...], limit: str | None,
        tags: tuple[str, ...], skip_tags: tuple[str, ...], check: bool, diff: bool,
        extra: tuple[str, ...], forks: int | None, verbosity: int, report_json: str | None,
        trust_new_hosts: bool, ask_become_pass: bool, **vault_opts: Any) -> None:
    """Run PLAYBOOK(s) on their hosts (exit 0 ok, 2 a task failed, 4 a host unreachable).

    ansible.cfg and ANSIBLE_* settings that map onto pyengine's apply (see
    docs/PLAYBOOKS.md); the ones it cannot use are named in a warning."""
    from pyengine.commands.ansible_flags import (
        apply_to_playbook,
        become_method_warnings,
        connection_defaults,
        playbook_path,
        split_ansible_options,
        ssh_args_warnings,
    )
    from pyengine.commands.records import prefetch_git_revision, write_records
    from pyengine.commands.run_options import (
        persist_seconds,
        record_settings,
        scap_extra_vars,
        split_record_options,
    )
    from pyengine.content.ansible_config import current_config
    from pyengine.executor.contracts import RunOptions
    from pyengine.executor.run import Interrupted, run_playbook
    from pyengine.masking import register_secret
    from pyengine.report.compliance_summary import print_summary
    from pyengine.report.console import ConsoleReporter
    from pyengine.report.quiet import QuietReporter
    from pyengine.runlock import default_lock_path, run_lock

    flags = split_ansible_options(vault_opts)
    config = current_config()
    playbooks = tuple(playbook_path(name) for name in playbooks)
    for line in [*config.warnings, *become_method_warnings(flags, config),
                 *ssh_args_warnings("--ssh-common-args", flags.ssh_common_args
                                    or config.ssh_common_args),
                 *ssh_args_warnings("--ssh-extra-args", flags.ssh_extra_args
                                    or config.ssh_extra_args)]:
        click.echo(f"pyengine: warning: {line}", err=True)
    record_opts = split_record_options(vault_opts)
    # ansible.cfg's vault settings add to the options, as in Ansible.
    if config.vault_password_file:
        vault_opts["vault_password_files"] = (*vault_opts.get("vault_password_files", ()),
                                              config.vault_password_file)
    if config.vault_identity_list:
        vault_opts["vault_ids"] = (*config.vault_identity_list,
                                   *vault_opts.get("vault_ids", ()))
    vault = vault_from_options(**vault_opts)
    extra = (*scap_extra_vars(record_opts), *extra)  # -e given by the user still wins
    ssh_password = None
    if (flags.ask_pass if flags.ask_pass is not None else config.ask_pass) and \
            not flags.listing:
        ssh_password = click.prompt("SSH password", hide_input=True, err=True)
        register_secret(ssh_password)
    loaded: list[Any] = []
    sources, book = prepare(playbooks, inventories, limit, extra, trust_new_hosts, vault,
                            defaults=connection_defaults(flags, config, ssh_password),
                            configured_inventory=config.inventory, loaded=loaded)
    book = apply_to_playbook(book, flags, config)
    if flags.listing:
        _print_listing(book, [len(b.plays) for b in loaded], playbooks, sources, flags,
                       _split_tags(tags), _split_tags(skip_tags))
        return
    playbook = playbooks[0]
    records = record_settings(record_opts, report_json, list(inventories), Path(playbook))
    if records.history_db:
        prefetch_git_revision(records.playbook_dir)  # off the critical path (issue 17)
    become_password = None
    if ask_become_pass or config.become_ask_pass:
        become_password = click.prompt("BECOME password", hide_input=True, err=True)
        register_secret(become_password)
    if forks is None:
        forks = config.forks or 50
    options = RunOptions(check=check, diff=diff, tags=_split_tags(tags),
                         skip_tags=_split_tags(skip_tags), forks=forks, verbosity=verbosity,
                         limit=limit,
                         extra_vars=sources.vm.extra_vars, become_password=become_password)
    reporter = (QuietReporter if record_opts.get("quiet") else ConsoleReporter)(
        verbosity=verbosity, show_diff=diff)
    options.persist = persist_seconds(record_opts, reporter.message if verbosity else None,
                                      config)

    def clients(run: Any) -> dict[str, str]:
        return host_clients(sources, run.hosts)

    def warn(text: str) -> None:
        click.echo(f"pyengine: {text}", err=True)

    def waivers(run: Any) -> dict[str, list[dict[str, str]]]:
        return host_waivers(sources, run.hosts, warn)

    lock = run_lock(default_lock_path(), playbook) if record_opts.get("lock") else nullcontext()
    with lock:
        # systemd stops the nightly job with SIGTERM: the same clean stop as Ctrl-C.
        signal.signal(signal.SIGTERM, _terminate_as_interrupt)
        result = None
        try:
            result = run_playbook(book, sources, options, reporter)
            _ignore_further_signals()  # the run is over: its records must not be cut short
        except KeyboardInterrupt:
            # Landed after the run had finished, before the line above: record it whole.
            _ignore_further_signals()
            if result is None:
                raise
        except Interrupted as stop:
            _ignore_further_signals()  # the records of the interrupted run get written
            reporter.close()
            mid = ", ".join(f"{h} ({t})" for h, t in sorted(stop.mid_task.items())) or "none"
            click.echo(f"interrupted: hosts mid-task: {mid}", err=True)
            reporter.print_recap(stop.result)
            write_records(stop.result, EXIT_INTERRUPTED, records, clients(stop.result), warn,
                          waivers(stop.result))
            sys.exit(EXIT_INTERRUPTED)
        report = write_records(result, result.exit_code, records, clients(result), warn,
                               waivers(result))
    if not record_opts.get("quiet"):
        # Controls tagged with an id: the fleet on one screen (scores, failing controls
        # over the hosts, waivers); `pyengine compliance REPORT --host H` has the rest.
        print_summary(report, report_path=report_json)
    sys.exit(result.exit_code)


def host_clients(sources: Any, hosts: Any) -> dict[str, str]:
    """Each host's client (records.client_of). Only the hosts of this run: resolving every
    inventory host's variables would cost a full variable merge per host of a large
    inventory. Shared with `pyengine worker`, which records its jobs the same way."""
    from pyengine.commands.records import client_of

    return {name: client_of(sources.inventory.group_names(name),
                            sources.inventory_vars(name)) for name in hosts}


def host_waivers(sources: Any, hosts: Any, warn: Any) -> dict[str, list[dict[str, str]]]:
    """baseline_waivers from group_vars/host_vars (report/compliance_waivers.py)."""
    from pyengine.report.compliance_waivers import WAIVERS_VAR, normalize_waivers

    out: dict[str, list[dict[str, str]]] = {}
    for name in hosts:
        found, problems = normalize_waivers(sources.inventory_vars(name).get(WAIVERS_VAR))
        for problem in problems:
            warn(f"{name}: {problem} (not a waiver; the control counts as failed)")
        if found:
            out[name] = found
    return out


def _print_listing(book: Any, sizes: list[int], playbooks: tuple[str, ...], sources: Any,
                   flags: Any, tags: set[str], skip_tags: set[str]) -> None:
    """--list-hosts/--list-tasks/--list-tags/--syntax-check: print, run nothing."""
    from pyengine.commands.listing import render
    from pyengine.executor.selection import task_selected

    if flags.list_tags and not (tags or skip_tags):
        def selected(task: Any) -> bool:
            return True  # listing tags without --tags shows every tag, `never` too
    else:
        def selected(task: Any) -> bool:
            return task_selected(task, tags, skip_tags)
    # The merged playbook holds every file's plays in order (--start-at-task may have
    # dropped some from the front); list them per file.
    dropped = sum(sizes) - len(book.plays)
    start = 0
    for name, size in zip(playbooks, sizes, strict=True):
        skip = min(dropped, size)
        dropped -= skip
        count = size - skip
        if not (flags.list_hosts or flags.list_tasks or flags.list_tags):
            click.echo(f"\nplaybook: {name}")
            continue
        part = type(book)(path=Path(name), plays=book.plays[start:start + count])
        start += count
        click.echo(render(part, sources.play_hosts, hosts=flags.list_hosts,
                          tasks=flags.list_tasks, tags=flags.list_tags, selected=selected))


def _project_folders(inventory_paths: list[str], book: Any) -> list[Path]:
    """The folders whose group_vars/, host_vars/ and vars/ belong to this run."""
    folders = [Path(p) if Path(p).is_dir() else Path(p).parent
               for p in inventory_paths if Path(p).exists()]
    folders += [Path(play.basedir) for play in book.plays]
    return folders


def _terminate_as_interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def _ignore_further_signals() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)


def prepare(playbooks: tuple[str, ...] | str, inventories: tuple[str, ...], limit: str | None,
            extra: tuple[str, ...], trust_new_hosts: bool, vault: Any,
            defaults: dict[str, Any] | None = None,
            configured_inventory: list[str] | None = None,
            loaded: list[Any] | None = None) -> tuple[Any, Any]:
    """Load and check the playbooks, inventory and extra vars (raises PlaybookErrors).
    Several playbooks run as one, their plays in order (as ansible-playbook a.yml b.yml)."""
    from pyengine.commands.ansible_flags import merge_playbooks
    from pyengine.executor.sources import InventorySources
    from pyengine.inventory import load_inventory
    from pyengine.inventory.patterns import select
    from pyengine.playbook.loader import load_playbook
    from pyengine.vars import VariableManager
    from pyengine.vault.project import register_project_secrets

    names = (playbooks,) if isinstance(playbooks, str) else playbooks
    errors: list[PlaybookError] = []
    books = []
    for name in names:
        if not Path(name).is_file():
            errors.append(PlaybookError("playbook not found", name))
            continue
        try:
            books.append(load_playbook(Path(name), vault))
        except PlaybookErrors as err:
            errors.extend(err.errors)
    if errors:
        raise PlaybookErrors(errors) if len(errors) > 1 else errors[0]
    if loaded is not None:
        loaded.extend(books)  # the caller lists them per file
    book = merge_playbooks(books)
    path = Path(names[0])
    extra_vars = parse_extra_vars(extra, vault)
    inventory_paths = _inventory_paths(inventories, configured_inventory)
    inventory = load_inventory(inventory_paths, vault, playbook_dir=path.resolve().parent)
    # Every vaulted value of the project is masked, also in runs that do not load it.
    register_project_secrets(_project_folders(inventory_paths, book), vault)
    variables = VariableManager(inventory, extra_vars, vault, defaults=defaults)
    sources = InventorySources(inventory, variables, limit=limit,
                               trust_new_hosts=trust_new_hosts, vault=vault)
    sources.set_playbook_dir(path.resolve().parent)
    for play in book.plays:
        sources.set_playbook_dir(play.basedir)
    if limit and not select(inventory, limit):
        raise PyengineError(f"--limit {limit!r} matches no host of the inventory")
    # vars_files are resolved per host: a missing one is an input error, found before
    # anything connects.
    problems: list[PlaybookError] = []
    for play in book.plays:
        for host in sources.play_hosts(play):
            try:
                variables.get_vars(host, play)
            except PlaybookError as err:
                if str(err) not in {str(p) for p in problems}:
                    problems.append(err)
    if problems:
        raise PlaybookErrors(problems)
    return sources, book
