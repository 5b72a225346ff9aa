"""Fault injection on real lab hosts: signals at seeded random points, a host that dies
mid-batch, a dropped connection mid-copy, a full disk on the target.

After each fault the run must end the documented way: the exit code, the JSON report and
the history row exist, no target holds a partial file or an agent left over, and a
rerun converges. (sshd stopped mid-run is in test_run.py.)
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import signal
import sqlite3
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

HOSTS = ("h1", "h2", "h3")
SEEDS = range(20)
AGENT_MARK = "pyengine/agent/agent.py"  # in the agent's command line (the bootstrap)
TEMP_MARKS = ("*.pyengine-tmp", "pyengine-mod-*")
BIG_SIZE = 1536 * 1024  # above the streaming threshold, several chunks


@pytest.fixture(scope="module")
def payload(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A file big enough that its copy takes a while, and its sha256."""
    path = tmp_path_factory.mktemp("payload") / "big.bin"
    path.write_bytes(random.Random(7).randbytes(BIG_SIZE))
    return path, hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture
def workdir(lab: Any) -> Iterator[str]:
    path = f"/root/pe-fault-{uuid.uuid4().hex[:8]}"
    yield path
    for name in HOSTS:
        lab.host(name).exec(["rm", "-rf", path], check=False)


def _busy_playbook(tmp_path: Path, workdir: str, payload: Path) -> Path:
    book = tmp_path / "busy.yml"
    book.write_text(textwrap.dedent(f"""
        - hosts: {":".join(HOSTS)}
          tasks:
            - file: {{path: {workdir}, state: directory}}
            - copy: {{src: {payload}, dest: {workdir}/big.bin}}
            - command: sleep 0.4
              changed_when: false
            - lineinfile: {{path: {workdir}/conf, line: "a=1", create: true}}
            - copy: {{src: {payload}, dest: {workdir}/big2.bin}}
            - shell: sleep 0.3
              changed_when: false
            - copy: {{content: "done\\n", dest: {workdir}/done}}
        """))
    return book


def _history_rows() -> int:
    path = os.environ.get("PYENGINE_HISTORY_DB", "")
    if not path or not Path(path).exists():
        return 0
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM runs").fetchone()[0])


def _start(lab: Any, book: Path, report: Path) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "pyengine", "run", str(book), "-i", str(lab.inventory_path),
         "--report-json", str(report)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, cwd=book.parent)


def _run(lab: Any, book: Path, tmp_path: Path) -> tuple[int, dict[str, Any], str]:
    report = tmp_path / f"run-{uuid.uuid4().hex[:6]}.json"
    proc = subprocess.run(
        [sys.executable, "-m", "pyengine", "run", str(book), "-i", str(lab.inventory_path),
         "--report-json", str(report)], capture_output=True, text=True, timeout=300,
        cwd=book.parent)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def _assert_clean_targets(lab: Any, workdir: str, sha: str) -> None:
    """No partial file, no temp file, no agent: what a fault must never leave behind."""
    for name in HOSTS:
        host = lab.host(name)
        deadline = time.monotonic() + 20
        while True:  # an agent mid-task finishes that task, then exits on EOF
            agents = host.exec(["pgrep", "-f", AGENT_MARK], check=False).stdout.split()
            if not agents:
                break
            assert time.monotonic() < deadline, f"{name}: agent left running: {agents}"
            time.sleep(0.2)
        found = host.exec(["sh", "-c", " ; ".join(
            f"find {workdir} /tmp /root -name '{mark}' 2>/dev/null" for mark in TEMP_MARKS)],
            check=False).stdout.split()
        assert found == [], f"{name}: leftovers {found}"
        for big in ("big.bin", "big2.bin"):
            got = host.exec(["sh", "-c", f"test -e {workdir}/{big} && sha256sum {workdir}/{big}"
                             " || true"]).stdout.split()
            assert not got or got[0] == sha, f"{name}: partial {big}"


def _fault_mid_run(lab: Any, book: Path, report: Path, victim: Any, workdir: str,
                   fault: Any) -> tuple[subprocess.Popen[str], str, str, dict[str, Any]]:
    """Start the busy run, inject `fault` once the victim's first batch has begun, and
    return the finished process, its output and its JSON report."""
    proc = _start(lab, book, report)
    try:
        deadline = time.monotonic() + 60
        while victim.exec(["test", "-d", workdir], check=False).returncode != 0:
            assert time.monotonic() < deadline and proc.poll() is None
            time.sleep(0.05)
        fault()
        out, err = proc.communicate(timeout=180)
    finally:
        if proc.poll() is None:
            proc.kill()
    return proc, out, err, json.loads(report.read_text())


