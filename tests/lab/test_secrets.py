"""Vaulted secrets used for real on a lab host never show up anywhere.

One run of a three-play playbook: a vaulted database password goes into a
command, a debug message, a template (backed up into git) and a failing task;
an SSH login and a sudo
use vaulted passwords (user `labpw`); a `no_log` task's value turns up in a
later message. The secrets must appear in none of stdout, stderr, the JSON
report or anything the run left in the project folder (history database, backup
repository), while the host did receive them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from pyengine.lab import LAB_PW_PASSWORD, LAB_PW_USER
from pyengine.masking import MASK
from pyengine.vault import VaultLib, VaultSecret
from pyengine.vault.inline import format_yaml_value

pytestmark = pytest.mark.lab

BIN = Path(sys.executable).parent
BACKUP_REPO = "config-backup"

PLAYBOOK = """\
- hosts: vroot
  gather_facts: false
  tasks:
    - name: use the password in a command
      command: echo db={{ db_password | quote }}
      register: out
    - name: show what the command printed
      debug:
        msg: "got {{ out.stdout }} and token {{ api_token }}"
    - name: make the folder
      file:
        path: "{{ workdir }}"
        state: directory
    - name: render the password into a file
      template:
        src: app.conf.j2
        dest: "{{ workdir }}/app.conf"
        mode: "0600"
    - name: back up the rendered file
      backup:
        repo: config-backup
        default_set: false
        paths: ["{{ workdir }}/app.conf"]
    - name: commit the backup
      backup_commit:
        repo: config-backup
    - name: a no_log task
      command: echo "{{ nolog_value }}"
      no_log: true
    - name: the no_log value again later
      debug:
        msg: "later {{ nolog_value }}"

- hosts: vpw
  gather_facts: false
  tasks:
    - name: who logged in (by vaulted SSH password)
      command: id -un
      register: plain
    - name: sudo with the vaulted become password
      command: id -un
      become: true
      register: elevated

- hosts: vroot
  gather_facts: false
  tasks:
    - name: fail with the password on the command line
      shell: echo failed using {{ db_password | quote }} >&2; exit 3
