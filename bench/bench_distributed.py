#!/usr/bin/env python3
"""250 light hosts through `pyengine submit` over 1, 2 and 4 local workers.

"Light" hosts: 250 inventory hosts that are aliases of the lab's few Debian hosts (each
alias its own SSH session and agent), running a one-task playbook (`ping`), so what is
measured is the queue, the worker, the leases and the shared history, not the hosts'
work. Redis and PostgreSQL are started on loopback as in tests/lab/test_distributed.py.
For W workers the hosts are split into W jobs (`--split ceil(250/W)`); wall time is from
submit to the combined recap (`--wait`), memory is each worker's peak RSS (VmHWM). A
plain `pyengine run` of the same hosts is the reference. On a 2-core machine this
measures overhead, not speed-up.

Run as root from the repository root, with the lab up:
    PYENGINE_LAB=dist .venv/bin/python bench/bench_distributed.py --lab dist --hosts 250
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT / "tests" / "lab"))

from loopback_services import postgres_server, redis_server  # noqa: E402

PYENGINE = [sys.executable, "-m", "pyengine"]
PLAYBOOK = "- hosts: all\n  gather_facts: false\n  tasks:\n    - ping:\n"


def write_project(folder: Path, lab_inventory: Path, count: int) -> None:
    data = yaml.safe_load(lab_inventory.read_text())
    group = data["all"]["children"]["lab"]
    addresses = [v["ansible_host"] for v in group["hosts"].values()]
    hosts = {f"d{index:03d}": {"ansible_host": addresses[index % len(addresses)],
                               "ansible_port": 22}
             for index in range(1, count + 1)}
    inventory = {"all": {"vars": group["vars"], "children": {"light": {"hosts": hosts}}}}
    (folder / "inventory.yml").write_text(yaml.safe_dump(inventory))
    (folder / "ping.yml").write_text(PLAYBOOK)


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def run_workers(folder: Path, env: dict[str, str], workers: int, count: int
                ) -> dict[str, Any]:
    procs = []
    for index in range(workers):
        log = open(folder / f"worker{index}.log", "wb")  # noqa: SIM115
        procs.append(subprocess.Popen([*PYENGINE, "worker", "--name", f"w{index}"],
                                      cwd=folder, env=env, stdout=log,
                                      stderr=subprocess.STDOUT))
        log.close()
    try:
        time.sleep(4)  # workers connected and waiting (startup is not what is measured)
        started = time.monotonic()
        done = subprocess.run([*PYENGINE, "submit", "ping.yml", "-i", "inventory.yml",
                               "--split", str(math.ceil(count / workers)), "--wait",
                               "--report-json", "combined.json"], cwd=folder, env=env,
                              capture_output=True, text=True, timeout=1800)
        wall = time.monotonic() - started
        rss = [round(peak_rss_mb(p.pid), 1) for p in procs]
    finally:
        for proc in procs:
            os.kill(proc.pid, signal.SIGTERM)
        for proc in procs:
            proc.wait(timeout=60)
    combined = json.loads((folder / "combined.json").read_text()) \
        if (folder / "combined.json").exists() else {}
    return {"workers": workers, "wall_s": round(wall, 2), "exit_code": done.returncode,
            "hosts": len(combined.get("hosts", {})), "jobs": len(combined.get("jobs", [])),
            "worker_peak_rss_mb": rss}


def run_plain(folder: Path, env: dict[str, str]) -> dict[str, Any]:
    started = time.monotonic()
    done = subprocess.run([*PYENGINE, "run", "ping.yml", "-i", "inventory.yml", "--quiet",
                           "--report-json", "plain.json"], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=1800)
    wall = time.monotonic() - started
    hosts = len(json.loads((folder / "plain.json").read_text())["hosts"])
    return {"workers": 0, "wall_s": round(wall, 2), "exit_code": done.returncode,
            "hosts": hosts, "jobs": 1, "worker_peak_rss_mb": []}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lab", default="dist")
    parser.add_argument("--hosts", type=int, default=250)
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2, 4])
    args = parser.parse_args()
    lab_inventory = Path(f"/var/lib/pyengine/labs/{args.lab}/inventory.yml")
    rows = []
    with tempfile.TemporaryDirectory(prefix="pyengine-bench-dist-") as tmp, \
            redis_server() as broker, postgres_server() as history:
        folder = Path(tmp)
        write_project(folder, lab_inventory, args.hosts)
        env = {**os.environ, "PYENGINE_BROKER": broker, "PYENGINE_HISTORY_DB": history}
        rows.append(run_plain(folder, env))
        for workers in args.workers:
            rows.append(run_workers(folder, env, workers, args.hosts))
            print(json.dumps(rows[-1]), flush=True)
    print("| workers | jobs | hosts | wall | exit | peak RSS per worker |")
    print("|---:|---:|---:|---:|---:|---|")
    for row in rows:
        name = "plain `run`" if row["workers"] == 0 else str(row["workers"])
        rss = ", ".join(f"{mb:.0f} MB" for mb in row["worker_peak_rss_mb"]) or "-"
        print(f"| {name} | {row['jobs']} | {row['hosts']} | {row['wall_s']:.1f} s | "
              f"{row['exit_code']} | {rss} |")
    (HERE / "distributed-results.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
