"""Connection layer without a network: inventory variables, known_hosts, local, timeouts."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import paramiko
import pytest

from pyengine.connection import (
    CommandTimeout,
    HostKeyError,
    LocalConnection,
    connection_for_host,
    ssh_options_from_vars,
)
from pyengine.connection.known_hosts import (
    STRICT,
    TOFU,
    KnownHosts,
    fingerprint,
    host_pattern,
    parse_policy,
)
from pyengine.connection.ssh import SSHConnection, parse_jump
from pyengine.errors import HostUnreachable, PyengineError

# -- inventory variables ----------------------------------------------------------------


def test_ansible_variables_map_to_ssh_options() -> None:
    options = ssh_options_from_vars({
        "ansible_host": "10.0.0.5",
        "ansible_port": "2222",
        "ansible_user": "deploy",
        "ansible_ssh_pass": "s3cret",
        "ansible_ssh_private_key_file": "~/.ssh/client_a",
        "ansible_ssh_timeout": 7,
        "pyengine_known_hosts": "/srv/project/known_hosts",
        "unrelated": "x",
    })
    assert options == {
        "host": "10.0.0.5", "port": 2222, "user": "deploy", "password": "s3cret",
        "private_key_file": "~/.ssh/client_a", "connect_timeout": 7,
        "known_hosts_file": "/srv/project/known_hosts",
    }


def test_first_spelling_wins() -> None:
    options = ssh_options_from_vars({"ansible_password": "a", "ansible_ssh_pass": "b",
                                     "ansible_host": "h", "ansible_ssh_host": "old"})
    assert options["password"] == "a" and options["host"] == "h"


def test_ssh_common_args_subset() -> None:
    options = ssh_options_from_vars({"ansible_ssh_common_args": (
        "-o UserKnownHostsFile=/lab/known_hosts -o StrictHostKeyChecking=yes "
        "-o ProxyJump=ops@bastion:2200 -o ConnectTimeout=5 -oServerAliveInterval=20 "
        "-o 'ServerAliveCountMax 4' -o ForwardAgent=yes -C"
    )})
    assert options == {
        "known_hosts_file": "/lab/known_hosts", "host_key_checking": "yes",
        "proxy_jump": "ops@bastion:2200", "connect_timeout": 5, "keepalive_interval": 20,
        "keepalive_count_max": 4,
    }
    # pyengine_known_hosts is more specific than the ssh arguments.
    both = ssh_options_from_vars({"ansible_ssh_common_args": "-o UserKnownHostsFile=/a",
                                  "pyengine_known_hosts": "/b"})
    assert both["known_hosts_file"] == "/b"


def test_short_flags_and_proxy_command() -> None:
    assert ssh_options_from_vars({"ansible_ssh_extra_args": "-J jump1,ops@jump2 -p 23 -l bob"}) \
        == {"proxy_jump": "jump1,ops@jump2", "port": 23, "user": "bob"}
    options = ssh_options_from_vars({
        "ansible_ssh_common_args": "-o ProxyCommand=\"ssh -W %h:%p -q -p 2201 ops@gw.example\""
    })
    assert options == {"proxy_jump": "ops@gw.example:2201"}
    unsupported = ssh_options_from_vars({"ansible_ssh_common_args": "-o ProxyCommand='nc %h %p'"})
    assert unsupported == {}


def test_bad_number_is_a_clear_error() -> None:
    with pytest.raises(PyengineError, match="port: expected a number, got 'ssh'"):
        ssh_options_from_vars({"ansible_port": "ssh"})


def test_parse_jump() -> None:
    assert parse_jump("bastion") == (None, "bastion", 22)
    assert parse_jump("ops@bastion:2200") == ("ops", "bastion", 2200)
    assert parse_jump("[fe80::1]:2222") == (None, "fe80::1", 2222)


def test_connection_for_host_picks_the_class() -> None:
    ssh = connection_for_host("web1", {"ansible_host": "127.0.0.1"}, trust_new_hosts=True)
    assert isinstance(ssh, SSHConnection)
    assert ssh.options["host_key_checking"] == "tofu" and ssh.address == "127.0.0.1"
    assert isinstance(connection_for_host("me", {"ansible_connection": "local"}),
                      LocalConnection)
    win = connection_for_host("dc1", {"ansible_connection": "winrm", "ansible_host": "10.1.1.1",
                                      "ansible_winrm_transport": "ntlm"})
    assert win.name == "winrm" and win.options["host"] == "10.1.1.1"
    with pytest.raises(PyengineError, match="unknown ansible_connection 'telnet'"):
        connection_for_host("x", {"ansible_connection": "telnet"})


def test_unknown_option_is_refused() -> None:
    with pytest.raises(PyengineError, match="unknown ssh connection option.*hots"):
        SSHConnection("x", {"hots": "a"})


def test_every_option_is_described() -> None:
    for cls in (SSHConnection, LocalConnection):
        assert cls.OPTIONS and all(len(text) > 15 for text in cls.OPTIONS.values())


# -- known_hosts ------------------------------------------------------------------------

@pytest.fixture(scope="module")
def keys() -> tuple[paramiko.PKey, paramiko.PKey]:
    return paramiko.ECDSAKey.generate(), paramiko.ECDSAKey.generate()


def test_policy_words() -> None:
    assert parse_policy(None) == STRICT and parse_policy("yes") == STRICT
    assert parse_policy("accept-new") == TOFU and parse_policy(False) == TOFU
    with pytest.raises(ValueError):
        parse_policy("maybe")


def test_host_pattern_follows_openssh() -> None:
    assert host_pattern("10.0.0.1", 22) == "10.0.0.1"
    assert host_pattern("10.0.0.1", 2222) == "[10.0.0.1]:2222"


def test_unknown_key_refused_in_strict_mode(tmp_path: Path, keys: tuple) -> None:
    known = KnownHosts.from_options(str(tmp_path / "kh"), use_user_files=False)
    with pytest.raises(HostKeyError) as info:
        known.verify("web1", "10.0.0.1", 22, keys[0])
    message = str(info.value)
    assert message.startswith("web1: unreachable: host key for 10.0.0.1 (ecdsa-sha2-nistp256 ")
    assert fingerprint(keys[0]) in message and "\n" not in message
    assert not (tmp_path / "kh").exists()


def test_tofu_records_then_accepts_then_refuses_a_change(tmp_path: Path, keys: tuple) -> None:
    path = tmp_path / "project" / "known_hosts"
    tofu = KnownHosts.from_options(str(path), use_user_files=False, policy="tofu")
    tofu.verify("web1", "10.0.0.1", 2222, keys[0])
    assert path.read_text() == f"[10.0.0.1]:2222 {keys[0].get_name()} {keys[0].get_base64()}\n"
    assert oct(path.stat().st_mode & 0o777) == "0o600"
    strict = KnownHosts.from_options(str(path), use_user_files=False)
    strict.verify("web1", "10.0.0.1", 2222, keys[0])  # now known
    for checker in (strict, tofu):
        with pytest.raises(HostKeyError, match="has CHANGED.*ssh-keygen -R '\\[10.0.0.1\\]:2222'"):
            checker.verify("web1", "10.0.0.1", 2222, keys[1])
    assert len(path.read_text().splitlines()) == 1


def test_hashed_entries_are_understood(tmp_path: Path, keys: tuple) -> None:
    path = tmp_path / "known_hosts"
    hashed = paramiko.HostKeys.hash_host("10.0.0.9")
    path.write_text(f"{hashed} {keys[0].get_name()} {keys[0].get_base64()}\n")
    known = KnownHosts.from_options(str(path), use_user_files=False)
    known.verify("db", "10.0.0.9", 22, keys[0])
    with pytest.raises(HostKeyError, match="CHANGED"):
        known.verify("db", "10.0.0.9", 22, keys[1])
    assert known.preferred_key_types("10.0.0.9", 22) == ["ecdsa-sha2-nistp256"]


def test_wildcards_negation_markers_and_bad_lines(tmp_path: Path, keys: tuple) -> None:
    good, other = keys
    line = f"{good.get_name()} {good.get_base64()}"
    path = tmp_path / "known_hosts"
    path.write_text("\n".join([
        "# a comment",
        "garbage line",
        "broken.example ssh-ed25519 !!!not-base64!!!",
        f"@cert-authority *.example.com {line}",
        f"*.prod.example,!db.prod.example {line}",
        f"10.0.0.? {line}",
    ]) + "\n")
    known = KnownHosts.from_options(str(path), use_user_files=False)
    known.verify("web", "web.prod.example", 22, good)
    known.verify("ten", "10.0.0.7", 22, good)
    with pytest.raises(HostKeyError, match="is not known"):  # negated: not covered
        known.verify("db", "db.prod.example", 22, good)
    with pytest.raises(HostKeyError, match="CHANGED"):
        known.verify("web", "web.prod.example", 22, other)
    with pytest.raises(HostKeyError, match="is not known"):  # @cert-authority is not a key
        known.verify("x", "x.example.com", 22, good)


def test_revoked_key_is_refused_everywhere(tmp_path: Path, keys: tuple) -> None:
    good, _ = keys
    path = tmp_path / "known_hosts"
    path.write_text(f"@revoked * {good.get_name()} {good.get_base64()}\n"
                    f"web {good.get_name()} {good.get_base64()}\n")
    for policy in ("strict", "tofu"):
        known = KnownHosts.from_options(str(path), use_user_files=False, policy=policy)
        with pytest.raises(HostKeyError, match="@revoked"):
            known.verify("web", "web", 22, good)


def test_concurrent_tofu_records_each_host_once(tmp_path: Path) -> None:
    path = tmp_path / "known_hosts"
    known = KnownHosts.from_options(str(path), use_user_files=False, policy="tofu")
    host_keys = [paramiko.ECDSAKey.generate() for _ in range(8)]
    threads = [threading.Thread(target=known.verify, args=(f"h{i}", f"10.0.1.{i}", 22, key))
               for i, key in enumerate(host_keys)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = sorted(path.read_text().splitlines())
    assert lines == sorted(f"10.0.1.{i} {k.get_name()} {k.get_base64()}"
                           for i, k in enumerate(host_keys))


# -- ssh failures that need no sshd -----------------------------------------------------

def _silent_server() -> tuple[socket.socket, int]:
    """Accepts TCP connections and never says a word (a hung sshd or a black hole)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(5)
    return server, server.getsockname()[1]


