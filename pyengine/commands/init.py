"""`pyengine init [DIR]`: a client repository an MSP can start from.

Writes the layout of pyengine/scaffold/client_repo.py (per-client inventories with
group_vars, a vault file per client, ansible.cfg, .gitignore, README with the nightly
schedule) and a copy of pyengine's playbooks. The vault password is the user's
(`--vault-password-file FILE` that exists) or generated: then written to FILE (default
~/.config/pyengine/<repo>.vault-pass) with mode 0600, never inside the repository.
"""

from __future__ import annotations

import os
import secrets
import shutil
from pathlib import Path

import click

from pyengine.errors import PyengineError
from pyengine.paths import builtin_playbooks_dir


def _default_password_file(repo: Path) -> Path:
    base = Path(os.environ.get("XDG_CONFIG_HOME") or Path.home() / ".config")
    return base / "pyengine" / f"{repo.resolve().name}.vault-pass"


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def _password(repo: Path, given: Path | None) -> tuple[bytes, str]:
    """The vault password and a sentence saying where it is (for the user and README)."""
    from pyengine.vault.secrets import file_secret

    target = given or _default_password_file(repo)
    if _inside(target, repo):
        raise PyengineError(f"--vault-password-file {target}: inside the repository; keep "
                            f"the vault password outside it")
    if target.exists():
        secret = file_secret(str(target))
        return secret.password, f"read from {target} (given)"
    target.parent.mkdir(parents=True, exist_ok=True)
    password = secrets.token_urlsafe(32)
    fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(password + "\n")
    return password.encode(), f"generated and written to {target} (mode 0600)"


def write_client_repo(repo: Path, clients: tuple[str, ...], password: bytes) -> list[Path]:
    """Write the repository's files; returns them (relative to `repo`)."""
    from pyengine.scaffold import client_repo as tpl
    from pyengine.vault.lib import seal

    chosen = tpl.example_clients(clients)
    files: dict[str, str] = {
        "ansible.cfg": tpl.ansible_cfg(chosen),
        ".gitignore": tpl.GITIGNORE,
        "README.md": tpl.readme(chosen, "The vault files are encrypted with one password "
                                "kept outside this repository (`pyengine init` printed "
                                "where; by default ~/.config/pyengine/<repo>.vault-pass, "
                                "mode 0600). Back it up with the MSP's other secrets."),
    }
    for client in chosen:
        folder = f"inventory/{client.name}"
        files[f"{folder}/hosts.yml"] = tpl.hosts_yml(client)
        files[f"{folder}/group_vars/{client.name}/main.yml"] = tpl.client_vars_yml(client)
        files[f"{folder}/group_vars/{client.name}_linux.yml"] = tpl.linux_vars_yml(client)
        files[f"{folder}/group_vars/{client.name}_windows.yml"] = tpl.windows_vars_yml(client)
        if client.jump:
            files[f"{folder}/group_vars/{client.name}_jump.yml"] = tpl.jump_vars_yml(client)
        vault = seal(tpl.vault_plaintext(client).encode(), password, vault_id=client.name,
                     version="1.2")
        files[f"{folder}/group_vars/{client.name}/vault.yml"] = vault.decode() + "\n"
    written = []
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        written.append(Path(name))
    shutil.copytree(builtin_playbooks_dir().resolve(), repo / "playbooks",
                    ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    written.append(Path("playbooks"))
    return written


@click.command("init")
@click.argument("directory", default=".", type=click.Path(file_okay=False, path_type=Path))
@click.option("--client", "clients", multiple=True, metavar="NAME",
              help="A client to lay out (repeatable; default: the example acme and globex).")
@click.option("--vault-password-file", "password_file", default=None,
              type=click.Path(dir_okay=False, path_type=Path),
              help="Vault password: read from this file when it exists, else generated and "
                   "written there (mode 0600). Default: ~/.config/pyengine/<repo>.vault-pass.")
def init(directory: Path, clients: tuple[str, ...], password_file: Path | None) -> None:
    """Start an MSP repository in DIRECTORY: per-client inventories, group_vars (patch
    window, baseline waivers, jump host), a vault file per client, ansible.cfg, .gitignore,
    the playbooks and a README with the nightly schedule."""
    import re

    from pyengine.scaffold.client_repo import EXAMPLE_CLIENTS

    names = clients or EXAMPLE_CLIENTS
    for name in names:
        if not re.fullmatch(r"[a-z][a-z0-9_]*", name):
            raise PyengineError(f"--client {name!r}: use lower-case letters, digits and _ "
                                f"(it becomes group names and variable names)")
    if directory.exists() and any(directory.iterdir()):
        raise PyengineError(f"{directory}: not empty; init writes into a new or empty folder")
    directory.mkdir(parents=True, exist_ok=True)
    password, note = _password(directory, password_file)
    written = write_client_repo(directory, tuple(names), password)
    click.echo(f"wrote {len(written)} entries in {directory} for clients {', '.join(names)}")
    click.echo(f"vault password: {note}")
    click.echo(f"next: cd {directory} && export PYENGINE_VAULT_PASSWORD_FILE=... && "
               f"pyengine inventory graph")
