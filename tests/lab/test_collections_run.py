"""Collections, Ansible's flags and ansible.cfg, run on the lab's real sshd hosts.

A collection role named by FQCN with `notify` on a block runs twice (the handler runs
once, the second run changes nothing); -u/--private-key/-b/--become-user/-T and the
same settings from ansible.cfg reach the host; --start-at-task and --force-handlers
change what runs as in Ansible. Every test writes under its own folder on the hosts
and checks it through `host.exec` (nsenter, not SSH).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab


def run(lab: Any, cwd: Path, book: str, *args: str, inventory: Path | None = None,
        env: dict[str, str] | None = None) -> tuple[int, dict[str, Any], str]:
    path = cwd / f"play-{uuid.uuid4().hex[:6]}.yml"
    path.write_text(textwrap.dedent(book))
    report = cwd / f"report-{uuid.uuid4().hex[:6]}.json"
    inv = ["-i", str(inventory or lab.inventory_path)] if inventory is not False else []
    cmd = [sys.executable, "-m", "pyengine", "run", str(path), *inv, "--report-json",
           str(report), "--limit", "h1", *args]
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=cwd,
                          env={**clean, "HOME": str(cwd), **(env or {})})
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


@pytest.fixture
def workdir(lab: Any) -> Any:
    path = f"/tmp/pe-coll-{uuid.uuid4().hex[:8]}"
    yield path
    lab.hosts[0].exec(["rm", "-rf", path], check=False)


def sh(lab: Any, *argv: str) -> str:
    return str(lab.hosts[0].exec(list(argv), check=False).stdout)


def test_collection_role_with_notify_on_a_block_runs_twice(lab: Any, tmp_path: Path,
                                                           workdir: str) -> None:
    role = tmp_path / "collections/ansible_collections/acme/hardening/roles/motd"
    (role / "tasks").mkdir(parents=True)
    (role / "handlers").mkdir()
    (role / "tasks/main.yml").write_text(textwrap.dedent(f"""\
        - name: Configure the banner
          notify: Record the restart
          block:
            - name: directory
              file: {{path: {workdir}, state: directory, mode: "0755"}}
            - name: banner
              copy: {{dest: {workdir}/banner, content: "managed\\n", mode: "0644"}}
        - name: issue
          copy: {{dest: {workdir}/issue, content: "x\\n"}}
          notify: "acme.hardening.motd : Note it"
        """))
    (role / "handlers/main.yml").write_text(
        f"- name: Record the restart\n  shell: echo run >> {workdir}/handler.log\n"
        f"- name: Note it\n  shell: echo noted >> {workdir}/handler.log\n")
    book = """
        - hosts: all
          roles:
            - acme.hardening.motd
        """
    rc, report, out = run(lab, tmp_path, book)
    assert rc == 0, out
    assert report["hosts"]["h1"]["changed"] == 5, out  # three tasks + two handlers
    # Handlers run in the order they are defined; 'role : name' (FQCN) notifies too.
    assert sh(lab, "cat", f"{workdir}/handler.log") == "run\nnoted\n"
    assert sh(lab, "cat", f"{workdir}/banner") == "managed\n"
    rc, report, out = run(lab, tmp_path, book)
    assert rc == 0, out
    assert report["hosts"]["h1"]["changed"] == 0, out
    assert sh(lab, "cat", f"{workdir}/handler.log") == "run\nnoted\n"  # not notified again


def bare_inventory(lab: Any, tmp_path: Path) -> Path:
    """The lab's host h1 with neither user nor key: the flags must supply them."""
    host = lab.hosts[0]
    text = (f"h1 ansible_host={host.address} ansible_port=22 "
            f"pyengine_known_hosts={lab.known_hosts_path} "
            f"ansible_python_interpreter=/usr/bin/python3\n")
    path = tmp_path / "bare.ini"
    path.write_text(text)
    return path


WHO = """
    - hosts: all
      gather_facts: false
      tasks:
        - command: id -un
          register: who
          changed_when: false
        - debug: msg="WHO={{ who.stdout }}"
    """


def test_user_key_become_and_timeout_flags(lab: Any, tmp_path: Path) -> None:
    inv = bare_inventory(lab, tmp_path)
    key = str(lab.private_key_path)
    rc, _, out = run(lab, tmp_path, WHO, inventory=inv)
    assert rc == 4, out  # no user, no key: root@ without a key is refused
    rc, _, out = run(lab, tmp_path, WHO, "-u", "labuser", "--private-key", key, "-T", "7",
                     inventory=inv)
    assert rc == 0 and "WHO=labuser" in out, out
    rc, _, out = run(lab, tmp_path, WHO, "-u", "labuser", "--private-key", key, "-b",
                     inventory=inv)
    assert rc == 0 and "WHO=root" in out, out
    rc, _, out = run(lab, tmp_path, WHO, "-u", "root", "--key-file", key, "-b",
                     "--become-user", "labuser", "--become-method", "sudo", inventory=inv)
    assert rc == 0 and "WHO=labuser" in out, out


