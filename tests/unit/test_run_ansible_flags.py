"""`pyengine run` with ansible-playbook's flags and ansible.cfg settings (no hosts needed).

The listings are compared with ansible-playbook's own output on the same playbooks
(ansible-core is a test dependency). The other flags are checked where they land:
the loaded plays, the lowest variable layer, the run options the executor gets.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from pyengine.commands.ansible_flags import (
    AnsibleFlags,
    apply_to_playbook,
    connection_defaults,
    ssh_args_warnings,
)
from pyengine.commands.main import cli
from pyengine.content.ansible_config import AnsibleConfig
from pyengine.playbook import load_playbook, walk
from pyengine.playbook.start_at import start_at_task

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

PLAYBOOK = """\
- name: First play
  hosts: web
  tags: [p1]
  pre_tasks:
    - name: pre one
      debug: msg=x
  roles:
    - role: r1
      tags: [roletag]
  tasks:
    - name: a block
      block:
        - name: in block
          command: echo hi
          tags: [b1, b2]
      rescue:
        - name: rescuer
          debug: msg=r
      always:
        - name: finally
          debug: msg=f
      tags: blk
    - name: "templated {{ x }}"
      debug: msg=y
      notify: h1
  post_tasks:
    - name: post one
      debug: msg=z
- hosts: db,web
  gather_facts: false
  tasks:
    - name: second play task
      debug: msg=q
      tags: never
"""


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    files = {
        "roles/r1/tasks/main.yml": "- name: role task one\n  debug: msg=hi\n  tags: [rt]\n"
                                   "- debug: msg=unnamed\n",
        "roles/r1/handlers/main.yml": "- name: h1\n  debug: msg=h\n",
        "inv.ini": "[web]\nw1 ansible_connection=local\nw2 ansible_connection=local\n"
                   "[db]\nd1 ansible_connection=local\n",
        "p.yml": PLAYBOOK,
        "q.yml": "- name: other book\n  hosts: db\n  tasks:\n    - name: only\n"
                 "      debug: msg=o\n",
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    home = tmp_path / "home"
    home.mkdir()
    for name in [n for n in os.environ if n.startswith("ANSIBLE_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("ANSIBLE_HOME", str(home / ".ansible"))
    monkeypatch.setenv("PYENGINE_HISTORY_DB", str(tmp_path / "history.sqlite"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def ours(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pyengine", "run", *args],
                          capture_output=True, text=True, timeout=120)


def theirs(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(ANSIBLE_PLAYBOOK), *args], capture_output=True, text=True,
                          timeout=120)


def comparable(text: str) -> list[str]:
    """Ansible prints a play's hosts in set order: sort each run of host lines."""
    out: list[str] = []
    hosts: list[str] = []
    for line in text.splitlines():
        if line.startswith("      ") and "\t" not in line and "TASK TAGS" not in line and \
                not line.strip().endswith(":"):
            hosts.append(line)
            continue
        out.extend(sorted(hosts))
        hosts = []
        out.append(line)
    return out + sorted(hosts)


@pytest.mark.parametrize("flags", [
    ["--list-hosts"], ["--list-tasks"], ["--list-tags"], ["--list-hosts", "--list-tasks"],
    ["--list-tasks", "--tags", "b1,rt"], ["--list-tasks", "--skip-tags", "p1"],
    ["--list-tags", "--tags", "rt"], ["--list-tasks", "--start-at-task", "in block"],
    ["--list-hosts", "--limit", "w1"], ["--syntax-check"],
])
def test_listings_match_ansible_playbook(project: Path, flags: list[str]) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-core is not installed")
    mine = ours("-i", "inv.ini", "p.yml", "q.yml", *flags)
    want = theirs("-i", "inv.ini", "p.yml", "q.yml", *flags)
    assert mine.returncode == want.returncode == 0, mine.stderr + want.stderr
    assert comparable(mine.stdout) == comparable(want.stdout)
    assert mine.stderr == ""


