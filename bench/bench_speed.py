#!/usr/bin/env python3
"""Issue 17's table: pyengine vs pyinfra, wall time, controller CPU and peak RSS.

Cases (each on a fresh lab `speed`, converged once by pyengine, not measured):
  - 10 hosts at 50 ms round trip (`pyengine lab up --delay-ms 25`)
  - 1 host at 50 ms round trip (the same lab, --limit)
  - N hosts, no added delay: N = --many (100), or the largest count the machine's
    inotify limit leaves room for (the lab refuses with the numbers; we step down)
  - --names 250: the controller at scale. The lab cannot hold 250 systemd hosts here,
    so 250 inventory names point round-robin at the N lab hosts, each name with its own
    SSH connection and its own agent. What that measures: the controller's CPU, memory,
    threads and sockets for 250 hosts (every handshake, agent start and batch is real);
    not 250 independent targets (the N sshds and kernels do 250/N hosts' work each).

Per run: wall time, the tool's CPU (user + system of the process and what it waited
for, from wait4) and its peak RSS; the median of --repeat runs is reported, each run
listed in the JSON with the machine's load average while it ran. pyengine's JSON report
gives the per-host phases (connect, auth, agent start, facts, batches, teardown): the
floor is computed from them.

Both tools run with the same bytecode cache settings (this machine's environment sets
PYTHONDONTWRITEBYTECODE, which makes every pyengine run compile ~120 modules; a wheel
install has its .pyc files, so the benchmark uses a cache directory for both).

Run as root from the repository root:
    .venv/bin/python bench/bench_speed.py                 # all cases, 3 repeats
    .venv/bin/python bench/bench_speed.py --cases one ten --repeat 5
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import baseline  # noqa: E402
import run_bench  # noqa: E402

LAB = "speedbench"  # not "speed": the SPEED helper's test lab has that name
PYENGINE = run_bench.PYENGINE
PYINFRA = str(run_bench.BENCH_VENV / "bin" / "pyinfra")


PYENGINE_PATH: str | None = None  # --pyengine-path: another checkout (a "before" run)
BEFORE_PATH: str | None = None  # --before: the tool "before" is pyengine from there


def tool_env(work: Path, pyengine: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    if pyengine:
        env["PYTHONPATH"] = pyengine
    return env


def measured(cmd: list[str], env: dict[str, str], cwd: Path) -> dict[str, Any]:
    """Run `cmd`; wall seconds, CPU seconds (user+sys, children included) and peak RSS."""
    load = os.getloadavg()[0]
    started = time.monotonic()
    with open(cwd / "stdout.txt", "wb") as out, open(cwd / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    return {"wall_s": round(wall, 3), "cpu_s": round(usage.ru_utime + usage.ru_stime, 3),
            "rss_mb": round(usage.ru_maxrss / 1024, 1), "rc": proc.returncode,
            "load": round(load, 2), "stdout": (cwd / "stdout.txt").read_text(errors="replace"),
            "stderr": (cwd / "stderr.txt").read_text(errors="replace")}


def lab_up(hosts: int, delay: int, octet: int) -> int:
    """The lab with `hosts` hosts, or with as many as the inotify budget allows."""
    run_bench.sh(PYENGINE + ["lab", "down", "--name", LAB], check=False)
    count = hosts
    while count >= 1:
        proc = run_bench.sh(PYENGINE + ["lab", "up", "--name", LAB, "--octet", str(octet),
                                        "-n", str(count), "--delay-ms", str(delay)],
                            timeout=900, check=False)
        if proc.returncode == 0:
            return count
        text = proc.stdout + proc.stderr
        run_bench.sh(PYENGINE + ["lab", "down", "--name", LAB], check=False)
        if "did not come up" in text:  # a loaded machine missed the boot deadline
            print(f"  lab: {count} hosts did not all boot; trying {count * 3 // 4}", flush=True)
            count = count * 3 // 4
            continue
        if "room for" not in text:
            raise SystemExit(f"lab up failed:\n{text[-2000:]}")
        room = int(text.split("room for", 1)[1].split()[0])
        print(f"  lab: {count} hosts do not fit (room for {room})", flush=True)
        count = min(count - 1, room)
    raise SystemExit("no room for a lab at all")


def inventory_path() -> Path:
    return Path(run_bench.sh(PYENGINE + ["lab", "inventory-path", "--name", LAB]).stdout.strip())


def names_inventory(work: Path, hosts: list[dict[str, Any]], names: int) -> Path:
    """`names` inventory hosts, round-robin over the lab's hosts (own connection each)."""
    import yaml

    common = {k: v for k, v in hosts[0].items()
              if k not in ("name", "ansible_host", "ansible_port")}
    entries = {f"n{i:03d}": {"ansible_host": hosts[i % len(hosts)]["ansible_host"],
                             "ansible_port": hosts[i % len(hosts)].get("ansible_port", 22)}
               for i in range(names)}
    path = work / f"names{names}.yml"
    path.write_text(yaml.safe_dump({"all": {"children": {"lab": {"hosts": entries,
                                                                  "vars": common}}}}))
    return path


