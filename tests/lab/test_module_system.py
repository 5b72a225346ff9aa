"""System modules on a real Debian host, through SSH and the agent.

Each test (1) applies, (2) checks the host's real state with an independent command
(`LabHost.exec`, not SSH), (3) applies again and expects no change, (4) runs a
different request in check mode and finds nothing moved although `changed` is
reported, (5) looks at the diff. The lab is shared: every name carries a per-run
suffix, everything created is removed again, and the host name is restored.
"""

from __future__ import annotations

import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from modtarget import Target  # noqa: E402

pytestmark = pytest.mark.lab

SUF = uuid.uuid4().hex[:6]
# A SHA-512 crypt string in /etc/shadow's format (the value is what matters, not the secret).
HASH = "$6$pyetestsalt$" + "Q" * 86
KEY = ("ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGtU5Wq0v8wPp3oQ0yY5s1dVh0Wq0dCk3vXz1v6bX0xG "
       "alice@laptop")
OTHER_KEY = "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC7pQ9sZ bob@desk"


@pytest.fixture(scope="module")
def h1(lab: Any) -> Iterator[Target]:
    target = Target(lab, "h1")
    yield target
    target.close()


@pytest.fixture
def login(h1: Target) -> Iterator[str]:
    """A throwaway account made without the module under test."""
    name = f"pyel{SUF}"
    h1.sh(f"useradd -m -s /bin/sh {name}")
    yield name
    h1.sh(f"userdel -r {name} 2>/dev/null; true")


def _diff(result: dict[str, Any]) -> dict[str, Any]:
    diff = result.get("diff")
    assert diff, f"no diff in {result}"
    return diff[0] if isinstance(diff, list) else diff


def test_group_and_user_converge_then_stay_put(h1: Target) -> None:
    group, user = f"pyeg{SUF}", f"pyeu{SUF}"
    try:
        assert h1.ok("group", {"name": group})["changed"]
        gid = int(h1.sh(f"getent group {group}").split(":")[2])
        assert not h1.ok("group", {"name": group})["changed"]

        args = {"name": user, "shell": "/bin/sh", "groups": [group], "comment": "Pye Test",
                "password": HASH}
        created = h1.ok("user", args)
        assert created["changed"] and created["password"] == "NOT_LOGGING_PASSWORD"
        passwd = h1.sh(f"getent passwd {user}").strip().split(":")
        assert passwd[4] == "Pye Test" and passwd[6] == "/bin/sh"
        assert group in h1.sh(f"id -nG {user}").split()
        assert h1.sh(f"getent shadow {user}").split(":")[1] == HASH
        assert h1.sh(f"test -d /home/{user} && echo yes").strip() == "yes"
        again = h1.ok("user", args)
        assert not again["changed"], again

        # Check mode: reports the change, moves nothing, and the diff shows the field.
        change = dict(args, shell="/bin/bash", password_lock=True)
        dry = h1.ok("user", change, check=True)
        assert dry["changed"] and "would change" in dry["msg"]
        assert "shell: /bin/bash" in _diff(dry)["after"]
        assert "shell: /bin/sh" in _diff(dry)["before"]
        assert h1.sh(f"getent passwd {user}").strip().endswith(":/bin/sh")
        assert not h1.sh(f"getent shadow {user}").split(":")[1].startswith("!")

        done = h1.ok("user", change)
        assert done["changed"]
        assert h1.sh(f"getent passwd {user}").strip().endswith(":/bin/bash")
        assert h1.sh(f"getent shadow {user}").split(":")[1] == "!" + HASH
        assert not h1.ok("user", change)["changed"]

        # Password aging (CIS 5.4.1.x) goes through chage; the shadow fields show it.
        aging = {"name": user, "password_expire_max": 365, "password_expire_min": 1,
                 "password_expire_warn": 7}
        aged = h1.ok("user", aging)
        assert aged["changed"] and "password_expire_max: 365" in _diff(aged)["after"]
        assert h1.sh(f"getent shadow {user}").split(":")[3:6] == ["1", "365", "7"]
        assert not h1.ok("user", aging)["changed"]

        key = h1.ok("user", {"name": user, "generate_ssh_key": True, "ssh_key_type": "ed25519"})
        assert key["changed"] and key["ssh_public_key"].startswith("ssh-ed25519 ")
        assert h1.sh(f"stat -c '%U %a' /home/{user}/.ssh/id_ed25519").strip() == f"{user} 600"
        assert h1.sh(f"cat /home/{user}/.ssh/id_ed25519.pub").strip() == key["ssh_public_key"]
        again = h1.ok("user", {"name": user, "generate_ssh_key": True, "ssh_key_type": "ed25519"})
        assert not again["changed"] and again["ssh_public_key"] == key["ssh_public_key"]

        # groups: [] (append false) takes the account out of every supplementary group.
        h1.ok("user", {"name": user, "groups": []})
        assert group not in h1.sh(f"id -nG {user}").split()

        new_gid = 20000 + int(SUF, 16) % 9000
        dry = h1.ok("group", {"name": group, "gid": new_gid}, check=True)
        assert dry["changed"] and _diff(dry)["after"] == f"group {group} gid {new_gid}\n"
        assert int(h1.sh(f"getent group {group}").split(":")[2]) == gid
        moved = h1.ok("group", {"name": group, "gid": new_gid})
        assert moved["changed"] and moved["gid"] == new_gid != gid
        assert int(h1.sh(f"getent group {group}").split(":")[2]) == new_gid

        gone = h1.ok("user", {"name": user, "state": "absent", "remove": True})
        assert gone["changed"]
        assert h1.sh(f"getent passwd {user}", check=False) == ""
        assert h1.sh(f"test -e /home/{user} || echo gone").strip() == "gone"
        assert not h1.ok("user", {"name": user, "state": "absent"})["changed"]
        assert h1.ok("group", {"name": group, "state": "absent"})["changed"]
        assert h1.sh(f"getent group {group}", check=False) == ""
    finally:
        h1.sh(f"userdel -r {user} 2>/dev/null; groupdel {group} 2>/dev/null; true")


