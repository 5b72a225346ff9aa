"""The lab's hosts are real enough: isolated, reachable over verified SSH, rebootable, apt.

Most tests use the session lab (tests/conftest.py). Tests that take a lab down or add
latency bring up their own one-host lab on a spare octet (PYENGINE_TEST_SPARE_OCTET,
default 200, and the next one) and remove it.
"""

from __future__ import annotations

import os
import secrets
import socket
import statistics
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import paramiko
import pytest
import yaml

from pyengine.errors import LabError
from pyengine.lab import LAB_PW_PASSWORD, LAB_PW_USER, LAB_USER, Lab, LabHost
from pyengine.lab.config import DROPPED_CAPS, LabPaths

pytestmark = pytest.mark.lab

SPARE_OCTET = int(os.environ.get("PYENGINE_TEST_SPARE_OCTET", "200"))
CAP_BITS = {"sys_time": 25, "sys_module": 16, "sys_rawio": 17, "sys_admin": 21, "sys_boot": 22}


def ssh(lab: Lab, host: LabHost, user: str = "root",
        known_hosts: Path | None = None) -> paramiko.SSHClient:
    """A paramiko client that refuses unknown host keys (the lab's known_hosts only)."""
    client = paramiko.SSHClient()
    client.load_host_keys(str(known_hosts or lab.known_hosts_path))
    client.set_missing_host_key_policy(paramiko.RejectPolicy())
    # Without TCP_NODELAY, Nagle + delayed ACK add ~40 ms to small exchanges.
    sock = socket.create_connection((host.address, host.port), timeout=10)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    try:
        client.connect(host.address, host.port, username=user,
                       key_filename=str(lab.private_key_path), look_for_keys=False,
                       allow_agent=False, timeout=10, banner_timeout=10, auth_timeout=10, sock=sock)
    except BaseException:
        sock.close()
        raise
    return client


def run(client: paramiko.SSHClient, command: str, stdin: str | None = None) -> tuple[int, str]:
    _in, out, err = client.exec_command(command, timeout=60)
    if stdin is not None:
        _in.write(stdin)
        _in.channel.shutdown_write()
    text = out.read().decode() + err.read().decode()
    return out.channel.recv_exit_status(), text


def wait_ssh(lab: Lab, host: LabHost, timeout: float = 60) -> paramiko.SSHClient:
    deadline = time.monotonic() + timeout
    while True:
        try:
            return ssh(lab, host)
        except (OSError, paramiko.SSHException):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


def skip_unless_root() -> None:
    if os.geteuid() != 0:
        pytest.skip("lab tests need root (namespaces and overlay mounts); run pytest as root")


@pytest.fixture
def spare_lab() -> Iterator[Lab]:
    """A private one-host lab for tests that take it down or reset it."""
    skip_unless_root()
    spare = Lab(f"pytest-spare-{os.getpid()}", SPARE_OCTET)
    try:
        yield spare
    finally:
        spare.down()


# -- isolation -------------------------------------------------------------------------


def test_a_file_written_in_one_host_is_absent_elsewhere(lab: Lab) -> None:
    h1, h2 = lab.hosts[0], lab.hosts[1]
    path = f"/tmp/pyengine-isolation-{secrets.token_hex(6)}"
    h1.exec(["sh", "-c", f"echo only-h1 > {path}"])
    try:
        assert h1.exec(["cat", path]).stdout == "only-h1\n"
        assert h2.exec(["test", "-e", path], check=False).returncode == 1
        assert not Path(path).exists()  # the machine's /tmp
    finally:
        h1.exec(["rm", "-f", path])


def test_sysctl_write_inside_fails_and_machine_keeps_its_value(lab: Lab) -> None:
    # kernel.pid_max is not namespaced. Writing the machine's own value back means that
    # even if the protection were missing this test could not change the machine.
    before = Path("/proc/sys/kernel/pid_max").read_text().strip()
    proc = lab.hosts[0].exec(["sysctl", "-w", f"kernel.pid_max={before}"], check=False)
    assert proc.returncode != 0
    assert "denied" in proc.stderr or "Read-only" in proc.stderr
    assert Path("/proc/sys/kernel/pid_max").read_text().strip() == before


