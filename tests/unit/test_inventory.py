"""Inventories shaped like real Ansible projects: hosts, groups, vars and their origins."""

from __future__ import annotations

from pathlib import Path

import pytest

from pyengine.inventory import load_inventory
from pyengine.inventory.patterns import select

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"
PROD = PROJECT / "inventory" / "production"
STAGING = PROJECT / "inventory" / "staging" / "hosts.yml"


@pytest.fixture(scope="module")
def prod():  # type: ignore[no-untyped-def]
    return load_inventory([PROD], playbook_dir=PROJECT)


def names(hosts) -> list[str]:  # type: ignore[no-untyped-def]
    return [h.name for h in hosts]


def test_ini_hosts_in_definition_order_with_ranges(prod) -> None:  # type: ignore[no-untyped-def]
    assert list(prod.hosts) == [
        "web01.acme.example", "web02.acme.example", "web03.acme.example", "web04.acme.example",
        "web-canary.acme.example", "db-a.acme.example", "db-b.acme.example",
        "db-c.acme.example", "db-backup.acme.example", "lb1.acme.example"]


def test_ini_groups_children_and_group_names(prod) -> None:  # type: ignore[no-untyped-def]
    assert prod.groups["prod"].children == ["frontend", "dbservers"]
    assert prod.groups["frontend"].children == ["webservers", "loadbalancers"]
    assert prod.group_names("web02.acme.example") == ["frontend", "prod", "webservers"]
    assert prod.group_names("db-a.acme.example") == ["dbservers", "prod"]
    # A group's hosts: its children breadth first, each child's hosts in definition order.
    assert prod.groups_mapping()["frontend"] == [
        "web01.acme.example", "web02.acme.example", "web03.acme.example",
        "web04.acme.example", "web-canary.acme.example", "lb1.acme.example"]


def test_ini_inline_values_are_literals_and_host_port(prod) -> None:  # type: ignore[no-untyped-def]
    canary = prod.host_vars("web-canary.acme.example")
    assert canary["ansible_port"] == 2222 and canary["canary"] is True
    assert prod.host_vars("db-backup.acme.example")["backup_node"] == "true"  # not a literal
    assert prod.host_vars("web02.acme.example")["ansible_python_interpreter"] == "/usr/bin/python3"
    assert prod.host_vars("lb1.acme.example")["nginx_worker_processes"] == 8


def test_variable_precedence_and_origins(prod) -> None:  # type: ignore[no-untyped-def]
    web01 = prod.host_vars_with_origins("web01.acme.example")
    web02 = prod.host_vars_with_origins("web02.acme.example")
    # host_vars/ beats everything in the inventory
    assert web01["http_port"] == (9090, f"{PROD}/host_vars/web01.acme.example.yml:1:1")
    # group_vars/webservers/ beats [webservers:vars] in the INI file
    assert web02["http_port"] == (80, f"{PROD}/group_vars/webservers/main.yml:6:1")
    # [webservers:vars] (inventory file) beats nothing else here; values are literals
    assert web02["nginx_worker_processes"] == (4, f"{PROD}/hosts.ini:27:1")
    # inventory group_vars/all beats [prod:vars] (Ansible's VARIABLE_PRECEDENCE)
    assert web02["ntp_server"] == ("pool.ntp.org", f"{PROD}/group_vars/all.yml:4:1")
    # playbook group_vars/all beats inventory group_vars/all
    assert web02["timezone"] == ("Europe/Berlin", f"{PROJECT}/group_vars/all.yml:2:1")
    assert web02["env_name"] == ("production", f"{PROD}/hosts.ini:23:1")
    assert web02["tls_cert_path"][1] == f"{PROD}/group_vars/webservers/tls.yml:1:1"
    assert prod.host_vars("db-a.acme.example")["postgres_max_connections"] == 500
    assert "postgres_max_connections" not in prod.host_vars("db-b.acme.example")


def test_yaml_inventory(tmp_path: Path) -> None:
    inv = load_inventory(STAGING)
    assert list(inv.hosts) == ["stg-web1.acme.example", "stg-web2.acme.example",
                               "stg-web-extra.acme.example", "stg-db1.acme.example"]
    assert inv.group_names("stg-web1.acme.example") == ["monitoring", "webservers"]
    assert inv.host_vars("stg-db1.acme.example") == {"env_name": "staging", "ansible_port": 2200}
    web = inv.host_vars_with_origins("stg-web2.acme.example")
    assert web["http_port"] == (8081, f"{STAGING}:11:9")
    assert web["ansible_user"] == ("deploy", f"{STAGING}:8:11")


def test_several_sources_and_comma_lists() -> None:
    inv = load_inventory([PROD, STAGING])
    assert len(inv.hosts) == 14
    assert "stg-db1.acme.example" in names(select(inv, "dbservers"))
    inline = load_inventory("h1.example,h2.example,")
    assert list(inline.hosts) == ["h1.example", "h2.example"]
    assert inline.group_names("h1.example") == []
    assert names(select(inline, "ungrouped")) == ["h1.example", "h2.example"]