"""


def _seal(password: bytes, vault_id: str, plaintext: str) -> str:
    return VaultLib([VaultSecret(vault_id, password)]).encrypt(
        plaintext.encode(), vault_id=vault_id).decode()


def _project(root: Path, lab, run_id: str) -> dict[str, str]:
    """Write the project; return the secrets it holds (name -> value)."""
    secrets = {
        "db_password": f"Db-Pa55'w\"rd-{run_id}",
        "api_token": f"tok_{run_id}_9f8e7d",
        "nolog_value": f"N0log-Value-{run_id}",
        "login": LAB_PW_PASSWORD,
    }
    host = lab.hosts[0]
    (root / "pw-prod").write_text("prod vault password\n")
    (root / "pw-default").write_text("default vault password\n")
    (root / "templates").mkdir()
    (root / "templates" / "app.conf.j2").write_text("[db]\npassword = {{ db_password }}\n")
    (root / "play.yml").write_text(PLAYBOOK)
    inventory = {"all": {
        "hosts": {
            "vroot": {"ansible_host": host.address, "ansible_port": host.port,
                      "ansible_user": "root",
                      "ansible_ssh_private_key_file": str(lab.private_key_path)},
            "vpw": {"ansible_host": host.address, "ansible_port": host.port,
                    "ansible_user": LAB_PW_USER, "pyengine_look_for_keys": False,
                    "pyengine_allow_agent": False},
        },
        "vars": {"pyengine_known_hosts": str(lab.known_hosts_path),
                 "ansible_python_interpreter": "/usr/bin/python3",
                 "workdir": f"/tmp/pyengine-vault-{run_id}",
                 "nolog_value": secrets["nolog_value"]},
    }}
    inv = root / "inventory"
    (inv / "group_vars" / "all").mkdir(parents=True)
    (inv / "host_vars").mkdir()
    (inv / "hosts.yml").write_text(json.dumps(inventory))
    # A whole-file vault made by the real ansible-vault, with vault id "prod".
    vault_file = inv / "group_vars" / "all" / "vault.yml"
    vault_file.write_text(f"db_password: {json.dumps(secrets['db_password'])}\n"
                          f"api_token: {secrets['api_token']}\n")
    subprocess.run([str(BIN / "ansible-vault"), "encrypt", "--vault-id", "prod@pw-prod",
                    str(vault_file)], cwd=root, check=True, capture_output=True,
                   env={"PATH": "/usr/bin:/bin", "HOME": str(root)})
    # Inline values made by pyengine, with the default id.
    password = b"default vault password"
    (inv / "host_vars" / "vpw.yml").write_text(
        format_yaml_value(_seal(password, "default", LAB_PW_PASSWORD), "ansible_password")
        + "\n"
        + format_yaml_value(_seal(password, "default", LAB_PW_PASSWORD),
                            "ansible_become_password") + "\n")
    return secrets


def _forms(secret: str) -> list[str]:
    return [secret, json.dumps(secret)[1:-1], json.dumps(json.dumps(secret))[1:-1]]


def _inputs(root: Path) -> dict[str, bytes]:
    """The project as written before the run (its own inputs hold the plain values)."""
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def _leftovers(root: Path, inputs: dict[str, bytes]) -> dict[str, bytes]:
    """Everything the run wrote into the project: files, and git history as text."""
    found: dict[str, bytes] = {}
    for path in root.rglob("*"):
        name = str(path.relative_to(root))
        if path.is_file() and ".git" not in path.parts and inputs.get(name) != path.read_bytes():
            found[name] = path.read_bytes()
    for git_dir in root.rglob(".git"):
        log = subprocess.run(["git", "-C", str(git_dir.parent), "log", "-p", "--all"],
                             capture_output=True, check=False)
        found[f"{git_dir.parent.relative_to(root)} (git log -p)"] = log.stdout
    return found


@dataclass
class Run:
    root: Path
    run_id: str
    secrets: dict[str, str]
    returncode: int
    stdout: str
    stderr: str
    report: dict[str, Any]
    inputs: dict[str, bytes]

    def task(self, name: str) -> dict[str, Any]:
        for host in self.report["hosts"].values():
            for task in host["tasks"]:
                if task["name"] == name:
                    return task  # type: ignore[no-any-return]
        raise AssertionError(f"no task {name!r} in the report:\n{self.stdout}{self.stderr}")

    def places(self, backups: bool = False) -> dict[str, bytes]:
        """Where a secret could have leaked; the backup repository only if `backups`."""
        found = {"stdout": self.stdout.encode(), "stderr": self.stderr.encode(),
                 **_leftovers(self.root, self.inputs)}
        return {place: data for place, data in found.items()
                if place.startswith(BACKUP_REPO) == backups or place in ("stdout", "stderr")}


@pytest.fixture(scope="module")
def run(lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Run]:
    """One `pyengine run` of the playbook, shared by the tests below."""
    root = tmp_path_factory.mktemp("secrets")
    run_id = uuid.uuid4().hex[:10]
    secrets = _project(root, lab, run_id)
    inputs = _inputs(root)
    try:
        proc = subprocess.run(
            [str(BIN / "pyengine"), "run", "play.yml", "-i", "inventory", "-v", "--diff",
             "--vault-id", "prod@pw-prod", "--vault-password-file", "pw-default",
             "--report-json", "report.json"],
            cwd=root, capture_output=True, timeout=300, check=False,
        )
        report_path = root / "report.json"
        report = json.loads(report_path.read_text()) if report_path.exists() else {}
        yield Run(root, run_id, secrets, proc.returncode, proc.stdout.decode(),
                  proc.stderr.decode(), report, inputs)
    finally:
        lab.hosts[0].exec(["rm", "-rf", f"/tmp/pyengine-vault-{run_id}"], check=False)


def test_vaulted_secrets_are_used_but_never_shown(run: Run, lab) -> None:
    assert run.returncode == 2, run.stdout + run.stderr  # the last task fails, on purpose
    # The secrets did their job: a password login, a sudo, a file on the host ...
    assert run.task("who logged in (by vaulted SSH password)")["result"]["stdout"] == LAB_PW_USER
    assert run.task("sudo with the vaulted become password")["result"]["stdout"] == "root"
    assert run.task("fail with the password on the command line")["status"] == "failed"
    on_host = lab.hosts[0].exec(["cat", f"/tmp/pyengine-vault-{run.run_id}/app.conf"]).stdout
    assert on_host == f"[db]\npassword = {run.secrets['db_password']}\n"
    # ... and were masked where they would have shown.
    assert f"got db={MASK} and token {MASK}" in run.stdout
    assert f"password = {MASK}" in run.stdout  # the template's diff
    assert f"failed using {MASK}" in run.stdout + run.stderr
    assert run.task("commit the backup")["status"] == "changed"
    places = run.places()
    assert "report.json" in places
    for name in ("db_password", "api_token", "login"):
        for form in _forms(run.secrets[name]):
            for place, data in places.items():
                assert form.encode() not in data, f"{name} leaked into {place}"


def test_no_log_task_output_is_censored(run: Run) -> None:
    task = run.task("a no_log task")
    assert "censored" in task["result"] and "cmd" not in task["result"]
    assert "echo" not in json.dumps(task)


def test_no_log_values_stay_masked_in_later_tasks(run: Run) -> None:
    assert f"later {MASK}" in run.stdout
    for form in _forms(run.secrets["nolog_value"]):
        for place, data in run.places().items():
            assert form.encode() not in data, f"the no_log value leaked into {place}"


def test_backup_commit_holds_no_vaulted_secret(run: Run) -> None:
    places = run.places(backups=True)
    assert any("git log" in place for place in places)
    for name in ("db_password", "api_token", "login"):
        for form in _forms(run.secrets[name]):
            for place, data in places.items():
                assert form.encode() not in data, f"{name} leaked into {place}"
