"""Installed Ansible modules through `pyengine run` on a lab host (the module bridge).

community.general.ini_file and ansible.posix.mount are forced through the bridge
(PYENGINE_ANSIBLE_MODULES: pyengine has native versions too); community.general.decompress
carries module_utils of its own collection (mh.module_helper and more, several levels).
One play mixes them with native tasks. The test (1) applies it: every bridged and native
task in ONE batch (two round trips in all: facts, batch), (2) checks the host with
independent commands, (3) runs again: zero changes, (4) drifts the files and runs with
--check: changes reported, nothing moved, (5) shows that a no_log task's values never
reach the report, and (6) that nothing is left in /tmp or ~/.ansible on the host.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab
pytest.importorskip("ansible_collections.community.general", reason="needs `pip install ansible`")

SECRET = "s3cr3t-" + uuid.uuid4().hex[:8]

PLAY = """
- hosts: h1
  gather_facts: false
  vars:
    base: {base}
    token: {secret}
  tasks:
    - name: folder (native)
      file: {{path: "{{{{ base }}}}", state: directory, mode: "0750"}}
    - name: ini setting (bridge)
      community.general.ini_file: {{path: "{{{{ base }}}}/app.ini", section: main,
                                    option: level, value: "3", mode: "0640"}}
    - name: fstab entry (bridge, own module_utils)
      ansible.posix.mount: {{path: /mnt/pyengine-bridge, src: tmpfs, fstype: tmpfs,
                             opts: "size=1m", state: present, fstab: "{{{{ base }}}}/fstab"}}
    - name: compressed input (native)
      copy: {{content: "payload\\n", dest: "{{{{ base }}}}/data"}}
    - name: gzip it once (native)
      command: {{cmd: "gzip -k {{{{ base }}}}/data", creates: "{{{{ base }}}}/data.gz"}}
    - name: decompress (bridge, collection module_utils)
      community.general.decompress: {{src: "{{{{ base }}}}/data.gz",
                                      dest: "{{{{ base }}}}/data.out"}}
    - name: secret setting (bridge, no_log)
      community.general.ini_file: {{path: "{{{{ base }}}}/secret.ini", section: auth,
                                    option: token, value: "{{{{ token }}}}", mode: "0600"}}
      no_log: true
    - name: line after (native)
      lineinfile: {{path: "{{{{ base }}}}/app.ini", line: "# managed"}}
"""

STATE = ("cd {base} && stat -c '%n %a' app.ini secret.ini && cat app.ini fstab data.out"
         " && grep -c token secret.ini")

EXPECTED = """app.ini 640
secret.ini 600

[main]
level = 3
# managed
tmpfs /mnt/pyengine-bridge tmpfs size=1m 0 0
payload
1
"""

FORCED = "community.general.ini_file,ansible.posix.mount"
TMP_STATE = "ls -A /tmp; ls -A ~/.ansible 2>/dev/null; true"


@pytest.fixture
def project(lab: Any, tmp_path: Path) -> Iterator[tuple[Path, str, Any]]:
    host = lab.hosts[0]
    base = f"/root/pye-bridge-{uuid.uuid4().hex[:10]}"
    (tmp_path / "site.yml").write_text(PLAY.format(base=base, secret=SECRET))
    yield tmp_path, base, host
    host.exec(["rm", "-rf", base])


def run(lab: Any, project: Path, *extra: str) -> dict[str, Any]:
    report = project / f"report-{uuid.uuid4().hex[:6]}.json"
    env = dict(os.environ, PYENGINE_ANSIBLE_MODULES=FORCED)
    proc = subprocess.run(
        [sys.executable, "-m", "pyengine", "run", "-i", str(lab.inventory_path),
         str(project / "site.yml"), "--report-json", str(report), *extra],
        capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert SECRET not in proc.stdout + proc.stderr
    text = report.read_text()
    assert SECRET not in text  # no_log and masking hold for bridged results too
    data: dict[str, Any] = json.loads(text)
    return data


def changed(report: dict[str, Any]) -> list[str]:
    return [t["name"] for t in report["hosts"]["h1"]["tasks"] if t["changed"]]


def test_bridged_modules_converge_in_one_batch_with_native_tasks(
        lab: Any, project: tuple[Path, str, Any]) -> None:
    path, base, host = project

    def state() -> str:
        return str(host.exec(["/bin/sh", "-c", STATE.format(base=base)]).stdout)

    tmp_before = str(host.exec(["/bin/sh", "-c", TMP_STATE]).stdout)
    first = run(lab, path)
    h1 = first["hosts"]["h1"]
    assert h1["failed"] == 0, [t["msg"] for t in h1["tasks"]]
    names = [t["name"] for t in h1["tasks"]]
    assert changed(first) == names
    assert state() == EXPECTED
    # Facts exchange + one batch holding all eight tasks, bridged ones included.
    assert h1["round_trips"] == 2 and h1["batches"] == [len(names)]
    by_name = {t["name"]: t for t in h1["tasks"]}
    assert by_name["ini setting (bridge)"]["msg"] == "section and option added"
    assert by_name["ini setting (bridge)"]["module"] == "community.general.ini_file"
    secret_task = by_name["secret setting (bridge, no_log)"]
    assert "invocation" not in json.dumps(secret_task["result"])

    second = run(lab, path)
    assert changed(second) == []
    assert second["hosts"]["h1"]["round_trips"] == 2
    assert state() == EXPECTED

    host.exec(["/bin/sh", "-c", f"cd {base} && sed -i 's/level = 3/level = 4/' app.ini && "
                                "sed -i 's/^token = .*/token = old/' secret.ini && "
                                ": > fstab && rm data.out"])
    drifted = ["/bin/sh", "-c", f"cd {base} && cat app.ini fstab secret.ini && ls"]
    drifted_text = str(host.exec(drifted).stdout)
    checked = run(lab, path, "--check")
    assert checked["check_mode"] is True
    assert set(changed(checked)) == {
        "ini setting (bridge)", "fstab entry (bridge, own module_utils)",
        "decompress (bridge, collection module_utils)", "secret setting (bridge, no_log)"}
    assert str(host.exec(drifted).stdout) == drifted_text  # check mode moved nothing

    fixed = run(lab, path, "--diff")
    assert "ini setting (bridge)" in changed(fixed)
    diff = {t["name"]: t["diff"] for t in fixed["hosts"]["h1"]["tasks"]}["ini setting (bridge)"]
    assert "level = 4" in json.dumps(diff) and "level = 3" in json.dumps(diff)
    assert state() == EXPECTED
    assert str(host.exec(["/bin/sh", "-c", TMP_STATE]).stdout) == tmp_before


def test_mount_in_check_mode_changes_nothing(lab: Any, tmp_path: Path) -> None:
    host = lab.hosts[1]
    base = f"/root/pye-bridge-{uuid.uuid4().hex[:10]}"
    # Ansible's mount creates a missing fstab even in check mode: give it one.
    host.exec(["/bin/sh", "-c", f"mkdir -p {base} && echo '# mine' > {base}/fstab"])
    try:
        (tmp_path / "site.yml").write_text(f"""