def test_net_sysctls_are_the_hosts_own(lab: Lab) -> None:
    # net.* lives in the host's network namespace: settable inside, as on a real server,
    # without touching the machine's value.
    host = lab.hosts[1]
    machine = Path("/proc/sys/net/ipv4/tcp_syncookies").read_text().strip()
    inside = host.exec(["sysctl", "-n", "net.ipv4.tcp_syncookies"]).stdout.strip()
    other = "0" if inside != "0" else "1"
    host.exec(["sysctl", "-w", f"net.ipv4.tcp_syncookies={other}"])
    try:
        assert host.exec(["sysctl", "-n", "net.ipv4.tcp_syncookies"]).stdout.strip() == other
        assert Path("/proc/sys/net/ipv4/tcp_syncookies").read_text().strip() == machine
        assert lab.hosts[0].exec(["sysctl", "-n", "net.ipv4.tcp_syncookies"]
                                 ).stdout.strip() == inside
    finally:
        host.exec(["sysctl", "-w", f"net.ipv4.tcp_syncookies={inside}"])


def test_hosts_have_own_hostname_and_network(lab: Lab) -> None:
    for host in lab.hosts[:3]:
        assert host.exec(["hostname"]).stdout.strip() == host.name
        links = host.exec(["ip", "-o", "link"]).stdout.splitlines()
        assert len(links) == 1 and " lo: " in links[0]  # only its own loopback


def test_dev_is_private_and_minimal(lab: Lab) -> None:
    host = lab.hosts[0]
    listing = host.exec(["ls", "/dev"]).stdout.split()
    for node in ("null", "zero", "full", "random", "urandom", "tty", "pts", "ptmx", "shm"):
        assert node in listing
    blocks = host.exec(["find", "/dev", "-type", "b"]).stdout.strip()
    assert blocks == ""  # none of the machine's disks
    assert host.exec(["sh", "-c", "echo ok > /dev/null && head -c 4 /dev/urandom | wc -c"]
                     ).stdout.strip() == "4"


def test_machine_wide_capabilities_are_dropped(lab: Lab) -> None:
    host = lab.hosts[0]
    for pid in ("1", "self"):
        status = host.exec(["cat", f"/proc/{pid}/status"]).stdout
        bnd = int(next(line.split()[1] for line in status.splitlines()
                       if line.startswith("CapBnd:")), 16)
        for cap in ("sys_time", "sys_module", "sys_rawio"):
            assert cap in DROPPED_CAPS
            assert not bnd & (1 << CAP_BITS[cap]), f"{cap} still in PID {pid}'s bounding set"
        assert bnd & (1 << CAP_BITS["sys_admin"])  # systemd needs it to mount inside
    client = ssh(lab, host)
    try:
        rc, out = run(client, "grep CapBnd /proc/self/status")
        assert rc == 0 and not int(out.split()[1], 16) & (1 << CAP_BITS["sys_time"])
    finally:
        client.close()


# -- SSH -------------------------------------------------------------------------------


def test_ssh_to_every_host_works_with_host_key_checking(lab: Lab) -> None:
    for host in lab.hosts:
        client = ssh(lab, host)
        try:
            rc, out = run(client, "hostname; systemctl is-system-running")
            assert rc == 0, out
            assert out.split() == [host.name, "running"]
        finally:
            client.close()


def test_host_keys_differ_per_host_and_a_wrong_key_is_refused(lab: Lab, tmp_path: Path) -> None:
    lines = lab.known_hosts_path.read_text().splitlines()
    blobs = [line.split()[2] for line in lines]
    assert len(blobs) == len(set(blobs)) == 2 * len(lab.hosts)
    # Claim h1's keys belong to h2's address: the client must refuse h2.
    h1, h2 = lab.hosts[0], lab.hosts[1]
    wrong = tmp_path / "known_hosts"
    wrong.write_text("".join(f"{h2.address} {line.split(' ', 1)[1]}\n"
                             for line in lines if line.split()[0] == h1.address))
    with pytest.raises(paramiko.BadHostKeyException):
        ssh(lab, h2, known_hosts=wrong).close()


