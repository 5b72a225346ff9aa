"""The AES256 vault cipher: PBKDF2 key derivation, AES-256-CTR, encrypt-then-MAC.

Exactly ansible-vault's construction: PBKDF2-HMAC-SHA256 with 10000 iterations
over a 32-byte random salt yields 80 bytes, split into the AES-256 key, the
HMAC-SHA256 key and the CTR initial counter block. The plaintext is PKCS7-padded
(CTR would not need it; the format does) and the HMAC covers the ciphertext.
The MAC is checked, in constant time, before a single byte is decrypted.
"""

from __future__ import annotations

import hmac
import os
from functools import lru_cache

from cryptography.hazmat.primitives import hashes, padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes
from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

KDF_ITERATIONS = 10000
SALT_SIZE = 32
KEY_SIZE = 32
IV_SIZE = 16  # the AES block


class MacMismatch(Exception):
    """The HMAC did not verify: wrong password or modified data."""


@lru_cache(maxsize=256)
def derive_keys(password: bytes, salt: bytes) -> tuple[bytes, bytes, bytes]:
    """(AES key, HMAC key, CTR IV) for a password and salt.

    Cached because PBKDF2 is deliberately slow and the same blob is often opened
    more than once in a run (a vars file read by every host).
    """
    kdf = PBKDF2HMAC(
        algorithm=hashes.SHA256(),
        length=2 * KEY_SIZE + IV_SIZE,
        salt=salt,
        iterations=KDF_ITERATIONS,
    )
    derived = kdf.derive(password)
    return derived[:KEY_SIZE], derived[KEY_SIZE:2 * KEY_SIZE], derived[2 * KEY_SIZE:]


def _mac(key: bytes, ciphertext: bytes) -> bytes:
    return hmac.new(key, ciphertext, "sha256").digest()


def encrypt(plaintext: bytes, password: bytes, salt: bytes | None = None) -> tuple[
    bytes, bytes, bytes
]:
    """Encrypt `plaintext`; return (salt, mac, ciphertext)."""
    salt = salt if salt is not None else os.urandom(SALT_SIZE)
    aes_key, mac_key, iv = derive_keys(password, salt)
    padder = padding.PKCS7(algorithms.AES.block_size).padder()
    padded = padder.update(plaintext) + padder.finalize()
    encryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).encryptor()
    ciphertext = encryptor.update(padded) + encryptor.finalize()
    return salt, _mac(mac_key, ciphertext), ciphertext


def decrypt(salt: bytes, mac: bytes, ciphertext: bytes, password: bytes) -> bytes:
    """Verify the MAC (constant time), then decrypt; raise MacMismatch or ValueError."""
    aes_key, mac_key, iv = derive_keys(password, salt)
    if not hmac.compare_digest(_mac(mac_key, ciphertext), mac):
        raise MacMismatch()
    decryptor = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(algorithms.AES.block_size).unpadder()
    return unpadder.update(padded) + unpadder.finalize()
