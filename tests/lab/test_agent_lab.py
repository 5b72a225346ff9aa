"""The agent on real lab hosts over SSH: facts, become (sudo with and without a password),
and no files left behind. Independent checks go through `LabHost.exec` (nsenter)."""

from __future__ import annotations

import json
import os
import time
from typing import Any

import pytest
from modtarget import hostvars

from pyengine.agent.session import AgentError, BecomeError, PythonAgentSession
from pyengine.connection import connection_for_host
from pyengine.masking import clear_secrets

pytestmark = pytest.mark.lab

PASSWORD = "labpw-secret"  # pyengine.lab.config.LAB_PW_PASSWORD

WHOAMI = '''
import os, pwd

def main(m):
    rc, out, err = m.run(["id", "-un"])
    return {"changed": False, "euid": os.geteuid(), "user": out.strip(),
            "home": os.environ.get("HOME")}
'''

SCRATCH = '''
import os, time

def main(m):
    with open(os.path.join(m.tmpdir, "scratch.txt"), "w") as handle:
        handle.write("in progress")
    deadline = time.time() + float(m.params.get("wait", 0))
    while time.time() < deadline and not os.path.exists(m.params.get("flag") or "/nonexistent"):
        time.sleep(0.05)
    return {"changed": False, "tmpdir": m.tmpdir}
'''

SOURCES = {"whoami": WHOAMI, "scratch": SCRATCH}


def session_for(lab: Any, name: str, user: str = "root", **become: Any) -> PythonAgentSession:
    conn = connection_for_host(name, hostvars(lab, name, ansible_user=user))
    return PythonAgentSession(conn, module_source=SOURCES.__getitem__,
                              python="/usr/bin/python3", **become)


def sh(host: Any, script: str) -> str:
    return str(host.exec(["sh", "-c", script]).stdout.strip())


def test_facts_match_what_the_host_says(lab: Any) -> None:
    host = lab.host("h2")
    session = session_for(lab, "h2")
    try:
        facts = session.start()
    finally:
        session.close()
        session.connection.close()
    release = dict(line.split("=", 1) for line in sh(host, "cat /etc/os-release").splitlines())
    assert facts["ansible_os_family"] == "Debian"
    assert facts["ansible_distribution"] == "Debian"
    assert facts["ansible_distribution_version"] == sh(host, "cat /etc/debian_version")
    assert facts["ansible_distribution_major_version"] == release["VERSION_ID"].strip('"')
    assert facts["ansible_distribution_release"] == release["VERSION_CODENAME"]
    assert facts["ansible_pkg_mgr"] == "apt"
    assert facts["ansible_service_mgr"] == sh(host, "cat /proc/1/comm") == "systemd"
    assert facts["ansible_hostname"] == sh(host, "hostname") == "h2"
    assert facts["ansible_nodename"] == sh(host, "uname -n")
    assert facts["ansible_kernel"] == sh(host, "uname -r")
    assert facts["ansible_architecture"] == sh(host, "uname -m")
    assert facts["ansible_machine_id"] == sh(host, "cat /etc/machine-id")
    assert facts["ansible_boot_id"] == sh(host, "cat /proc/sys/kernel/random/boot_id")
    assert facts["ansible_python_version"] == sh(
        host, "python3 -c 'import platform; print(platform.python_version())'")
    assert facts["ansible_python"]["executable"] == "/usr/bin/python3"
    assert facts["ansible_processor_vcpus"] == int(sh(host, "nproc"))
    mem_kb = int(sh(host, "awk '/^MemTotal/ {print $2}' /proc/meminfo"))
    assert facts["ansible_memtotal_mb"] == mem_kb // 1024
    assert facts["ansible_user_id"] == "root"
    assert facts["ansible_env"]["HOME"] == "/root"
    assert facts["ansible_virtualization_type"] == "container"  # the lab's container=
    root = next(m for m in facts["ansible_mounts"] if m["mount"] == "/")
    df_total = int(sh(host, "df -B1 --output=size / | tail -1"))
    assert root["size_total"] == df_total
    uptime = float(sh(host, "cut -d' ' -f1 /proc/uptime"))
    assert abs(facts["ansible_uptime_seconds"] - uptime) < 30
    assert facts["pyengine_reboot_required"] is False


