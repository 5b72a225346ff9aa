"""Files read on the controller for a task: a vault-encrypted one is opened first.

Ansible decrypts a vaulted file wherever it reads one for a task (`copy: src=`,
`template: src=`, `lookup('file')`, `lookup('unvault')`), so a client's private key or
certificate can live in the repository encrypted. The vault sits above templating, so
the run hands its vault in (`use_vault`, from Sources); its decryption also registers
the plaintext for masking.
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol

from pyengine.errors import TemplateError

VAULT_HEADER = b"$ANSIBLE_VAULT;"


class VaultOpener(Protocol):
    def decrypt(self, data: bytes, source: str) -> bytes:
        """The plaintext; VaultError (naming `source`) when no secret opens it."""


_vault: list[VaultOpener] = []


def use_vault(vault: VaultOpener | None) -> None:
    """The run's vault (None: vaulted files are refused with a one-line error)."""
    _vault[:] = [vault] if vault is not None else []


def is_vaulted(data: bytes) -> bool:
    return data.lstrip()[:len(VAULT_HEADER)] == VAULT_HEADER


def read_bytes(path: Path, decrypt: bool = True) -> bytes:
    """The file's bytes, decrypted when it is a vault file (unless `decrypt` is off)."""
    data = path.read_bytes()
    if not decrypt or not is_vaulted(data):
        return data
    if not _vault:
        raise TemplateError(f"{path} is vault-encrypted but no vault password was given "
                            "(use --ask-vault-pass, --vault-password-file or --vault-id)")
    return _vault[0].decrypt(data, str(path))


def read_text(path: Path) -> str:
    return read_bytes(path).decode("utf-8")
