"""Light lab hosts (sshd only, no systemd): the kind in lab.json, the address limit, the
boot script's light branch and the daemon's per-host network namespaces."""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from pyengine.errors import LabError
from pyengine.lab.boot import BOOT_SCRIPT, boot_command
from pyengine.lab.config import MAX_HOSTS, LabConfig, host_address, validate_count, validate_kind


def test_kind_is_recorded_in_lab_json_and_old_files_mean_systemd() -> None:
    light = LabConfig("x", 30, 250, kind="light")
    assert json.loads(light.to_json())["kind"] == "light"
    assert LabConfig.from_json(light.to_json()) == light
    old = json.loads(light.to_json())
    del old["kind"]
    assert LabConfig.from_json(json.dumps(old)).kind == "systemd"


def test_an_unknown_kind_is_refused_with_the_choices() -> None:
    assert validate_kind("light") == "light"
    with pytest.raises(LabError, match="systemd, light"):
        validate_kind("docker")
    bad = json.loads(LabConfig("x", 30, 1).to_json()) | {"kind": "vm"}
    with pytest.raises(LabError, match="'vm'"):
        LabConfig.from_json(json.dumps(bad))


def test_the_address_scheme_caps_a_lab_at_254_hosts() -> None:
    assert MAX_HOSTS == 254
    assert validate_count(254) == 254
    assert host_address(30, 254) == "127.0.30.254"
    with pytest.raises(LabError, match=r"127\.0\.<octet>\.1-254.*another --octet"):
        validate_count(255)
    with pytest.raises(LabError, match="at least 1"):
        validate_count(0)


def test_boot_command_passes_the_kind_to_the_boot_script() -> None:
    p = Path("/s")
    argv = boot_command(p / "cgroup.procs", "/proc/1/fd/7", p / "boot.sh", p / "img", p / "up",
                        p / "work", p / "root", "h1", 100.0, "light")
    assert argv[-2:] == ["h1", "light"]
    assert argv[argv.index(str(p / "boot.sh")):][-1] == "light"


def test_light_branch_runs_sshd_under_a_reaping_shell_not_systemd() -> None:
    light = BOOT_SCRIPT[BOOT_SCRIPT.index('if [ "$KIND" = light ]'):]
    light = light[:light.index("\nfi\n")]
    assert "/usr/sbin/sshd -D -e" in light and "&& wait" in light
    assert "mkdir -m 755 /run/sshd" in light
    assert "/lib/systemd/systemd" not in light
    # The isolation before the branch is shared by both kinds.
    before = BOOT_SCRIPT[:BOOT_SCRIPT.index('if [ "$KIND" = light ]')]
    assert "remount,bind,ro,nosuid,nodev,noexec \"$R/proc/sys\"" in before
    assert "pivot_root" in before


@pytest.mark.skipif(os.geteuid() != 0, reason="network namespaces need root")
def test_host_network_keeps_sockets_inside_without_a_thread() -> None:
    import threading

    from pyengine.lab.netns import HostNetwork

    threads = threading.active_count()
    net = HostNetwork("t")
    path = net.start_namespace()
    try:
        assert os.readlink(path) != os.readlink("/proc/self/ns/net")
        server = net.call(lambda: socket.create_server(("127.0.0.1", 0)))
        port = server.getsockname()[1]
        with pytest.raises(OSError):  # not reachable from the machine's own loopback
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
        inner = net.call(socket.socket)
        inner.connect(("127.0.0.1", port))  # a socket made inside reaches it
        inner.close()
        server.close()
        old = os.readlink(path)
        assert os.readlink(net.renew()) != old  # a reboot gets a fresh network stack
        assert threading.active_count() == threads
        assert os.readlink("/proc/thread-self/ns/net") == os.readlink("/proc/self/ns/net")
    finally:
        net.stop()


@pytest.mark.skipif(os.geteuid() != 0, reason="device nodes need root")
def test_dev_template_holds_only_the_harmless_nodes(tmp_path: Path) -> None:
    import stat

    from pyengine.lab.boot import write_boot_script

    write_boot_script(tmp_path / "boot.sh")
    dev = tmp_path / "dev"
    assert 'cp -a "$DEV/." "$R/dev/"' in (tmp_path / "boot.sh").read_text()
    chars = {p.name: (os.major(p.lstat().st_rdev), os.minor(p.lstat().st_rdev))
             for p in dev.iterdir() if stat.S_ISCHR(p.lstat().st_mode)}
    assert chars == {"null": (1, 3), "zero": (1, 5), "full": (1, 7), "random": (1, 8),
                     "urandom": (1, 9), "tty": (5, 0)}
    assert not [p for p in dev.iterdir() if stat.S_ISBLK(p.lstat().st_mode)]
    assert os.readlink(dev / "ptmx") == "pts/ptmx"
    assert stat.S_IMODE((dev / "shm").stat().st_mode) == 0o1777
    assert stat.S_IMODE((dev / "null").lstat().st_mode) == 0o666
    write_boot_script(tmp_path / "boot.sh")  # rewriting it (lab up again) is harmless
