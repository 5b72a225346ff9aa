"""The vault format and cipher, byte for byte: envelope, armour, KDF, MAC, padding."""

from __future__ import annotations

import binascii

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyengine import masking
from pyengine.errors import VaultError
from pyengine.vault import VaultLib, VaultSecret, crypto, envelope
from pyengine.vault.lib import seal

SALT = b"s" * 32


def lib(*pairs: tuple[str, str]) -> VaultLib:
    return VaultLib([VaultSecret(vid, pw.encode(), "test") for vid, pw in pairs])


def test_blob_layout_is_header_then_80_column_hex_lines_ending_in_newline() -> None:
    blob = seal(b"x" * 200, b"pw", salt=SALT)
    lines = blob.decode().split("\n")
    assert lines[0] == "$ANSIBLE_VAULT;1.1;AES256"
    assert lines[-1] == ""
    body = lines[1:-1]
    assert all(len(line) == 80 for line in body[:-1]) and 0 < len(body[-1]) <= 80
    inner = binascii.unhexlify("".join(body)).split(b"\n")
    assert binascii.unhexlify(inner[0]) == SALT
    assert len(binascii.unhexlify(inner[1])) == 32  # HMAC-SHA256
    assert len(binascii.unhexlify(inner[2])) == 208  # 200 bytes padded to 13 blocks


def test_vault_id_other_than_default_writes_format_1_2() -> None:
    assert seal(b"x", b"pw", "prod").startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert seal(b"x", b"pw", "default").startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    assert seal(b"x", b"pw", None, "1.2").startswith(b"$ANSIBLE_VAULT;1.2;AES256;default\n")


def test_keys_come_from_pbkdf2_sha256_10000_iterations_80_bytes() -> None:
    import hashlib

    derived = hashlib.pbkdf2_hmac("sha256", b"pw", SALT, 10000, 80)
    assert crypto.derive_keys(b"pw", SALT) == (derived[:32], derived[32:64], derived[64:])


def test_mac_covers_the_ciphertext_and_decryption_is_aes_ctr() -> None:
    import hmac

    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

    salt, mac, ciphertext = crypto.encrypt(b"hello", b"pw", SALT)
    aes_key, mac_key, iv = crypto.derive_keys(b"pw", SALT)
    assert mac == hmac.new(mac_key, ciphertext, "sha256").digest()
    dec = Cipher(algorithms.AES(aes_key), modes.CTR(iv)).decryptor()
    assert dec.update(ciphertext) + dec.finalize() == b"hello" + bytes([11]) * 11  # PKCS7


@settings(max_examples=25, deadline=None)
@given(st.binary(max_size=300).filter(lambda b: not b.startswith(b"$ANSIBLE_VAULT")),
       st.text(min_size=1, max_size=20).filter(str.strip))
def test_any_bytes_round_trip(plaintext: bytes, password: str) -> None:
    """Anything but data that already looks encrypted (refused, as ansible-vault does)."""
    vault = lib(("default", password))
    blob = vault.encrypt(plaintext)
    assert vault.is_encrypted(blob) and vault.decrypt(blob) == plaintext
    masking.clear_secrets()


def test_str_input_and_inline_indentation_are_accepted() -> None:
    vault = lib(("default", "pw"))
    blob = vault.encrypt(b"value").decode()
    indented = "\n".join("    " + line for line in blob.splitlines())
    assert vault.decrypt(indented.strip()) == b"value"
    masking.clear_secrets()


def test_wrong_password_names_the_source_and_the_ids_tried() -> None:
    blob = lib(("prod", "right")).encrypt(b"data", vault_id="prod")
    with pytest.raises(VaultError) as err:
        lib(("dev", "wrong"), ("default", "also-wrong")).decrypt(blob, "group_vars/all.yml")
    text = str(err.value)
    assert text.startswith("group_vars/all.yml: vault decryption failed (labelled 'prod')")
    assert "dev, default" in text and "\n" not in text


def _flip_ciphertext_byte(blob: bytes) -> bytes:
    env = envelope.parse(blob)
    bad = bytearray(env.ciphertext)
    bad[0] ^= 1
    return envelope.build(env.salt, env.mac, bytes(bad), env.vault_id, env.version)


def test_tampered_ciphertext_fails_the_mac_before_decrypting(monkeypatch) -> None:
    vault = lib(("default", "pw"))
    blob = _flip_ciphertext_byte(vault.encrypt(b"secret data"))
    calls = []
    monkeypatch.setattr(crypto, "Cipher", lambda *a: calls.append(a))  # must never be reached
    with pytest.raises(VaultError, match="^f.yml: vault decryption failed: wrong password"):
        vault.decrypt(blob, "f.yml")
    assert calls == []


@pytest.mark.parametrize("blob, message", [
    (b"$ANSIBLE_VAULT;1.1\nabcd\n", "header is incomplete"),
    (b"$ANSIBLE_VAULT;1.0;AES\nabcd\n", "unsupported vault format version '1.0'"),
    (b"$ANSIBLE_VAULT;1.1;AES128\nabcd\n", "unsupported vault cipher 'AES128'"),
    (b"$ANSIBLE_VAULT;1.1;AES256\nzz\n", "not valid hex armour"),
    (b"$ANSIBLE_VAULT;1.1;AES256\n" + binascii.hexlify(b"61\n62\n63") + b"\n", "wrong shape"),
    (b"plain: yaml\n", "not vault-encrypted"),
])
def test_malformed_blobs_give_one_line_errors(blob: bytes, message: str) -> None:
    with pytest.raises(VaultError, match=message) as err:
        lib(("default", "pw")).decrypt(blob, "x.yml")
    assert str(err.value).startswith("x.yml: ") and "\n" not in str(err.value)


def test_no_secrets_says_how_to_give_one() -> None:
    blob = lib(("default", "pw")).encrypt(b"x")
    with pytest.raises(VaultError, match="no vault password was given.*--vault-password-file"):
        VaultLib([]).decrypt(blob, "x.yml")


def test_matching_vault_id_is_tried_first_then_all_others() -> None:
    vault = lib(("dev", "d"), ("prod", "p"), ("default", "x"))
    assert [s.vault_id for s in vault._candidates("prod")] == ["prod", "dev", "default"]
    # The label is only a hint: a blob labelled dev but sealed with prod's password opens.
    blob = seal(b"value", b"p", "dev")
    plaintext, secret, env = vault.open(blob)
    assert (plaintext, secret.vault_id, env.vault_id) == (b"value", "prod", "dev")
    masking.clear_secrets()


def test_encrypt_picks_the_secret_by_vault_id() -> None:
    vault = lib(("dev", "d"), ("prod", "p"))
    blob = vault.encrypt(b"v", vault_id="prod")
    assert lib(("x", "p")).decrypt(blob) == b"v"
    with pytest.raises(VaultError, match="no vault password for vault id 'qa'"):
        vault.encrypt(b"v", vault_id="qa")
    with pytest.raises(VaultError, match="already vault-encrypted"):
        vault.encrypt(blob)
    masking.clear_secrets()


def test_decrypted_values_are_registered_for_masking() -> None:
    masking.clear_secrets()
    vault = lib(("default", "pw"))
    vault.decrypt(vault.encrypt(b"db_password: hunter2-xyz\ndb_user: app_owner\n"))
    masked = masking.mask_text("login app_owner/hunter2-xyz")
    assert masked == f"login {masking.MASK}/{masking.MASK}"
    masking.clear_secrets()