def test_syntax_check_reports_problems_with_file_and_line(project: Path) -> None:
    (project / "bad.yml").write_text("- hosts: all\n  tasks:\n    - nosuchmodule: x=1\n")
    result = ours("-i", "inv.ini", "--syntax-check", "bad.yml")
    assert result.returncode == 3
    assert "bad.yml:3:7: unknown module or keyword 'nosuchmodule'" in result.stderr


def test_start_at_task_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "roles/r1/tasks").mkdir(parents=True)
    (tmp_path / "roles/r1/tasks/main.yml").write_text("- name: role task\n  ping:\n")
    (tmp_path / "p.yml").write_text("""\
- hosts: all
  tasks:
    - name: first
      ping:
- hosts: all
  pre_tasks:
    - name: early
      ping:
  roles: [r1]
  tasks:
    - block:
        - name: b one
          ping:
        - name: b two
          ping:
      always:
        - name: cleanup
          ping:
    - name: last
      ping:
- hosts: all
  tasks:
    - name: next play
      ping:
""")
    book = load_playbook(tmp_path / "p.yml")

    def names(pattern: str) -> list[list[str | None]]:
        cut = start_at_task(book, pattern)
        return [[t.name for part in (p.pre_tasks, p.roles, p.tasks, p.post_tasks)
                 for t in walk(part)] for p in cut.plays]

    assert names("b two") == [["b two", "cleanup", "last"], ["next play"]]
    assert names("b *") == [["b one", "b two", "cleanup", "last"], ["next play"]]
    assert names("r1 : role task") == [["role task", "b one", "b two", "cleanup", "last"],
                                       ["next play"]]
    assert names("cleanup") == [["cleanup", "last"], ["next play"]]
    assert names("first")[0] == ["first"]
    with pytest.raises(LookupError, match="no task matches --start-at-task 'nothing'"):
        start_at_task(book, "nothing")


def test_user_and_connection_fill_plays_that_set_none(tmp_path: Path) -> None:
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  tasks: []\n- hosts: all\n  remote_user: keep\n  connection: local\n"
        "  tasks: []\n")
    book = load_playbook(tmp_path / "p.yml")
    config = AnsibleConfig(remote_user="cfguser", connection="smart", force_handlers=True)
    cut = apply_to_playbook(book, AnsibleFlags(), config)
    assert [(p.remote_user, p.connection, p.force_handlers) for p in cut.plays] == [
        ("cfguser", "ssh", True), ("keep", "local", True)]
    cut = apply_to_playbook(book, AnsibleFlags(remote_user="flag", connection="winrm",
                                               force_handlers=False), config)
    assert [(p.remote_user, p.connection, p.force_handlers) for p in cut.plays] == [
        ("flag", "winrm", False), ("keep", "local", False)]


def test_connection_defaults_flags_over_ansible_cfg() -> None:
    config = AnsibleConfig(become=True, become_user="cfg", private_key_file="/k/cfg",
                           timeout=30, remote_port=2222, host_key_checking=False,
                           ssh_common_args="-o ProxyJump=j")
    assert connection_defaults(AnsibleFlags(), config) == {
        "ansible_become": True, "ansible_become_user": "cfg",
        "ansible_private_key_file": "/k/cfg", "ansible_timeout": 30, "ansible_port": 2222,
        "ansible_ssh_common_args": "-o ProxyJump=j", "ansible_host_key_checking": False}
    flags = AnsibleFlags(become=False, become_user="flag", private_key="/k/flag", timeout=5,
                         ssh_extra_args="-J x")
    got = connection_defaults(flags, config, ssh_password="pw")
    assert (got["ansible_become"], got["ansible_become_user"], got["ansible_timeout"]) == (
        False, "flag", 5)
    assert got["ansible_private_key_file"] == "/k/flag"
    assert (got["ansible_ssh_extra_args"], got["ansible_password"]) == ("-J x", "pw")


def test_ssh_args_paramiko_cannot_honour_are_named() -> None:
    assert ssh_args_warnings("--ssh-common-args", "-o ProxyJump=j -J k -p 22 -i key") == []
    assert ssh_args_warnings("--ssh-extra-args", "-C -o ControlMaster=auto -o Port=22") == [
        "--ssh-extra-args: ignored (the paramiko connection cannot honour them): "
        "-C -o ControlMaster=auto"]