def test_authorized_key_creates_ssh_dir_owned_by_user(h1: Target, login: str) -> None:
    args = {"user": login, "key": KEY, "key_options": "no-pty"}
    first = h1.ok("authorized_key", args)
    assert first["changed"]
    path = f"/home/{login}/.ssh/authorized_keys"
    assert h1.sh(f"stat -c '%a %U' /home/{login}/.ssh {path}").split("\n")[:2] == [
        f"700 {login}", f"600 {login}"]
    assert h1.sh(f"cat {path}") == f"no-pty {KEY}\n"
    assert _diff(first)["after"] == f"no-pty {KEY}\n"
    assert not h1.ok("authorized_key", args)["changed"]

    dry = h1.ok("authorized_key", {"user": login, "key": OTHER_KEY, "exclusive": True},
                check=True)
    assert dry["changed"] and _diff(dry)["after"] == OTHER_KEY + "\n"
    assert h1.sh(f"cat {path}") == f"no-pty {KEY}\n"

    assert h1.ok("authorized_key", dict(args, state="absent"))["changed"]
    assert h1.sh(f"cat {path}") == ""


def test_cron_in_user_crontab(h1: Target, login: str) -> None:
    args = {"name": "pyetest job", "user": login, "minute": "*/5", "job": "/bin/true"}
    first = h1.ok("cron", args)
    assert first["changed"]
    table = h1.sh(f"crontab -l -u {login}")
    assert "#Ansible: pyetest job\n*/5 * * * * /bin/true\n" in table
    assert not h1.ok("cron", args)["changed"]

    dry = h1.ok("cron", dict(args, hour="3"), check=True)
    assert dry["changed"] and "*/5 3 * * * /bin/true" in _diff(dry)["after"]
    assert h1.sh(f"crontab -l -u {login}") == table

    assert h1.ok("cron", {"name": "pyetest job", "user": login, "state": "absent"})["changed"]
    assert "pyetest" not in h1.sh(f"crontab -l -u {login}")


