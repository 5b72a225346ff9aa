"""The ansible-vault text format: header line, hex armour, 80-column lines.

A vault blob is ``$ANSIBLE_VAULT;1.1;AES256`` (or ``1.2;AES256;<vault-id>``) on
the first line, then the payload: hex(hex(salt) + "\\n" + hex(hmac) + "\\n" +
hex(ciphertext)), cut into 80-character lines, ending with a newline. The double
hex encoding is redundant but it is the format, and we must read and write what
ansible-vault reads and writes byte for byte.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass

HEADER = b"$ANSIBLE_VAULT"
CIPHER = "AES256"
LINE_WIDTH = 80
VERSIONS = ("1.1", "1.2")
DEFAULT_VAULT_ID = "default"


class VaultFormatError(ValueError):
    """The data starts like a vault but its envelope or payload is malformed."""


@dataclass(frozen=True)
class Envelope:
    """A parsed vault blob: header fields and the raw (unarmoured) payload parts."""

    version: str
    cipher: str
    vault_id: str | None
    salt: bytes
    mac: bytes
    ciphertext: bytes


def to_bytes(data: bytes | str) -> bytes | None:
    """Vault text is pure ASCII; anything else is not vault data (None)."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        try:
            return data.encode("ascii")
        except UnicodeEncodeError:
            return None
    return None


def is_encrypted(data: bytes | str) -> bool:
    """True when `data` starts with the vault header (as ansible-vault decides it)."""
    raw = to_bytes(data)
    return raw is not None and raw.startswith(HEADER)


def parse(data: bytes) -> Envelope:
    """Split a vault blob into header fields and payload parts; raise VaultFormatError."""
    lines = data.splitlines()
    if not lines or not lines[0].startswith(HEADER):
        raise VaultFormatError("not vault-encrypted data (no $ANSIBLE_VAULT header)")
    fields = [f.strip() for f in lines[0].strip().split(b";")]
    if len(fields) < 3:
        raise VaultFormatError("vault header is incomplete: expected $ANSIBLE_VAULT;1.1;AES256")
    version = fields[1].decode("ascii", "replace")
    cipher = fields[2].decode("ascii", "replace")
    if version not in VERSIONS:
        raise VaultFormatError(f"unsupported vault format version {version!r} (1.1 and 1.2 are)")
    if cipher != CIPHER:
        raise VaultFormatError(f"unsupported vault cipher {cipher!r} (only AES256 is)")
    vault_id = None
    if len(fields) >= 4 and fields[3]:
        vault_id = fields[3].decode("utf-8", "replace")
    armour = b"".join(line.strip() for line in lines[1:])
    salt, mac, ciphertext = _unpack(armour)
    return Envelope(version, cipher, vault_id, salt, mac, ciphertext)


def _unpack(armour: bytes) -> tuple[bytes, bytes, bytes]:
    try:
        inner = binascii.unhexlify(armour)
        salt_hex, mac_hex, ciphertext_hex = inner.split(b"\n", 2)
        salt = binascii.unhexlify(salt_hex)
        mac = binascii.unhexlify(mac_hex)
        ciphertext = binascii.unhexlify(ciphertext_hex)
    except (binascii.Error, ValueError) as err:
        raise VaultFormatError("vault payload is not valid hex armour (damaged or truncated)") \
            from err
    if not salt or len(mac) != 32 or not ciphertext or len(ciphertext) % 16:
        raise VaultFormatError("vault payload has the wrong shape (damaged or truncated)")
    return salt, mac, ciphertext


def build(
    salt: bytes,
    mac: bytes,
    ciphertext: bytes,
    vault_id: str | None = None,
    version: str = "1.1",
) -> bytes:
    """Armour payload parts and put the header on top, as ansible-vault writes it.

    A vault id other than "default" forces format 1.2 (ansible does the same);
    format 1.2 without an id labels the blob "default".
    """
    if version not in VERSIONS:
        raise ValueError(f"unsupported vault format version {version!r}")
    if vault_id and vault_id != DEFAULT_VAULT_ID:
        version = "1.2"
    header = [HEADER, version.encode("ascii"), CIPHER.encode("ascii")]
    if version == "1.2":
        label = vault_id or DEFAULT_VAULT_ID
        if ";" in label or "\n" in label or not label.strip():
            raise ValueError(f"invalid vault id {label!r}")
        header.append(label.encode("utf-8"))
    inner = b"\n".join(binascii.hexlify(part) for part in (salt, mac, ciphertext))
    armour = binascii.hexlify(inner)
    lines = [b";".join(header)]
    lines += [armour[i:i + LINE_WIDTH] for i in range(0, len(armour), LINE_WIDTH)]
    return b"\n".join(lines) + b"\n"
