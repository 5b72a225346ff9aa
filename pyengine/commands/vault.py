"""`pyengine vault ...`: ansible-vault's commands, reading and writing the same files.

create, edit, view, encrypt, decrypt, rekey and encrypt-string behave as their
ansible-vault namesakes, so runbooks and muscle memory carry over; what differs
is that every failure is one line and exit code 3.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from typing import Any

import click

from pyengine.commands.vault_options import require_secrets, vault_options
from pyengine.errors import VaultError
from pyengine.vault import files
from pyengine.vault.envelope import DEFAULT_VAULT_ID
from pyengine.vault.inline import format_yaml_value
from pyengine.vault.lib import VaultLib, seal
from pyengine.vault.secrets import VaultSecret, load_source, prompt_secret, split_vault_id


def _lib(opts: dict[str, Any], confirm: bool = False) -> VaultLib:
    return VaultLib(require_secrets(
        opts["vault_password_files"], opts["vault_ids"], opts["ask_vault_pass"], confirm=confirm
    ))


def _encrypt_id(lib: VaultLib, wanted: str | None) -> str:
    """The vault id to encrypt with: the one asked for, else the only one there is."""
    if wanted:
        lib.secret_for(wanted)  # fails clearly when there is no such id
        return wanted
    ids = list(dict.fromkeys(s.vault_id for s in lib.secrets))
    if len(ids) > 1:
        raise VaultError(f"several vault ids given ({', '.join(ids)}); "
                         "choose one with --encrypt-vault-id")
    return ids[0]


def _note(message: str) -> None:
    click.echo(message, err=True)


def _targets(paths: Sequence[str]) -> list[str]:
    return list(paths) or [files.STDIO]


def _check_output(paths: Sequence[str], output: str | None) -> None:
    if output and len(paths) > 1:
        raise VaultError("--output takes a single input file")


encrypt_id_option = click.option(
    "--encrypt-vault-id", default=None, metavar="ID",
    help="The vault id to encrypt with (needed when several are given).",
)
output_option = click.option(
    "--output", default=None, metavar="FILE",
    help="Write here instead of in place ('-' for stdout).",
)


@click.group()
def vault() -> None:
    """Create, view, edit and (re)encrypt ansible-vault compatible files and values."""


@vault.command()
@click.argument("path")
@encrypt_id_option
@vault_options
def create(path: str, encrypt_vault_id: str | None, **opts: Any) -> None:
    """Create a new encrypted file, writing its content in $EDITOR."""
    if os.path.lexists(path):
        raise VaultError(f"{path}: already exists (use 'pyengine vault edit')")
    folder = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(folder):
        raise VaultError(f"{path}: folder {folder} does not exist")
    lib = _lib(opts, confirm=True)
    vault_id = _encrypt_id(lib, encrypt_vault_id)
    plaintext = files.edit_bytes(b"", suffix=os.path.splitext(path)[1])
    if not plaintext:
        _note(f"{path}: left empty in the editor, not created")
        return
    files.atomic_write(path, lib.encrypt(plaintext, vault_id=vault_id))


@vault.command()
@click.argument("path")
@encrypt_id_option
@vault_options
def edit(path: str, encrypt_vault_id: str | None, **opts: Any) -> None:
    """Decrypt a file into $EDITOR and encrypt what is saved back in its place."""
    lib = _lib(opts)
    plaintext, secret, env = lib.open(files.read_input(path), path)
    edited = files.edit_bytes(plaintext, suffix=os.path.splitext(path)[1])
    if edited == plaintext:
        _note(f"{path}: unchanged")
        return
    if encrypt_vault_id:
        secret = lib.secret_for(encrypt_vault_id)
    label = encrypt_vault_id or env.vault_id
    files.atomic_write(path, seal(edited, secret.password, label, env.version))


@vault.command()
@click.argument("paths", nargs=-1)
@vault_options
def view(paths: tuple[str, ...], **opts: Any) -> None:
    """Print the decrypted content of encrypted files."""
    lib = _lib(opts)
    for path in _targets(paths):
        files.write_output(files.STDIO, lib.decrypt(files.read_input(path), path))


@vault.command()
@click.argument("paths", nargs=-1)
@output_option
@encrypt_id_option
@vault_options
def encrypt(
    paths: tuple[str, ...], output: str | None, encrypt_vault_id: str | None, **opts: Any
) -> None:
    """Encrypt files in place (or stdin to stdout)."""
    targets = _targets(paths)
    _check_output(targets, output)
    lib = _lib(opts, confirm=True)
    vault_id = _encrypt_id(lib, encrypt_vault_id)
    for path in targets:
        data = files.read_input(path)
        if lib.is_encrypted(data):
            raise VaultError(f"{path}: already vault-encrypted")
        files.write_output(output or path, lib.encrypt(data, vault_id=vault_id))
    _note("Encryption successful")


@vault.command()
@click.argument("paths", nargs=-1)
@output_option
@vault_options
def decrypt(paths: tuple[str, ...], output: str | None, **opts: Any) -> None:
    """Decrypt files in place (or stdin to stdout)."""
    targets = _targets(paths)
    _check_output(targets, output)
    lib = _lib(opts)
    for path in targets:
        files.write_output(output or path, lib.decrypt(files.read_input(path), path))
    _note("Decryption successful")


@vault.command()
@click.argument("paths", nargs=-1, required=True)
@click.option("--new-vault-id", default=None, metavar="[ID@]SOURCE",
              help="The new vault id and password source.")
@click.option("--new-vault-password-file", default=None, metavar="PATH",
              help="A file (or script) with the new password.")
@encrypt_id_option
@vault_options
def rekey(
    paths: tuple[str, ...],
    new_vault_id: str | None,
    new_vault_password_file: str | None,
    encrypt_vault_id: str | None,
    **opts: Any,
) -> None:
    """Re-encrypt files with a new password (and optionally a new vault id)."""
    if new_vault_id and new_vault_password_file:
        raise VaultError("give --new-vault-id or --new-vault-password-file, not both")
    lib = _lib(opts)
    opened = [(path, *lib.open(files.read_input(path), path)) for path in paths]
    new_secret: VaultSecret
    if new_vault_id:
        new_secret = load_source(new_vault_id, confirm=True)
    elif new_vault_password_file:
        new_secret = load_source(new_vault_password_file)
    else:
        new_secret = prompt_secret(DEFAULT_VAULT_ID, confirm=True)
    explicit_id = new_vault_id is not None and split_vault_id(new_vault_id)[0] is not None
    for path, plaintext, _secret, env in opened:
        label = encrypt_vault_id or (new_secret.vault_id if explicit_id else env.vault_id)
        files.atomic_write(path, seal(plaintext, new_secret.password, label, env.version))
    _note("Rekey successful")


@vault.command("encrypt-string")
@click.argument("strings", nargs=-1)
@click.option("-n", "--name", "names", multiple=True, help="Variable name for each string.")
@click.option("--stdin-name", default=None, help="Variable name for the string read on stdin.")
@click.option("-p", "--prompt", "ask", is_flag=True, help="Prompt for the string to encrypt.")
@click.option("--show-input", is_flag=True, help="Do not hide the string typed at --prompt.")
@output_option
@encrypt_id_option
@vault_options
def encrypt_string(
    strings: tuple[str, ...],
    names: tuple[str, ...],
    stdin_name: str | None,
    ask: bool,
    show_input: bool,
    output: str | None,
    encrypt_vault_id: str | None,
    **opts: Any,
) -> None:
    """Encrypt strings into `!vault |` YAML values to paste into a vars file."""
    args = [s for s in strings if s != files.STDIO]
    read_stdin = files.STDIO in strings or stdin_name is not None or (not args and not ask)
    if ask and read_stdin:
        raise VaultError("--prompt cannot be combined with reading the string from stdin")
    lib = _lib(opts, confirm=True)
    vault_id = _encrypt_id(lib, encrypt_vault_id)
    items: list[tuple[bytes, str | None]] = []
    if ask:
        name = click.prompt("Variable name (enter for no name)", default="",
                            show_default=False) or None
        text = click.prompt("String to encrypt" + ("" if show_input else " (hidden)"),
                            hide_input=not show_input, default="", show_default=False)
        if not text:
            raise VaultError("the string given at the prompt is empty, nothing to encrypt")
        items.append((text.encode("utf-8"), name))
    if read_stdin:
        if sys.stdin.isatty():
            _note("Reading plaintext input from stdin (ctrl-d to end input)")
        data = sys.stdin.buffer.read()
        if not data:
            raise VaultError("stdin was empty, nothing to encrypt")
        items.append((data, stdin_name))
    for index, text in enumerate(args):
        if not text:
            raise VaultError("an empty string was given, nothing to encrypt")
        items.append((text.encode("utf-8"), names[index] if index < len(names) else None))
    blocks = []
    for number, (plaintext, name) in enumerate(items, 1):
        if len(items) > 1:
            _note(f"# the encrypted string #{number}" + (f" ({name})" if name else ""))
        sealed = lib.encrypt(plaintext, vault_id=vault_id).decode("ascii")
        blocks.append(format_yaml_value(sealed, name))
    files.write_output(output or files.STDIO, ("\n".join(blocks) + "\n").encode("utf-8"))
    if sys.stdout.isatty():
        _note("Encryption successful")
