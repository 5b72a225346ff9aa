"""Interop with the real ansible-vault, both ways: files, encrypt_string, 1.1/1.2, rekey.

Each direction is checked with the other tool, so a bug shared by our encrypt
and our decrypt cannot hide. ansible-vault is slow to start (~1 s), so each test
makes every call count.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from vault_helpers import BIN, ansible_vault, clean_env, pyengine

from pyengine import masking
from pyengine.vault import VaultLib, VaultSecret
from pyengine.vault.lib import seal

PLAIN = "db_password: 'hunter2 \"quoted\" ünïcode'\napi_token: abc123def456\n"


@pytest.fixture(autouse=True)
def _forget_secrets():
    yield
    masking.clear_secrets()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "pw-default").write_text("correct horse\n")
    (tmp_path / "pw-prod").write_text("prod-pass")
    (tmp_path / "pw-new").write_text("brand new password")
    return tmp_path


def secrets(home: Path, *names: str) -> VaultLib:
    return VaultLib([VaultSecret(n, (home / f"pw-{n}").read_bytes().strip(), n) for n in names])


def test_same_salt_gives_byte_identical_output_to_ansible_vault(home: Path) -> None:
    (home / "f.yml").write_text(PLAIN)
    ansible_vault(home, "encrypt", "--vault-id", "prod@pw-prod", "f.yml",
                  ANSIBLE_VAULT_ENCRYPT_SALT="fixed-salt-for-test")
    ours = seal(PLAIN.encode(), b"prod-pass", "prod", salt=b"fixed-salt-for-test")
    assert (home / "f.yml").read_bytes() == ours


def test_files_from_ansible_vault_open_with_pyengine_1_1_and_1_2(home: Path) -> None:
    (home / "a.yml").write_text(PLAIN)
    (home / "b.yml").write_text(PLAIN)
    ansible_vault(home, "encrypt", "--vault-password-file", "pw-default", "a.yml")
    ansible_vault(home, "encrypt", "--vault-id", "prod@pw-prod", "b.yml")
    assert (home / "a.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert (home / "b.yml").read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    vault = secrets(home, "default", "prod")
    for name in ("a.yml", "b.yml"):
        assert vault.decrypt((home / name).read_bytes(), name).decode() == PLAIN
    # And through the CLI, with both ids given at once.
    out = pyengine(home, "vault", "view", "--vault-id", "pw-default", "--vault-id",
                   "prod@pw-prod", "a.yml", "b.yml")
    assert out.returncode == 0, out.stderr
    assert out.stdout.decode() == PLAIN + PLAIN


def test_pyengine_files_open_with_ansible_vault_1_1_and_1_2(home: Path) -> None:
    (home / "a.yml").write_text(PLAIN)
    (home / "b.yml").write_text(PLAIN)
    os.chmod(home / "a.yml", 0o640)
    for args in (["--vault-password-file", "pw-default", "a.yml"],
                 ["--vault-id", "prod@pw-prod", "b.yml"]):
        proc = pyengine(home, "vault", "encrypt", *args)
        assert proc.returncode == 0, proc.stderr
    assert (home / "a.yml").read_text().startswith("$ANSIBLE_VAULT;1.1;AES256\n")
    assert (home / "b.yml").read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert os.stat(home / "a.yml").st_mode & 0o777 == 0o640  # kept from the original
    out = ansible_vault(home, "view", "--vault-id", "pw-default", "--vault-id", "prod@pw-prod",
                        "a.yml", "b.yml")
    assert out.stdout.decode() == PLAIN + PLAIN
    # decrypt in place by ansible-vault gives back the exact bytes.
    ansible_vault(home, "decrypt", "--vault-id", "prod@pw-prod", "b.yml")
    assert (home / "b.yml").read_text() == PLAIN


def _indent(block: str) -> str:
    return block.strip().replace("\n", "\n    ")


def test_encrypt_string_values_both_ways(home: Path) -> None:
    theirs = ansible_vault(home, "encrypt_string", "--vault-id", "prod@pw-prod",
                           "--name", "db_password", "s3cr3t with spaces").stdout.decode()
    ours = pyengine(home, "vault", "encrypt-string", "--vault-password-file", "pw-default",
                    "--name", "api_token", "t0ken-value")
    assert ours.returncode == 0, ours.stderr
    assert ours.stdout.decode().startswith("api_token: !vault |\n          $ANSIBLE_VAULT;1.1;")
    (home / "inv.yml").write_text(
        "all:\n  hosts:\n    localhost:\n      ansible_connection: local\n  vars:\n"
        f"    {_indent(theirs)}\n    {_indent(ours.stdout.decode())}\n")
    # ansible reads both values from the inventory...
    shown = ansible(home, "localhost", "-i", "inv.yml", "-m", "debug", "-a",
                    "msg={{ db_password }}|{{ api_token }}", "--vault-id", "pw-default",
                    "--vault-id", "prod@pw-prod")
    assert '"msg": "s3cr3t with spaces|t0ken-value"' in shown
    # ... and so does pyengine's YAML loader.
    from pyengine.yamlload import load_yaml

    loaded = load_yaml(home / "inv.yml", secrets(home, "prod", "default"))
    assert loaded["all"]["vars"]["db_password"] == "s3cr3t with spaces"
    assert loaded["all"]["vars"]["api_token"] == "t0ken-value"


def ansible(home: Path, *args: str) -> str:
    """Run the real `ansible` ad-hoc command (controller-side modules only)."""
    proc = subprocess.run([str(BIN / "ansible"), *args], capture_output=True, cwd=home,
                          env=clean_env(home), check=False)
    assert proc.returncode == 0, proc.stdout.decode() + proc.stderr.decode()
    return proc.stdout.decode()


def test_rekey_both_ways(home: Path) -> None:
    (home / "a.yml").write_text(PLAIN)
    (home / "b.yml").write_text(PLAIN)
    # ansible encrypts, pyengine rekeys (to a new id), ansible opens with the new password.
    ansible_vault(home, "encrypt", "--vault-password-file", "pw-default", "a.yml")
    proc = pyengine(home, "vault", "rekey", "--vault-password-file", "pw-default",
                    "--new-vault-id", "prod@pw-new", "a.yml")
    assert proc.returncode == 0, proc.stderr
    assert (home / "a.yml").read_text().startswith("$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert ansible_vault(home, "view", "--vault-id", "prod@pw-new",
                         "a.yml").stdout.decode() == PLAIN
    # pyengine encrypts, ansible rekeys, pyengine opens with the new password only.
    assert pyengine(home, "vault", "encrypt", "--vault-id", "prod@pw-prod",
                    "b.yml").returncode == 0
    ansible_vault(home, "rekey", "--vault-id", "prod@pw-prod", "--new-vault-password-file",
                  "pw-new", "b.yml")
    assert secrets(home, "new").decrypt((home / "b.yml").read_bytes()).decode() == PLAIN
    old = pyengine(home, "vault", "view", "--vault-id", "prod@pw-prod", "b.yml")
    assert old.returncode == 3 and b"vault decryption failed" in old.stderr
