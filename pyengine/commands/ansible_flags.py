"""The ansible-playbook flags people type, on `pyengine run`, and ansible.cfg behind them.

Each flag lands where Ansible gives it effect, so precedence stays Ansible's:
- `-u` and `-c` fill the play's `remote_user` / `connection` keyword where the play
  sets none (a host's `ansible_user` / `ansible_connection` still wins; the play
  keyword beats the flag, which beats ansible.cfg);
- `-b`, `--become-user`, `--private-key`, `-T`, `-k`, `--ssh-common-args`,
  `--ssh-extra-args` and their ansible.cfg settings become variables *below* every
  inventory and play variable (`ansible_become`, `ansible_private_key_file`, ...);
- `--force-handlers` sets the play keyword on every play; `--start-at-task` cuts the
  loaded playbook (pyengine/playbook/start_at.py);
- `-i`, `-f` and the vault password file fall back to ansible.cfg when not given.
What pyengine cannot honour is said in one line, never dropped in silence.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

import click

from pyengine.content.ansible_config import AnsibleConfig
from pyengine.errors import PlaybookError
from pyengine.playbook.model import Playbook

KEYS = ("remote_user", "become", "become_user", "become_method", "ask_pass", "private_key",
        "connection", "timeout", "ssh_common_args", "ssh_extra_args", "list_hosts",
        "list_tasks", "list_tags", "syntax_check", "start_at_task", "force_handlers")

BECOME_METHODS = ("sudo", "su")


def ansible_options(func: Callable[..., Any]) -> Callable[..., Any]:
    """Add ansible-playbook's connection, privilege and listing flags to a click command."""
    options = [
        click.option("-u", "--user", "remote_user", default=None, metavar="REMOTE_USER",
                     help="Connect as this user (a host's ansible_user still wins)."),
        click.option("-b", "--become", is_flag=True, default=None,
                     help="Run tasks with privilege escalation (sudo) unless a play says "
                          "otherwise."),
        click.option("--become-user", default=None,
                     help="The user to become (default root)."),
        click.option("--become-method", default=None, type=click.Choice(BECOME_METHODS),
                     help="How to become: sudo (for su, a warning: pyengine's agent uses "
                          "sudo)."),
        click.option("-k", "--ask-pass", is_flag=True, default=None,
                     help="Prompt for the SSH password."),
        click.option("--private-key", "--key-file", "private_key", default=None,
                     metavar="FILE", help="SSH private key file."),
        click.option("-c", "--connection", default=None,
                     help="Connection type: ssh (paramiko), local or winrm."),
        click.option("-T", "--timeout", default=None, type=click.IntRange(1),
                     help="Seconds to wait for a connection (default 10)."),
        click.option("--ssh-common-args", default=None, metavar="ARGS",
                     help="ssh arguments; those paramiko can honour are used (-o ProxyJump, "
                          "-J, -i, -p, -o ConnectTimeout, ...), others are named and ignored."),
        click.option("--ssh-extra-args", default=None, metavar="ARGS",
                     help="Like --ssh-common-args (pyengine has no separate ssh command)."),
        click.option("--list-hosts", is_flag=True, help="List each play's hosts; run nothing."),
        click.option("--list-tasks", is_flag=True, help="List each play's tasks; run nothing."),
        click.option("--list-tags", is_flag=True, help="List each play's tags; run nothing."),
        click.option("--syntax-check", is_flag=True,
                     help="Check the playbooks, inventory and variables; run nothing."),
        click.option("--start-at-task", default=None, metavar="NAME",
                     help="Start at the first task with this name (or shell pattern)."),
        click.option("--force-handlers", is_flag=True, default=None,
                     help="Run notified handlers on a host even after it failed."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


@dataclass
class AnsibleFlags:
    """The flags as given (None: not given)."""

    remote_user: str | None = None
    become: bool | None = None
    become_user: str | None = None
    become_method: str | None = None
    ask_pass: bool | None = None
    private_key: str | None = None
    connection: str | None = None
    timeout: int | None = None
    ssh_common_args: str | None = None
    ssh_extra_args: str | None = None
    list_hosts: bool = False
    list_tasks: bool = False
    list_tags: bool = False
    syntax_check: bool = False
    start_at_task: str | None = None
    force_handlers: bool | None = None

    @property
    def listing(self) -> bool:
        """True when the run only lists or checks (nothing connects)."""
        return self.list_hosts or self.list_tasks or self.list_tags or self.syntax_check


def split_ansible_options(kwargs: dict[str, Any]) -> AnsibleFlags:
    """Remove the flags from a command's keyword arguments."""
    return AnsibleFlags(**{key: kwargs.pop(key) for key in KEYS if key in kwargs})


def become_method_warnings(flags: AnsibleFlags, config: AnsibleConfig) -> list[str]:
    """Only sudo exists on pyengine's agent: a one-line warning for any other method."""
    method = flags.become_method or config.become_method
    if method in (None, "sudo"):
        return []
    where = "--become-method" if flags.become_method else \
        config.origins.get("become_method", "ansible.cfg")
    return [f"{where}: become method '{method}' is not supported, pyengine becomes with "
            f"sudo"]


def connection_defaults(flags: AnsibleFlags, config: AnsibleConfig,
                        ssh_password: str | None = None) -> dict[str, Any]:
    """Variables below every inventory/play variable, from the flags, else ansible.cfg."""
    out: dict[str, Any] = {}

    def pick(var: str, flag: Any, setting: Any) -> None:
        value = flag if flag is not None else setting
        if value is not None:
            out[var] = value

    pick("ansible_become", flags.become, config.become)
    pick("ansible_become_user", flags.become_user, config.become_user)
    pick("ansible_private_key_file", flags.private_key, config.private_key_file)
    pick("ansible_timeout", flags.timeout, config.timeout)
    pick("ansible_port", None, config.remote_port)
    pick("ansible_ssh_common_args", flags.ssh_common_args, config.ssh_common_args)
    pick("ansible_ssh_extra_args", flags.ssh_extra_args, config.ssh_extra_args)
    if config.host_key_checking is False:
        out["ansible_host_key_checking"] = False
    if ssh_password is not None:
        out["ansible_password"] = ssh_password
    return out


def ssh_args_warnings(name: str, text: str | None) -> list[str]:
    """One line naming the parts of an ssh argument string paramiko cannot honour."""
    from pyengine.connection.hostvars import unhonoured_ssh_args

    ignored = unhonoured_ssh_args(text) if text else []
    if not ignored:
        return []
    return [f"{name}: ignored (the paramiko connection cannot honour them): "
            f"{' '.join(ignored)}"]


def apply_to_playbook(book: Playbook, flags: AnsibleFlags, config: AnsibleConfig) -> Playbook:
    """Play keywords the flags (or ansible.cfg) fill in, and --start-at-task's cut."""
    from pyengine.playbook.start_at import start_at_task

    remote_user = flags.remote_user or config.remote_user
    connection = flags.connection or config.connection
    force = flags.force_handlers if flags.force_handlers is not None else config.force_handlers
    if connection == "smart":
        connection = "ssh"  # Ansible's "smart" picks ssh; ours is paramiko either way
    plays = []
    for play in book.plays:
        changes: dict[str, Any] = {}
        if remote_user and not play.remote_user:
            changes["remote_user"] = remote_user
        if connection and not play.connection:
            changes["connection"] = connection
        if force:
            changes["force_handlers"] = True
        plays.append(replace(play, **changes) if changes else play)
    book = replace(book, plays=plays)
    if flags.start_at_task is not None and not flags.listing:
        # (ansible-playbook's listings show the whole playbook, --start-at-task or not)
        try:
            book = start_at_task(book, flags.start_at_task)
        except LookupError as err:
            raise PlaybookError(str(err), str(book.path)) from None
    return book


def playbook_path(name: str) -> str:
    """A playbook named on the command line: a file, or 'ns.coll.name' from a collection's
    playbooks/ folder (as ansible-playbook accepts); unchanged when neither is found (the
    loader then reports it missing)."""
    from pathlib import Path

    from pyengine.content.collections import find_collection_playbook

    if Path(name).is_file():
        return name
    found = find_collection_playbook(name)
    return str(found) if found is not None else name


def merge_playbooks(books: list[Playbook]) -> Playbook:
    """Several playbooks in one run: their plays in order, as ansible-playbook a.yml b.yml
    runs them (one recap)."""
    first = books[0]
    if len(books) == 1:
        return first
    return replace(first, plays=[p for b in books for p in b.plays],
                   warnings=[w for b in books for w in b.warnings])
