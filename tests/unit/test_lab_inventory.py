"""The generated inventory and known_hosts lines."""

from __future__ import annotations

from pathlib import Path

import yaml

from pyengine.lab.config import LabConfig
from pyengine.lab.inventory import inventory_data, render_inventory
from pyengine.lab.keys import known_hosts_lines, new_ecdsa, new_ed25519, new_host_keys


def test_inventory_lists_every_host_in_group_lab_with_its_address() -> None:
    config = LabConfig("t", 9, 3)
    data = yaml.safe_load(render_inventory(config, Path("/s/id"), Path("/s/kh")))
    group = data["all"]["children"]["lab"]
    assert group["hosts"] == {
        "h1": {"ansible_host": "127.0.9.1", "ansible_port": 22},
        "h2": {"ansible_host": "127.0.9.2", "ansible_port": 22},
        "h3": {"ansible_host": "127.0.9.3", "ansible_port": 22},
    }
    assert group["vars"]["ansible_user"] == "root"
    assert group["vars"]["ansible_ssh_private_key_file"] == "/s/id"
    assert group["vars"]["pyengine_known_hosts"] == "/s/kh"
    assert "StrictHostKeyChecking=yes" in group["vars"]["ansible_ssh_common_args"]


def test_inventory_follows_the_octet() -> None:
    data = inventory_data(LabConfig("t", 42, 1), Path("/k"), Path("/kh"))
    assert data["all"]["children"]["lab"]["hosts"]["h1"]["ansible_host"] == "127.0.42.1"


def test_known_hosts_uses_plain_address_on_port_22_and_brackets_otherwise() -> None:
    key = new_ed25519("c")
    assert known_hosts_lines("127.0.9.1", 22, [key]) == [
        f"127.0.9.1 {key.public_type_and_blob}"
    ]
    assert known_hosts_lines("127.0.9.1", 2222, [key])[0].startswith("[127.0.9.1]:2222 ")


def test_generated_keys_are_openssh_and_differ_each_time() -> None:
    a, b = new_ed25519(), new_ed25519()
    assert a.private.startswith(b"-----BEGIN OPENSSH PRIVATE KEY-----")
    assert a.public.startswith("ssh-ed25519 ") and a.public != b.public
    assert new_ecdsa().public.startswith("ecdsa-sha2-nistp256 ")
    kinds = [k.kind for k in new_host_keys("h1")]
    assert kinds == ["ed25519", "ecdsa"]


def test_generated_key_loads_in_paramiko(tmp_path: Path) -> None:
    import paramiko

    key = new_ed25519()
    path = tmp_path / "id"
    path.write_bytes(key.private)
    loaded = paramiko.Ed25519Key.from_private_key_file(str(path))
    assert f"{loaded.get_name()} {loaded.get_base64()}" == key.public_type_and_blob
