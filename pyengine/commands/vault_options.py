"""The vault options every command that reads vaults shares (`run`, `inventory`, `vault`).

One decorator so `--vault-id`, `--vault-password-file` and `--ask-vault-pass`
mean the same everywhere, as they do across ansible's commands.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from pyengine.errors import VaultError
from pyengine.vault.lib import VaultLib
from pyengine.vault.secrets import (
    ENV_PASSWORD,
    ENV_PASSWORD_FILE,
    VaultSecret,
    prompt_secret,
    secrets_from_options,
)

F = TypeVar("F", bound=Callable[..., Any])


def vault_options(func: F) -> F:
    """Add --vault-id, --vault-password-file and --ask-vault-pass to a click command."""
    func = click.option(
        "--ask-vault-pass", "--ask-vault-password", "-J", "ask_vault_pass", is_flag=True,
        help="Prompt for the vault password.",
    )(func)
    func = click.option(
        "--vault-password-file", "--vault-pass-file", "vault_password_files", multiple=True,
        metavar="[ID@]PATH",
        help="A file holding the vault password, or an executable that prints it. Repeatable.",
    )(func)
    func = click.option(
        "--vault-id", "vault_ids", multiple=True, metavar="[ID@]SOURCE",
        help="A vault id and its password source (a file, a script or 'prompt'). Repeatable.",
    )(func)
    return func


def vault_from_options(
    vault_password_files: Sequence[str] = (),
    vault_ids: Sequence[str] = (),
    ask_vault_pass: bool = False,
) -> VaultLib:
    """A VaultLib with the secrets the options and environment name (maybe none)."""
    return VaultLib(secrets_from_options(vault_password_files, vault_ids, ask_vault_pass))


def require_secrets(
    vault_password_files: Sequence[str] = (),
    vault_ids: Sequence[str] = (),
    ask_vault_pass: bool = False,
    confirm: bool = False,
) -> list[VaultSecret]:
    """Secrets for a command that cannot work without one: prompt on a terminal if none."""
    secrets = secrets_from_options(
        vault_password_files, vault_ids, ask_vault_pass, confirm=confirm
    )
    if secrets:
        return secrets
    if sys.stdin.isatty():
        return [prompt_secret(confirm=confirm)]
    raise VaultError(
        "no vault password given (use --ask-vault-pass, --vault-password-file, --vault-id, "
        f"${ENV_PASSWORD} or ${ENV_PASSWORD_FILE})"
    )
