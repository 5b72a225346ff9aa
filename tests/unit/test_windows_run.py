"""`pyengine run` against Windows hosts over WinRM, end to end on the controller side.

Each "Windows host" is a tests/wsman_server.py WS-Management server on loopback (HTTPS,
Basic auth, certificate checked against a CA made for the test). Nothing here runs
PowerShell: the server's handler decodes what pyengine sends exactly as runner.ps1's
bootstrap would and plays a minimal stand-in for the modules — a task whose arguments
it has not applied before reports changed (and is then applied unless in check mode).
What is tested is pyengine's side: inventory variables select WinRM, the facts come
from the first exchange, a play's tasks travel in one PowerShell invocation, check
mode and values reach the runner intact, and the built-in Windows baseline runs twice
with the second run changing nothing.
"""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml
from test_winrm_connection import tls  # noqa: F401  (fixture: CA + server certificate)
from wsman_server import WSManServer

from pyengine.paths import builtin_playbooks_dir


class WindowsStandIn:
    """Answers the runner protocol; remembers applied (module, args) pairs."""

    def __init__(self, name: str, updates_need_reboot: bool = False) -> None:
        self.name = name
        self.applied: set[str] = set()
        self.invocations: list[dict] = []
        self.boots = 1
        self.updates_need_reboot = updates_need_reboot

    def __call__(self, line: str, arguments: str, stdin: bytes) -> tuple[bytes, bytes, int]:
        payload = json.loads(base64.b64decode(stdin.strip()))
        self.invocations.append(payload)
        lines = []
        if payload["facts"]:
            lines.append(("FACTS", {"ansible_os_family": "Windows", "ansible_hostname":
                                    self.name.upper(), "ansible_distribution":
                                    "Microsoft Windows Server 2022 Standard",
                                    "ansible_boot_id": f"boot-{self.boots}"}))
        for task in payload["tasks"]:
            assert task["module"] in payload["modules"], "module source shipped with the batch"
            lines.append(("RESULT", {"id": task["id"], "duration_s": 0.001,
                                     "result": self.module(task)}))
        lines.append(("DONE", {}))
        if any(t["module"] == "win_command" and t["args"].get("argv", [""])[0] ==
               "shutdown.exe" for t in payload["tasks"]):
            self.boots += 1  # the next connection finds a host that has rebooted
        out = b"".join(f"PYENGINE-{kind}:".encode() + base64.b64encode(json.dumps(data).encode())
                       + b"\r\n" for kind, data in lines)
        return out, b"", 0

    def module(self, task: dict) -> dict:
        if task["module"] == "win_updates":
            pending = "win_updates-installed" not in self.applied
            if pending and not task["check_mode"]:
                self.applied.add("win_updates-installed")
            return {"changed": pending, "found_update_count": int(pending),
                    "installed_update_count": int(pending and not task["check_mode"]),
                    "reboot_required": pending and self.updates_need_reboot,
                    "updates": {}, "msg": "stand-in updates"}
        key = task["module"] + json.dumps(task["args"], sort_keys=True)
        changed = key not in self.applied
        if changed and not task["check_mode"] and task["module"] != "win_command":
            self.applied.add(key)
        return {"changed": changed, "msg": "stand-in", "echo": task["args"]}


@pytest.fixture
def windows(tls, tmp_path: Path) -> Iterator[tuple[Path, dict[str, WindowsStandIn]]]:  # noqa: F811
    context, ca = tls
    stand_ins = {"win1": WindowsStandIn("win1", updates_need_reboot=True),
                 "win2": WindowsStandIn("win2")}
    servers = [WSManServer(stand_ins[name], auth="basic", tls=context).start()
               for name in stand_ins]
    hosts = {name: {"ansible_port": server.port}
             for name, server in zip(stand_ins, servers, strict=True)}
    inventory = {"all": {"children": {"windows": {"hosts": hosts, "vars": {
        "ansible_connection": "winrm", "ansible_host": "127.0.0.1",
        "ansible_winrm_scheme": "https", "ansible_winrm_transport": "basic",
        "ansible_winrm_ca_trust_path": str(ca), "ansible_user": "Administrator",
        "ansible_password": "Passw0rd!"}}}}}
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump(inventory))
    try:
        yield path, stand_ins
    finally:
        for server in servers:
            server.stop()


