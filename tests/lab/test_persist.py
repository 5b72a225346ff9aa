"""`run --persist`: warm SSH connections and agents, on the lab's real sshd hosts.

The owner process of each test lives in the test's own socket folder
(PYENGINE_PERSIST_DIR) and is stopped at the end. Reuse is proven on the host itself:
the agent process of the second run is the one the first run started (same PID), the
host has the same sshd session, and the JSON report's phases show no connect, auth or
agent start. The issue's test: after a short persist time nothing of pyengine is left on
the host (no agent, no sudo'd agent, no `pyengine-*` temp folder, no sshd session of
ours) and the owner process is gone.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

PLAY = """
- hosts: h1
  tasks:
    - file: {{path: "{base}", state: directory, mode: "0750"}}
    - copy: {{dest: "{base}/motd", content: "hello {{{{ inventory_hostname }}}}\\n"}}
    - lineinfile: {{path: "{base}/conf", line: "managed", create: true}}
    - command: id -un
      register: me
      changed_when: false
    - assert: {{that: me.stdout == "{user}"}}
    - raw: echo raw-{user}
      register: raw
      changed_when: false
    - assert: {{that: raw.stdout.strip() == "raw-{user}"}}
- hosts: h1
  become: true
  tasks:
    - command: id -u
      register: uid
      changed_when: false
    - assert: {{that: uid.stdout == "0"}}
