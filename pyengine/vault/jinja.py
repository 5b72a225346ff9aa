"""The `vault` and `unvault` template filters (Ansible's), which encrypt and open vault
text with a password given in the template.

They live with the vault because they are its crypto; templating sits below the vault
in the layer order, so the variables layer adds them to the template environment
(`pyengine.vars` calls `add_filters(FILTERS)`).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyengine.errors import TemplateError, VaultError
from pyengine.masking import register_secret
from pyengine.vault.lib import VaultLib, seal
from pyengine.vault.secrets import VaultSecret


def vault(data: Any, secret: Any, salt: str | None = None, vault_id: str = "filter_default",
          wrap_object: bool = False) -> str:
    """`data` encrypted with the password `secret` (vault 1.2 text labelled `vault_id`);
    a given `salt` makes it repeatable, as in Ansible."""
    if not isinstance(secret, (str, bytes)) or not isinstance(data, (str, bytes)):
        raise TemplateError("vault: the data and the secret must be strings")
    password = secret.encode() if isinstance(secret, str) else secret
    register_secret(password.decode("utf-8", "replace"))
    plain = data.encode() if isinstance(data, str) else data
    labelled = bool(vault_id) and vault_id != "default"
    sealed = seal(plain, password, vault_id if labelled else None,
                  version="1.2" if labelled else "1.1",
                  salt=salt.encode() if isinstance(salt, str) else salt)
    return sealed.decode("ascii")


def unvault(value: Any, secret: Any, vault_id: str = "filter_default") -> str:
    """The plaintext of vault text `value` (or of a `!vault` value), opened with `secret`."""
    if not isinstance(secret, (str, bytes)) or not isinstance(value, (str, bytes)):
        raise TemplateError("unvault: the vault text and the secret must be strings")
    text = getattr(value, "ciphertext", None) or value
    password = secret.encode() if isinstance(secret, str) else secret
    try:
        plain = VaultLib([VaultSecret(vault_id, password, "unvault filter")]).decrypt(text)
    except VaultError as err:
        raise TemplateError(f"unvault: {err}") from None
    return plain.decode("utf-8")


FILTERS: dict[str, Callable[..., Any]] = {"vault": vault, "unvault": unvault}
