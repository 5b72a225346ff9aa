#!/usr/bin/env python3
"""Controller memory of a big `copy`: peak RSS of one `pyengine run` per (size, hosts).

Each case runs in its own process so its peak is its own (getrusage of the children).
A file of 256 KiB or more is streamed to the targets in 1 MiB chunks on request
(pyengine/agent/streams.py), so the peak should not grow with the file's size or with
the number of hosts beyond a small buffer per host. Each case copies twice: the second
run finds the same SHA-1 on every host and sends nothing.

Run as root from the repository root (the lab needs root):
    .venv/bin/python bench/bench_memory.py --sizes 100 1024 --hosts 1 10
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
PYENGINE = str(ROOT / ".venv" / "bin" / "pyengine")
LAB = "membench"


def peak_rss_mb(cmd: list[str]) -> tuple[float, float, int]:
    """(peak RSS in MB, wall seconds, exit code) of `cmd` run in a fresh wrapper process."""
    wrapper = ("import resource, subprocess, sys, time; t = time.monotonic(); "
               "rc = subprocess.run(sys.argv[1:], stdout=subprocess.DEVNULL).returncode; "
               "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss, "
               "time.monotonic() - t, rc)")
    out = subprocess.run([sys.executable, "-c", wrapper, *cmd], capture_output=True,
                         text=True, check=True).stdout.split()
    return int(out[0]) / 1024, float(out[1]), int(out[2])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100, 1024], help="MB")
    parser.add_argument("--hosts", type=int, nargs="+", default=[1, 10])
    parser.add_argument("--octet", type=int, default=42)
    parser.add_argument("--keep-lab", action="store_true")
    opts = parser.parse_args()
    subprocess.run([PYENGINE, "lab", "up", "--name", LAB, "--octet", str(opts.octet),
                    "-n", str(max(opts.hosts))], check=True)
    inventory = subprocess.run([PYENGINE, "lab", "inventory-path", "--name", LAB],
                               capture_output=True, text=True, check=True).stdout.strip()
    rows = []
    try:
        with tempfile.TemporaryDirectory(prefix="pyengine-membench-") as tmp:
            for size in opts.sizes:
                payload = Path(tmp) / f"payload-{size}.bin"
                with open(payload, "wb") as fh:
                    block = bytes(range(256)) * 4096  # 1 MiB, not all zeros
                    for _ in range(size):
                        fh.write(block)
                for hosts in opts.hosts:
                    dest = f"/root/pe-membench-{size}.bin"
                    book = Path(tmp) / f"copy-{size}-{hosts}.yml"
                    book.write_text(f"- hosts: lab[0:{hosts - 1}]\n  gather_facts: false\n"
                                    f"  tasks:\n    - copy: {{src: {payload}, dest: {dest}}}\n"
                                    f"    - file: {{path: {dest}, state: absent}}\n"
                                    f"      when: cleanup | default(false) | bool\n")
                    cmd = [PYENGINE, "run", str(book), "-i", inventory]
                    first = peak_rss_mb(cmd)
                    second = peak_rss_mb(cmd)
                    subprocess.run(cmd + ["-e", "cleanup=true"], capture_output=True)
                    row = {"size_mb": size, "hosts": hosts, "peak_rss_mb": round(first[0], 1),
                           "seconds": round(first[1], 1), "exit": first[2],
                           "noop_peak_rss_mb": round(second[0], 1),
                           "noop_seconds": round(second[1], 1)}
                    rows.append(row)
                    print(json.dumps(row), flush=True)
                payload.unlink()
    finally:
        if not opts.keep_lab:
            subprocess.run([PYENGINE, "lab", "down", "--name", LAB], check=False)
    (HERE / "memory-results.json").write_text(json.dumps(
        {"when": time.strftime("%Y-%m-%d %H:%M"), "rows": rows}, indent=2) + "\n")
    print("| file | hosts | peak RSS | time | no-op peak RSS | no-op time |")
    print("|---:|---:|---:|---:|---:|---:|")
    for r in rows:
        print(f"| {r['size_mb']} MB | {r['hosts']} | {r['peak_rss_mb']} MB | {r['seconds']} s "
              f"| {r['noop_peak_rss_mb']} MB | {r['noop_seconds']} s |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
