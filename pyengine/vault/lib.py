"""VaultLib: the object the rest of pyengine uses to open and seal vault data.

Decryption tries the secrets whose vault id matches the blob's label first, then
every other one (the label is not authenticated, so it is only a hint). Whatever
comes out is registered with `pyengine.masking` before it is returned, so no
caller can forget to hide it.
"""

from __future__ import annotations

from collections.abc import Sequence

import yaml

from pyengine import masking
from pyengine.errors import VaultError
from pyengine.vault import crypto, envelope
from pyengine.vault.envelope import DEFAULT_VAULT_ID, Envelope, VaultFormatError
from pyengine.vault.secrets import ENV_PASSWORD, VaultSecret

# Whole-file plaintexts up to this size are also parsed as YAML so that each
# value in a vaulted vars file is masked on its own, not only whole lines.
_YAML_REGISTER_LIMIT = 1 << 20


def _where(source: str) -> str:
    return f"{source}: " if source else ""


def seal(
    plaintext: bytes,
    password: bytes,
    vault_id: str | None = None,
    version: str = "1.1",
    salt: bytes | None = None,
) -> bytes:
    """Encrypt `plaintext` with `password` into a vault blob labelled `vault_id`."""
    return envelope.build(*crypto.encrypt(plaintext, password, salt), vault_id=vault_id,
                          version=version)


class VaultLib:
    """Encrypt and decrypt ansible-vault data with a list of secrets."""

    def __init__(self, secrets: Sequence[VaultSecret] = ()) -> None:
        self.secrets: list[VaultSecret] = list(secrets)

    @staticmethod
    def is_encrypted(data: bytes | str) -> bool:
        """True when `data` is a vault blob (starts with `$ANSIBLE_VAULT`)."""
        return envelope.is_encrypted(data)

    def _candidates(self, vault_id: str | None) -> list[VaultSecret]:
        matching = [s for s in self.secrets if vault_id and s.vault_id == vault_id]
        return matching + [s for s in self.secrets if s not in matching]

    def open(self, data: bytes | str, source: str = "") -> tuple[bytes, VaultSecret, Envelope]:
        """Decrypt `data`; return (plaintext, the secret that opened it, its envelope)."""
        raw = envelope.to_bytes(data)
        if raw is None or not envelope.is_encrypted(raw):
            raise VaultError(f"{_where(source)}not vault-encrypted data")
        try:
            env = envelope.parse(raw)
        except VaultFormatError as err:
            raise VaultError(f"{_where(source)}{err}") from None
        if not self.secrets:
            raise VaultError(
                f"{_where(source)}is vault-encrypted but no vault password was given "
                f"(use --ask-vault-pass, --vault-password-file, --vault-id or ${ENV_PASSWORD})"
            )
        for secret in self._candidates(env.vault_id):
            try:
                plaintext = crypto.decrypt(env.salt, env.mac, env.ciphertext, secret.password)
            except crypto.MacMismatch:
                continue
            except ValueError:
                # The MAC matched, so the password is right: the padding is what is wrong.
                raise VaultError(f"{_where(source)}vault payload has invalid padding") from None
            self._register(plaintext)
            return plaintext, secret, env
        tried = ", ".join(dict.fromkeys(s.vault_id for s in self.secrets))
        label = f" (labelled {env.vault_id!r})" if env.vault_id else ""
        raise VaultError(
            f"{_where(source)}vault decryption failed{label}: wrong password or modified data "
            f"(HMAC check failed for vault ids tried: {tried})"
        )

    def decrypt(self, data: bytes | str, source: str = "") -> bytes:
        """Decrypt a vault blob; VaultError (naming `source`) when nothing opens it."""
        return self.open(data, source)[0]

    def secret_for(self, vault_id: str | None = None) -> VaultSecret:
        """The secret that encrypts: the one with `vault_id`, else the first one."""
        if not self.secrets:
            raise VaultError("a vault password is needed to encrypt (none was given)")
        if vault_id is None:
            return self.secrets[0]
        for secret in self.secrets:
            if secret.vault_id == vault_id:
                return secret
        known = ", ".join(dict.fromkeys(s.vault_id for s in self.secrets))
        raise VaultError(f"no vault password for vault id {vault_id!r} (known: {known})")

    def encrypt(
        self,
        plaintext: bytes,
        vault_id: str | None = None,
        version: str = "1.1",
        salt: bytes | None = None,
    ) -> bytes:
        """Encrypt with the secret for `vault_id` (else the first secret).

        A vault id other than "default" is written into a 1.2 header, as
        ansible-vault does; `version="1.2"` without an id labels the blob with the
        chosen secret's id.
        """
        if isinstance(plaintext, str):
            plaintext = plaintext.encode("utf-8")
        if envelope.is_encrypted(plaintext):
            raise VaultError("the data is already vault-encrypted")
        secret = self.secret_for(vault_id)
        label = vault_id if vault_id is not None else (
            secret.vault_id if version == "1.2" else None
        )
        return seal(plaintext, secret.password, label, version, salt)

    @staticmethod
    def _register(plaintext: bytes) -> None:
        text = plaintext.decode("utf-8", "replace")
        masking.register_secret(text)
        if ":" in text and len(plaintext) <= _YAML_REGISTER_LIMIT:
            try:
                tree = yaml.safe_load(text)
            except yaml.YAMLError:
                return  # not YAML (a key, a certificate): its lines are registered
            if isinstance(tree, (dict, list)):
                masking.register_tree(tree)


__all__ = ["VaultLib", "VaultSecret", "DEFAULT_VAULT_ID"]
