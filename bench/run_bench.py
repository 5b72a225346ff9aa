#!/usr/bin/env python3
"""pyengine beside ansible-core and pyinfra: the 40-task no-op baseline on the lab.

For each one-way delay (`pyengine lab up --delay-ms D`), the lab is brought up
with the largest host count; for each host count the three tools run the same
40 operations, already in the desired state (one converging pyengine run first,
not measured). Wall times and ratios are printed as a table (and saved as JSON).

Run as root from the repository root (see bench/README.md):
    .venv/bin/python bench/run_bench.py --hosts 10 30 --delays 0 25
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import baseline  # noqa: E402

PYENGINE = [str(ROOT / ".venv" / "bin" / "pyengine")]
BENCH_VENV = HERE / ".venv"
LAB_NAME = "bench"


def sh(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
       check: bool = True, timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)
    if check and proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])}... exited {proc.returncode}:\n"
                         f"{proc.stdout[-2000:]}\n{proc.stderr[-2000:]}")
    return proc


def ensure_tools() -> None:
    """ansible-core and pyinfra in bench/.venv (gitignored), from PyPI."""
    if (BENCH_VENV / "bin" / "ansible-playbook").exists() and \
            (BENCH_VENV / "bin" / "pyinfra").exists():
        return
    print("installing ansible-core and pyinfra into bench/.venv ...", flush=True)
    sh([sys.executable, "-m", "venv", str(BENCH_VENV)])
    sh([str(BENCH_VENV / "bin" / "pip"), "install", "-q", "ansible-core", "pyinfra"])


def versions() -> dict[str, str]:
    out = {}
    v = sh([str(BENCH_VENV / "bin" / "ansible-playbook"), "--version"]).stdout.splitlines()[0]
    out["ansible-core"] = v.split("[core")[-1].strip(" ]") if "core" in v else v
    out["pyinfra"] = sh([str(BENCH_VENV / "bin" / "pyinfra"), "--version"]).stdout.strip()
    out["pyengine"] = sh(PYENGINE + ["--version"]).stdout.strip()
    return out


def lab_up(hosts: int, delay: int, octet: int) -> Path:
    sh(PYENGINE + ["lab", "down", "--name", LAB_NAME], check=False)
    for attempt in (1, 2):  # a busy machine can miss the boot deadline once
        proc = sh(PYENGINE + ["lab", "up", "--name", LAB_NAME, "--octet", str(octet), "-n",
                              str(hosts), "--delay-ms", str(delay)], timeout=900,
                  check=attempt == 2)
        if proc.returncode == 0:
            break
        sh(PYENGINE + ["lab", "down", "--name", LAB_NAME], check=False)
    path = sh(PYENGINE + ["lab", "inventory-path", "--name", LAB_NAME]).stdout.strip()
    return Path(path)


def lab_hosts(inventory: Path) -> list[dict[str, Any]]:
    import yaml

    data = yaml.safe_load(inventory.read_text())
    lab = data["all"]["children"]["lab"]
    common = lab.get("vars", {})
    return [{"name": n, **common, **(v or {})} for n, v in lab["hosts"].items()]


def limit_of(hosts: list[dict[str, Any]]) -> str:
    return ",".join(h["name"] for h in hosts)


def run_pyengine(work: Path, inventory: Path, hosts: list[dict[str, Any]]) -> tuple[float, str]:
    report = work / "pyengine.json"
    started = time.monotonic()
    sh(PYENGINE + ["run", str(work / "baseline.yml"), "-i", str(inventory), "--limit",
                   limit_of(hosts), "--forks", str(len(hosts)), "--report-json", str(report)])
    elapsed = time.monotonic() - started
    data = json.loads(report.read_text())
    changed = sum(h["changed"] for h in data["hosts"].values())
    trips = sorted({h["round_trips"] for h in data["hosts"].values()})
    return elapsed, f"changed={changed} round_trips/host={trips}"


def run_ansible(work: Path, inventory: Path, hosts: list[dict[str, Any]]) -> tuple[float, str]:
    cfg = work / "ansible.cfg"
    cfg.write_text(textwrap_cfg(work))
    env = {**os.environ, "ANSIBLE_CONFIG": str(cfg)}
    started = time.monotonic()
    proc = sh([str(BENCH_VENV / "bin" / "ansible-playbook"), "-i", str(inventory), "--limit",
               limit_of(hosts), "-f", str(len(hosts)), str(work / "baseline.yml")], env=env)
    elapsed = time.monotonic() - started
    changed = sum(int(m) for m in re.findall(r"changed=(\d+)", proc.stdout))
    return elapsed, f"changed={changed}"


def textwrap_cfg(work: Path) -> str:
    return ("[defaults]\nhost_key_checking = True\ninterpreter_python = /usr/bin/python3\n"
            "stdout_callback = default\nretry_files_enabled = False\n"
            f"local_tmp = {work}/ansible-tmp\n"
            "[ssh_connection]\npipelining = True\n"
            f"control_path_dir = {work}/cp\n")


def run_pyinfra(work: Path, hosts: list[dict[str, Any]]) -> tuple[float, str]:
    inv = work / "pyinfra_inventory.py"
    entries = []
    for h in hosts:
        data = {"ssh_port": int(h.get("ansible_port", 22)), "ssh_user": h["ansible_user"],
                "ssh_key": h["ansible_ssh_private_key_file"],
                "ssh_known_hosts_file": h["pyengine_known_hosts"],
                "ssh_strict_host_key_checking": "yes"}
        entries.append((h["ansible_host"], data))
    inv.write_text(f"lab = {entries!r}\n")
    deploy = work / "baseline_pyinfra.py"
    deploy.write_text(baseline.pyinfra_deploy())
    started = time.monotonic()
    proc = sh([str(BENCH_VENV / "bin" / "pyinfra"), "-y", "--parallel", str(len(hosts)),
               str(inv), str(deploy)], cwd=work)
    elapsed = time.monotonic() - started
    # pyinfra prints its results table on stderr: "Grand total  HOSTS SUCCESS ERROR NOCHANGE".
    total = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", proc.stderr)
    if total is None:
        return elapsed, "no results table"
    _, success, error, nochange = total.groups()
    return elapsed, f"changed={success.replace('-', '0')} errors={error.replace('-', '0')} " \
                    f"no-change={nochange}"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--hosts", type=int, nargs="+", default=[10, 30])
    ap.add_argument("--delays", type=int, nargs="+", default=[0, 25])
    ap.add_argument("--tools", nargs="+", default=["pyengine", "ansible", "pyinfra"])
    ap.add_argument("--octet", type=int, default=7, help="lab hosts at 127.0.<octet>.N")
    ap.add_argument("--keep-lab", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the benchmark needs root (it brings up a lab)")
    ensure_tools()
    print("versions:", versions(), flush=True)
    rows: list[dict[str, Any]] = []
    work = Path(tempfile.mkdtemp(prefix="pe-bench-"))
    (work / "baseline.yml").write_text(baseline.playbook_yaml())
    try:
        for delay in args.delays:
            inventory = lab_up(max(args.hosts), delay, args.octet)
            every = lab_hosts(inventory)
            # Converge once (not measured): afterwards every tool has nothing to do.
            run_pyengine(work, inventory, every)
            for count in sorted(args.hosts):
                hosts = every[:count]
                for tool in args.tools:
                    if tool == "pyengine":
                        wall, note = run_pyengine(work, inventory, hosts)
                    elif tool == "ansible":
                        wall, note = run_ansible(work, inventory, hosts)
                    else:
                        wall, note = run_pyinfra(work, hosts)
                    rows.append({"hosts": count, "delay_ms": delay, "tool": tool,
                                 "wall_s": round(wall, 2), "note": note})
                    print(f"  {count:>3} hosts  {delay:>3} ms  {tool:<9} {wall:7.2f} s  {note}",
                          flush=True)
    finally:
        if not args.keep_lab:
            sh(PYENGINE + ["lab", "down", "--name", LAB_NAME], check=False)
        shutil.rmtree(work, ignore_errors=True)
    print_table(rows)
    Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    return 0


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print(f"{'hosts':>5} {'delay':>6} {'pyengine':>9} {'ansible':>9} {'pyinfra':>9} "
          f"{'ansible/pe':>11} {'pyinfra/pe':>11}")
    keys = sorted({(r["hosts"], r["delay_ms"]) for r in rows}, key=lambda k: (k[1], k[0]))
    for count, delay in keys:
        wall = {r["tool"]: r["wall_s"] for r in rows
                if r["hosts"] == count and r["delay_ms"] == delay}
        pe = wall.get("pyengine")

        def ratio(tool: str, pe: float | None = pe, wall: dict[str, float] = wall) -> str:
            return f"{wall[tool] / pe:.1f}x" if pe and tool in wall else "-"

        def cell(tool: str, wall: dict[str, float] = wall) -> str:
            return f"{wall[tool]:.2f}s" if tool in wall else "-"

        print(f"{count:>5} {delay:>4}ms {cell('pyengine'):>9} {cell('ansible'):>9} "
              f"{cell('pyinfra'):>9} {ratio('ansible'):>11} {ratio('pyinfra'):>11}")


if __name__ == "__main__":
    sys.exit(main())
