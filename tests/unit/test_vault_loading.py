"""Vaults where users keep them: an encrypted inventory, group_vars and inline values.

The files are made by the real ansible-vault, loaded by pyengine's inventory and
YAML loaders with one VaultLib holding two vault ids, and every value that came
out is masked from then on.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_helpers import ansible_vault

from pyengine import masking
from pyengine.errors import VaultError
from pyengine.inventory.loader import load_inventory
from pyengine.vault import VaultLib, VaultSecret


@pytest.fixture(autouse=True)
def _forget_secrets():
    masking.clear_secrets()
    yield
    masking.clear_secrets()


def test_vaulted_inventory_group_vars_and_inline_values(tmp_path: Path) -> None:
    (tmp_path / "pw-ops").write_text("ops-pass\n")
    (tmp_path / "pw-dev").write_text("dev-pass\n")
    inv = tmp_path / "inventory"
    (inv / "group_vars" / "web").mkdir(parents=True)
    (inv / "hosts.ini").write_text("[web]\nweb1 ansible_host=127.0.0.1\n")
    (inv / "group_vars" / "web" / "vault.yml").write_text(
        "db_password: Gr0up-Vars-Secret\nadmin: {user: root, key: 'N3sted-K3y'}\n")
    inline = ansible_vault(tmp_path, "encrypt_string", "--vault-id", "dev@pw-dev",
                           "--name", "api_token", "Inl1ne-Token").stdout.decode()
    (inv / "group_vars" / "web" / "plain.yml").write_text("port: 8080\n" + inline)
    ansible_vault(tmp_path, "encrypt", "--vault-id", "ops@pw-ops", "inventory/hosts.ini",
                  "inventory/group_vars/web/vault.yml")
    vault = VaultLib([VaultSecret("dev", b"dev-pass"), VaultSecret("ops", b"ops-pass")])
    inventory = load_inventory(inv, vault)
    hostvars = inventory.host_vars("web1")
    assert hostvars["db_password"] == "Gr0up-Vars-Secret"
    assert hostvars["admin"]["key"] == "N3sted-K3y"
    assert hostvars["api_token"] == "Inl1ne-Token"
    assert hostvars["port"] == 8080
    # Every string that came out of a vault is masked, even a plain one like "root";
    # numbers are not (a port would blank out every digit run).
    line = "connect root:Gr0up-Vars-Secret key=N3sted-K3y token=Inl1ne-Token port=8080"
    m = masking.MASK
    assert masking.mask_text(line) == f"connect {m}:{m} key={m} token={m} port=8080"


def test_wrong_password_for_a_group_vars_file_names_it(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("right\n")
    inv = tmp_path / "inventory"
    (inv / "group_vars").mkdir(parents=True)
    (inv / "hosts.ini").write_text("web1\n")
    (inv / "group_vars" / "all.yml").write_text("x: 1\n")
    ansible_vault(tmp_path, "encrypt", "--vault-password-file", "pw",
                  "inventory/group_vars/all.yml")
    with pytest.raises(VaultError, match=r"group_vars/all\.yml: vault decryption failed"):
        load_inventory(inv, VaultLib([VaultSecret("default", b"wrong")]))
