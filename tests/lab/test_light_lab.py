"""Light lab hosts (`lab up --light`): sshd as the only process in the same isolated
namespaces as a systemd host, no systemd, so a lab of 250 of them fits on one machine.

These tests bring up their own light labs on spare octets (PYENGINE_TEST_LIGHT_OCTET,
default 30, for 3 hosts; PYENGINE_TEST_LIGHT_SCALE_OCTET, default 230, for 250) and take
them down: the session's systemd lab is untouched.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pyengine.errors import LabError
from pyengine.lab import Lab
from pyengine.lab.config import LabPaths

pytestmark = pytest.mark.lab

LIGHT_OCTET = int(os.environ.get("PYENGINE_TEST_LIGHT_OCTET", "30"))
SCALE_OCTET = int(os.environ.get("PYENGINE_TEST_LIGHT_SCALE_OCTET", "230"))
SCALE_HOSTS = 250
RSS_LIMIT_MB = 400

PLAYBOOK = """\
- hosts: all
  gather_facts: true
  tasks:
    - name: a folder
      file: {path: /root/pe-light, state: directory, mode: "0750"}
    - name: a line
      lineinfile: {path: /root/pe-light/app.conf, line: "workers={{ ansible_processor_vcpus }}",
                   create: true, mode: "0640"}
    - name: a copied file
      copy: {dest: /root/pe-light/motd, content: "host {{ inventory_hostname }}\\n"}
    - name: a command
      command: cat /root/pe-light/app.conf
      register: conf
      changed_when: false
    - name: the command saw the line
      assert: {that: ["conf.stdout.startswith('workers=')"]}
"""


def _skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (namespaces and overlay mounts); run pytest as root")


def _run(lab: Lab, book: Path, report: Path,
         timeout: float) -> tuple[subprocess.CompletedProcess[str], int]:
    """`pyengine run` against the whole lab; also the run's own peak RSS in kB (a wrapper
    process whose only child is the run reports RUSAGE_CHILDREN)."""
    wrapper = ("import resource, subprocess, sys; rc = subprocess.call(sys.argv[1:]); "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, file=sys.stderr); "
               "sys.exit(rc)")
    cmd = [sys.executable, "-c", wrapper, sys.executable, "-m", "pyengine", "run", str(book),
           "-i", str(lab.inventory_path), "--report-json", str(report)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout,
                          cwd=book.parent)
    peak_kb = int(proc.stderr.strip().splitlines()[-1])
    return proc, peak_kb


def _cgroup_pids(lab: Lab) -> list[int]:
    """Every process the machine has in this lab's cgroups (hosts and what runs in them)."""
    marker = f"/pyengine/{lab.name}/"
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                if marker in (proc / "cgroup").read_text():
                    found.append(int(proc.name))
            except OSError:
                continue
    return found


def _assert_down_leaves_nothing(lab: Lab) -> None:
    paths = LabPaths(lab.name)
    lab.down()
    deadline = time.monotonic() + 10
    while _cgroup_pids(lab) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _cgroup_pids(lab) == [], "processes left in the lab's cgroup"
    assert not paths.cgroup().exists()
    assert not paths.dir.exists()
    assert str(paths.dir) not in Path("/proc/self/mountinfo").read_text()
    assert not lab.is_up()


@pytest.fixture(scope="module")
def light_lab() -> Iterator[Lab]:
    _skip_unless_root()
    lab = Lab(f"pytest-light-{os.getpid()}", LIGHT_OCTET)
    try:
        lab.up(3, light=True)
        yield lab
    finally:
        lab.down()


def test_light_hosts_run_only_sshd_under_a_reaping_pid1(light_lab: Lab) -> None:
    status = light_lab.status()
    assert status.up and status.kind == "light"
    assert json.loads(light_lab.paths.config.read_text())["kind"] == "light"
    for host in light_lab.hosts:
        names = host.exec(["ps", "-eo", "comm="]).stdout.split()
        assert sorted(set(names) - {"ps"}) == ["sh", "sshd"], names
        assert host.exec(["cat", "/proc/1/comm"]).stdout.strip() == "sh"
        assert host.exec(["hostname"]).stdout.strip() == host.name
    # No host process holds an inotify instance (the budget systemd hosts share).
    for pid in _cgroup_pids(light_lab):
        try:
            links = [os.readlink(fd) for fd in Path(f"/proc/{pid}/fd").iterdir()]
        except OSError:
            continue
        assert "anon_inode:inotify" not in links