def test_cron_file_in_cron_d(h1: Target) -> None:
    name = f"pyetest-{SUF}"
    path = f"/etc/cron.d/{name}"
    args = {"name": "rotate", "cron_file": name, "user": "root", "special_time": "daily",
            "job": "/bin/true"}
    try:
        assert h1.ok("cron", args)["changed"]
        assert h1.sh(f"cat {path}") == "#Ansible: rotate\n@daily root /bin/true\n"
        assert h1.sh(f"stat -c %a {path}").strip() == "644"
        assert not h1.ok("cron", args)["changed"]
        assert h1.ok("cron", {"cron_file": name, "state": "absent"})["changed"]
        assert h1.sh(f"test -e {path} || echo gone").strip() == "gone"
    finally:
        h1.sh(f"rm -f {path}")


UNIT = """[Unit]
Description=pyengine test service
[Service]
ExecStart=/bin/sleep infinity
ExecReload=/bin/true
[Install]
WantedBy=multi-user.target
"""


def _unit_state(h1: Target, unit: str) -> tuple[str, str]:
    active = h1.sh(f"systemctl is-active {unit}", check=False).strip()
    enabled = h1.sh(f"systemctl is-enabled {unit}", check=False).strip()
    return active, enabled


def test_systemd_and_service_drive_a_unit(h1: Target) -> None:
    unit = f"pyetest-{SUF}.service"
    path = f"/usr/lib/systemd/system/{unit}"  # a vendor unit, so that it can be masked
    try:
        h1.host.exec(["sh", "-c", f"cat > {path}"], input=UNIT)
        args = {"name": unit, "state": "started", "enabled": True, "daemon_reload": True}
        first = h1.ok("systemd", args)
        assert first["changed"] and first["msg"] == "ran enable, start"
        assert _unit_state(h1, unit) == ("active", "enabled")
        assert _diff(first) ["after"] == "ActiveState: active\nUnitFileState: enabled\n"
        assert not h1.ok("systemd", args)["changed"]

        dry = h1.ok("systemd", {"name": unit, "state": "stopped", "enabled": False}, check=True)
        assert dry["changed"] and dry["msg"] == "would run disable, stop"
        assert _diff(dry)["after"] == "ActiveState: inactive\nUnitFileState: disabled\n"
        assert _unit_state(h1, unit) == ("active", "enabled")

        pid = h1.sh(f"systemctl show -p MainPID --value {unit}").strip()
        assert h1.ok("service", {"name": unit, "state": "restarted"})["changed"]
        assert h1.sh(f"systemctl show -p MainPID --value {unit}").strip() not in ("0", pid)
        assert h1.ok("service", {"name": unit, "state": "reloaded"})["changed"]

        stop = {"name": unit, "state": "stopped", "enabled": False}
        assert h1.ok("service", stop)["changed"]
        assert _unit_state(h1, unit) == ("inactive", "disabled")
        assert not h1.ok("service", stop)["changed"]
        facts = h1.ok("service_facts", {})["ansible_facts"]["services"]
        assert facts[unit] == {"name": unit, "state": "stopped", "status": "disabled",
                               "source": "systemd"}
        assert facts["ssh.service"]["state"] == "running"

        assert h1.ok("systemd", {"name": unit, "masked": True})["changed"]
        assert _unit_state(h1, unit)[1] == "masked"
        refused = h1.run("systemd", {"name": unit, "state": "started"})
        assert refused["failed"] and "masked" in (refused.get("stderr", "") + refused["msg"])
        assert h1.ok("systemd", {"name": unit, "masked": False})["changed"]
        missing = h1.run("service", {"name": f"pyetest-none-{SUF}", "state": "started"})
        assert missing["failed"] and "Could not find the requested service" in missing["msg"]
    finally:
        h1.sh(f"systemctl disable --now {unit} 2>/dev/null; systemctl unmask {unit} "
              f"2>/dev/null; rm -f {path}; systemctl daemon-reload")


