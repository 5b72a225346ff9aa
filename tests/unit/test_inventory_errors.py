"""Every inventory mistake is reported with file:line:column and what was expected."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.commands.inventory import inventory
from pyengine.errors import PlaybookError
from pyengine.inventory import load_inventory

PROJECT = Path(__file__).resolve().parents[1] / "fixtures" / "project"


def error_of(tmp_path: Path, name: str, text: str) -> str:
    path = tmp_path / name
    path.write_text(text)
    with pytest.raises(PlaybookError) as err:
        load_inventory(path)
    return str(err.value).replace(str(tmp_path) + "/", "")


@pytest.mark.parametrize("name, text, expected", [
    ("hosts.ini", "[web\nh1\n",
     "hosts.ini:1:1: invalid section header '[web' (expected [group], [group:vars] or "
     "[group:children])"),
    ("hosts.ini", "[web:hostz]\nh1\n",
     "hosts.ini:1:1: unknown section type ':hostz' (expected :vars or :children)"),
    ("hosts.ini", "[web]\nh1 ansible_user\n",
     "hosts.ini:2:4: expected 'name=value' after the host name, got 'ansible_user'"),
    ("hosts.ini", "[web]\n  web[05:01]\n",
     "hosts.ini:2:3: invalid host range '[05:01]' in 'web[05:01]': start is after end"),
    ("hosts.ini", "[web]\nweb[a:10]\n",
     "hosts.ini:2:1: invalid host range '[a:10]' in 'web[a:10]': use numbers (01:20) or "
     "single letters (a:f)"),
    ("hosts.ini", "[web:vars]\nhttp_port\n",
     "hosts.ini:2:1: expected 'name=value' in [web:vars], got 'http_port'"),
    ("hosts.ini", "[web:children]\nweb\n", "hosts.ini:2:1: group 'web' cannot be its own child"),
    ("hosts.ini", "[a:children]\nb\n[b:children]\na\n",
     "hosts.ini:1:1: group 'a' is its own ancestor (a children cycle)"),
    ("hosts.ini", "[web]\nh1\n[prod:children]\nwebb\n",
     "hosts.ini:4:1: [prod:children] names group 'webb', which is not declared (no [webb] "
     "section) (did you mean 'web'?)"),
    ("hosts.ini", "[web]\nh1\n[wbe:vars]\nx=1\n",
     "hosts.ini:3:1: [wbe:vars] is for a group that is not declared (no [wbe] section) "
     "(did you mean 'web'?)"),
    ("hosts.yml", "all:\n  childrens:\n    web:\n",
     "hosts.yml:2:3: unknown key 'childrens' in group 'all' (expected hosts, vars or children) "
     "(did you mean 'children'?)"),
    ("hosts.yml", "web:\n  hosts:\n    - h1\n",
     "hosts.yml:3:5: hosts of group 'web' must be a mapping (write 'host:' on each line, "
     "not '- host')"),
    ("hosts.yml", "web:\n  hosts:\n    h1: 22\n",
     "hosts.yml:3:9: variables of host 'h1' must be a mapping, got int"),
    ("hosts.yml", "web:\n  hosts:\n    h1:\n    h1:\n",
     "hosts.yml:4:5: duplicate key 'h1' (first at line 3)"),
    ("hosts.yml", "web:\n  hosts: [\n", "hosts.yml:3:1: invalid YAML:"),
])
def test_inventory_errors(tmp_path: Path, name: str, text: str, expected: str) -> None:
    assert error_of(tmp_path, name, text).startswith(expected)


def test_group_vars_file_must_be_a_mapping(tmp_path: Path) -> None:
    (tmp_path / "hosts").write_text("[web]\nh1\n")
    (tmp_path / "group_vars").mkdir()
    (tmp_path / "group_vars" / "web.yml").write_text("- just\n- a list\n")
    with pytest.raises(PlaybookError, match=r"group_vars/web.yml:1:1: a variables file must "
                                            r"hold a mapping, got YList"):
        load_inventory(tmp_path / "hosts")


def test_missing_inventory_and_vault_without_password(tmp_path: Path) -> None:
    with pytest.raises(PlaybookError, match="nope.ini: inventory not found"):
        load_inventory(tmp_path / "nope.ini")
    (tmp_path / "hosts.yml").write_text("all:\n  vars:\n    pw: !vault |\n      $ANSIBLE_VAULT;"
                                        "1.1;AES256\n      6162\n")
    with pytest.raises(PlaybookError, match="hosts.yml:3:9: vault-encrypted value but no "
                                            "vault password was given"):
        load_inventory(tmp_path / "hosts.yml")


def test_cli_host_shows_origins_and_unknown_host_suggests() -> None:
    runner = CliRunner()
    inv = str(PROJECT / "inventory" / "production")
    result = runner.invoke(inventory, ["host", "web02.acme.example", "-i", inv,
                                       "--playbook-dir", str(PROJECT)])
    assert result.exit_code == 0, result.output
    assert "web02.acme.example  groups: frontend, prod, webservers" in result.output
    lines = {line.split("=")[0].strip(): line for line in result.output.splitlines()[1:]}
    assert lines["http_port"].endswith("group_vars/webservers/main.yml:6:1")
    assert lines["timezone"].endswith(f"{PROJECT}/group_vars/all.yml:2:1")
    wrong = runner.invoke(inventory, ["host", "web2.acme.example", "-i", inv])
    assert "no host 'web2.acme.example' in the inventory (did you mean " \
           "'web02.acme.example'?)" in str(wrong.exception)


def test_cli_list_and_graph() -> None:
    runner = CliRunner()
    inv = str(PROJECT / "inventory" / "production")
    listed = runner.invoke(inventory, ["list", "-i", inv, "-l", "dbservers:!db-b.*"])
    assert listed.exit_code == 0
    assert [line.split()[0] for line in listed.stdout.splitlines()] == [
        "db-a.acme.example", "db-c.acme.example", "db-backup.acme.example"]
    graph = runner.invoke(inventory, ["graph", "-i", inv, "frontend"])
    assert graph.stdout.splitlines() == [
        "@frontend:", "  |--@webservers:", "  |  |--web01.acme.example",
        "  |  |--web02.acme.example", "  |  |--web03.acme.example",
        "  |  |--web04.acme.example", "  |  |--web-canary.acme.example",
        "  |--@loadbalancers:", "  |  |--lb1.acme.example"]


def test_cli_host_with_playbook_shows_play_level_origins() -> None:
    runner = CliRunner()
    result = runner.invoke(inventory, [
        "host", "web02.acme.example", "-i", str(PROJECT / "inventory" / "production"),
        "--playbook", str(PROJECT / "site.yml"), "-e", "http_port=1"])
    assert result.exit_code == 0, result.output
    assert f"play 'Configure web servers' ({PROJECT}/webservers.yml:2:3):" in result.stdout
    lines = {line.split("=")[0].strip(): line for line in result.stdout.splitlines()}
    assert lines["http_port"].endswith('"1"    # extra vars (-e)')
    assert lines["nginx_user"].endswith(f'"www-data"    # {PROJECT}/vars/common.yml:1:1')
    assert lines["package_manager"].endswith(f"{PROJECT}/vars/Debian.yml:1:1")
    assert "Database servers" not in result.stdout  # that play does not target web02