def test_lab_users_sudo_with_and_without_password(lab: Lab) -> None:
    host = lab.hosts[0]
    client = ssh(lab, host, user=LAB_USER)
    try:
        assert run(client, "sudo -n id -u") == (0, "0\n")
    finally:
        client.close()
    client = ssh(lab, host, user=LAB_PW_USER)
    try:
        rc, _out = run(client, "sudo -n true")
        assert rc != 0  # a password is required
        rc, out = run(client, "sudo -S -p '' id -u", stdin=LAB_PW_PASSWORD + "\n")
        assert (rc, out.strip()) == (0, "0")
    finally:
        client.close()


def test_systemctl_restart_ssh_inside_works(lab: Lab) -> None:
    host = lab.hosts[1]
    before = host.exec(["systemctl", "show", "-p", "MainPID", "--value", "ssh"]).stdout.strip()
    client = ssh(lab, host)
    try:
        rc, out = run(client, "systemctl restart ssh && systemctl is-active ssh")
        assert (rc, out.strip()) == (0, "active")
    finally:
        client.close()
    after = host.exec(["systemctl", "show", "-p", "MainPID", "--value", "ssh"]).stdout.strip()
    assert after != before and after != "0"
    wait_ssh(lab, host).close()


def test_rebooted_host_comes_back_by_itself_with_its_disk(lab: Lab) -> None:
    host = lab.hosts[-1]
    marker = f"/root/pyengine-reboot-{secrets.token_hex(4)}"
    boot_id = host.exec(["cat", "/proc/sys/kernel/random/boot_id"]).stdout.strip()
    assert boot_id != Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    old_pid = host.pid
    host.exec(["touch", marker])
    host.exec(["sysctl", "-w", "net.ipv4.ip_forward=1"])  # a fresh boot forgets this
    client = ssh(lab, host)
    try:
        client.exec_command("systemctl reboot")
    finally:
        time.sleep(0.5)
        client.close()
    deadline = time.monotonic() + 60
    while host.pid in (None, old_pid):
        assert time.monotonic() < deadline, "host did not boot again"
        time.sleep(0.1)
    client = wait_ssh(lab, host)
    try:
        rc, out = run(client, f"cat /proc/sys/kernel/random/boot_id; test -e {marker} && echo kept;"
                              f" rm -f {marker}; systemctl is-system-running --wait")
    finally:
        client.close()
    new_boot_id, kept, state = out.split()
    assert rc == 0 and str(uuid.UUID(new_boot_id)) != boot_id
    assert kept == "kept" and state == "running"
    assert host.exec(["sysctl", "-n", "net.ipv4.ip_forward"]).stdout.strip() == "0"
    uptime = float(host.exec(["cat", "/proc/uptime"]).stdout.split()[0])
    assert uptime < 60  # counts from this boot, not the machine's


# -- lifecycle -------------------------------------------------------------------------


def test_up_twice_is_harmless(lab: Lab) -> None:
    pids = [h.pid for h in lab.hosts]
    started = time.monotonic()
    lab.up(len(pids))
    assert time.monotonic() - started < 30
    assert [h.pid for h in lab.hosts] == pids
    assert lab.status().up


def test_up_with_a_different_size_is_refused(lab: Lab) -> None:
    with pytest.raises(LabError, match="already up"):
        lab.up(len(lab.hosts) + 1)


def test_inventory_points_at_the_hosts_key_and_known_hosts(lab: Lab) -> None:
    data = yaml.safe_load(lab.inventory_path.read_text())
    group = data["all"]["children"]["lab"]
    assert sorted(group["hosts"]) == sorted(h.name for h in lab.hosts)
    assert {n: v["ansible_host"] for n, v in group["hosts"].items()} == {
        h.name: h.address for h in lab.hosts
    }
    assert Path(group["vars"]["ansible_ssh_private_key_file"]) == lab.private_key_path
    assert Path(group["vars"]["pyengine_known_hosts"]) == lab.known_hosts_path
    assert lab.private_key_path.stat().st_mode & 0o077 == 0


