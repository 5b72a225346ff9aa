"""Pure pieces of the system modules: parsers fed with recorded output, planners fed
with states. The modules' effects are checked on real hosts in
tests/lab/test_module_system.py; these pin the corner cases cheaply.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

MODULES = Path(__file__).resolve().parents[2] / "modules"
CASES = Path(__file__).resolve().parents[1] / "modules"


def load(name: str) -> SimpleNamespace:
    path = MODULES / f"{name}.py"
    namespace: dict = {"__name__": f"pyengine_module_{name}"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return SimpleNamespace(**namespace)


sysctl, service, systemd, service_facts = (load(n) for n in (
    "sysctl", "service", "systemd", "service_facts"))
cron, authorized_key, user = (load(n) for n in ("cron", "authorized_key", "user"))

# Recorded on a lab host (Debian 12, systemd 252 in a container), 2026-11-26:
# `systemctl list-units --type=service --all --no-legend --plain --no-pager` (excerpt)
LIST_UNITS = """\
auditd.service                       not-found inactive dead    auditd.service
console-getty.service                masked    inactive dead    console-getty.service
cron.service                         loaded    active   running Regular background programs
dbus.service                         loaded    active   running D-Bus System Message Bus
dpkg-db-backup.service               loaded    inactive dead    Daily dpkg database backup service
getty@tty1.service                   masked    inactive dead    getty@tty1.service
"""
# `systemctl list-unit-files --type=service --no-legend --no-pager` (excerpt)
UNIT_FILES = """\
apt-daily.service                      masked          enabled
autovt@.service                        alias           -
console-getty.service                  masked          disabled
container-getty@.service               static          -
cron.service                           enabled         enabled
dbus.service                           static          -
"""


def test_list_units_states_and_load() -> None:
    got = service_facts.parse_list_units(LIST_UNITS)
    assert got["cron.service"] == ("running", "loaded")
    assert got["auditd.service"] == ("stopped", "not-found")
    assert got["getty@tty1.service"] == ("stopped", "masked")


def test_unit_files_status() -> None:
    got = service_facts.parse_unit_files(UNIT_FILES)
    assert got["cron.service"] == "enabled" and got["dbus.service"] == "static"
    assert got["apt-daily.service"] == "masked"


@pytest.mark.parametrize("want, active, verb", [
    ("started", "inactive", "start"), ("started", "active", None),
    ("started", "activating", None), ("stopped", "active", "stop"),
    ("stopped", "deactivating", "stop"), ("stopped", "failed", None),
    ("restarted", "active", "restart"), ("reloaded", "active", "reload"),
    ("reloaded", "inactive", "start"),
])
def test_systemd_state_plan(want: str, active: str, verb: str | None) -> None:
    assert systemd.plan_state(want, active) == verb


def test_service_state_plan_matches_systemd_for_running_or_not() -> None:
    for want in ("started", "stopped", "restarted", "reloaded"):
        assert service.plan_state(want, True) == systemd.plan_state(want, "active")
        assert service.plan_state(want, False) == systemd.plan_state(want, "inactive")


def test_systemd_prediction_for_check_mode_diff() -> None:
    status = {"ActiveState": "active", "UnitFileState": "enabled"}
    assert systemd._predict(status, ["disable", "stop"]) == {
        "ActiveState": "inactive", "UnitFileState": "disabled"}


@pytest.mark.parametrize("key, rel", [
    ("net.ipv4.ip_forward", "net/ipv4/ip_forward"),
    ("net.ipv4.conf.eth0/100.forwarding", "net/ipv4/conf/eth0.100/forwarding"),
    ("net/ipv4/conf/eth0.100/forwarding", "net/ipv4/conf/eth0.100/forwarding"),
])
def test_sysctl_key_to_proc_path(key: str, rel: str) -> None:
    assert sysctl.key_path("/proc/sys", key) == "/proc/sys/" + rel


@pytest.mark.parametrize("raw, norm", [
    (True, "1"), ("no", "0"), ("On", "1"), (" 4096\t87380   6291456 ", "4096 87380 6291456"),
    (10, "10"), (None, ""),
])
def test_sysctl_values_normalised_like_the_kernel_prints_them(raw: object, norm: str) -> None:
    assert sysctl.normalize(raw) == norm


def test_sysctl_ignore_prefix_and_comment_lines() -> None:
    text = "; kernel.panic=1\n-kernel.panic = 5\nkernel.panic_on_oops=1\n"
    assert sysctl.plan_file(text, "kernel.panic", "present", "10") == (
        "; kernel.panic=1\n-kernel.panic = 10\nkernel.panic_on_oops=1\n")
    assert sysctl.plan_file("x=1", "y", "present", "2") == "x=1\ny=2\n"


def test_every_sysctl_case_keeps_away_from_the_machines_kernel() -> None:
    """Unit cases run on this machine as root: /proc/sys must never be the real one."""
    for path in sorted((CASES / "sysctl").glob("*.yaml")):
        args = yaml.safe_load(path.read_text())["args"]
        assert str(args.get("_proc_sys", "")).startswith("{tmp}"), path.name


def test_cron_job_line_forms() -> None:
    base = {"minute": "*", "hour": "*", "day": "*", "month": "*", "weekday": "*",
            "job": "/bin/x", "special_time": None, "disabled": False, "user": None}
    assert cron.job_line(dict(base, minute="5"), False) == "5 * * * * /bin/x"
    assert cron.job_line(dict(base, user="www"), True) == "* * * * * www /bin/x"
    assert cron.job_line(dict(base, special_time="reboot", disabled=True), True) == (
        "#@reboot root /bin/x")


def test_cron_marker_without_job_line_is_repaired() -> None:
    lines = ["#Ansible: a"]
    assert cron.plan_job(lines, "a", "* * * * * /bin/true", "present") == [
        "#Ansible: a", "* * * * * /bin/true"]


def test_cron_env_insertbefore_missing_anchor_fails() -> None:
    with pytest.raises(ValueError):
        cron.plan_env(["A=1"], "B", "2", "present", before="NOPE")


def test_authorized_key_options_with_quoted_blanks() -> None:
    line = ('command="/usr/bin/rsync --server -e.LsfxC",no-pty ssh-ed25519 '
            'AAAAC3NzaC1lZDI1NTE5AAAAIGtU5Wq0v8wPp3oQ0yY5s1dVh0Wq0dCk3vXz1v6bX0xG a b')
    assert authorized_key.parse_key(line) == (
        'command="/usr/bin/rsync --server -e.LsfxC",no-pty', "ssh-ed25519",
        "AAAAC3NzaC1lZDI1NTE5AAAAIGtU5Wq0v8wPp3oQ0yY5s1dVh0Wq0dCk3vXz1v6bX0xG", "a b")
    assert authorized_key.parse_key("# comment") is None
    assert authorized_key.parse_key("garbage here") is None


def _account(**over: object) -> dict:
    cur = {"uid": 1500, "group": "root", "groups": ["daemon"], "comment": "x",
           "home": "/home/x", "shell": "/bin/sh", "expires": ""}
    cur.update(over)
    return cur


def _params(**over: object) -> dict:
    p = {"uid": None, "non_unique": False, "group": None, "groups": None, "append": False,
         "comment": None, "shell": None, "home": None, "move_home": False, "expires": None}
    p.update(over)
    return p


def test_user_plan_only_lists_what_differs() -> None:
    opts, fields = user.plan_modify(_params(shell="/bin/sh", comment="y"), _account())
    assert opts == ["-c", "y"] and list(fields) == ["comment"]


def test_user_groups_append_adds_without_removing() -> None:
    opts, fields = user.plan_modify(_params(groups=["root", "daemon", "bin"], append=True),
                                    _account())
    # The primary group (root) is not a supplementary one; daemon is there already.
    assert opts == ["-G", "bin,daemon", "-a"]
    assert fields["groups"] == ("daemon", "bin,daemon")
    assert user.plan_modify(_params(groups=["daemon"], append=True), _account())[0] == []


def test_user_groups_exact_and_empty() -> None:
    assert user.plan_modify(_params(groups=[]), _account())[0] == ["-G", ""]
    assert user.plan_modify(_params(groups=[]), _account(groups=[]))[0] == []


def test_user_password_plan_respects_lock_and_update_password() -> None:
    cur = _account(password_hash="!$6$abc", locked=True)
    p = {"password": "$6$abc", "update_password": "always", "password_lock": True}
    assert user._password_plan(p, cur, False) == (None, None)
    p = {"password": "$6$new", "update_password": "on_create", "password_lock": None}
    assert user._password_plan(p, cur, False) == (None, None)
    p = {"password": None, "update_password": "always", "password_lock": False}
    assert user._password_plan(p, cur, False) == (None, "-U")
