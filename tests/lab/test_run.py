"""`pyengine run` against the lab's real sshd hosts: become, batching, unreachable hosts.

Every test writes under its own folder on the hosts (/tmp/pe-run-<id>) and
checks it independently through `lab.host(...).exec` (nsenter, not SSH).
Round trips come from the JSON report: the agent session's own count.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab


def pyengine_run(lab: Any, tmp_path: Path, playbook: str, *args: str,
                 timeout: float = 300) -> tuple[int, dict[str, Any], str]:
    book = tmp_path / f"play-{uuid.uuid4().hex[:6]}.yml"
    book.write_text(textwrap.dedent(playbook))
    report = tmp_path / f"report-{uuid.uuid4().hex[:6]}.json"
    cmd = [sys.executable, "-m", "pyengine", "run", str(book), "-i", str(lab.inventory_path),
           "--report-json", str(report), *args]
    # cwd: the run history (.pyengine/) lands in the test's folder, not the checkout.
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=tmp_path)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


@pytest.fixture
def workdir() -> str:
    return f"/tmp/pe-run-{uuid.uuid4().hex[:8]}"


def cleanup(lab: Any, path: str) -> None:
    for host in lab.hosts:
        host.exec(["rm", "-rf", path], check=False)


def test_play_over_all_hosts_with_become_as_labuser(lab: Any, tmp_path: Path,
                                                     workdir: str) -> None:
    play = f"""
        - hosts: all
          become: true
          tasks:
            - file: {{path: {workdir}, state: directory, mode: "0750"}}
            - copy: {{dest: {workdir}/motd, content: "hello {{{{ inventory_hostname }}}}\\n"}}
            - lineinfile: {{path: {workdir}/conf, line: "managed", create: true}}
            - command: id -u
              register: me
              changed_when: false
            - assert: {{that: me.stdout == "0"}}
        """
    try:
        rc, report, out = pyengine_run(lab, tmp_path, play, "-e", "ansible_user=labuser")
        assert rc == 0, out
        assert len(report["hosts"]) == len(lab.hosts)
        for name, host in report["hosts"].items():
            assert host["failed"] == 0 and host["changed"] == 3, (name, host)
            # facts + the first three (and the command) + nothing for the controller assert
            assert host["round_trips"] == 2, host["batches"]
        for host in lab.hosts:
            got = host.exec(["stat", "-c", "%U %a", workdir]).stdout.split()
            assert got == ["root", "750"]
            text = host.exec(["cat", f"{workdir}/motd"]).stdout
            assert text == f"hello {host.name}\n"
            assert host.exec(["cat", f"{workdir}/conf"]).stdout == "managed\n"
        rc, report, out = pyengine_run(lab, tmp_path, play, "-e", "ansible_user=labuser")
        assert rc == 0, out
        assert all(h["changed"] == 0 for h in report["hosts"].values())
    finally:
        cleanup(lab, workdir)


def test_without_become_tasks_run_as_the_connecting_user(lab: Any, tmp_path: Path) -> None:
    rc, report, out = pyengine_run(lab, tmp_path, """
        - hosts: h1
          tasks:
            - command: id -un
              register: me
              changed_when: false
            - assert: {that: me.stdout == "labuser"}
        """, "-e", "ansible_user=labuser")
    assert rc == 0, out


def test_batching_cuts_exactly_where_a_registered_result_is_used(
        lab: Any, tmp_path: Path, workdir: str) -> None:
    play = f"""
        - hosts: h1:h2
          tasks:
            - file: {{path: {workdir}, state: directory}}
            - command: cat /etc/hostname
              register: hn
              changed_when: false
            - copy: {{dest: {workdir}/a, content: "a"}}
            - copy: {{dest: {workdir}/b, content: "b"}}
            - name: first reader of hn cuts here
              copy: {{dest: {workdir}/hn, content: "{{{{ hn.stdout }}}}"}}
            - copy: {{dest: {workdir}/c, content: "c"}}
            - command: echo 1
              register: one
              changed_when: false
            - copy: {{dest: {workdir}/d, content: "d"}}
            - debug: {{msg: "{{{{ one.stdout }}}}"}}
            - copy: {{dest: {workdir}/e, content: "e"}}
        """
    try:
        rc, report, out = pyengine_run(lab, tmp_path, play, "-vv")
        assert rc == 0, out
        for name in ("h1", "h2"):
            host = report["hosts"][name]
            # facts, [file, command, copy a, copy b], [copy hn, copy c, command, copy d],
            # then debug (controller, no trip) and [copy e].
            assert host["batches"] == [4, 4, 1], host["batches"]
            assert host["round_trips"] == 4
        assert lab.host("h2").exec(["cat", f"{workdir}/hn"]).stdout.strip() == "h2"
        assert "round trip 3" in out
    finally:
        cleanup(lab, workdir)


def test_handlers_and_block_rescue_and_exit_code_2(lab: Any, tmp_path: Path,
                                                   workdir: str) -> None:
    play = f"""
        - hosts: h1:h2:h3
          handlers:
            - name: note restart
              command: touch {workdir}/restarted
          tasks:
            - file: {{path: {workdir}, state: directory}}
            - copy: {{dest: {workdir}/conf, content: "x"}}
              notify: note restart
            - block:
                - command: "false"
                  when: inventory_hostname == "h2"
              rescue:
                - copy: {{dest: {workdir}/rescued, content: "r"}}
            - command: "false"
              when: inventory_hostname == "h3"
            - copy: {{dest: {workdir}/end, content: "e"}}
        """
    try:
        rc, report, out = pyengine_run(lab, tmp_path, play)
        assert rc == 2, out
        hosts = report["hosts"]
        assert hosts["h1"]["failed"] == 0 and hosts["h2"]["failed"] == 0
        assert hosts["h3"]["failed"] == 1
        assert lab.host("h2").exec(["test", "-e", f"{workdir}/rescued"], check=False
                                   ).returncode == 0
        assert lab.host("h1").exec(["test", "-e", f"{workdir}/rescued"], check=False
                                   ).returncode != 0
        # h3 failed before the end of the section: its handler does not run (Ansible's
        # default without force_handlers), the others' does.
        for name, expected in (("h1", 0), ("h2", 0), ("h3", 1)):
            rc_seen = lab.host(name).exec(["test", "-e", f"{workdir}/restarted"],
                                          check=False).returncode
            assert (rc_seen == 0) == (expected == 0), name
    finally:
        cleanup(lab, workdir)


def test_check_mode_changes_nothing_on_the_hosts(lab: Any, tmp_path: Path,
                                                 workdir: str) -> None:
    play = f"""
        - hosts: h1
          tasks:
            - copy: {{dest: {workdir}-check, content: "x"}}
        """
    rc, report, out = pyengine_run(lab, tmp_path, play, "--check", "--diff")
    assert rc == 0, out
    assert report["check_mode"] is True
    assert report["hosts"]["h1"]["changed"] == 1
    assert lab.host("h1").exec(["test", "-e", f"{workdir}-check"], check=False).returncode != 0


def _ssh_pids(host: Any) -> list[str]:
    out = host.exec(["ps", "-eo", "pid=,comm="]).stdout
    return [line.split()[0] for line in out.splitlines() if line.split()[1:] == ["sshd"]]


def test_host_whose_sshd_stops_mid_run_is_unreachable_while_others_finish(
        lab: Any, tmp_path: Path, workdir: str) -> None:
    victim = lab.host("h3")
    go_on = tmp_path / "sshd-stopped"
    # The middle task waits on the controller until the test has stopped h3's sshd, so
    # the timing cannot race however busy the machine is.
    play = f"""
        - hosts: h1:h2:h3
          tasks:
            - file: {{path: {workdir}, state: directory}}
            - name: wait for the test
              command: sh -c 'until [ -e {go_on} ]; do sleep 0.1; done'
              delegate_to: localhost
              changed_when: false
            - copy: {{dest: {workdir}/after, content: "x"}}
        """
    book = tmp_path / "unreach.yml"
    book.write_text(textwrap.dedent(play))
    report = tmp_path / "unreach.json"
    proc = subprocess.Popen(
        [sys.executable, "-m", "pyengine", "run", str(book), "-i", str(lab.inventory_path),
         "--report-json", str(report)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        text=True, cwd=tmp_path)
    try:
        deadline = time.monotonic() + 60
        while victim.exec(["test", "-d", workdir], check=False).returncode != 0:
            assert time.monotonic() < deadline, "the first batch never reached h3"
            time.sleep(0.2)
        # sshd goes away: the listener and every session (our agent's included).
        victim.exec(["systemctl", "stop", "ssh.service", "ssh.socket"], check=False)
        pids = _ssh_pids(victim)
        if pids:
            victim.exec(["kill", "-KILL", *pids], check=False)
        go_on.write_text("")
        out, _ = proc.communicate(timeout=120)
        data = json.loads(report.read_text())
        assert proc.returncode == 4, out
        assert data["hosts"]["h3"]["unreachable"] is True
        for name in ("h1", "h2"):
            assert data["hosts"][name]["unreachable"] is False
            assert lab.host(name).exec(["test", "-e", f"{workdir}/after"],
                                       check=False).returncode == 0
        assert "unreachable" in out
    finally:
        if proc.poll() is None:
            proc.kill()
        victim.exec(["systemctl", "start", "ssh.service"], check=False)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if victim.exec(["sh", "-c", "ss -ltn | grep -q ':22 '"], check=False).returncode == 0:
                break
            time.sleep(0.3)
        cleanup(lab, workdir)


def test_unknown_inventory_gives_a_one_line_error(tmp_path: Path) -> None:
    book = tmp_path / "p.yml"
    book.write_text("- hosts: all\n  tasks:\n    - ping:\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", str(book), "-i",
                           str(tmp_path / "nope.ini")], capture_output=True, text=True,
                          cwd=tmp_path)
    assert proc.returncode == 3
    assert "nope.ini" in proc.stderr and "Traceback" not in proc.stderr


def test_invalid_playbook_lists_every_problem_and_exits_3(tmp_path: Path, lab: Any) -> None:
    book = tmp_path / "bad.yml"
    book.write_text("- hosts: all\n  tasks:\n    - copy: {dest: /x, contnt: y}\n"
                    "    - lineinfile: {path: /x, lin: y}\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", str(book), "-i",
                           str(lab.inventory_path)], capture_output=True, text=True,
                          env={**os.environ}, cwd=tmp_path)
    assert proc.returncode == 3, proc.stderr
    assert "bad.yml:3" in proc.stderr and "bad.yml:4" in proc.stderr


def test_reboot_waits_for_a_new_boot_id_and_the_run_goes_on(lab: Any, tmp_path: Path) -> None:
    host = lab.hosts[-1].name
    rc, report, out = pyengine_run(lab, tmp_path, f"""
        - hosts: {host}
          tasks:
            - command: cat /proc/sys/kernel/random/boot_id
              register: before
              changed_when: false
            - reboot: {{reboot_timeout: 180}}
            - command: cat /proc/sys/kernel/random/boot_id
              register: after
              changed_when: false
            - assert:
                that:
                  - before.stdout != after.stdout
                  - ansible_boot_id == after.stdout
        """)
    assert rc == 0, out
    tasks = report["hosts"][host]["tasks"]
    assert [t["status"] for t in tasks] == ["ok", "changed", "ok", "ok"]
    assert tasks[1]["result"]["rebooted"] is True


def test_become_password_from_vars_works_and_is_never_shown(lab: Any, tmp_path: Path) -> None:
    from pyengine.lab.config import LAB_PW_PASSWORD, LAB_PW_USER

    play = f"""
        - hosts: h1:h2
          become: true
          vars:
            ansible_user: {LAB_PW_USER}
            ansible_become_password: "{{{{ pw }}}}"
          tasks:
            - command: id -u
              register: me
              changed_when: false
            - debug: {{msg: "uid {{{{ me.stdout }}}} via {{{{ pw }}}}"}}
        """
    def forget_sudo_timestamps() -> None:  # so that sudo really asks, every time
        for name in ("h1", "h2"):
            lab.host(name).exec(["rm", "-rf", f"/run/sudo/ts/{LAB_PW_USER}"], check=False)

    forget_sudo_timestamps()
    rc, report, out = pyengine_run(lab, tmp_path, play, "-vv", "-e", f"pw={LAB_PW_PASSWORD}")
    assert rc == 0, out
    text = json.dumps(report)
    assert LAB_PW_PASSWORD not in out and LAB_PW_PASSWORD not in text
    assert report["hosts"]["h1"]["tasks"][0]["result"]["stdout"] == "0"
    forget_sudo_timestamps()
    rc, report, out = pyengine_run(lab, tmp_path, play, "-e", "pw=wrong-password")
    assert rc == 2, out
    assert "incorrect sudo password" in out
    assert "wrong-password" not in out


def test_unknown_host_key_is_refused_unless_trust_new_hosts(lab: Any, tmp_path: Path) -> None:
    known = tmp_path / "known_hosts"
    known.write_text("")
    play = """
        - hosts: h1
          tasks:
            - ping:
        """
    overrides = ["-e", f"pyengine_known_hosts={known}", "-e", "pyengine_user_known_hosts=false",
                 "-e", f"ansible_ssh_common_args='-o UserKnownHostsFile={known}'"]
    rc, report, out = pyengine_run(lab, tmp_path, play, *overrides)
    assert rc == 4, out
    assert report["hosts"]["h1"]["unreachable"] is True
    assert "host key" in report["hosts"]["h1"]["unreachable_msg"].lower()
    assert known.read_text() == ""
    rc, report, out = pyengine_run(lab, tmp_path, play, "--trust-new-hosts", *overrides)
    assert rc == 0, out
    assert lab.host("h1").address in known.read_text()
    rc, report, out = pyengine_run(lab, tmp_path, play, *overrides)  # now known
    assert rc == 0, out