def test_apt_install_works_inside_a_host(lab: Lab) -> None:
    host = lab.hosts[0]
    client = ssh(lab, host)
    try:
        rc, out = run(client, "apt-get update -q && DEBIAN_FRONTEND=noninteractive "
                              "apt-get install -y -q hello && hello")
        assert rc == 0, out[-2000:]
        assert "Hello, world!" in out
    finally:
        run(client, "apt-get purge -y -q hello")
        client.close()
    assert host.exec(["dpkg-query", "-W", "hello"], check=False).returncode != 0


def _listening_on(octet: int) -> list[str]:
    found = []
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        local, state = line.split()[1], line.split()[3]
        addr_hex = local.split(":")[0]
        addr = ".".join(str(int(addr_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
        if state == "0A" and addr.startswith(f"127.0.{octet}."):
            found.append(addr)
    return found


def _gone_or_zombie(pid: int | None, timeout: float = 5) -> bool:
    """A killed process may linger as a zombie until its parent (not ours) reaps it."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            return True
        if stat[stat.rindex(")") + 2] == "Z":
            return True
        time.sleep(0.05)
    return False


def test_reset_restores_pristine_and_down_leaves_nothing_behind(spare_lab: Lab) -> None:
    spare_lab.up(1)
    host = spare_lab.hosts[0]
    host.exec(["sh", "-c", "echo changed > /etc/pyengine-reset-marker"])
    spare_lab.reset()
    assert host.exec(["test", "-e", "/etc/pyengine-reset-marker"], check=False).returncode == 1
    ssh(spare_lab, host).close()  # same host keys after reset: known_hosts still valid

    paths = LabPaths(spare_lab.name)
    pids = [spare_lab.daemon_pid(), host.pid]
    assert all(pids) and _listening_on(SPARE_OCTET)
    spare_lab.down()
    for pid in pids:
        assert _gone_or_zombie(pid), f"process {pid} still runs"
    assert _listening_on(SPARE_OCTET) == []
    assert not paths.dir.exists()
    assert not paths.cgroup().exists()
    assert str(paths.dir) not in Path("/proc/self/mountinfo").read_text()
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit():
            try:
                cmdline = (proc / "cmdline").read_bytes()
            except OSError:
                continue
            leftover = str(paths.dir).encode() in cmdline or (
                f"pyengine.lab.daemon\0{spare_lab.name}\0".encode() in cmdline
            )
            assert not leftover or _gone_or_zombie(int(proc.name)), f"{proc.name} left behind"
    spare_lab.down()  # a second down is harmless too


def _round_trip_ms(lab: Lab) -> float:
    """Median time of one SSH request/response (opening a channel) in ms."""
    client = ssh(lab, lab.hosts[0])
    try:
        transport = client.get_transport()
        assert transport is not None
        samples = []
        for _ in range(7):
            start = time.monotonic()
            transport.open_session().close()
            samples.append((time.monotonic() - start) * 1000)
        return statistics.median(samples)
    finally:
        client.close()


def test_delay_ms_adds_latency_to_ssh_round_trips(lab: Lab) -> None:
    skip_unless_root()
    delay = 40
    delayed = Lab(f"pytest-delay-{os.getpid()}", SPARE_OCTET + 1)
    try:
        delayed.up(1, delay_ms=delay)
        plain_ms = _round_trip_ms(lab)
        delayed_ms = _round_trip_ms(delayed)
    finally:
        delayed.down()
    # One round trip crosses the forwarder once each way: about 2 x delay more.
    assert delayed_ms - plain_ms > 1.5 * delay, (plain_ms, delayed_ms)


def test_reset_host_wipes_one_host_and_leaves_the_others_running(lab: Lab) -> None:
    target, other = lab.hosts[3], lab.hosts[4]
    marker = "/root/pe-reset-host-marker"
    for host in (target, other):
        host.exec(["touch", marker])
    other_pid = other.pid
    try:
        lab.reset_host(target.name)
        assert target.exec(["test", "-e", marker], check=False).returncode != 0
        assert other.exec(["test", "-e", marker], check=False).returncode == 0
        assert other.pid == other_pid
        assert target.exec(["systemctl", "is-system-running", "--wait"],
                           check=False).stdout.strip() == "running"
    finally:
        other.exec(["rm", "-f", marker], check=False)