def test_light_hosts_keep_the_isolation_of_systemd_hosts(light_lab: Lab) -> None:
    host = light_lab.hosts[0]
    before = Path("/proc/sys/kernel/pid_max").read_text().strip()
    proc = host.exec(["sysctl", "-w", f"kernel.pid_max={before}"], check=False)
    assert proc.returncode != 0  # read-only /proc/sys (the value is the machine's own)
    assert host.exec(["find", "/dev", "-type", "b"]).stdout.strip() == ""
    links = host.exec(["ip", "-o", "link"]).stdout.splitlines()
    assert len(links) == 1 and " lo: " in links[0]
    bnd = next(line for line in host.exec(["cat", "/proc/1/status"]).stdout.splitlines()
               if line.startswith("CapBnd:"))
    assert not int(bnd.split()[1], 16) & (1 << 25)  # CAP_SYS_TIME dropped


def test_orphans_are_reaped_not_left_as_zombies(light_lab: Lab) -> None:
    host = light_lab.hosts[1]
    # Daemonised children (their parent exits at once) are handed to PID 1.
    script = "for i in 1 2 3 4 5; do sh -c 'sleep 0.2 & exit'; done; sleep 1; ps -eo stat="
    states = host.exec(["sh", "-c", script]).stdout.split()
    assert states and not [s for s in states if s.startswith("Z")], states


def test_a_playbook_runs_twice_on_light_hosts(light_lab: Lab, tmp_path: Path) -> None:
    book = tmp_path / "light.yml"
    book.write_text(PLAYBOOK)
    for round_, changed in ((1, 3), (2, 0)):
        report = tmp_path / f"report{round_}.json"
        proc, _rss = _run(light_lab, book, report, timeout=120)
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        hosts = json.loads(report.read_text())["hosts"]
        assert sorted(hosts) == ["h1", "h2", "h3"]
        for name, stats in hosts.items():
            assert (stats["ok"], stats["changed"], stats["failed"], stats["unreachable"]) == (
                5, changed, 0, False), (round_, name, stats)
    for host in light_lab.hosts:
        assert host.exec(["cat", "/root/pe-light/motd"]).stdout == f"host {host.name}\n"


def test_up_again_is_harmless_the_other_kind_refused_and_reset_works(light_lab: Lab) -> None:
    pids = [h.pid for h in light_lab.hosts]
    light_lab.up(3, light=True)
    assert [h.pid for h in light_lab.hosts] == pids
    with pytest.raises(LabError, match="3 light hosts"):
        light_lab.up(3)  # a systemd lab of the same name
    host = light_lab.hosts[2]
    host.exec(["touch", "/root/pe-light-reset-marker"])
    old_pid = host.pid
    light_lab.reset_host(host.name)
    assert host.pid != old_pid
    assert host.exec(["test", "-e", "/root/pe-light-reset-marker"], check=False).returncode != 0
    assert light_lab.status().up


def test_down_leaves_no_process_and_no_mount(light_lab: Lab) -> None:
    assert _cgroup_pids(light_lab)
    _assert_down_leaves_nothing(light_lab)


def test_250_light_hosts_run_a_playbook_with_a_bounded_controller(tmp_path: Path) -> None:
    """The issue's scale test (not timed): every host ok, the run's peak RSS < 400 MB, the
    lab daemon's threads flat, the output one line per host at most beside the recap."""
    _skip_unless_root()
    lab = Lab(f"pytest-light250-{os.getpid()}", SCALE_OCTET)
    book = tmp_path / "scale.yml"
    book.write_text(PLAYBOOK)
    report = tmp_path / "report.json"
    try:
        started = time.monotonic()
        lab.up(SCALE_HOSTS, light=True)
        booted = time.monotonic() - started
        status = lab.status()
        assert status.up and len(status.hosts) == SCALE_HOSTS
        assert status.hosts[-1].address == f"127.0.{SCALE_OCTET}.{SCALE_HOSTS}"
        daemon = lab.daemon_pid()
        threads = next(line for line in Path(f"/proc/{daemon}/status").read_text().splitlines()
                       if line.startswith("Threads:"))
        fds = len(os.listdir(f"/proc/{daemon}/fd"))
        started = time.monotonic()
        proc, peak_kb = _run(lab, book, report, timeout=600)
        ran = time.monotonic() - started
        figures = (f"boot {booted:.1f} s, run {ran:.1f} s, controller peak RSS "
                   f"{peak_kb / 1024:.0f} MB, daemon {threads.split()[1]} threads {fds} fds")
        print(f"\n250 light hosts: {figures}")
        assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
        hosts = json.loads(report.read_text())["hosts"]
        assert len(hosts) == SCALE_HOSTS
        bad = {n: s for n, s in hosts.items()
               if s["failed"] or s["unreachable"] or s["ok"] != 5 or s["changed"] != 3}
        assert not bad, list(bad.items())[:3]
        assert peak_kb < RSS_LIMIT_MB * 1024, figures
        assert int(threads.split()[1]) <= 8, figures  # no thread per host
        assert fds < 8 * SCALE_HOSTS, figures
        # Usable output: the recap and at most one progress line per host, no task spam.
        assert len(proc.stdout.splitlines()) <= 2 * SCALE_HOSTS + 20, proc.stdout[-2000:]
    finally:
        _assert_down_leaves_nothing(lab)