def test_become_method_other_than_sudo_is_warned_in_one_line(project: Path) -> None:
    result = ours("-i", "inv.ini", "p.yml", "--syntax-check", "--become-method", "su")
    assert result.returncode == 0
    assert result.stderr == ("pyengine: warning: --become-method: become method 'su' is not "
                             "supported, pyengine becomes with sudo\n")
    (project / "ansible.cfg").write_text("[privilege_escalation]\nbecome_method = doas\n")
    result = ours("-i", "inv.ini", "p.yml", "--syntax-check")
    assert result.returncode == 0
    assert "ansible.cfg:2: become method 'doas' is not supported" in result.stderr
    (project / "k.yml").write_text("- hosts: web\n  become_method: su\n  tasks: []\n")
    book = load_playbook(project / "k.yml")
    assert book.warnings == [f"{project / 'k.yml'}:2:3: become_method 'su' is not supported: "
                             f"pyengine becomes with sudo"]


class Captured(Exception):
    """Raised by the fake executor with what `run` handed it."""


def run_captured(monkeypatch: pytest.MonkeyPatch, *args: str) -> tuple[Any, Any, Any]:
    import pyengine.executor.run as executor_run

    def fake(book: Any, sources: Any, options: Any, reporter: Any) -> Any:
        raise Captured(book, sources, options)

    monkeypatch.setattr(executor_run, "run_playbook", fake)
    result = CliRunner().invoke(cli, ["run", *args], catch_exceptions=True)
    assert isinstance(result.exception, Captured), result.output
    book, sources, options = result.exception.args
    return book, sources, options