INIT_SCRIPT = """#!/bin/sh
### BEGIN INIT INFO
# Provides:          NAME
# Required-Start:
# Required-Stop:
# Default-Start:     2 3 4 5
# Default-Stop:      0 1 6
# Short-Description: pyengine test init script
### END INIT INFO
PID=/run/NAME.pid
running() { [ -f $PID ] && kill -0 "$(cat $PID)" 2>/dev/null; }
case "$1" in
  start) running && exit 0; setsid sleep 100000 </dev/null >/dev/null 2>&1 & echo $! > $PID ;;
  stop) running && kill "$(cat $PID)"; rm -f $PID ;;
  restart) "$0" stop; "$0" start ;;
  reload) running ;;
  status) running || exit 3 ;;
esac
"""


def test_service_with_a_sysv_init_script(h1: Target) -> None:
    name = f"pyetest-sv-{SUF}"
    script = f"/etc/init.d/{name}"
    try:
        h1.host.exec(["sh", "-c", f"cat > {script} && chmod 755 {script}"],
                     input=INIT_SCRIPT.replace("NAME", name))
        args = {"name": name, "state": "started", "enabled": True, "use": "sysvinit"}
        first = h1.ok("service", args)
        assert first["changed"] and first["manager"] == "sysvinit"
        assert h1.sh(f"{script} status; echo $?").strip() == "0"
        assert h1.sh(f"ls /etc/rc2.d/ | grep -c {name}").strip() == "1"
        assert not h1.ok("service", args)["changed"]

        dry = h1.ok("service", dict(args, state="stopped"), check=True)
        assert dry["changed"] and _diff(dry)["after"] == "running: no\nenabled: yes\n"
        assert h1.sh(f"{script} status; echo $?").strip() == "0"

        stopped = h1.ok("service", {"name": name, "state": "stopped", "enabled": False,
                                    "use": "sysvinit"})
        assert stopped["changed"]
        assert h1.sh(f"{script} status; echo $?").strip() == "3"
        assert h1.sh(f"ls /etc/rc2.d/S*{name} 2>/dev/null | wc -l").strip() == "0"
    finally:
        h1.sh(f"{script} stop 2>/dev/null; update-rc.d -f {name} remove >/dev/null 2>&1; "
              f"rm -f {script}; true")


def test_sysctl_in_a_container_says_the_kernel_refused(h1: Target) -> None:
    # kernel.* is machine-wide, so read-only inside a lab host; net.* belongs to the host's
    # own network namespace and really applies.
    path = f"/etc/sysctl.d/99-pyetest-{SUF}.conf"
    live = h1.sh("cat /proc/sys/kernel/kptr_restrict").strip()
    want = "0" if live != "0" else "1"
    args = {"name": "kernel.kptr_restrict", "value": want, "sysctl_file": path, "sysctl_set": True}
    try:
        refused = h1.run("sysctl", args)
        # As in Ansible: with sysctl_set the kernel is written first, so a refused value
        # fails the task and leaves the file untouched.
        assert refused["failed"] and refused["live_applied"] is False
        assert "kernel refused kernel.kptr_restrict" in refused["msg"]
        assert "read-only" in refused["msg"]
        assert h1.sh(f"test -e {path} && echo yes || echo no").strip() == "no"
        assert h1.sh("cat /proc/sys/kernel/kptr_restrict").strip() == live

        # ignoreerrors forgives a key the kernel does not have, not a read-only one.
        still = h1.run("sysctl", dict(args, ignoreerrors=True))
        assert still["failed"] and "read-only" in still["msg"]

        # File-only use (reload off) never touches the kernel and is idempotent. The value
        # is the live one, so the reloads of the file below find nothing to refuse.
        dmesg = h1.sh("cat /proc/sys/kernel/dmesg_restrict").strip()
        plain = {"name": "kernel.dmesg_restrict", "value": dmesg, "sysctl_file": path,
                 "reload": False}
        assert h1.ok("sysctl", plain)["changed"]
        assert not h1.ok("sysctl", plain)["changed"]
        other = "0" if dmesg == "1" else "1"
        dry = h1.ok("sysctl", dict(plain, value=other), check=True)
        assert dry["changed"] and f"kernel.dmesg_restrict={other}" in _diff(dry)["after"]
        assert h1.sh(f"cat {path}") == f"kernel.dmesg_restrict={dmesg}\n"

        net_live = h1.sh("cat /proc/sys/net/ipv4/conf/all/send_redirects").strip()
        net_want = "0" if net_live == "1" else "1"
        applied = h1.ok("sysctl", {"name": "net.ipv4.conf.all.send_redirects",
                                   "value": net_want, "sysctl_file": path, "sysctl_set": True})
        assert applied["changed"] and applied["live_applied"] is True
        assert h1.sh("cat /proc/sys/net/ipv4/conf/all/send_redirects").strip() == net_want
        h1.ok("sysctl", {"name": "net.ipv4.conf.all.send_redirects", "value": net_live,
                         "sysctl_file": path, "sysctl_set": True})
    finally:
        h1.sh(f"rm -f {path}")


