"""The ssh connection against real sshd in lab hosts: host keys, auth, jump hosts, loss.

Independent checks go through `LabHost.exec` (nsenter), never through the SSH layer
under test. Host h3 is the one whose sshd gets stopped; it is started again after.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modtarget import hostvars

from pyengine.agent.session import PythonAgentSession
from pyengine.connection import CommandTimeout, HostKeyError, connection_for_host
from pyengine.connection.known_hosts import fingerprint
from pyengine.connection.ssh import SSHConnection
from pyengine.errors import HostUnreachable

pytestmark = pytest.mark.lab

NOOP = "def main(m):\n    return {'changed': False, 'msg': 'ok'}\n"

WAIT_FOR = '''
import os, time

def main(m):
    deadline = time.time() + 30
    while not os.path.exists(m.params["path"]) and time.time() < deadline:
        time.sleep(0.05)
    return {"changed": False}
'''


def lab_key_lines(lab: Any, address: str) -> list[str]:
    return [line for line in Path(lab.known_hosts_path).read_text().splitlines()
            if line.split(" ", 1)[0] in (address, f"[{address}]:22")]


def host_fingerprint(host: Any, kind: str = "ed25519") -> str:
    out = host.exec(["ssh-keygen", "-l", "-E", "sha256", "-f",
                     f"/etc/ssh/ssh_host_{kind}_key.pub"]).stdout
    return str(out.split()[1])


# -- host keys --------------------------------------------------------------------------

def test_unknown_host_key_is_refused_naming_the_fingerprint(lab: Any, tmp_path: Path) -> None:
    empty = tmp_path / "known_hosts"
    empty.write_text("")
    conn = connection_for_host("h1", hostvars(lab, "h1", pyengine_known_hosts=str(empty),
                                              ansible_ssh_common_args=""))
    with pytest.raises(HostKeyError) as info:
        conn.connect()
    message = str(info.value)
    assert "\n" not in message
    assert "is not known" in message and "--trust-new-hosts" in message
    assert host_fingerprint(lab.host("h1")) in message
    assert empty.read_text() == ""  # nothing recorded without opting in
    assert not conn.connected


def test_trust_on_first_use_records_the_key_then_strict_accepts_it(
    lab: Any, tmp_path: Path
) -> None:
    record = tmp_path / "project" / "known_hosts"
    first = connection_for_host("h1", hostvars(lab, "h1", pyengine_known_hosts=str(record),
                                               ansible_ssh_common_args=""),
                                trust_new_hosts=True)
    with first:
        assert first.run(["hostname"]).stdout.strip() == b"h1"
    lines = record.read_text().splitlines()
    assert len(lines) == 1 and lines[0].startswith("127.0.3.1 ") or lines[0].startswith(
        f"{lab.host('h1').address} ")
    # What was recorded is the host's real key: a strict second run accepts it.
    strict = SSHConnection("h1", dict(_options(lab, "h1"), known_hosts_file=str(record),
                                      host_key_checking="strict"))
    with strict:
        assert strict.run(["true"]).rc == 0
    assert len(record.read_text().splitlines()) == 1


def test_changed_host_key_is_refused_even_with_trust_on_first_use(
    lab: Any, tmp_path: Path
) -> None:
    h1, h2 = lab.host("h1"), lab.host("h2")
    forged = tmp_path / "known_hosts"
    # h2's real keys filed under h1's address: what h1 looks like after a MITM or rebuild.
    forged.write_text("".join(
        line.replace(h2.address, h1.address, 1) + "\n" for line in lab_key_lines(lab, h2.address)
    ))
    before = forged.read_text()
    conn = connection_for_host("h1", hostvars(lab, "h1", pyengine_known_hosts=str(forged),
                                              ansible_ssh_common_args=""),
                               trust_new_hosts=True)
    with pytest.raises(HostKeyError) as info:
        conn.connect()
    message = str(info.value)
    assert "CHANGED" in message and "ssh-keygen -R" in message and "\n" not in message
    assert host_fingerprint(h1) in message  # what the server offers
    assert forged.read_text() == before


def test_known_key_of_another_type_is_negotiated(lab: Any, tmp_path: Path) -> None:
    """Only the ECDSA key on record: the server must be asked for ECDSA, not ed25519."""
    h1 = lab.host("h1")
    only_ecdsa = tmp_path / "known_hosts"
    only_ecdsa.write_text("".join(line + "\n" for line in lab_key_lines(lab, h1.address)
                                  if "ecdsa" in line))
    assert only_ecdsa.read_text()
    conn = SSHConnection("h1", dict(_options(lab, "h1"), known_hosts_file=str(only_ecdsa)))
    with conn:
        assert conn.transport is not None
        key = conn.transport.get_remote_server_key()
        assert key.get_name().startswith("ecdsa")
        assert fingerprint(key) == host_fingerprint(h1, "ecdsa")


def _options(lab: Any, name: str) -> dict[str, Any]:
    from pyengine.connection import ssh_options_from_vars

    return ssh_options_from_vars(hostvars(lab, name))


# -- authentication and commands --------------------------------------------------------

ONE_TRANSPORT_PROBE = """
import json, subprocess, sys
from pyengine.agent.session import PythonAgentSession
from pyengine.connection.hostvars import connection_for_host
hostvars, address, port = json.loads(sys.argv[1]), sys.argv[2], sys.argv[3]
noop = "ARGS = {}\\ndef main(m):\\n    return {'changed': False}\\n"
conn = connection_for_host("h1", hostvars)
with conn:
    conn.run(["true"])
    conn.put(b"x", "/tmp/pe-one-transport")
    conn.get("/tmp/pe-one-transport")
    with PythonAgentSession(conn, module_source=lambda _n: noop) as session:
        list(session.run_batch([{"id": 1, "module": "noop", "args": {}}]))
        out = subprocess.run(["ss", "-tnpH", "state", "established", "dst",
                              f"{address}:{port}"], capture_output=True, text=True).stdout
        mine = [line for line in out.splitlines() if f"pid={__import__('os').getpid()},"
                in line]
        print(len(mine))