"""
AGENTS = "ps -eo pid=,args= | grep '[P]YENGINE-AGENT' | awk '{print $1}' | sort -n"
SSHD_SESSIONS = "ps -eo args= | grep -c '^sshd: [a-z]' || true"
LEFT = ("ls -d /tmp/pyengine-* /var/tmp/pyengine-* /root/.ansible/tmp/*"
        " /home/labuser/.ansible/tmp/* 2>/dev/null; true")


@pytest.fixture
def persist_dir(tmp_path: Path) -> Iterator[Path]:
    folder = tmp_path / "persist"
    yield folder
    env = dict(os.environ, PYENGINE_PERSIST_DIR=str(folder))
    subprocess.run([sys.executable, "-m", "pyengine", "persist", "stop"], env=env,
                   capture_output=True, timeout=30)


@pytest.fixture
def base(lab: Any) -> Iterator[str]:
    path = f"/tmp/pe-persist-{uuid.uuid4().hex[:8]}"
    yield path
    lab.hosts[0].exec(["rm", "-rf", path], check=False)


def run(lab: Any, tmp_path: Path, persist_dir: Path, base: str, *args: str,
        user: str = "root", sigint_after: float | None = None,
        bridge: str = "") -> tuple[int, dict[str, Any], str]:
    book = tmp_path / "site.yml"
    book.write_text(textwrap.dedent(PLAY.format(base=base, user=user)))
    report = tmp_path / f"report-{uuid.uuid4().hex[:6]}.json"
    env = dict(os.environ, PYENGINE_PERSIST_DIR=str(persist_dir))
    env.pop("PYENGINE_PERSIST", None)
    if bridge:  # these modules run as installed Ansible modules (the bridge's zygote)
        env["PYENGINE_ANSIBLE_MODULES"] = bridge
    cmd = [sys.executable, "-m", "pyengine", "run", str(book), "-i", str(lab.inventory_path),
           "--report-json", str(report), "--no-history", "-e", f"ansible_user={user}", *args]
    if sigint_after is None:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env,
                              cwd=tmp_path)
        rc, out = proc.returncode, proc.stdout + proc.stderr
    else:  # Ctrl-C as a terminal sends it: to the run's whole process group
        child = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                 text=True, env=env, cwd=tmp_path, start_new_session=True)
        time.sleep(sigint_after)
        os.killpg(child.pid, signal.SIGINT)
        out = child.communicate(timeout=60)[0]
        rc = child.returncode
    data = json.loads(report.read_text()) if report.exists() else {}
    return rc, data, out


def on_host(lab: Any, script: str) -> str:
    return str(lab.hosts[0].exec(["/bin/sh", "-c", script], check=False).stdout).strip()


def owner_pid(persist_dir: Path) -> int | None:
    env = dict(os.environ, PYENGINE_PERSIST_DIR=str(persist_dir))
    out = subprocess.run([sys.executable, "-m", "pyengine", "persist", "status"], env=env,
                         capture_output=True, text=True, timeout=30).stdout
    return int(out.split()[2].rstrip(":")) if out.startswith("owner pid") else None


def outcome(report: dict[str, Any]) -> list[tuple[str, str, bool]]:
    return [(t["name"], t["status"], t["changed"]) for t in report["hosts"]["h1"]["tasks"]]


def wait_for(check: Any, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.2)
    return bool(check())


def test_second_run_reuses_the_warm_connection_and_agents(
        lab: Any, tmp_path: Path, persist_dir: Path, base: str) -> None:
    rc, cold, out = run(lab, tmp_path, persist_dir, base, "-l", "h1")  # no --persist
    assert rc == 0, out[-2000:]
    assert on_host(lab, AGENTS) == ""  # a plain run leaves no agent
    rc, first, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "60s", "-v")
    assert rc == 0, out[-2000:]
    assert "persist: h1: new SSH connection, kept warm" in out
    assert {"connect", "auth", "agent_start"} <= set(first["hosts"]["h1"]["phases"])
    agents = on_host(lab, AGENTS).split()
    assert len(agents) == 2  # the login's agent and the become agent, both kept
    assert (tmp_path / "persist" / "owner.sock").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "persist").stat().st_mode & 0o777 == 0o700
    sessions = on_host(lab, SSHD_SESSIONS)

    rc, warm, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "60s", "-v")
    assert rc == 0, out[-2000:]
    assert out.count("persist: h1: warm agent reused") == 2, out[-2000:]
    phases = warm["hosts"]["h1"]["phases"]
    assert not {"connect", "auth", "agent_start"} & set(phases), phases
    assert on_host(lab, AGENTS).split() == agents  # the very same agent processes
    assert on_host(lab, SSHD_SESSIONS) == sessions  # and the same sshd session
    # The same results as a cold connection's no-op run; the plain run applied, and the
    # runs after it changed nothing.
    assert outcome(warm) == outcome(first)
    assert [c for _, _, c in outcome(first)] == [False] * len(outcome(cold))
    assert [n for n, _, _ in outcome(warm)] == [n for n, _, _ in outcome(cold)]
    assert sum(c for _, _, c in outcome(cold)) == 3
    assert owner_pid(persist_dir) is not None


def test_another_user_gets_its_own_connection(
        lab: Any, tmp_path: Path, persist_dir: Path, base: str) -> None:
    rc, _, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "60s", "-v")
    assert rc == 0, out[-2000:]
    rc, report, out = run(lab, tmp_path, persist_dir, base + "-u", "-l", "h1", "--persist",
                          "60s", "-v", user="labuser")
    assert rc == 0, out[-2000:]
    assert "persist: h1: new SSH connection, kept warm" in out  # not root's
    assert "warm agent reused" not in out
    assert "connect" in report["hosts"]["h1"]["phases"]
    env = dict(os.environ, PYENGINE_PERSIST_DIR=str(persist_dir))
    status = subprocess.run([sys.executable, "-m", "pyengine", "persist", "status"], env=env,
                            capture_output=True, text=True, timeout=30).stdout
    assert "root@127." in status and "labuser@127." in status and "labuser -> root" in status
    on_host(lab, f"rm -rf {base}-u")


def test_a_warm_agent_that_died_is_replaced_without_a_failure(
        lab: Any, tmp_path: Path, persist_dir: Path, base: str) -> None:
    rc, _, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "60s")
    assert rc == 0, out[-2000:]
    on_host(lab, "pkill -KILL -f '[P]YENGINE-AGENT'")  # the agents die while idle
    rc, report, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "60s",
                          "-v")
    assert rc == 0, out[-2000:]
    assert "persist: h1: warm SSH connection reused" in out
    assert out.count("persist: h1: agent started as root") == 2  # one line each, no error
    assert "agent_start" in report["hosts"]["h1"]["phases"]
    assert "connect" not in report["hosts"]["h1"]["phases"]


def test_two_runs_at_once_never_share_an_agent(
        lab: Any, tmp_path: Path, persist_dir: Path, base: str) -> None:
    rc, _, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "60s")
    assert rc == 0, out[-2000:]
    go = f"{base}/go"
    held = tmp_path / "held.yml"  # holds its agent until the test says go
    held.write_text("- hosts: h1\n  tasks:\n    - shell: while [ ! -e " + go + " ]; do sleep 0.1;"
                    " done\n      changed_when: false\n")
    quick = tmp_path / "quick.yml"
    quick.write_text("- hosts: h1\n  tasks:\n    - command: 'true'\n      changed_when: false\n")
    env = dict(os.environ, PYENGINE_PERSIST_DIR=str(persist_dir))

    def cmd(book: Path) -> list[str]:
        return [sys.executable, "-m", "pyengine", "run", str(book), "-i",
                str(lab.inventory_path), "--no-history", "--persist", "60s", "-v",
                "-e", "ansible_user=root"]

    first = subprocess.Popen(cmd(held), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                             text=True, env=env, cwd=tmp_path)
    try:
        assert wait_for(lambda: go in on_host(lab, "ps -eo args="), 60)
        second = subprocess.run(cmd(quick), capture_output=True, text=True, env=env,
                                cwd=tmp_path, timeout=120)
    finally:
        on_host(lab, f"touch {go}")
    out_first = first.communicate(timeout=120)[0]
    assert first.returncode == 0 and second.returncode == 0, out_first + second.stdout
    # The first run holds the warm agent; the second, meanwhile, gets a new one on the
    # same warm connection.
    assert "persist: h1: warm agent reused" in out_first
    assert "persist: h1: warm SSH connection reused" in second.stdout
    assert "persist: h1: agent started as root, kept warm" in second.stdout


def test_ctrl_c_of_a_run_leaves_the_owner_and_ends_the_busy_agent(
        lab: Any, tmp_path: Path, persist_dir: Path, base: str) -> None:
    rc, _, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "60s")
    assert rc == 0, out[-2000:]
    pid = owner_pid(persist_dir)
    go = f"{base}/go"
    slow = tmp_path / "slow.yml"  # its task runs until the test says go
    slow.write_text("- hosts: h1\n  tasks:\n    - shell: while [ ! -e " + go + " ]; do sleep 0.1;"
                    " done\n")
    env = dict(os.environ, PYENGINE_PERSIST_DIR=str(persist_dir))
    child = subprocess.Popen(
        [sys.executable, "-m", "pyengine", "run", str(slow), "-i", str(lab.inventory_path),
         "--no-history", "--persist", "60s", "-e", "ansible_user=root"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True, cwd=tmp_path)
    try:
        assert wait_for(lambda: go in on_host(lab, "ps -eo args="), 60)
        os.killpg(child.pid, signal.SIGINT)
        child.communicate(timeout=60)
        assert child.returncode != 0
        assert owner_pid(persist_dir) == pid  # the owner lives on
    finally:
        on_host(lab, f"touch {go}")
    # The interrupted agent finishes its task and exits: one warm agent is left (root's).
    assert wait_for(lambda: len(on_host(lab, AGENTS).split()) == 1, 20)


def test_nothing_remains_on_the_target_after_expiry(
        lab: Any, tmp_path: Path, persist_dir: Path, base: str) -> None:
    before = on_host(lab, SSHD_SESSIONS)
    rc, report, out = run(lab, tmp_path, persist_dir, base, "-l", "h1", "--persist", "4s",
                          user="labuser", bridge="ansible.builtin.lineinfile")
    # Looked at first, within the 4 s (a loaded machine is slow to start `persist status`).
    warm = on_host(lab, AGENTS).split()
    found = subprocess.run(["pgrep", "-f", f"pyengine.persist.owner {persist_dir}/owner.sock"],
                           capture_output=True, text=True).stdout.split()
    assert rc == 0, out[-2000:]
    assert "ansible.builtin.lineinfile" in {t["module"] for t in report["hosts"]["h1"]["tasks"]}
    assert len(found) == 1
    pid = int(found[0])
    # Warm: labuser's agent with the bridge's zygote (a fork of it), and the sudo'd agent
    # (sudo itself shows the bootstrap too).
    assert len(warm) == 4
    assert wait_for(lambda: on_host(lab, AGENTS) == "", 15), on_host(lab, "ps -ef")
    assert on_host(lab, LEFT) == ""
    assert wait_for(lambda: on_host(lab, SSHD_SESSIONS) == before, 10)

    def owner_gone() -> bool:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        return False

    assert wait_for(owner_gone, 10)
    assert not (persist_dir / "owner.sock").exists()
