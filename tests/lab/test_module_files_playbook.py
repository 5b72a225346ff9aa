"""The file modules as users run them: a playbook through `pyengine run` on a lab host.

One play uses every file-changing module (Ansible names, `ansible.builtin.` aliases,
controller `src` files and a template) on its own file each. The test (1) applies it,
(2) checks the files inside the host with independent commands, (3) runs it again:
zero changes, (4) drifts every file, runs with --check: every task reports a change and
nothing on the host moved, then (5) a --diff run shows the drift being undone.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

PLAY = """
- hosts: h1
  gather_facts: false
  vars:
    base: {base}
  tasks:
    - name: folder
      ansible.builtin.file: {{path: "{{{{ base }}}}", state: directory, mode: "0750"}}
    - name: banner from files/
      ansible.builtin.copy: {{src: issue.net, dest: "{{{{ base }}}}/issue.net", mode: "0644"}}
    - name: motd from a template
      template: {{src: motd.j2, dest: "{{{{ base }}}}/motd", mode: "0600"}}
    - name: sshd setting
      lineinfile: {{path: "{{{{ base }}}}/sshd_config", regexp: "^#?PermitRootLogin",
                   line: "PermitRootLogin no", validate: "/usr/sbin/sshd -t -f %s"}}
    - name: limits block
      ansible.builtin.blockinfile: {{path: "{{{{ base }}}}/limits.conf", block: "* hard core 0",
                                    create: true}}
    - name: password ageing
      replace: {{path: "{{{{ base }}}}/login.defs", regexp: '^PASS_MAX_DAYS\\s+\\d+$',
                replace: "PASS_MAX_DAYS 90"}}
    - name: current link
      file: {{path: "{{{{ base }}}}/current", src: "{{{{ base }}}}/issue.net", state: link}}
"""

STATE = ("cd {base} && stat -c '%n %F %a' . issue.net motd current && readlink current"
         " && cat issue.net motd limits.conf; grep -c '^PermitRootLogin no$' sshd_config"
         "; grep PASS_MAX login.defs")

EXPECTED = """. directory 750
issue.net regular file 644
motd regular file 600
current symbolic link 777
{base}/issue.net
Authorised use only
Welcome to h1
# BEGIN ANSIBLE MANAGED BLOCK
* hard core 0
# END ANSIBLE MANAGED BLOCK
1
PASS_MAX_DAYS 90
"""

DRIFT = ("cd {base} && chmod 0755 . && echo x >> issue.net && echo y >> motd"
         " && sed -i 's/core 0/core 1/' limits.conf"
         " && sed -i 's/^PermitRootLogin no$/PermitRootLogin yes/' sshd_config"
         " && sed -i 's/PASS_MAX_DAYS 90/PASS_MAX_DAYS 99999/' login.defs"
         " && ln -sfn {base}/motd current")


@pytest.fixture
def project(lab: Any, tmp_path: Path) -> Iterator[tuple[Path, str, Any]]:
    host = lab.hosts[0]
    base = f"/root/pye-pbtest-{uuid.uuid4().hex[:10]}"
    (tmp_path / "files").mkdir()
    (tmp_path / "files" / "issue.net").write_text("Authorised use only\n")
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "motd.j2").write_text("Welcome to {{ inventory_hostname }}\n")
    (tmp_path / "site.yml").write_text(PLAY.format(base=base))
    # What the host already has: a real sshd_config and a login.defs to edit.
    host.exec(["/bin/sh", "-c", f"mkdir -p {base} && cp /etc/ssh/sshd_config {base}/ && "
               f"printf 'UMASK 022\\nPASS_MAX_DAYS\\t99999\\n' > {base}/login.defs"])
    yield tmp_path, base, host
    host.exec(["rm", "-rf", base])


def run(lab: Any, project: Path, *extra: str) -> dict[str, Any]:
    report = project / f"report-{uuid.uuid4().hex[:6]}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pyengine", "run", "-i", str(lab.inventory_path),
         str(project / "site.yml"), "--report-json", str(report), *extra],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    data: dict[str, Any] = json.loads(report.read_text())
    return data


def changed_tasks(report: dict[str, Any]) -> list[str]:
    return [t["name"] for t in report["hosts"]["h1"]["tasks"] if t["changed"]]


def test_playbook_of_file_modules_converges_and_check_mode_agrees(
        lab: Any, project: tuple[Path, str, Any]) -> None:
    path, base, host = project

    def state() -> str:
        return str(host.exec(["/bin/sh", "-c", STATE.format(base=base)]).stdout)

    first = run(lab, path)
    names = [t["name"] for t in first["hosts"]["h1"]["tasks"]]
    assert changed_tasks(first) == names  # every task had something to do
    assert state() == EXPECTED.format(base=base)

    second = run(lab, path)
    assert changed_tasks(second) == []
    assert all(t["msg"] for t in second["hosts"]["h1"]["tasks"])  # each says why
    assert state() == EXPECTED.format(base=base)

    host.exec(["/bin/sh", "-c", DRIFT.format(base=base)])
    drifted = state()
    checked = run(lab, path, "--check")
    assert checked["check_mode"] is True
    assert changed_tasks(checked) == names
    assert state() == drifted  # check mode moved nothing

    fixed = run(lab, path, "--diff")
    assert changed_tasks(fixed) == names
    assert state() == EXPECTED.format(base=base)
    diffs = {t["name"]: t["diff"] for t in fixed["hosts"]["h1"]["tasks"]}
    assert diffs["banner from files/"]["before"] == "Authorised use only\nx\n"
    assert diffs["banner from files/"]["after"] == "Authorised use only\n"
    assert "PermitRootLogin yes" in diffs["sshd setting"]["before"]
    assert "PermitRootLogin no" in diffs["sshd setting"]["after"]
    assert diffs["folder"] == {"before": {"path": base, "state": "directory", "mode": "0755"},
                               "after": {"path": base, "state": "directory", "mode": "0750"}}
    assert diffs["current link"]["before"]["src"] == f"{base}/motd"