def test_reboot_required_fact(lab: Any) -> None:
    host = lab.host("h2")
    newer = "/lib/modules/999.0.0-pyengine-test"
    host.exec(["sh", "-c", f"touch /var/run/reboot-required && mkdir -p {newer}"])
    try:
        session = session_for(lab, "h2")
        try:
            facts = session.start()
        finally:
            session.close()
            session.connection.close()
    finally:
        host.exec(["sh", "-c", f"rm -f /var/run/reboot-required && rmdir {newer}"])
    assert facts["pyengine_reboot_required"] is True
    reasons = " ".join(facts["pyengine_reboot_reasons"])
    assert "/var/run/reboot-required" in reasons and "999.0.0-pyengine-test" in reasons


def test_become_as_labuser_with_passwordless_sudo(lab: Any) -> None:
    plain = session_for(lab, "h1", user="labuser")
    become = session_for(lab, "h1", user="labuser", become=True)
    try:
        assert plain.start()["ansible_user_id"] == "labuser"
        (res,) = list(plain.run_batch([{"id": 1, "module": "whoami", "args": {}}]))
        assert res["result"]["euid"] != 0 and res["result"]["user"] == "labuser"
        assert become.start()["ansible_user_id"] == "root"
        (res,) = list(become.run_batch([{"id": 1, "module": "whoami", "args": {}}]))
        assert res["result"]["euid"] == 0 and res["result"]["user"] == "root"
        assert res["result"]["home"] == "/root"  # sudo -H
    finally:
        for session in (plain, become):
            session.close()
            session.connection.close()


def test_become_with_a_sudo_password_never_shows_it(lab: Any) -> None:
    host = lab.host("h1")
    since = sh(host, "date '+%Y-%m-%d %H:%M:%S'")
    session = session_for(lab, "h1", user="labpw", become=True, become_password=PASSWORD)
    try:
        facts = session.start()
        (res,) = list(session.run_batch([{"id": 1, "module": "whoami", "args": {}}]))
        processes = sh(host, "ps -eo args")
        stderr = session._channel.stderr_so_far()  # type: ignore[union-attr]
    finally:
        session.close()
        session.connection.close()
        clear_secrets()
    assert facts["ansible_user_id"] == "root" and res["result"]["euid"] == 0
    assert "PYENGINE-AGENT-HELLO" in processes  # we looked while the agent ran
    journal = host.exec(["journalctl", "--no-pager", "-q", "--since", since],
                        check=False).stdout
    for where in (json.dumps(facts), json.dumps(res), processes, stderr.decode(), journal):
        assert PASSWORD not in where


def test_wrong_or_missing_sudo_password_is_a_clear_failure(lab: Any) -> None:
    host = lab.host("h1")
    wrong = session_for(lab, "h1", user="labpw", become=True, become_password="not-the-one")
    try:
        with pytest.raises(BecomeError, match="incorrect sudo password") as info:
            wrong.start()
        assert "not-the-one" not in str(info.value)
    finally:
        wrong.connection.close()
        clear_secrets()
    missing = session_for(lab, "h1", user="labpw", become=True)
    try:
        with pytest.raises(BecomeError, match="sudo needs a password"):
            missing.start()
    finally:
        missing.connection.close()
    time.sleep(0.2)
    assert sh(host, "pgrep -f '[P]YENGINE-AGENT-HELLO' || true") == ""


def _listing(host: Any) -> str:
    return sh(host, "find /tmp /root /home/labuser /var/tmp -xdev 2>/dev/null | sort")