def _assert_converges(lab: Any, book: Path, tmp_path: Path) -> None:
    rc, data, out = _run(lab, book, tmp_path)
    assert rc == 0, out
    rc, data, out = _run(lab, book, tmp_path)
    assert rc == 0, out
    assert all(data["hosts"][h]["changed"] == 0 for h in HOSTS), out


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("sig", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
def test_signal_at_a_random_point(lab: Any, tmp_path: Path, workdir: str,
                                  payload: tuple[Path, str], sig: signal.Signals,
                                  seed: int) -> None:
    source, sha = payload
    book = _busy_playbook(tmp_path, workdir, source)
    # The point is measured from the run's first line ("pyengine run ... on 3 host(s)"):
    # on a busy machine loading alone can take a second, and a stop before the run
    # starts has no run to record.
    delay = random.Random(seed * 2 + (sig == signal.SIGTERM)).uniform(0.0, 2.5)
    report = tmp_path / "interrupted.json"
    rows = _history_rows()
    proc = _start(lab, book, report)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        if not first.startswith("pyengine run"):
            proc.wait(60)
            err = proc.stderr.read() if proc.stderr else ""
            pytest.fail(f"the run did not start: {first}{err}")
        time.sleep(delay)
        proc.send_signal(sig)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert "Traceback" not in err, err
    assert report.exists(), (proc.returncode, delay, out[-2000:], err[-2000:])
    if proc.returncode == 0:
        # The run was already over when the signal came (a late seed): nothing to check
        # but a whole run.
        assert json.loads(report.read_text())["exit_code"] == 0
    else:
        assert proc.returncode == 130, (delay, out, err)
        assert "interrupted" in err, err
        data = json.loads(report.read_text())
        assert data["interrupted"] is True and data["exit_code"] == 130
    assert _history_rows() == rows + 1
    _assert_clean_targets(lab, workdir, sha)
    if seed % 10 == 9:  # every point ends clean; convergence is the same check each time
        _assert_converges(lab, book, tmp_path)


def test_connection_dropped_mid_copy(lab: Any, tmp_path: Path, workdir: str,
                                     payload: tuple[Path, str]) -> None:
    """h2's SSH session dies while the big copy travels: h2 is unreachable, the others
    finish, h2 holds no partial file, and the next run converges."""
    source, sha = payload
    book = _busy_playbook(tmp_path, workdir, source)
    rows = _history_rows()
    victim = lab.host("h2")

    def drop() -> None:  # the session's sshd process carries our connection; the listener stays
        victim.exec(["pkill", "-KILL", "-f", "sshd: root@"], check=False)

    proc, out, err, data = _fault_mid_run(lab, book, tmp_path / "dropped.json", victim,
                                          workdir, drop)
    assert proc.returncode == 4, out + err
    assert data["hosts"]["h2"]["unreachable"] is True
    assert all(data["hosts"][h]["unreachable"] is False for h in ("h1", "h3"))
    assert _history_rows() == rows + 1
    _assert_clean_targets(lab, workdir, sha)
    _assert_converges(lab, book, tmp_path)


def test_host_killed_mid_batch(lab: Any, tmp_path: Path, workdir: str,
                               payload: tuple[Path, str]) -> None:
    """h3 dies (its PID 1 killed) mid-batch: it is unreachable, the others finish."""
    source, sha = payload
    book = _busy_playbook(tmp_path, workdir, source)
    rows = _history_rows()
    victim = lab.host("h3")

    def kill() -> None:  # the lab host's systemd: the whole host goes
        pid = victim.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    try:
        proc, out, err, data = _fault_mid_run(lab, book, tmp_path / "killed.json", victim,
                                              workdir, kill)
    finally:
        lab.reset_host("h3")  # back to pristine and booted for the tests after this one
    assert proc.returncode == 4, out + err
    assert data["hosts"]["h3"]["unreachable"] is True
    for name in ("h1", "h2"):
        assert data["hosts"][name]["unreachable"] is False and data["hosts"][name]["failed"] == 0
    assert _history_rows() == rows + 1
    _assert_clean_targets(lab, workdir, sha)
    _assert_converges(lab, book, tmp_path)


def test_full_disk_on_the_target(lab: Any, tmp_path: Path, payload: tuple[Path, str]) -> None:
    """A copy into a full filesystem fails that host's task with the reason and leaves
    neither a partial file nor a temp file; once there is room the run converges."""
    source, _ = payload
    host = lab.host("h1")
    mount = f"/mnt/pe-full-{uuid.uuid4().hex[:6]}"
    host.exec(["mkdir", "-p", mount])
    host.exec(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", mount])
    try:
        book = tmp_path / "full.yml"
        book.write_text(textwrap.dedent(f"""
            - hosts: h1
              tasks:
                - copy: {{src: {source}, dest: {mount}/big.bin}}
            """))
        rc, data, out = _run(lab, book, tmp_path)
        assert rc == 2, out
        task = data["hosts"]["h1"]["tasks"][-1]
        assert task["status"] == "failed" and "space" in task["msg"].lower(), task
        assert host.exec(["ls", "-A", mount]).stdout.split() == []
        host.exec(["mount", "-o", "remount,size=8m", mount])
        rc, data, out = _run(lab, book, tmp_path)
        assert rc == 0, out
        rc, data, out = _run(lab, book, tmp_path)
        assert rc == 0 and data["hosts"]["h1"]["changed"] == 0, out
    finally:
        host.exec(["umount", mount], check=False)
        host.exec(["rmdir", mount], check=False)