def test_connect_timeout_when_sshd_never_answers() -> None:
    server, port = _silent_server()
    try:
        conn = SSHConnection("hung", {"host": "127.0.0.1", "port": port, "connect_timeout": 0.5,
                                      "user_known_hosts": False})
        started = time.monotonic()
        with pytest.raises(HostUnreachable, match="hung: unreachable: SSH handshake"):
            conn.connect()
        assert time.monotonic() - started < 5
    finally:
        server.close()


def test_refused_port_is_unreachable() -> None:
    server, port = _silent_server()
    server.close()  # nothing listens there any more
    conn = SSHConnection("gone", {"host": "127.0.0.1", "port": port, "user_known_hosts": False})
    with pytest.raises(HostUnreachable, match="refused"):
        conn.connect()


# -- local ------------------------------------------------------------------------------

def test_local_run_put_get(tmp_path: Path) -> None:
    with LocalConnection() as conn:
        result = conn.run(["sh", "-c", 'cat; echo "$1" >&2; exit 4', "sh", "a b"], data=b"in")
        assert (result.rc, result.stdout, result.stderr) == (4, b"in", b"a b\n")
        conn.put(b"\x00\xff", str(tmp_path / "f"), mode=0o600)
        assert conn.get(str(tmp_path / "f")) == b"\x00\xff"
        assert (tmp_path / "f").stat().st_mode & 0o777 == 0o600
        assert conn.run(["no-such-binary-pyengine"]).rc == 127
        with pytest.raises(CommandTimeout, match="did not finish within 0.3s"):
            conn.run(["sleep", "10"], timeout=0.3)