def run_pyengine(work: Path, inventory: Path, limit: str | None, forks: int,
                 path: str | None = None) -> dict[str, Any]:
    report = work / "pyengine.json"
    report.unlink(missing_ok=True)
    cmd = PYENGINE + ["run", str(work / "baseline.yml"), "-i", str(inventory),
                      "--forks", str(forks), "--report-json", str(report),
                      "--history-db", str(work / "history.db")]
    if limit:
        cmd += ["--limit", limit]
    row = measured(cmd, tool_env(work, path or PYENGINE_PATH), work)
    if report.exists():
        data = json.loads(report.read_text())
        hosts = data["hosts"].values()
        row["ok_hosts"] = sum(1 for h in hosts if not h["unreachable"] and not h["failed"])
        row["changed"] = sum(h["changed"] for h in hosts)
        row["controller"] = data.get("controller")
        row["phases"] = phase_summary([h.get("phases") or {} for h in hosts])
    return row


def phase_summary(phases: list[dict[str, Any]]) -> dict[str, float]:
    """Median seconds per phase over the hosts (batches summed per host)."""
    keys = ("connect", "auth", "agent_start", "facts", "batches", "teardown")
    out: dict[str, float] = {}
    for key in keys:
        values = [sum(p[key]) if isinstance(p.get(key), list) else p.get(key) for p in phases]
        values = [v for v in values if v is not None]
        if values:
            out[key] = round(statistics.median(values), 3)
    return out


def run_pyinfra(work: Path, hosts: list[dict[str, Any]], names: int | None = None
                ) -> dict[str, Any]:
    inv = work / "pyinfra_inventory.py"
    entries = []
    count = names or len(hosts)
    for i in range(count):
        h = hosts[i % len(hosts)]
        data = {"ssh_hostname": h["ansible_host"], "ssh_port": int(h.get("ansible_port", 22)),
                "ssh_user": h["ansible_user"], "ssh_key": h["ansible_ssh_private_key_file"],
                "ssh_known_hosts_file": h["pyengine_known_hosts"],
                "ssh_strict_host_key_checking": "yes"}
        entries.append((f"n{i:03d}" if names else h["ansible_host"], data))
    inv.write_text(f"lab = {entries!r}\n")
    deploy = work / "baseline_pyinfra.py"
    deploy.write_text(baseline.pyinfra_deploy())
    row = measured([PYINFRA, "-y", "--parallel", str(count), str(inv), str(deploy)],
                   tool_env(work), work)
    total = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", row["stderr"])
    if total:
        row["changed"] = int(total.group(2).replace("-", "0"))
        row["errors"] = int(total.group(3).replace("-", "0"))
    return row


