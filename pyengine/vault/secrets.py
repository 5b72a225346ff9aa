"""Where vault passwords come from: prompt, file, script, environment.

Sources are named as ansible names them, so existing habits and scripts keep
working: `--vault-password-file PATH`, `--vault-id [ID@]SOURCE` where SOURCE is a
file, an executable that prints the password, or `prompt`; a script whose name
ends in `-client` is asked for a specific id (`--vault-id ID` argument, exit 2
for "unknown id"). For unattended runs `PYENGINE_VAULT_PASSWORD` (the password)
and `PYENGINE_VAULT_PASSWORD_FILE` (sources, separated by `:`) add to whatever the
command line gave.
"""

from __future__ import annotations

import os
import stat
import subprocess
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import click

from pyengine.errors import VaultError
from pyengine.masking import register_secret
from pyengine.vault.envelope import DEFAULT_VAULT_ID

ENV_PASSWORD = "PYENGINE_VAULT_PASSWORD"
ENV_PASSWORD_FILE = "PYENGINE_VAULT_PASSWORD_FILE"
PROMPT_SOURCES = ("prompt", "prompt_ask_vault_pass")
CLIENT_UNKNOWN_ID_RC = 2


@dataclass(frozen=True)
class VaultSecret:
    """One vault password and the id it answers to; `source` says where it came from."""

    vault_id: str
    password: bytes = field(repr=False)
    source: str = ""

    def __post_init__(self) -> None:
        if not self.password:
            raise VaultError(f"empty vault password from {self.source or 'an unnamed source'}")
        # The password opens every secret: it is one itself, wherever it turns up
        # (`lookup('env', 'PYENGINE_VAULT_PASSWORD')`, a debug of the environment).
        register_secret(self.password.decode("utf-8", "replace"))


def split_vault_id(spec: str) -> tuple[str | None, str]:
    """`ID@SOURCE` -> (ID, SOURCE); a bare SOURCE -> (None, SOURCE).

    A path that exists is never split, so `/srv/me@corp/pw` still works as a file.
    """
    if "@" in spec and not os.path.exists(spec):
        vault_id, source = spec.split("@", 1)
        if vault_id and source:
            return vault_id, source
    return None, spec


def prompt_secret(vault_id: str = DEFAULT_VAULT_ID, confirm: bool = False) -> VaultSecret:
    """Ask on the terminal (input hidden); `confirm` asks twice, for new passwords."""
    label = "" if vault_id == DEFAULT_VAULT_ID else f" ({vault_id})"
    text = click.prompt(
        f"{'New vault' if confirm else 'Vault'} password{label}",
        hide_input=True,
        confirmation_prompt=f"Confirm vault password{label}" if confirm else False,
        default="",
        show_default=False,
    )
    password = text.strip().encode("utf-8")
    if not password:
        raise VaultError(f"empty vault password{label} given at the prompt")
    return VaultSecret(vault_id, password, "prompt")


def _is_executable(path: str) -> bool:
    try:
        mode = os.stat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and os.access(path, os.X_OK)


def _is_client_script(path: str) -> bool:
    return os.path.splitext(os.path.basename(path))[0].endswith("-client")


def _run_script(path: str, vault_id: str) -> bytes:
    argv = [os.path.abspath(path)]  # a bare name must not be looked up in $PATH
    client = _is_client_script(path)
    if client:
        argv += ["--vault-id", vault_id]
    try:
        # stderr stays on the terminal so a script may prompt the user itself.
        proc = subprocess.run(argv, stdout=subprocess.PIPE, check=False)
    except OSError as err:
        raise VaultError(f"cannot run vault password script {path}: {err.strerror}") from None
    if client and proc.returncode == CLIENT_UNKNOWN_ID_RC:
        raise VaultError(f"vault password client {path} has no password for vault id {vault_id!r}")
    if proc.returncode != 0:
        raise VaultError(f"vault password script {path} exited with status {proc.returncode}")
    return proc.stdout.strip(b"\r\n")


def file_secret(path: str, vault_id: str = DEFAULT_VAULT_ID) -> VaultSecret:
    """Read a password file, or run it when it is executable and use what it prints."""
    path = os.path.expanduser(path)
    if _is_executable(path):
        return VaultSecret(vault_id, _run_script(path, vault_id), f"script {path}")
    try:
        with open(path, "rb") as handle:
            password = handle.read().strip()
    except OSError as err:
        raise VaultError(f"cannot read vault password file {path}: {err.strerror}") from None
    if password.startswith(b"$ANSIBLE_VAULT"):
        raise VaultError(f"vault password file {path} is itself vault-encrypted")
    return VaultSecret(vault_id, password, f"file {path}")


def load_source(
    spec: str, default_id: str = DEFAULT_VAULT_ID, confirm: bool = False
) -> VaultSecret:
    """One `[ID@]SOURCE` spec -> its secret (prompting when SOURCE is `prompt`)."""
    vault_id, source = split_vault_id(spec)
    vault_id = vault_id or default_id
    if source in PROMPT_SOURCES:
        return prompt_secret(vault_id, confirm=confirm)
    return file_secret(source, vault_id)


def env_secrets(environ: Mapping[str, str] | None = None) -> list[VaultSecret]:
    """The secrets named by PYENGINE_VAULT_PASSWORD and PYENGINE_VAULT_PASSWORD_FILE."""
    env = os.environ if environ is None else environ
    found: list[VaultSecret] = []
    for spec in filter(None, env.get(ENV_PASSWORD_FILE, "").split(os.pathsep)):
        vault_id, source = split_vault_id(spec)
        found.append(file_secret(source, vault_id or DEFAULT_VAULT_ID))
    password = env.get(ENV_PASSWORD, "")
    if password:
        found.append(VaultSecret(DEFAULT_VAULT_ID, password.encode("utf-8"), f"${ENV_PASSWORD}"))
    return found


def _unique(secrets: Iterable[VaultSecret]) -> list[VaultSecret]:
    seen: set[tuple[str, bytes]] = set()
    out = []
    for secret in secrets:
        key = (secret.vault_id, secret.password)
        if key not in seen:
            seen.add(key)
            out.append(secret)
    return out


def secrets_from_options(
    vault_password_files: Iterable[str] = (),
    vault_ids: Iterable[str] = (),
    ask: bool = False,
    *,
    confirm: bool = False,
    use_env: bool = True,
    environ: Mapping[str, str] | None = None,
) -> list[VaultSecret]:
    """Every secret the options name, in the order given, then the environment's.

    `ask` prompts for the default id (`--ask-vault-pass`); `confirm` asks twice
    (for passwords that will encrypt). Order matters: when a blob carries no vault
    id, secrets are tried in this order.
    """
    found: list[VaultSecret] = []
    for spec in vault_ids:
        found.append(load_source(spec, confirm=confirm))
    for spec in vault_password_files:
        found.append(load_source(spec))
    if ask:
        found.append(prompt_secret(DEFAULT_VAULT_ID, confirm=confirm))
    if use_env:
        found.extend(env_secrets(environ))
    return _unique(found)