@pytest.mark.parametrize("pattern, expected", [
    ("all", 10),
    ("webservers", ["web01.acme.example", "web02.acme.example", "web03.acme.example",
                    "web04.acme.example", "web-canary.acme.example"]),
    ("webservers:!web0[3-4]*", ["web01.acme.example", "web02.acme.example",
                                "web-canary.acme.example"]),
    ("dbservers:&prod", ["db-a.acme.example", "db-b.acme.example", "db-c.acme.example",
                         "db-backup.acme.example"]),
    ("lb1.acme.example,db-c.acme.example", ["lb1.acme.example", "db-c.acme.example"]),
    ("db-*:!*backup*", ["db-a.acme.example", "db-b.acme.example", "db-c.acme.example"]),
    ("~db-[ab]\\.", ["db-a.acme.example", "db-b.acme.example"]),
    ("webservers[0]", ["web01.acme.example"]),
    ("webservers[1:2]", ["web02.acme.example", "web03.acme.example"]),
    ("webservers[-1]", ["web-canary.acme.example"]),
    ("frontend:&loadbalancers", ["lb1.acme.example"]),
    ("!webservers", 5),
    ("nosuchgroup", []),
    ("localhost", ["localhost"]),
])
def test_host_patterns(prod, pattern: str, expected: object) -> None:  # type: ignore[no-untyped-def]
    found = names(select(prod, pattern))
    if isinstance(expected, int):
        assert len(found) == expected
    else:
        assert found == expected


def test_implicit_localhost_is_local() -> None:
    inv = load_inventory(STAGING)
    local = inv.get_host("localhost")
    assert local is not None and local.implicit
    assert inv.host_vars("localhost")["ansible_connection"] == "local"
    assert "localhost" not in inv.hosts  # not part of 'all', as in Ansible


def test_group_priority_and_depth_order(tmp_path: Path) -> None:
    (tmp_path / "hosts.ini").write_text(
        "[a]\nh1\n[b]\nh1\n[a:vars]\nx=from_a\n[b:vars]\nx=from_b\n"
        "[parent:children]\nb\n[parent:vars]\nx=from_parent\ny=parent\n")
    inv = load_inventory(tmp_path / "hosts.ini")
    # b is deeper than a (parent -> b), so b's vars win; same depth would sort by name.
    assert inv.host_vars("h1")["x"] == "from_b"
    (tmp_path / "hosts.ini").write_text(
        "[a]\nh1\n[b]\nh1\n[a:vars]\nx=from_a\nansible_group_priority=10\n[b:vars]\nx=from_b\n")
    assert load_inventory(tmp_path / "hosts.ini").host_vars("h1")["x"] == "from_a"


def test_inventory_folder_reads_every_file_and_its_vars(tmp_path: Path) -> None:
    (tmp_path / "01-web.ini").write_text("[web]\nw1\n")
    (tmp_path / "02-db.yml").write_text("all:\n  children:\n    db:\n      hosts:\n        d1:\n")
    (tmp_path / "README.md").write_text("# not an inventory\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "db").write_text("engine: postgres\n")
    inv = load_inventory(tmp_path)
    assert list(inv.hosts) == ["w1", "d1"]
    assert inv.host_vars("d1") == {"engine": "postgres"}


def test_vaulted_group_vars_are_decrypted_and_masked(tmp_path: Path) -> None:
    from pyengine.masking import clear_secrets, mask
    from pyengine.vault import VaultLib, VaultSecret

    vault = VaultLib([VaultSecret("default", b"correct horse")])
    (tmp_path / "hosts").write_text("[db]\nd1\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "db.yml").write_bytes(
        vault.encrypt(b"db_password: s3cr3t-value\n"))
    (tmp_path / "group_vars" / "all.yml").write_text(
        "api_token: !vault |\n  " + vault.encrypt(b"tok-123456").decode().replace("\n", "\n  ")
        + "\n")
    clear_secrets()
    inv = load_inventory(tmp_path / "hosts", vault=vault)
    assert inv.host_vars("d1") == {"api_token": "tok-123456", "db_password": "s3cr3t-value"}
    assert mask("pw=s3cr3t-value token=tok-123456") == "pw=******** token=********"


def test_yaml_host_port_and_range_with_port(tmp_path: Path) -> None:
    (tmp_path / "hosts.yml").write_text(
        "all:\n  hosts:\n    bastion.example:2222:\n    web[01:02].example:2200:\n"
        "    web[03:04].example:\n")
    inv = load_inventory(tmp_path / "hosts.yml")
    assert list(inv.hosts) == ["bastion.example", "web01.example", "web02.example",
                               "web03.example", "web04.example"]
    assert inv.host_vars("bastion.example") == {"ansible_port": 2222}
    assert inv.host_vars("web02.example") == {"ansible_port": 2200}
    assert inv.host_vars("web03.example") == {}


def test_ini_ipv6_hosts_and_ports(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("[v6]\nfe80::1\n[v4]\n10.0.0.1:2222\nweb[1:2]:22\n")
    inv = load_inventory(tmp_path / "hosts")
    assert list(inv.hosts) == ["fe80::1", "10.0.0.1", "web1", "web2"]
    assert inv.host_vars("fe80::1") == {}
    assert inv.host_vars("10.0.0.1") == {"ansible_port": 2222}
    assert inv.host_vars("web2") == {"ansible_port": 22}