def repeat(n: int, fn: Any, *args: Any) -> dict[str, Any]:
    runs = []
    for _ in range(n):
        row = fn(*args)
        runs.append(row)
        note = f"ok_hosts={row.get('ok_hosts')}" if "ok_hosts" in row else \
            f"errors={row.get('errors')}"
        print(f"    wall {row['wall_s']:7.2f} s  cpu {row['cpu_s']:6.2f} s  rss "
              f"{row['rss_mb']:6.1f} MB  rc={row['rc']} changed={row.get('changed')} {note} "
              f"load={row['load']}", flush=True)
    bad = [r for r in runs if r["rc"] != 0]
    if bad:  # a failed run's time is not a result
        raise SystemExit(f"run failed (rc={bad[0]['rc']}):\n{bad[0]['stdout'][-1500:]}\n"
                         f"{bad[0]['stderr'][-1500:]}")
    best = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "rss_mb")}
    for r in runs:
        r.pop("stdout", None)
        r.pop("stderr", None)
    return {**best, "runs": runs}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=["ten", "one", "many", "names"],
                    choices=["ten", "one", "many", "names"])
    ap.add_argument("--many", type=int, default=100)
    ap.add_argument("--names", type=int, default=250)
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--tools", nargs="+", default=["pyengine", "pyinfra"],
                    choices=["pyengine", "pyinfra", "before"])
    ap.add_argument("--octet", type=int, default=43)
    ap.add_argument("--out", default=str(HERE / "results_speed.json"))
    ap.add_argument("--pyengine-path", default=None,
                    help="run pyengine from this checkout's folder (PYTHONPATH), e.g. an "
                         "older commit exported with git archive, for before/after numbers")
    ap.add_argument("--before", default=None,
                    help="also run the tool 'before': pyengine from this folder, in the same "
                         "cases and lab (before/after numbers side by side)")
    args = ap.parse_args()
    global PYENGINE_PATH, BEFORE_PATH
    PYENGINE_PATH = args.pyengine_path
    BEFORE_PATH = args.before
    if args.before and "before" not in args.tools:
        args.tools = ["before", *args.tools]
    if os.geteuid() != 0:
        raise SystemExit("the benchmark needs root (it brings up a lab)")
    if "pyinfra" in args.tools:
        run_bench.ensure_tools()
    work = Path(tempfile.mkdtemp(prefix="pe-speed-"))
    (work / "baseline.yml").write_text(baseline.playbook_yaml())
    results: dict[str, Any] = {"machine": {"cpus": os.cpu_count(),
                                           "load_at_start": os.getloadavg()},
                               "pyengine_path": args.pyengine_path, "cases": []}
    try:
        delayed = [c for c in ("ten", "one") if c in args.cases]
        if delayed:
            lab_up(10, 25, args.octet)
            every = run_bench.lab_hosts(inventory_path())
            run_pyengine(work, inventory_path(), None, 10)  # converge (not measured)
            for case in delayed:
                hosts = every[:10] if case == "ten" else every[:1]
                _case(results, args, work, f"{len(hosts)} hosts, 50 ms round trip", hosts,
                      inventory_path(), None)
        undelayed = [c for c in ("many", "names") if c in args.cases]
        if undelayed:
            count = lab_up(args.many, 0, args.octet)
            every = run_bench.lab_hosts(inventory_path())
            run_pyengine(work, inventory_path(), None, count)
            if "many" in undelayed:
                _case(results, args, work, f"{count} hosts, no added delay", every,
                      inventory_path(), None)
            if "names" in undelayed:
                inv = names_inventory(work, every, args.names)
                _case(results, args, work, f"{args.names} names over {count} lab hosts, "
                      "no added delay", every, inv, args.names)
    finally:
        run_bench.sh(PYENGINE + ["lab", "down", "--name", LAB], check=False)
        shutil.rmtree(work, ignore_errors=True)
    results["machine"]["load_at_end"] = os.getloadavg()
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")
    print_table(results["cases"])
    return 0


def _case(results: dict[str, Any], args: Any, work: Path, label: str,
          hosts: list[dict[str, Any]], inventory: Path, names: int | None) -> None:
    print(f"{label}:", flush=True)
    case: dict[str, Any] = {"case": label, "hosts": names or len(hosts)}
    limit = None if names else run_bench.limit_of(hosts)
    count = names or len(hosts)
    for tool in args.tools:
        print(f"  {tool}", flush=True)
        if tool == "pyengine":
            case[tool] = repeat(args.repeat, run_pyengine, work, inventory, limit, count)
        elif tool == "before":
            case[tool] = repeat(args.repeat, run_pyengine, work, inventory, limit, count,
                                BEFORE_PATH)
        else:
            case[tool] = repeat(args.repeat, run_pyinfra, work, hosts, names)
    results["cases"].append(case)
    Path(args.out).write_text(json.dumps(results, indent=1) + "\n")  # kept if a later case fails


def print_table(cases: list[dict[str, Any]]) -> None:
    print()
    print(f"{'case':<44} {'before':>26} {'pyengine':>26} {'pyinfra':>26} {'ratio':>6}")
    for case in cases:
        cells = []
        for tool in ("before", "pyengine", "pyinfra"):
            r = case.get(tool)
            cells.append(f"{r['wall_s']:.2f}s {r['cpu_s']:.2f}cpu {r['rss_mb']:.0f}MB"
                         if r else "-")
        pe, pi = case.get("pyengine"), case.get("pyinfra")
        ratio = f"{pi['wall_s'] / pe['wall_s']:.1f}x" if pe and pi else "-"
        print(f"{case['case']:<44} {cells[0]:>26} {cells[1]:>26} {cells[2]:>26} {ratio:>6}")


if __name__ == "__main__":
    sys.exit(main())