def test_hostname_set_and_restored(h1: Target) -> None:
    original = h1.sh("hostname").strip()
    new = f"pyetest-{SUF}"
    try:
        first = h1.ok("hostname", {"name": new})
        assert first["changed"] and first["ansible_facts"]["ansible_hostname"] == new
        assert h1.sh("hostname").strip() == new
        assert h1.sh("cat /etc/hostname").strip() == new
        assert _diff(first)["after"] == f"static: {new}\nrunning: {new}\n"
        assert not h1.ok("hostname", {"name": new})["changed"]

        dry = h1.ok("hostname", {"name": original, "use": "debian"}, check=True)
        assert dry["changed"] and h1.sh("hostname").strip() == new
        back = h1.ok("hostname", {"name": original, "use": "debian"})
        assert back["changed"] and back["strategy"] == "debian"
        assert h1.sh("hostname").strip() == original
        assert h1.sh("cat /etc/hostname").strip() == original
    finally:
        h1.sh(f"hostname {original}; echo {original} > /etc/hostname")


def test_command_and_shell_over_ssh(h1: Target) -> None:
    folder = f"/tmp/pyetest-{SUF}"
    try:
        made = h1.ok("shell", {"cmd": f"mkdir {folder} && echo made > {folder}/f",
                               "creates": f"{folder}/f"})
        assert made["changed"] and made["rc"] == 0
        assert h1.sh(f"cat {folder}/f") == "made\n"
        skipped = h1.ok("shell", {"cmd": "false", "creates": f"{folder}/f"})
        assert not skipped["changed"] and "exists" in skipped["msg"]
        out = h1.ok("command", {"argv": ["cat"], "stdin": "héllo", "chdir": folder})
        assert out["stdout"] == "héllo" and out["changed"]
        failed = h1.run("command", {"_raw_params": f"ls {folder}/nope"})
        assert failed["failed"] and failed["rc"] == 2 and failed["msg"] == "non-zero return code"
        dry = h1.ok("command", {"cmd": f"rm -r {folder}", "removes": folder}, check=True)
        assert dry["changed"] and h1.sh(f"test -d {folder} && echo there").strip() == "there"
    finally:
        h1.sh(f"rm -rf {folder}")


def test_package_facts_match_dpkg(h1: Target) -> None:
    facts = h1.ok("package_facts", {})["ansible_facts"]["packages"]
    version = h1.sh("dpkg-query -W -f '${Version}' openssh-server")
    entry = facts["openssh-server"][0]
    assert f"{entry['version']}-{entry['release']}" == version.split(":", 1)[-1]
    assert entry["source"] == "apt"
