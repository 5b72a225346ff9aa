"""`pyengine patch status` rows and output, from module results (no hosts needed)."""

from __future__ import annotations

import io
import json

from pyengine.patching.render import print_details, print_table, to_json
from pyengine.patching.status import HostPatchStatus, from_result, host_args

RESULT = {
    "changed": False, "failed": False, "pkg_mgr": "apt", "msg": "3 pending update(s), 1 security",
    "pending": [
        {"name": "openssl", "current": "3.0.19-1~deb12u2", "candidate": "3.0.22-1~deb12u2",
         "security": True, "held": False, "excluded": False},
        {"name": "tzdata", "current": "2024a-0+deb12u1", "candidate": "2025b-0+deb12u1",
         "security": False, "held": False, "excluded": False},
        {"name": "nginx", "current": "1.22.1-9", "candidate": "1.22.1-9+deb12u1",
         "security": False, "held": True, "excluded": False},
    ],
    "reboot_required": True, "reboot_reasons": ["/var/run/reboot-required exists"],
    "services_need_restart": ["cron.service"],
}


def test_row_from_result_counts():
    row = from_result("web1", RESULT)
    assert (row.status, row.pending, row.security, row.held) == ("ok", 3, 1, 1)
    assert row.reboot_required and row.services_need_restart == ["cron.service"]
    assert row.updates[0] == {"name": "openssl", "current": "3.0.19-1~deb12u2",
                              "candidate": "3.0.22-1~deb12u2", "security": True,
                              "held": False, "excluded": False}


def test_failed_result_is_a_failed_row():
    row = from_result("web2", {"failed": True, "msg": "dpkg is in a broken state"})
    assert row.status == "failed" and row.msg == "dpkg is in a broken state"


def test_json_totals():
    rows = [from_result("web1", RESULT), HostPatchStatus("db1", "unreachable", msg="timeout")]
    data = json.loads(to_json(rows))
    assert data["totals"] == {"hosts": 2, "hosts_with_updates": 1, "pending": 3, "security": 1,
                              "reboot_required": 1, "failed": 0, "unreachable": 1}
    assert data["hosts"]["db1"]["status"] == "unreachable"
    assert data["hosts"]["web1"]["updates"][2]["held"] is True


def test_table_has_a_line_per_host():
    out = io.StringIO()
    print_table([from_result("web1", RESULT), HostPatchStatus("db1", "unreachable",
                                                              msg="db1: timed out")], out)
    lines = out.getvalue().splitlines()
    web = [ln for ln in lines if " web1 " in ln][0]
    assert [c.strip() for c in web.split("│")[1:8]] == [
        "web1", "ok", "3", "1", "1", "required", "cron.service"]
    assert any("db1: timed out" in ln for ln in lines)


def test_host_vars_extend_arguments():
    args = host_args({"patch_exclude": ["nginx*"], "patch_apt_options": "A=1"},
                     {"state": "list", "exclude": ["tzdata"], "apt_options": []})
    assert args == {"state": "list", "exclude": ["nginx*", "tzdata"], "apt_options": ["A=1"]}


def test_cli_unreachable_host_is_a_row_and_exit_4(tmp_path):
    import subprocess
    import sys

    inv = tmp_path / "inv.yml"  # nothing listens on port 1 of loopback
    inv.write_text("all:\n  hosts:\n    ghost:\n      ansible_host: 127.0.0.1\n"
                   "      ansible_port: 1\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "patch", "status", "-i", str(inv),
                           "--json"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 4, proc.stderr
    row = json.loads(proc.stdout)["hosts"]["ghost"]
    assert row["status"] == "unreachable" and "refused" in row["msg"]


def test_cli_no_matching_hosts_is_one_line(tmp_path):
    import subprocess
    import sys

    inv = tmp_path / "inv.yml"
    inv.write_text("all:\n  hosts:\n    web1:\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "patch", "status", "-i", str(inv),
                           "-l", "db*"], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 3
    assert proc.stderr.strip() == "error: no hosts match 'db*'"


def test_details_list_every_package_with_its_kind():
    out = io.StringIO()
    print_details([from_result("web1", RESULT)], out)
    rows = [[c.strip() for c in ln.split("│")[1:6]] for ln in out.getvalue().splitlines()
            if " web1 " in ln]
    assert rows == [
        ["web1", "openssl", "3.0.19-1~deb12u2", "3.0.22-1~deb12u2", "security"],
        ["web1", "tzdata", "2024a-0+deb12u1", "2025b-0+deb12u1", "normal"],
        ["web1", "nginx", "1.22.1-9", "1.22.1-9+deb12u1", "normal, held"]]