def test_the_same_settings_from_ansible_cfg(lab: Any, tmp_path: Path) -> None:
    inv = bare_inventory(lab, tmp_path)
    (tmp_path / "ansible.cfg").write_text(
        f"[defaults]\ninventory = {inv.name}\nremote_user = labuser\n"
        f"private_key_file = {lab.private_key_path}\ntimeout = 9\n"
        "[privilege_escalation]\nbecome = true\n")
    rc, _, out = run(lab, tmp_path, WHO, inventory=False)  # type: ignore[arg-type]
    assert rc == 0 and "WHO=root" in out, out
    # A play keyword beats the file (Ansible's order); ANSIBLE_BECOME beats the file too.
    rc, _, out = run(lab, tmp_path, WHO.replace("gather_facts: false",
                                                "gather_facts: false\n      become: false"),
                     inventory=False)  # type: ignore[arg-type]
    assert rc == 0 and "WHO=labuser" in out, out
    rc, _, out = run(lab, tmp_path, WHO, inventory=False,  # type: ignore[arg-type]
                     env={"ANSIBLE_BECOME": "false"})
    assert rc == 0 and "WHO=labuser" in out, out


def test_start_at_task_and_force_handlers(lab: Any, tmp_path: Path, workdir: str) -> None:
    book = f"""
        - hosts: all
          gather_facts: false
          tasks:
            - file: {{path: {workdir}, state: directory}}
            - name: one
              copy: {{dest: {workdir}/one, content: "1"}}
            - name: two
              copy: {{dest: {workdir}/two, content: "2"}}
              notify: mark
            - name: breaks
              command: /bin/false
              when: fail_now | default(false)
          handlers:
            - name: mark
              copy: {{dest: {workdir}/handled, content: "h"}}
        """
    lab.hosts[0].exec(["mkdir", "-p", workdir])
    rc, _, out = run(lab, tmp_path, book, "--start-at-task", "tw*")
    assert rc == 0, out
    assert sh(lab, "ls", workdir).split() == ["handled", "two"]
    lab.hosts[0].exec(["rm", "-rf", workdir])
    rc, _, out = run(lab, tmp_path, book, "-e", "fail_now=true")
    assert rc == 2, out
    assert "handled" not in sh(lab, "ls", workdir).split()
    lab.hosts[0].exec(["rm", "-rf", workdir])
    rc, _, out = run(lab, tmp_path, book, "-e", "fail_now=true", "--force-handlers")
    assert rc == 2, out
    assert sh(lab, "cat", f"{workdir}/handled") == "h"


def test_ssh_common_args_reach_the_connection(lab: Any, tmp_path: Path) -> None:
    """Without pyengine_known_hosts the host key is unknown (refused); the same
    UserKnownHostsFile given as Ansible users give it makes the connection."""
    host = lab.hosts[0]
    inv = tmp_path / "nokh.ini"
    inv.write_text(f"h1 ansible_host={host.address} ansible_user=root "
                   f"ansible_ssh_private_key_file={lab.private_key_path} "
                   f"ansible_python_interpreter=/usr/bin/python3\n")
    rc, _, out = run(lab, tmp_path, WHO, inventory=inv)
    assert rc == 4, out
    rc, _, out = run(lab, tmp_path, WHO, "--ssh-common-args",
                     f"-o UserKnownHostsFile={lab.known_hosts_path} -o ControlMaster=auto",
                     inventory=inv)
    assert rc == 0 and "WHO=root" in out, out
    assert "ignored (the paramiko connection cannot honour them): -o ControlMaster=auto" in out


def test_role_argument_spec_is_checked_before_the_role_runs(lab: Any, tmp_path: Path,
                                                            workdir: str) -> None:
    role = tmp_path / "roles/sized"
    (role / "tasks").mkdir(parents=True)
    (role / "meta").mkdir()
    (role / "defaults").mkdir()
    (role / "defaults/main.yml").write_text("size: 10\n")
    (role / "meta/argument_specs.yml").write_text(
        "argument_specs:\n  main:\n    options:\n      size: {type: int}\n"
        "      mode: {type: str, choices: [small, big]}\n")
    (role / "tasks/main.yml").write_text(
        f"- copy: {{dest: {workdir}, content: '{{{{ size }}}}'}}\n")
    rc, report, out = run(lab, tmp_path, "- hosts: all\n  roles: [sized]\n")
    assert rc == 0, out
    assert sh(lab, "cat", workdir) == "10"
    lab.hosts[0].exec(["rm", "-f", workdir])
    rc, report, out = run(lab, tmp_path, "- hosts: all\n  roles: [sized]\n",
                          "-e", "size=big", "-e", "mode=huge")
    assert rc == 2, out
    assert "Validation of arguments failed" in out and "must be one of: small, big" in out
    assert sh(lab, "ls", workdir) == ""  # the role's task never ran


def test_several_playbooks_in_one_run(lab: Any, tmp_path: Path, workdir: str) -> None:
    second = tmp_path / "second.yml"
    second.write_text(textwrap.dedent(f"""\
        - name: second book
          hosts: all
          gather_facts: false
          tasks:
            - copy: {{dest: {workdir}/b, content: "b"}}
        """))
    first = f"""
        - name: first book
          hosts: all
          gather_facts: false
          tasks:
            - file: {{path: {workdir}, state: directory}}
            - copy: {{dest: {workdir}/a, content: "a"}}
        """
    rc, report, out = run(lab, tmp_path, first, str(second))
    assert rc == 0, out
    assert sh(lab, "ls", workdir).split() == ["a", "b"]
    assert report["hosts"]["h1"]["changed"] == 3
    assert out.count("PLAY RECAP") == 1
