"""Warm connections (pyengine/persist): durations, reuse keys, the socket's privacy, frames."""

from __future__ import annotations

import os
import socket
import threading
from pathlib import Path

import pytest

from pyengine.errors import PyengineError
from pyengine.persist import wire
from pyengine.persist.client import ask
from pyengine.persist.duration import format_duration, parse_duration
from pyengine.persist.owner import Owner, bind
from pyengine.persist.place import peer_allowed, peer_uid, private_dir

OPTIONS = {"host": "10.0.0.5", "port": 22, "user": "ops", "known_hosts_file": None}


@pytest.mark.parametrize(("text", "seconds"), [
    ("5m", 300), ("90s", 90), ("90", 90), ("1h30m", 5400), ("2s", 2), ("0.5s", 0.5),
    ("1d", 86400), ("off", 0), ("0", 0), ("no", 0), (" 10M ", 600),
])
def test_durations_parse_to_seconds(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["5x", "m", "5 m", "-5m", "2d", "forever"])
def test_bad_durations_are_one_line_errors(text: str) -> None:
    with pytest.raises(PyengineError) as err:
        parse_duration(text)
    assert "--persist" in str(err.value) and "\n" not in str(err.value)


def test_time_left_is_shown_short() -> None:
    assert [format_duration(s) for s in (0, 12.4, 65, 3725)] == ["0s", "12s", "1m05s", "1h02m"]


def test_the_same_settings_give_the_same_key_in_any_order() -> None:
    reordered = dict(reversed(list(OPTIONS.items())))
    assert wire.connection_key("web", OPTIONS, {}) == wire.connection_key("web", reordered, {})


@pytest.mark.parametrize(("name", "value"), [
    ("user", "root"), ("port", 2222), ("host", "10.0.0.6"), ("password", "other"),
    ("private_key_file", "/nonexistent/key"), ("host_key_checking", "tofu"),
    ("proxy_jump", "bastion"),
])
def test_a_changed_setting_changes_the_key(name: str, value: object) -> None:
    assert wire.connection_key("web", OPTIONS, {}) != \
        wire.connection_key("web", {**OPTIONS, name: value}, {})


def test_another_host_name_or_ssh_agent_changes_the_key() -> None:
    key = wire.connection_key("web", OPTIONS, {})
    assert key != wire.connection_key("db", OPTIONS, {})
    assert key != wire.connection_key("web", OPTIONS, {"SSH_AUTH_SOCK": "/tmp/agent.1"})


def test_a_replaced_key_or_known_hosts_file_at_the_same_path_changes_the_key(
        tmp_path: Path) -> None:
    key_file, known = tmp_path / "id", tmp_path / "known_hosts"
    key_file.write_text("key one")
    known.write_text("host ssh-ed25519 AAAA1")
    options = {**OPTIONS, "private_key_file": str(key_file), "known_hosts_file": str(known)}
    first = wire.connection_key("web", options, {})
    key_file.write_text("key two")
    second = wire.connection_key("web", options, {})
    known.write_text("host ssh-ed25519 AAAA2")
    assert len({first, second, wire.connection_key("web", options, {})}) == 3


def test_the_agent_key_follows_what_the_agent_runs_as() -> None:
    base = {"python": "python3", "become": False, "become_user": "", "become_exe": "sudo",
            "become_password": ""}
    keys = {wire.agent_key("c", base),
            wire.agent_key("c", {**base, "become": True, "become_user": "root"}),
            wire.agent_key("c", {**base, "become": True, "become_user": "postgres"}),
            wire.agent_key("c", {**base, "become": True, "become_user": "root",
                                 "become_password": "digest"}),
            wire.agent_key("c", {**base, "python": "/usr/bin/python3.11"}),
            wire.agent_key("other connection", base)}
    assert len(keys) == 6