def test_agent_leaves_no_files_behind(lab: Any) -> None:
    host = lab.host("h1")
    before = _listing(host)
    session = session_for(lab, "h1", user="labuser", become=True)
    try:
        session.start()
        results = list(session.run_batch([{"id": i, "module": "scratch", "args": {}}
                                          for i in range(3)]))
    finally:
        session.close()
        session.connection.close()
    assert [r["result"]["failed"] for r in results] == [False] * 3
    assert results[0]["result"]["tmpdir"].startswith("/tmp/pyengine-")
    time.sleep(0.2)
    assert _listing(host) == before


def test_dropped_channel_mid_task_leaves_no_files(lab: Any) -> None:
    host = lab.host("h1")
    before = _listing(host)
    flag = f"/run/pyengine-flag-{os.getpid()}"
    session = session_for(lab, "h1")
    try:
        session.start()
        stream = session.run_batch([{"id": 1, "module": "scratch",
                                     "args": {"wait": 30, "flag": flag}}])
        # Send the batch, then wait until the task is inside its temp folder.
        deadline = time.monotonic() + 10
        sender = _start(stream)
        while time.monotonic() < deadline and _listing(host) == before:
            time.sleep(0.05)
        assert _listing(host) != before
        agent_pid = str(session.agent_pid)
        sshd_session = sh(host, f"ps -o ppid= -p {agent_pid}")
        host.exec(["kill", "-KILL", sshd_session])  # the channel drops under the agent
        # The running task is allowed to finish (no half-done change); then the agent
        # finds its channel gone, and its task's temp folder is already removed.
        host.exec(["touch", flag])
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline and sh(host, f"ps -o pid= -p {agent_pid} || true"):
            time.sleep(0.1)
        assert sh(host, f"ps -o pid= -p {agent_pid} || true") == ""
        sender.join(10)
    finally:
        host.exec(["rm", "-f", flag])
        session.close()
        session.connection.close()
    assert _listing(host) == before


def _start(stream: Any) -> Any:
    import threading

    def consume() -> None:
        try:
            list(stream)
        except Exception:  # the dropped channel is what this test causes
            pass

    thread = threading.Thread(target=consume, daemon=True)
    thread.start()
    return thread


def test_missing_interpreter_or_sudo_is_named(lab: Any) -> None:
    conn = connection_for_host("h1", hostvars(lab, "h1"))
    try:
        with pytest.raises(AgentError, match="'/usr/bin/python9' not found on the host"):
            PythonAgentSession(conn, python="/usr/bin/python9").start()
        # Becoming another user than the login needs the become program.
        with pytest.raises(BecomeError, match="'doas-pyengine' not found on the host"):
            PythonAgentSession(conn, become=True, become_user="labuser",
                               become_exe="doas-pyengine").start()
        # Becoming the login user itself (root here) needs none: a host without sudo works.
        assert PythonAgentSession(conn, become=True, become_exe="doas-pyengine").start()[
            "ansible_user_id"] == "root"
        # The connection is still good for a proper start afterwards.
        assert PythonAgentSession(conn).start()["ansible_hostname"] == "h1"
    finally:
        conn.close()


def test_chatty_bashrc_does_not_break_the_protocol(lab: Any) -> None:
    """bash run by sshd reads ~/.bashrc even for a command; some print from it."""
    host = lab.host("h2")
    rc = "/home/labuser/.bashrc"
    original = host.exec(["cat", rc]).stdout
    host.exec(["sh", "-c", f"cp -p {rc} {rc}.pyengine-test && "
                           f"sed -i '1i echo \"Welcome, authorised users only\"' {rc}"])
    try:
        session = session_for(lab, "h2", user="labuser")
        try:
            assert session.start()["ansible_user_id"] == "labuser"
            (res,) = list(session.run_batch([{"id": 1, "module": "whoami", "args": {}}]))
        finally:
            session.close()
            session.connection.close()
    finally:
        host.exec(["sh", "-c", f"mv {rc}.pyengine-test {rc}"])
    assert host.exec(["cat", rc]).stdout == original
    assert res["result"]["user"] == "labuser"
    assert any("authorised users only" in w for w in session.warnings)
