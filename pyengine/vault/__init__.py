"""ansible-vault compatible encryption: formats 1.1 and 1.2, AES256, password sources.

`VaultLib(secrets)` opens and seals vault data for the rest of pyengine (every
decrypted value is registered for masking); `secrets_from_options(...)` turns the
command-line options and environment into secrets; `pyengine vault ...` is the CLI.
"""

from __future__ import annotations

from pyengine.errors import VaultError
from pyengine.vault.envelope import DEFAULT_VAULT_ID, is_encrypted
from pyengine.vault.lib import VaultLib
from pyengine.vault.secrets import VaultSecret, secrets_from_options

__all__ = [
    "DEFAULT_VAULT_ID",
    "VaultError",
    "VaultLib",
    "VaultSecret",
    "is_encrypted",
    "secrets_from_options",
]