def test_frames_round_trip_over_a_socket() -> None:
    left, right = socket.socketpair()
    with left, right:
        wire.send_json(left, b"q", {"op": "status"})
        wire.send_frame(left, b"i", b"\x00" * 70000)
        wire.send_frame(left, b"w")
        assert wire.recv_frame(right) == (b"q", b'{"op":"status"}')
        assert wire.recv_frame(right) == (b"i", b"\x00" * 70000)
        assert wire.recv_frame(right) == (b"w", b"")
        left.shutdown(socket.SHUT_WR)
        assert wire.recv_frame(right) is None


def test_only_the_same_uid_is_let_in() -> None:
    left, right = socket.socketpair()
    with left, right:
        assert peer_uid(right) == os.getuid()
        assert peer_allowed(right)
        assert not peer_allowed(right, uid=os.getuid() + 1)  # another user at the other end


def test_the_socket_folder_is_private_and_a_loose_one_is_refused(tmp_path: Path) -> None:
    made = private_dir(tmp_path / "p")
    assert made.stat().st_mode & 0o777 == 0o700
    loose = tmp_path / "loose"
    loose.mkdir(mode=0o755)
    loose.chmod(0o755)
    with pytest.raises(PyengineError, match="may be opened by other users"):
        private_dir(loose)


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to make a folder of another user")
def test_a_folder_of_another_user_is_refused(tmp_path: Path) -> None:
    planted = tmp_path / "planted"
    planted.mkdir(mode=0o700)
    os.chown(planted, 65534, 65534)
    with pytest.raises(PyengineError, match="not a folder of this user"):
        private_dir(planted)


def test_the_socket_is_0600_and_a_second_owner_steps_aside(tmp_path: Path) -> None:
    path = tmp_path / "p" / "owner.sock"
    sock = bind(path)
    assert sock is not None
    assert path.stat().st_mode & 0o777 == 0o600
    owner = Owner(sock, path)
    thread = threading.Thread(target=owner.serve, daemon=True)
    thread.start()
    try:
        assert ask({"op": "status"}, path) == {"ok": True, "pid": os.getpid(),
                                                "connections": []}
        assert bind(path) is None  # a live owner answers there: no second one
    finally:
        owner.stopping.set()
        thread.join(5)
    assert not path.exists()  # the owner removed its socket on the way out
    stale = bind(path)
    assert stale is not None
    stale.close()  # its owner "died": the file stays, nobody answers
    again = bind(path)  # a stale socket file is replaced
    assert again is not None
    again.close()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to become another user")
def test_another_user_cannot_connect(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    path = tmp_path / "p" / "owner.sock"
    sock = bind(path)
    assert sock is not None
    try:
        pid = os.fork()
        if pid == 0:  # the child, as nobody, tries the socket
            code = 0
            try:
                os.setgid(65534)
                os.setuid(65534)
                probe = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                probe.connect(str(path))
                code = 1  # let in: wrong
            except PermissionError:
                code = 0
            except BaseException:  # noqa: BLE001
                code = 2
            os._exit(code)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        sock.close()


def test_ansible_cfg_and_environment_set_the_default(tmp_path: Path) -> None:
    from pyengine.commands.run_options import persist_seconds
    from pyengine.content.ansible_config import load_ansible_config

    cfg = tmp_path / "ansible.cfg"
    cfg.write_text("[defaults]\nforks = 5\n\n[pyengine]\npersist = 0\n")
    config = load_ansible_config({}, tmp_path, cfg)
    assert config.persist == "0" and not config.warnings  # known: no "ignored" line
    assert persist_seconds({"persist": None}, None, config) == 0.0  # 0 is off: no owner
    assert load_ansible_config({"PYENGINE_PERSIST": "5m"}, tmp_path, cfg).persist == "5m"
    cfg.write_text("[pyengine]\npersist = soon\n")
    with pytest.raises(PyengineError, match=r"ansible.cfg:2: 'soon' is not a duration"):
        persist_seconds({"persist": None}, None, load_ansible_config({}, tmp_path, cfg))
    with pytest.raises(PyengineError, match=r"^--persist: '5y'"):
        persist_seconds({"persist": "5y"}, None, config)  # the command line wins
