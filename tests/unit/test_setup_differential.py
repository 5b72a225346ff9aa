"""setup against Ansible's own setup module, both gathering this machine's facts (read only).

Facts that do not move between two gatherings must be equal; volatile ones (free memory,
load, the clock, used blocks) are compared by shape. The facts Ansible reads from
external tools (dmidecode, lsblk, lvm, udev: devices, bios, lvm, ...) are not gathered
here and are listed in ANSIBLE_ONLY so that a new difference fails this test.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from pyengine.agent.runtime import run_module

ROOT = Path(__file__).resolve().parents[2]
VOLATILE = {"ansible_date_time", "ansible_memfree_mb", "ansible_memory_mb", "ansible_loadavg",
            "ansible_uptime_seconds", "ansible_mounts", "ansible_interfaces",
            "ansible_all_ipv6_addresses", "ansible_all_ipv4_addresses",
            "ansible_env"}  # the environment: pytest changes it between the two gatherings
# Gathered by Ansible from dmidecode/sysfs DMI, udev, lsblk, lvm, iSCSI/FC tools, capsh.
ANSIBLE_ONLY_PREFIXES = ("ansible_bios_", "ansible_board_", "ansible_chassis_",
                         "ansible_product_", "ansible_system_capabilities",
                         "ansible_distribution_file_", "ansible_virtualization_tech_")
ANSIBLE_ONLY = {"ansible_device_links", "ansible_devices", "ansible_fibre_channel_wwn",
                "ansible_flags", "ansible_form_factor", "ansible_hostnqn", "ansible_iscsi_iqn",
                "ansible_locally_reachable_ips", "ansible_lvm", "ansible_selinux_python_present",
                "ansible_system_vendor"}


@pytest.fixture(scope="module")
def both(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, Any], dict[str, Any]]:
    pytest.importorskip("ansible.modules.setup")
    tmp = tmp_path_factory.mktemp("setup")
    argfile = tmp / "args.json"
    argfile.write_text(json.dumps({"ANSIBLE_MODULE_ARGS": {"_ansible_tmpdir": str(tmp)}}))
    proc = subprocess.run([sys.executable, "-m", "ansible.modules.setup", str(argfile)],
                          capture_output=True, text=True, timeout=120, cwd=tmp)
    theirs: dict[str, Any] = json.loads(proc.stdout)["ansible_facts"]
    spec = importlib.util.spec_from_file_location("pyengine_facts",
                                                  ROOT / "pyengine" / "agent" / "facts.py")
    assert spec and spec.loader
    lib = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(lib)
    sys.modules["pyengine_facts"] = lib  # as the agent has it loaded
    try:
        ours = run_module((ROOT / "modules" / "setup.py").read_text(), {}, name="setup")
    finally:
        del sys.modules["pyengine_facts"]
    assert not ours["failed"], ours
    return theirs, ours["ansible_facts"]


def test_setup_stable_facts_equal_ansibles(both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    differ = {k: (theirs[k], ours[k]) for k in set(theirs) & set(ours)
              if k not in VOLATILE and theirs[k] != ours[k]
              and not (isinstance(theirs[k], dict) and k[len("ansible_"):] in
                       theirs.get("ansible_interfaces", []))}
    assert differ == {}
    assert len(set(theirs) & set(ours)) >= 60


def test_setup_misses_only_the_facts_of_external_tools(
        both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    missing = {k for k in set(theirs) - set(ours)
               if k not in ANSIBLE_ONLY and not k.startswith(ANSIBLE_ONLY_PREFIXES)}
    assert missing == set()


def test_setup_volatile_facts_have_ansibles_shape(
        both: tuple[dict[str, Any], dict[str, Any]]) -> None:
    theirs, ours = both
    assert ours["ansible_env"]["PATH"] == theirs["ansible_env"]["PATH"]
    assert set(ours["ansible_date_time"]) == set(theirs["ansible_date_time"])
    for key in ("year", "month", "day", "tz", "tz_offset"):
        assert ours["ansible_date_time"][key] == theirs["ansible_date_time"][key]
    assert ours["ansible_memory_mb"]["real"]["total"] == theirs["ansible_memory_mb"]["real"][
        "total"]
    assert sorted(ours["ansible_interfaces"]) == sorted(theirs["ansible_interfaces"])
    assert sorted(ours["ansible_all_ipv6_addresses"]) == sorted(
        theirs["ansible_all_ipv6_addresses"])
    assert ours["ansible_all_ipv4_addresses"] == theirs["ansible_all_ipv4_addresses"]
    for name in theirs["ansible_interfaces"]:
        key = "ansible_" + name
        mine = dict(ours[key])
        other = {k: v for k, v in theirs[key].items() if k in mine}
        for side in (mine, other):  # `ip addr` and /proc/net/if_inet6 order them differently
            side["ipv6"] = sorted(side.get("ipv6", []), key=lambda a: a["address"])
        assert other == mine, name
    by_mount = {m["mount"]: m for m in theirs["ansible_mounts"]}
    for entry in ours["ansible_mounts"]:
        other = by_mount[entry["mount"]]
        for key in ("device", "fstype", "options", "dump", "passno", "uuid", "size_total",
                    "block_size", "block_total", "inode_total"):
            assert entry[key] == other[key], (entry["mount"], key)