def test_ansible_cfg_settings_reach_the_run(project: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    (project / "ansible.cfg").write_text(
        "[defaults]\ninventory = inv.ini\nforks = 7\nremote_user = deploy\ntimeout = 21\n"
        "[privilege_escalation]\nbecome = True\nbecome_user = admin\n")
    book, sources, options = run_captured(monkeypatch, "p.yml", "q.yml")
    assert options.forks == 7
    assert [p.name for p in book.plays] == ["First play", None, "other book"]
    assert {p.remote_user for p in book.plays} == {"deploy"}
    variables = sources.vm.get_vars("w1", book.plays[0])
    assert (variables["ansible_become"], variables["ansible_become_user"],
            variables["ansible_timeout"]) == (True, "admin", 21)
    # Flags beat the file; the inventory beats both (it sets ansible_connection=local).
    book, sources, options = run_captured(monkeypatch, "p.yml", "-f", "3", "-u", "me", "-T",
                                          "4", "--become-user", "other", "-c", "ssh")
    assert options.forks == 3 and book.plays[0].remote_user == "me"
    variables = sources.vm.get_vars("w1", book.plays[0])
    assert (variables["ansible_timeout"], variables["ansible_become_user"]) == (4, "other")
    assert variables["ansible_connection"] == "local"


def test_vault_password_file_from_ansible_cfg(project: Path) -> None:
    from pyengine.vault.lib import VaultLib
    from pyengine.vault.secrets import VaultSecret

    secret = VaultLib([VaultSecret("default", b"cfg-pass")]).encrypt(b"token: s3cret\n")
    (project / "secret.yml").write_bytes(secret)
    (project / "v.yml").write_text(
        "- hosts: web\n  vars_files: [secret.yml]\n  tasks:\n    - debug: var=token\n")
    assert ours("-i", "inv.ini", "v.yml", "--syntax-check").returncode == 3
    (project / "pw.txt").write_text("cfg-pass\n")
    (project / "ansible.cfg").write_text("[defaults]\nvault_password_file = pw.txt\n")
    result = ours("-i", "inv.ini", "v.yml", "--syntax-check")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "\nplaybook: v.yml\n"


def test_unused_settings_are_warned_on_the_run(project: Path) -> None:
    (project / "ansible.cfg").write_text("[defaults]\nnocows = 1\n")
    result = ours("-i", "inv.ini", "p.yml", "--syntax-check",
                  "--ssh-extra-args", "-o ControlPersist=60s")
    assert result.returncode == 0
    assert result.stderr.splitlines() == [
        "pyengine: warning: ansible.cfg line 2: [defaults] nocows is ignored (not used by "
        "pyengine)",
        "pyengine: warning: --ssh-extra-args: ignored (the paramiko connection cannot "
        "honour them): -o ControlPersist=60s"]


def test_ask_pass_prompts_and_the_password_is_a_masked_lowest_variable(
        project: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import pyengine.executor.run as executor_run
    from pyengine.masking import mask_text

    seen: dict[str, Any] = {}

    def fake(book: Any, sources: Any, options: Any, reporter: Any) -> Any:
        seen["vars"] = sources.vm.get_vars("w1", book.plays[0])
        raise Captured()

    monkeypatch.setattr(executor_run, "run_playbook", fake)
    result = CliRunner().invoke(cli, ["run", "-i", "inv.ini", "p.yml", "-k"],
                                input="Sup3r-Secret-Pw\n")
    assert isinstance(result.exception, Captured), result.output
    assert "SSH password" in result.output
    assert seen["vars"]["ansible_password"] == "Sup3r-Secret-Pw"
    assert "Sup3r-Secret-Pw" not in mask_text("login with Sup3r-Secret-Pw")
    (project / "host_vars").mkdir()
    (project / "host_vars" / "w1.yml").write_text("ansible_password: from-inventory\n")
    result = CliRunner().invoke(cli, ["run", "-i", "inv.ini", "p.yml", "-k"],
                                input="Sup3r-Secret-Pw\n")
    assert seen["vars"]["ansible_password"] == "from-inventory"  # the inventory wins


def test_collection_roles_listed_as_ansible_playbook_lists_them(project: Path) -> None:
    """FQCN role names in task labels, and the argument-spec task Ansible adds first."""
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-core is not installed")
    role = project / "collections/ansible_collections/acme/hard/roles/base"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "tasks/main.yml").write_text("- name: harden\n  debug: msg=x\n  tags: [h1]\n")
    (role / "meta/argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    short_description: Base.\n    options:\n"
        "      level: {type: int}\n")
    (project / "c.yml").write_text(
        "- hosts: web\n  roles:\n    - acme.hard.base\n  tasks:\n"
        "    - include_role: {name: acme.hard.base}\n")
    mine = ours("-i", "inv.ini", "c.yml", "--list-tasks", "--list-tags")
    want = theirs("-i", "inv.ini", "c.yml", "--list-tasks", "--list-tags")
    assert mine.returncode == want.returncode == 0, mine.stderr + want.stderr
    assert mine.stdout == want.stdout


def test_playbook_named_by_fqcn_on_the_command_line(project: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-core is not installed")
    books = project / "colls/ansible_collections/acme/ops/playbooks"
    books.mkdir(parents=True)
    (books / "patch.yml").write_text("- name: patch\n  hosts: db\n  tasks:\n"
                                     "    - name: step\n      debug: msg=x\n")
    monkeypatch.setenv("ANSIBLE_COLLECTIONS_PATH", str(project / "colls"))
    mine = ours("-i", "inv.ini", "acme.ops.patch", "--list-tasks")
    want = theirs("-i", "inv.ini", "acme.ops.patch", "--list-tasks")
    assert mine.returncode == want.returncode == 0, mine.stderr + want.stderr
    assert mine.stdout == want.stdout
    missing = ours("-i", "inv.ini", "acme.ops.nope", "--list-tasks")
    assert missing.returncode == 3 and "acme.ops.nope: playbook not found" in missing.stderr


def test_inventory_command_reads_ansible_cfg_inventory(project: Path) -> None:
    result = CliRunner().invoke(cli, ["inventory", "graph"])
    assert result.exit_code != 0 and "`inventory` in ansible.cfg" in result.output
    (project / "ansible.cfg").write_text("[defaults]\ninventory = inv.ini\n")
    result = CliRunner().invoke(cli, ["inventory", "graph"])
    assert result.exit_code == 0, result.output
    assert "|--d1" in result.output
