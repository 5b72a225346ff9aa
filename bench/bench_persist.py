#!/usr/bin/env python3
"""Cold run vs warm run (`run --persist`) of a small playbook on 1 and 10 lab hosts.

For each added one-way delay (0 and 25 ms: a 50 ms round trip) a lab `persistbench`
of 10 systemd hosts is brought up, the playbook is converged once (not measured), then:
  cold  a plain run (no --persist): TCP + SSH handshake + agent start per host
  first the first --persist run (a cold connect through the owner, which it starts)
  warm  later --persist runs: the owner's warm transports and agents
Wall time of the whole `pyengine run` process; the median of --repeat runs, each listed
with the per-host phases of its JSON report and the machine's load. The lab is taken
down at the end. Run as root from the repository root:
    .venv/bin/python bench/bench_persist.py --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PYENGINE = [sys.executable, "-m", "pyengine"]
LAB = "persistbench"

PLAY = """
- hosts: all
  tasks:
    - file: {path: /tmp/pe-persistbench, state: directory, mode: "0755"}
    - copy: {dest: /tmp/pe-persistbench/motd, content: "hello\\n"}
    - lineinfile: {path: /tmp/pe-persistbench/conf, line: "managed", create: true}
    - command: id -un
      changed_when: false
- hosts: all
  become: true
  tasks:
    - command: id -u
      changed_when: false
"""


def sh(cmd: list[str], env: dict[str, str] | None = None, check: bool = True
       ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, check=check,
                          cwd=ROOT, timeout=600)


def one_run(work: Path, inventory: Path, limit: str, env: dict[str, str],
            extra: list[str]) -> dict[str, Any]:
    report = work / "report.json"
    cmd = PYENGINE + ["run", str(work / "play.yml"), "-i", str(inventory), "-l", limit,
                      "--no-history", "-q", "--report-json", str(report), *extra]
    started = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=work, timeout=300)
    wall = time.perf_counter() - started
    if proc.returncode != 0:
        raise SystemExit(f"run failed: {proc.stdout[-500:]}{proc.stderr[-500:]}")
    data = json.loads(report.read_text())
    phases = {h: v.get("phases", {}) for h, v in data["hosts"].items()}
    return {"wall_s": round(wall, 3), "load1": round(os.getloadavg()[0], 2),
            "phases_h1": phases.get("h1", {})}


def median(runs: list[dict[str, Any]]) -> float:
    return round(statistics.median(r["wall_s"] for r in runs), 3)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--octet", type=int, default=31)
    parser.add_argument("--out", default=str(ROOT / "bench" / "persist-results.json"))
    args = parser.parse_args()
    rows: list[dict[str, Any]] = []
    for delay in (0, 25):
        sh(PYENGINE + ["lab", "down", "--name", LAB], check=False)
        sh(PYENGINE + ["lab", "up", "--name", LAB, "--octet", str(args.octet), "-n", "10",
                       "--delay-ms", str(delay)])
        inventory = Path(f"/var/lib/pyengine/labs/{LAB}/inventory.yml")
        with tempfile.TemporaryDirectory(prefix="pe-persistbench-") as tmp:
            work = Path(tmp)
            (work / "play.yml").write_text(PLAY)
            env = dict(os.environ, PYENGINE_PERSIST_DIR=str(work / "persist"))
            env.pop("PYENGINE_PERSIST", None)
            one_run(work, inventory, "all", env, [])  # converge, not measured
            for hosts, limit in ((1, "h1"), (10, "all")):
                cold = [one_run(work, inventory, limit, env, [])
                        for _ in range(args.repeat)]
                first = one_run(work, inventory, limit, env, ["--persist", "5m"])
                warm = [one_run(work, inventory, limit, env, ["--persist", "5m"])
                        for _ in range(args.repeat)]
                sh(PYENGINE + ["persist", "stop"], env=env, check=False)
                row = {"hosts": hosts, "delay_ms_each_way": delay, "cold_s": median(cold),
                       "first_persist_s": first["wall_s"], "warm_s": median(warm),
                       "runs": {"cold": cold, "first": first, "warm": warm}}
                rows.append(row)
                print(f"{hosts:>2} host(s), {2 * delay:>2} ms RTT: cold {row['cold_s']:.3f} s,"
                      f" first --persist {row['first_persist_s']:.3f} s,"
                      f" warm {row['warm_s']:.3f} s", flush=True)
        sh(PYENGINE + ["lab", "down", "--name", LAB], check=False)
    Path(args.out).write_text(json.dumps({"when": time.strftime("%Y-%m-%d %H:%M UTC",
                                                                time.gmtime()),
                                          "cpus": os.cpu_count(), "rows": rows}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