"""


def test_one_transport_serves_commands_files_and_the_agent(lab: Any, tmp_path: Path) -> None:
    conn = connection_for_host("h1", hostvars(lab, "h1"))
    with conn:
        transport = conn.transport
        result = conn.run(["sh", "-c", 'printf "%s" "$1"; echo oops >&2; exit 3', "sh",
                           "a b; $(x)"])
        assert (result.rc, result.stdout, result.stderr) == (3, b"a b; $(x)", b"oops\n")
        path = f"/tmp/pyengine-conn-{os.getpid()}"
        conn.put(b"\x00binary\xff", path, mode=0o640)
        assert conn.get(path) == b"\x00binary\xff"
        assert lab.host("h1").exec(["stat", "-c", "%a", path]).stdout.strip() == "640"
        conn.run(["rm", "-f", path])
        assert conn.run(["cat"], data=b"x" * 300000).stdout == b"x" * 300000
        with PythonAgentSession(conn, module_source=lambda _n: NOOP) as session:
            assert len(list(session.run_batch([{"id": 1, "module": "noop", "args": {}}]))) == 1
        assert conn.transport is transport and transport.is_active()
        # Keepalives: the kernel probes an idle connection so a vanished host is noticed.
        sock = transport.sock
        assert sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE) == 1
        assert sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE) == 15
    # One TCP connection for all of it, counted in a fresh process (this one may still hold
    # connections of earlier tests).
    host = lab.host("h1")
    probe = subprocess.run([sys.executable, "-c", ONE_TRANSPORT_PROBE,
                            json.dumps(hostvars(lab, "h1")), host.address, str(host.port)],
                           capture_output=True, text=True, timeout=120)
    assert probe.returncode == 0, probe.stderr
    assert probe.stdout.strip() == "1"


def test_command_timeout(lab: Any) -> None:
    conn = connection_for_host("h1", hostvars(lab, "h1"))
    with conn:
        started = time.monotonic()
        with pytest.raises(CommandTimeout, match="did not finish within 0.5s"):
            conn.run(["sleep", "20"], timeout=0.5)
        assert time.monotonic() - started < 5
        assert conn.run(["true"]).rc == 0  # the transport survives a timed-out channel


def test_password_auth(lab: Any) -> None:
    vars_ = hostvars(lab, "h1", ansible_user="labpw", ansible_password="labpw-secret")
    del vars_["ansible_ssh_private_key_file"]
    conn = connection_for_host("h1", vars_)
    with conn:
        assert conn.run(["id", "-un"]).stdout.strip() == b"labpw"
    wrong = connection_for_host("h1", dict(vars_, ansible_password="not-it"))
    with pytest.raises(HostUnreachable, match=r"authentication as 'labpw'.*tried: password"):
        wrong.connect()


def test_encrypted_key_file_needs_its_passphrase(lab: Any, tmp_path: Path) -> None:
    key = tmp_path / "id_encrypted"
    key.write_bytes(Path(lab.private_key_path).read_bytes())
    key.chmod(0o600)
    subprocess.run(["ssh-keygen", "-q", "-p", "-f", str(key), "-P", "", "-N", "key-pass"],
                   check=True, capture_output=True)
    vars_ = hostvars(lab, "h1", ansible_ssh_private_key_file=str(key))
    with pytest.raises(HostUnreachable, match="is encrypted: set private_key_passphrase"):
        connection_for_host("h1", vars_).connect()
    with pytest.raises(HostUnreachable, match=r"cannot load private key .*wrong passphrase"):
        connection_for_host("h1", dict(vars_, pyengine_private_key_passphrase="nope")).connect()
    with connection_for_host("h1", dict(vars_, pyengine_private_key_passphrase="key-pass")) as c:
        assert c.run(["id", "-un"]).stdout.strip() == b"root"


def test_ssh_agent_auth(lab: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    sock = tmp_path / "agent.sock"
    agent = subprocess.Popen(["ssh-agent", "-D", "-a", str(sock)], stdout=subprocess.DEVNULL)
    try:
        for _ in range(100):
            if sock.exists():
                break
            time.sleep(0.02)
        env = dict(os.environ, SSH_AUTH_SOCK=str(sock))
        subprocess.run(["ssh-add", "-q", str(lab.private_key_path)], env=env, check=True,
                       capture_output=True)
        monkeypatch.setenv("SSH_AUTH_SOCK", str(sock))
        vars_ = hostvars(lab, "h1", pyengine_allow_agent=True)
        del vars_["ansible_ssh_private_key_file"]
        with connection_for_host("h1", vars_) as conn:
            assert conn.run(["id", "-un"]).stdout.strip() == b"root"
    finally:
        agent.terminate()
        agent.wait()


# -- jump hosts -------------------------------------------------------------------------

@pytest.fixture
def h1_to_h2_link(lab: Any) -> Iterator[int]:
    """A TCP port inside h1's network namespace that leads to h2's sshd.

    Lab hosts have private network namespaces; this link (socat, run by the test on the
    machine, joined to h1's namespace) is the "LAN" between them. 127.0.0.1:PORT exists
    only inside h1: the controller cannot reach it except through h1.
    """
    h1, h2 = lab.host("h1"), lab.host("h2")
    port = 20000 + os.getpid() % 20000
    link = subprocess.Popen(
        ["nsenter", f"--net=/proc/{h1.pid}/ns/net", "socat",
         f"TCP-LISTEN:{port},bind=127.0.0.1,reuseaddr,fork",
         f'EXEC:"nsenter --net=/proc/{h2.pid}/ns/net socat STDIO TCP:127.0.0.1:22"'],
        start_new_session=True, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(200):
            if f"127.0.0.1:{port} " in h1.exec(["ss", "-ltnH"]).stdout:
                break
            time.sleep(0.02)
        yield port
    finally:
        os.killpg(link.pid, signal.SIGTERM)
        link.wait()


def _jump_known_hosts(lab: Any, tmp_path: Path, port: int) -> Path:
    """The lab's known_hosts plus the names h2 and h1 have as seen from inside h1."""
    path = tmp_path / "known_hosts"
    h1, h2 = lab.host("h1"), lab.host("h2")
    extra = [line.replace(line.split(" ", 1)[0], f"[127.0.0.1]:{port}", 1)
             for line in lab_key_lines(lab, h2.address)]
    extra += [line.replace(line.split(" ", 1)[0], "127.0.0.1", 1)
              for line in lab_key_lines(lab, h1.address)]
    path.write_text(Path(lab.known_hosts_path).read_text() + "\n".join(extra) + "\n")
    return path


def _refused_from_machine(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=2).close()
    except ConnectionRefusedError:
        return True
    return False


def test_jump_host_gateway_reaches_h2_through_h1(
    lab: Any, tmp_path: Path, h1_to_h2_link: int
) -> None:
    port = h1_to_h2_link
    assert _refused_from_machine(port)  # not reachable without the jump
    known = _jump_known_hosts(lab, tmp_path, port)
    gateway = connection_for_host("h1", hostvars(lab, "h1", pyengine_known_hosts=str(known)))
    target = connection_for_host(
        "h2", hostvars(lab, "h2", ansible_host="127.0.0.1", ansible_port=port,
                       pyengine_known_hosts=str(known)),
        gateway=gateway,
    )
    with gateway, target:
        # h2's own host key was verified (it is on record for h2 only) and h2 answers.
        assert target.run(["hostname"]).stdout.strip() == b"h2"
        with PythonAgentSession(target, module_source=lambda _n: NOOP) as session:
            assert session.facts["ansible_hostname"] == "h2"
            assert session.facts["ansible_machine_id"] == lab.host("h2").exec(
                ["cat", "/etc/machine-id"]).stdout.strip()
        assert gateway.tunnels_opened == 1
        # h1's sshd holds the TCP connection to the link: the path really runs through h1.
        sockets = lab.host("h1").exec(["ss", "-tnpH", "state", "established",
                                       f"( dport = :{port} )"]).stdout
        assert "sshd" in sockets


def test_proxy_jump_from_inventory_vars(lab: Any, tmp_path: Path, h1_to_h2_link: int) -> None:
    port = h1_to_h2_link
    known = _jump_known_hosts(lab, tmp_path, port)
    h1 = lab.host("h1")
    conn = connection_for_host("h2", hostvars(
        lab, "h2", ansible_host="127.0.0.1", ansible_port=port,
        pyengine_known_hosts=str(known),
        ansible_ssh_common_args=f"-o ProxyJump=root@{h1.address}:22",
    ))
    # A second host behind the same bastion: h1's own sshd as seen from inside h1.
    other = connection_for_host("h1-inside", hostvars(
        lab, "h1", ansible_host="127.0.0.1", pyengine_known_hosts=str(known),
        ansible_ssh_common_args=f"-o ProxyJump=root@{h1.address}:22",
    ))
    assert isinstance(conn, SSHConnection) and isinstance(other, SSHConnection)
    with conn, other:
        assert conn.run(["hostname"]).stdout.strip() == b"h2"
        assert other.run(["hostname"]).stdout.strip() == b"h1"
        gateway = conn.gateway
        assert gateway is not None and gateway is other.gateway  # one transport to the jump
        assert gateway.tunnels_opened == 2 and gateway.address == h1.address
    assert not gateway.connected  # closed with the last host behind it


def test_jump_host_that_cannot_reach_the_target(lab: Any) -> None:
    gateway = connection_for_host("h1", hostvars(lab, "h1"))
    target = connection_for_host("h2", hostvars(lab, "h2", ansible_host="127.0.0.1",
                                                ansible_port=1), gateway=gateway)
    with gateway:
        with pytest.raises(HostUnreachable, match="jump host .* could not reach 127.0.0.1:1"):
            target.connect()


# -- losing a host ----------------------------------------------------------------------

def test_sshd_stopped_mid_run_makes_only_that_host_unreachable(
    lab: Any, tmp_path: Path
) -> None:
    h3 = lab.host("h3")
    flag = f"/tmp/pyengine-flag-{os.getpid()}"
    sources = {"noop": NOOP, "wait_for": WAIT_FOR}
    conns = {name: connection_for_host(name, hostvars(lab, name)) for name in ("h1", "h3")}
    sessions = {name: PythonAgentSession(c, module_source=sources.__getitem__)
                for name, c in conns.items()}
    try:
        for session in sessions.values():
            session.start()
        stream = sessions["h3"].run_batch([
            {"id": 1, "module": "noop", "args": {}},
            {"id": 2, "module": "wait_for", "args": {"path": flag}},
        ])
        assert next(stream)["id"] == 1
        # sshd goes away with its sessions (a plain `stop` keeps sessions on Debian).
        h3.exec(["systemctl", "stop", "ssh"])
        h3.exec(["systemctl", "kill", "ssh"], check=False)
        with pytest.raises(HostUnreachable, match="h3: unreachable"):
            next(stream)
        with pytest.raises(HostUnreachable, match="h3: unreachable: .*is sshd running"):
            connection_for_host("h3", hostvars(lab, "h3")).connect()
        # The other host carries on, on its same session.
        results = list(sessions["h1"].run_batch([{"id": 3, "module": "noop", "args": {}}]))
        assert results[0]["result"]["msg"] == "ok"
        # Once sshd is back (think: after a reboot) the same connection opens a new transport.
        h3.exec(["touch", flag])
        h3.exec(["systemctl", "reset-failed", "ssh"], check=False)
        h3.exec(["systemctl", "start", "ssh"])
        old_transport = conns["h3"].transport
        sessions["h3"] = PythonAgentSession(conns["h3"], module_source=sources.__getitem__)
        assert sessions["h3"].start()["ansible_hostname"] == "h3"
        assert conns["h3"].transport is not old_transport
    finally:
        h3.exec(["systemctl", "reset-failed", "ssh"], check=False)
        h3.exec(["systemctl", "start", "ssh"])
        h3.exec(["touch", flag])
        for session in sessions.values():
            session.close()
        for conn in conns.values():
            conn.close()
        h3.exec(["rm", "-f", flag])
    # The agent on h3 lost its channel: it must be gone, with its temp folder.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        left = h3.exec(["sh", "-c", "pgrep -f '[P]YENGINE-AGENT-HELLO'; ls -d /tmp/pyengine-*"],
                       check=False).stdout.strip()
        if not left:
            break
        time.sleep(0.1)
    assert left == ""