def _run(tmp_path: Path, playbook: Path, inventory: Path, *args: str) -> tuple[int, dict, str]:
    report = tmp_path / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", str(playbook), "-i",
                           str(inventory), "--report-json", str(report), "--no-history", *args],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def test_windows_baseline_runs_idempotently_over_winrm(
        windows: tuple[Path, dict[str, WindowsStandIn]], tmp_path: Path) -> None:
    inventory, stand_ins = windows
    book = builtin_playbooks_dir() / "baseline-windows.yml"
    rc, report, out = _run(tmp_path, book, inventory, "--check")
    assert rc == 0, out
    assert all(s.applied == set() for s in stand_ins.values()), "check mode applied something"
    audit = report["hosts"]["win1"]
    assert audit["changed"] > 20 and all(t["check_mode"] for t in audit["tasks"]
                                         if t["status"] == "changed")
    rc, report, out = _run(tmp_path, book, inventory)
    assert rc == 0, out
    first = {name: host["changed"] for name, host in report["hosts"].items()}
    assert first["win1"] == first["win2"] > 20
    assert report["hosts"]["win1"]["round_trips"] <= 4, report["hosts"]["win1"]["batches"]
    rc, report, out = _run(tmp_path, book, inventory)
    assert rc == 0, out
    assert all(host["changed"] == 0 for host in report["hosts"].values())
    assert "Passw0rd!" not in out


def test_values_reach_the_runner_as_data(windows: tuple[Path, dict[str, WindowsStandIn]],
                                         tmp_path: Path) -> None:
    inventory, stand_ins = windows
    nasty = "it's \"quoted\" $env:PATH `tick` ${x}\nsecond line"
    book = tmp_path / "play.yml"
    book.write_text(yaml.safe_dump([{"hosts": "win1", "gather_facts": True, "tasks": [
        {"ansible.windows.win_regedit": {"path": "HKLM:\\SOFTWARE\\Pyengine", "name": "Note",
                                         "data": nasty}},
        {"win_shell": "Write-Output '{{ ansible_hostname }}'"},
    ]}]))
    rc, report, out = _run(tmp_path, book, inventory)
    assert rc == 0, out
    tasks = [t for p in stand_ins["win1"].invocations for t in p["tasks"]]
    assert tasks[0]["args"]["data"] == nasty
    assert tasks[0]["args"]["type"] == "string"  # defaults filled by the controller
    assert tasks[1]["args"]["_raw_params"] == "Write-Output 'WIN1'"  # facts rendered
    assert stand_ins["win2"].invocations == []


def test_windows_patching_reboots_only_where_required(
        windows: tuple[Path, dict[str, WindowsStandIn]], tmp_path: Path) -> None:
    inventory, stand_ins = windows
    book = builtin_playbooks_dir() / "patch.yml"
    rc, report, out = _run(tmp_path, book, inventory, "-e", "patch_mode=security")
    assert rc == 0, out
    assert (stand_ins["win1"].boots, stand_ins["win2"].boots) == (2, 1)
    reboot = next(t for t in report["hosts"]["win1"]["tasks"] if t["module"] == "win_reboot")
    assert reboot["status"] == "changed" and reboot["result"]["rebooted"] is True
    skipped = next(t for t in report["hosts"]["win2"]["tasks"] if t["module"] == "win_reboot")
    assert skipped["status"] == "skipped"
    sent = [t for p in stand_ins["win1"].invocations for t in p["tasks"]
            if t["module"] == "win_updates"][0]["args"]
    assert sent["category_names"] == ["SecurityUpdates", "CriticalUpdates"]
    assert report["hosts"]["win1"]["extra"]["patches"]["reboot_required"] is True
    rc, report, out = _run(tmp_path, book, inventory, "-e", "patch_mode=security")
    assert rc == 0, out
    assert all(h["changed"] == 0 for h in report["hosts"].values()), out