- hosts: h2
  gather_facts: false
  tasks:
    - name: would add an fstab line
      ansible.posix.mount: {{path: /mnt/x, src: tmpfs, fstype: tmpfs, state: present,
                             fstab: {base}/fstab}}
      check_mode: true
    - name: would unmount what is not mounted
      ansible.posix.mount: {{path: /mnt/pyengine-never-mounted, state: unmounted}}
      check_mode: true
""")
        env = dict(os.environ, PYENGINE_ANSIBLE_MODULES="ansible.posix.mount")
        for _ in range(2):
            report = tmp_path / "r.json"
            proc = subprocess.run(
                [sys.executable, "-m", "pyengine", "run", "-i", str(lab.inventory_path),
                 str(tmp_path / "site.yml"), "--report-json", str(report)],
                capture_output=True, text=True, timeout=300, env=env)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            tasks = json.loads(report.read_text())["hosts"]["h2"]["tasks"]
            assert [t["changed"] for t in tasks] == [True, False]
            assert str(host.exec(["cat", f"{base}/fstab"]).stdout) == "# mine\n"
    finally:
        host.exec(["rm", "-rf", base])


def test_bridged_modules_with_and_without_become(lab: Any, tmp_path: Path) -> None:
    """Logged in as labuser (-e: inventory ansible_user beats -u, as in Ansible): a bridged
    task with become writes as root, one without as labuser (two agents, each its own
    warm process); twice, the second run changes nothing; nothing left in /tmp or home."""
    host = lab.hosts[2]
    tag = uuid.uuid4().hex[:8]
    (tmp_path / "site.yml").write_text(f"""
- hosts: h3
  gather_facts: false
  tasks:
    - name: as root
      community.general.ini_file: {{path: /root/pye-bridge-{tag}.ini, section: s, option: o,
                                    value: v}}
      become: true
    - name: as labuser
      community.general.ini_file: {{path: /home/labuser/pye-bridge-{tag}.ini, section: s,
                                    option: o, value: v}}
""")
    before = str(host.exec(["/bin/sh", "-c", "ls -A /tmp /home/labuser"]).stdout)
    env = dict(os.environ, PYENGINE_ANSIBLE_MODULES=FORCED)
    try:
        for expected in (True, False):
            report = tmp_path / "r.json"
            proc = subprocess.run(
                [sys.executable, "-m", "pyengine", "run", "-i", str(lab.inventory_path),
                 str(tmp_path / "site.yml"), "-e", "ansible_user=labuser", "--report-json",
                 str(report)],
                capture_output=True, text=True, timeout=300, env=env)
            assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
            tasks = json.loads(report.read_text())["hosts"]["h3"]["tasks"]
            assert [t["changed"] for t in tasks] == [expected, expected], tasks
        owners = str(host.exec(["/bin/sh", "-c", f"stat -c %U /root/pye-bridge-{tag}.ini "
                                f"/home/labuser/pye-bridge-{tag}.ini"]).stdout)
        assert owners == "root\nlabuser\n"
        after = str(host.exec(["/bin/sh", "-c", "ls -A /tmp /home/labuser"]).stdout)
        assert after.replace(f"pye-bridge-{tag}.ini\n", "") == before
    finally:
        host.exec(["/bin/sh", "-c", f"rm -f /root/pye-bridge-{tag}.ini "
                                    f"/home/labuser/pye-bridge-{tag}.ini"])
