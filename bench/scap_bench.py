"""OpenSCAP scores of a fresh lab host and of hosts after playbooks/baseline-linux.yml.

The judge is independent of pyengine: Debian's openscap-scanner, installed inside the
host, with the SCAP Security Guide data stream for Debian 12 and the CIS Level 1 and
Level 2 Server profiles (../shared/judge/README.md). All hosts come from the same lab
image; h1 stays fresh, h2 gets the baseline at Level 1, h3 at Level 2 (`--levels`). The
baseline connects as root with an operator account configured (the lab's key), so it
creates the operator, proves a new login and sudo with it, switches to it and turns root
login off, as an MSP's first run on a new host would; scans then connect as the operator.
Every host is scanned with both profiles. Rules still failing are sorted into: cannot
pass in a lab host, contradicted by another rule of the same profile, a deliberate choice
of the baseline's safe defaults, and the rest.

    sudo -i; cd /path/to/checkout
    .venv/bin/python bench/scap_bench.py            # lab "scap-bench" on 127.0.12.x
    .venv/bin/python bench/scap_bench.py --keep-lab --json bench/scap_results.json

Not a test: it takes a few minutes (apt installs, the AIDE database, six scans).
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
PROFILES = {"L1": "xccdf_org.ssgproject.content_profile_cis_level1_server",
            "L2": "xccdf_org.ssgproject.content_profile_cis_level2_server"}
OPERATOR = "opsadmin"

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
    "all_apparmor_profiles_enforced": "AppArmor needs the host's own kernel",
    "partition_for_": "separate partitions: the lab host's mounts are the lab's",
    "audit_rules_privileged_commands": "the judge counts setuid programs on block-device "
                                       "partitions only: an overlay root gives 0, so the "
                                       "host's 18 rules never match its count",
    "service_auditd_enabled": "auditd cannot run without the host's own audit subsystem "
                              "(enabled, fails to start: the check reads the running unit)",
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
    "sudo_require_authentication": "NOPASSWD sudo: the lab's own labuser, and the operator "
                                   "where baseline_operator_sudo_nopasswd says so",
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


def scan(inventory: Path, host: str, datastream: Path, profile: str,
         *extra: str) -> dict[str, Any]:
    report = pyengine_run(inventory, ROOT / "playbooks" / "scap-scan.yml", "-l", host,
                          "-e", f"scap_datastream={datastream}", "-e", f"scap_profile={profile}",
                          *extra)
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
    parser.add_argument("--levels", default="1,2", help="Baseline levels, one host each.")
    parser.add_argument("--keep-lab", action="store_true")
    parser.add_argument("--json", type=Path, help="Write the figures here too.")
    opts = parser.parse_args()
    levels = [int(x) for x in opts.levels.split(",") if x.strip()]

    lab = Lab(opts.name, opts.octet)
    # A lab that is already up is used as it is (its hosts must be fresh) and left up.
    reused = lab.is_up()
    if not reused:
        lab.up(1 + len(levels))
    inventory = lab.inventory_path
    key = lab.private_key_path.with_suffix(".pub").read_text().strip()
    operator = json.dumps({"baseline_operator_user": OPERATOR, "baseline_operator_key": key,
                           "baseline_operator_sudo_nopasswd": True})
    rows: list[tuple[str, dict[str, Any]]] = []
    runs: dict[str, float] = {}
    try:
        started = time.monotonic()
        for name, profile in PROFILES.items():
            rows.append((f"fresh lab host (h1), {name}", scan(inventory, "h1", opts.datastream,
                                                                profile)))
        for index, level in enumerate(levels):
            host = f"h{index + 2}"
            began = time.monotonic()
            base = pyengine_run(inventory, ROOT / "playbooks" / "baseline-linux.yml", "-l", host,
                                "-e", operator, "-e", f"baseline_level={level}")
            runs[f"level {level}"] = time.monotonic() - began
            if base["exit_code"] != 0:
                raise SystemExit(f"baseline failed:\n{base['_output']}")
            for name, profile in PROFILES.items():
                rows.append((f"after baseline level {level} ({host}), {name}",
                             scan(inventory, host, opts.datastream, profile,
                                  "-e", f"ansible_user={OPERATOR}")))
        elapsed = time.monotonic() - started
    finally:
        if not opts.keep_lab and not reused:
            lab.down()
    print(f"data stream {opts.datastream.name}\n")
    print("| host, profile | score | pass | fail | not applicable |\n|---|---|---|---|---|")
    for label, res in rows:
        c = res["counts"]
        print(f"| {label} | {res['score']:.2f} | {c['pass']} | {c['fail']} | "
              f"{c['notapplicable']} |")
    titles = {"lab": "cannot pass in a lab host", "contradicted": "contradicted within the profile",
              "choice": "safe-default choices (on with their precondition)",
              "other": "other (not covered yet)"}
    still: dict[str, dict[str, list[str]]] = {}
    for label, res in rows:
        if label.startswith("fresh"):
            continue
        groups: dict[str, list[tuple[str, str]]] = {}
        for rule in res["failed_rules"]:
            kind, why = classify(rule)
            groups.setdefault(kind, []).append((rule, why))
        still[label] = {k: [r for r, _ in v] for k, v in groups.items()}
        print(f"\n{label}: still failing")
        for kind in ("lab", "contradicted", "choice", "other"):
            found = groups.get(kind, [])
            print(f"  {titles[kind]}: {len(found)}")
            for rule, why in found:
                print(f"    {rule}" + (f"  - {why}" if why else ""))
    print("\nbaseline runs: " + ", ".join(f"{k} {v:.0f} s" for k, v in runs.items())
          + f"; wall time {elapsed:.0f} s")
    if opts.json:
        opts.json.write_text(json.dumps({
            "profiles": PROFILES, "rows": [{"host": label, **res} for label, res in rows],
            "still_failing": still, "baseline_seconds": runs,
        }, indent=1))


if __name__ == "__main__":
    main()
