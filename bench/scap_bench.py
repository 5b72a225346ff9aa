"""OpenSCAP score of a fresh lab host and of one after playbooks/baseline-linux.yml.

The judge is independent of pyengine: Debian's openscap-scanner, installed inside the
host, with the SCAP Security Guide data stream for Debian 12 and the CIS Level 1 Server
profile (../shared/judge/README.md). Both hosts come from the same lab image; h1 stays
fresh, h2 gets the baseline, connecting as the lab's sudo user `labuser` with become (the
way an MSP should connect, so PermitRootLogin can be "no"). Rules still failing are
sorted into: cannot pass in a lab host, contradicted by another rule of the same
profile, a deliberate choice of the baseline's safe defaults, and the rest.

    sudo -i; cd /path/to/checkout
    .venv/bin/python bench/scap_bench.py            # lab "scap-bench" on 127.0.12.x
    .venv/bin/python bench/scap_bench.py --keep-lab --json bench/scap_results.json

Not a test: it takes a few minutes (apt installs, the AIDE database, two scans).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from pyengine.lab import Lab  # noqa: E402

# The judge lives in the project's shared/ folder beside the checkout;
# PYENGINE_SCAP_DATASTREAM (or --datastream) points elsewhere.
DATASTREAM = Path(os.environ.get("PYENGINE_SCAP_DATASTREAM")
                  or Path(__file__).resolve().parents[1].parent / "shared" / "judge"
                  / "ssg-debian12-ds-machine.xml")
PROFILE = "xccdf_org.ssgproject.content_profile_cis_level1_server"

# Rules a lab host cannot pass, whatever the baseline does, and why.
LAB_LIMITS = {
    "partition_for_tmp": "separate partitions: the lab host's mounts are the lab's",
    "partition_for_dev_shm": "separate partitions: the lab host's mounts are the lab's",
    "mount_option_": "mount options of the lab's own mounts (/dev/shm, /tmp, /var, /home)",
    "grub2_": "no bootloader in a lab host (shares the machine's kernel)",
    "sysctl_kernel_": "kernel.* is the machine's: /proc/sys is read-only in a lab host",
    "sysctl_fs_": "fs.* is the machine's: /proc/sys is read-only in a lab host",
    "service_timesyncd_enabled": "timesyncd skips itself in a container (ConditionVirtualization)",
    "ntp_single_service_active": "timesyncd skips itself in a container (ConditionVirtualization)",
    "sshd_set_maxstartups": "the lab's own sshd drop-in (MaxStartups for parallel tests)",
    "sshd_set_max_sessions": "the lab's own sshd drop-in (MaxSessions for parallel tests)",
    "all_apparmor_profiles_in_enforce_complain_mode": "AppArmor needs the host's own kernel",
}
# Pairs of rules in the profile that exclude each other: one of each always fails.
CONTRADICTED = {
    "journald_disable_forward_to_syslog": "vs journald_forward_to_syslog (rsyslog is used)",
    "package_ufw_installed": "vs nftables (the profile's chosen firewall)",
    "check_ufw_active": "vs nftables",
    "service_timesyncd_disabled": "vs service_timesyncd_enabled",
    "package_chrony_installed": "vs systemd-timesyncd (the profile's chosen time service)",
    "service_chronyd_enabled": "vs systemd-timesyncd",
    "package_iptables-persistent_installed": "vs package_iptables-persistent_removed",
    "service_nftables_disabled": "vs service_nftables_enabled",
}
# Safe defaults: on only with their precondition (see defaults/main.yml).
CHOICES = {
    "accounts_password_set_max_life_existing":
        "ageing of existing accounts is opt-in (baseline_ageing_existing_users)",
    "sshd_limit_user_access": "AllowUsers/AllowGroups only when set (baseline_ssh_allow_*)",
    "systemd_journal_upload_url": "needs a log server (not configured by default)",
    "systemd_journal_upload_server_tls": "needs a log server (not configured by default)",
    "service_systemd-journal-upload_enabled": "needs a log server (not configured by default)",
    "file_groupowner_cron_allow": "cron.allow group crontab, so crontab(1) can read it",
    "sshd_disable_root_login": "kept when the operator logs in as root",
}


def classify(rule: str) -> tuple[str, str]:
    for table, kind in ((LAB_LIMITS, "lab"), (CONTRADICTED, "contradicted"),
                        (CHOICES, "choice")):
        for key, why in table.items():
            if rule == key or (key.endswith("_") and rule.startswith(key)):
                return kind, why
    return "other", ""


def pyengine_run(inventory: Path, playbook: Path, *args: str) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        report = Path(tmp) / "report.json"
        cmd = [sys.executable, "-m", "pyengine", "run", str(playbook), "-i", str(inventory),
               "--report-json", str(report), *args]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if not report.exists():
            raise SystemExit(f"pyengine run failed ({proc.returncode}):\n{proc.stderr[-3000:]}")
        data: dict[str, Any] = json.loads(report.read_text())
        data["_output"] = proc.stdout[-3000:]
        return data


def scan(inventory: Path, host: str, datastream: Path) -> dict[str, Any]:
    report = pyengine_run(inventory, ROOT / "playbooks" / "scap-scan.yml", "-l", host,
                          "-e", f"scap_datastream={datastream}", "-e", f"scap_profile={PROFILE}")
    for task in report["hosts"][host]["tasks"]:
        if task["name"] == "OpenSCAP evaluation" and task["status"] == "ok":
            result: dict[str, Any] = task["result"]
            return result
    raise SystemExit(f"scan of {host} failed:\n{report['_output']}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--name", default="scap-bench")
    parser.add_argument("--octet", type=int, default=12)
    parser.add_argument("--datastream", type=Path, default=DATASTREAM)
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    opts = parser.parse_args()

    lab = Lab(opts.name, opts.octet)
    # A lab that is already up is used as it is (its h1 and h2 must be fresh) and left up.
    reused = lab.is_up()
    if not reused:
        lab.up(2)
    inventory = lab.inventory_path
    try:
        started = time.monotonic()
        fresh = scan(inventory, "h1", opts.datastream)
        base = pyengine_run(inventory, ROOT / "playbooks" / "baseline-linux.yml", "-l", "h2",
                            "-e", "ansible_user=labuser")
        baseline_s = time.monotonic() - started
        if base["exit_code"] != 0:
            raise SystemExit(f"baseline failed:\n{base['_output']}")
        after = scan(inventory, "h2", opts.datastream)
        elapsed = time.monotonic() - started
    finally:
        if not opts.keep_lab and not reused:
            lab.down()
    groups: dict[str, list[tuple[str, str]]] = {}
    for rule in after["failed_rules"]:
        kind, why = classify(rule)
        groups.setdefault(kind, []).append((rule, why))
    print(f"profile {PROFILE}\ndata stream {opts.datastream.name}\n")
    print("| host | score | pass | fail | not applicable |\n|---|---|---|---|---|")
    for label, res in (("fresh lab host (h1)", fresh), ("after baseline-linux (h2)", after)):
        c = res["counts"]
        print(f"| {label} | {res['score']:.2f} | {c['pass']} | {c['fail']} | "
              f"{c['notapplicable']} |")
    titles = {"lab": "cannot pass in a lab host", "contradicted": "contradicted within the profile",
              "choice": "safe-default choices (on with their precondition)",
              "other": "other (not covered yet)"}
    for kind in ("lab", "contradicted", "choice", "other"):
        rows = groups.get(kind, [])
        print(f"\nstill failing, {titles[kind]}: {len(rows)}")
        for rule, why in rows:
            print(f"  {rule}" + (f"  - {why}" if why else ""))
    print(f"\nwall time {elapsed:.0f} s (baseline + first scan {baseline_s:.0f} s)")
    if opts.json:
        opts.json.write_text(json.dumps({
            "profile": PROFILE, "fresh": fresh, "after": after,
            "still_failing": {k: [r for r, _ in v] for k, v in groups.items()},
        }, indent=1))


if __name__ == "__main__":
    main()
