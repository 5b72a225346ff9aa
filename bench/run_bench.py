#!/usr/bin/env python3
"""pyengine beside pyinfra and ansible-core: the same 40-task baseline on lab hosts.

Cases (issue 17's "must show"):
  ten       10 systemd hosts at 50 ms round trip (`lab up --delay-ms 25`), ansible-core too
  light100  100 light hosts (`lab up --light`: sshd only, no systemd), no added delay
  light250  250 light hosts, no added delay
Rows per tool and case:
  cold      the first run on hosts where the baseline's files are missing (everything to
            do; a reset playbook removes them before each tool's cold run, not measured)
  no-op     the run after it: nothing to change (a nightly compliance run); --repeat times,
            median shown
  warm      pyengine only, when `run --persist` exists: a no-op run whose SSH connections
            and agents were left warm by the run before it (`--persist 5m`)
Every run is a fresh process and, but for `warm`, a first connection to every host.

Per run: wall time; the tool's CPU (user + system of the process and every child it
waited for, from wait4: ansible's forks and ssh clients included) and peak RSS (the
largest single process); the machine's load average before and after, and the CPU the
machine spent meanwhile split into the tool, the lab (its sshds, the targets' agents and
commands, the delay forwarder) and everything else (other users of the machine).

Light hosts have no systemd: there the four service tasks become four more config lines
for every tool (bench/baseline.py), so each tool still runs the same 40 operations.

Run as root from the repository root (see bench/README.md):
    .venv/bin/python bench/run_bench.py                 # all three cases
    .venv/bin/python bench/run_bench.py --cases ten     # lighter
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
ROOT = HERE.parent
sys.path.insert(0, str(HERE))

import baseline  # noqa: E402

PYENGINE = [str(ROOT / ".venv" / "bin" / "pyengine")]
BENCH_VENV = HERE / ".venv"
LAB_NAME = "bench"
LIGHT_LAB_NAME = "benchlight"
TOOLS = ("pyengine", "pyinfra", "ansible")
# case -> (hosts, one-way delay ms, light hosts)
CASES: dict[str, tuple[int, int, bool]] = {
    "ten": (10, 25, False),
    "light100": (100, 0, True),
    "light250": (250, 0, True),
}
HZ = os.sysconf("SC_CLK_TCK")


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
    rev = sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"], check=False)
    out["pyengine_commit"] = rev.stdout.strip()
    return out


def lab_up(name: str, hosts: int, delay: int, octet: int, light: bool) -> Path:
    sh(PYENGINE + ["lab", "down", "--name", name], check=False)
    cmd = PYENGINE + ["lab", "up", "--name", name, "--octet", str(octet), "-n", str(hosts),
                      "--delay-ms", str(delay)] + (["--light"] if light else [])
    for attempt in (1, 2):  # a busy machine can miss the boot deadline once
        proc = sh(cmd, timeout=1800, check=attempt == 2)
        if proc.returncode == 0:
            break
        sh(PYENGINE + ["lab", "down", "--name", name], check=False)
    return Path(sh(PYENGINE + ["lab", "inventory-path", "--name", name]).stdout.strip())


def lab_hosts(inventory: Path) -> list[dict[str, Any]]:
    import yaml

    data = yaml.safe_load(inventory.read_text())
    lab = data["all"]["children"]["lab"]
    common = lab.get("vars", {})
    return [{"name": n, **common, **(v or {})} for n, v in lab["hosts"].items()]


def limit_of(hosts: list[dict[str, Any]]) -> str:
    return ",".join(h["name"] for h in hosts)


# -- measuring ---------------------------------------------------------------------------
def lab_daemon_pid(name: str) -> int | None:
    """The lab's daemon: its process tree holds the hosts' sshds, agents and commands."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if b"pyengine.lab.daemon" in argv and name.encode() in argv:
            return int(entry)
    return None


def tree_cpu(root: int | None) -> float:
    """CPU seconds of `root` and its descendants, the children they reaped included."""
    if root is None:
        return 0.0
    kids: dict[int, list[int]] = {}
    ticks: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()
        kids.setdefault(int(fields[1]), []).append(int(entry))
        ticks[int(entry)] = sum(int(f) for f in fields[11:15])  # utime stime cutime cstime
    total, todo = 0, [root]
    while todo:
        pid = todo.pop()
        total += ticks.get(pid, 0)
        todo += kids.get(pid, [])
    return total / HZ


def machine_busy() -> float:
    """CPU seconds the whole machine spent not idle (all cores), from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return (sum(values[:8]) - values[3] - values[4]) / HZ


def measured(cmd: list[str], env: dict[str, str], cwd: Path, lab_pid: int | None
             ) -> dict[str, Any]:
    """Run `cmd`: wall, CPU (user+sys, waited children included), peak RSS, and the load."""
    load = os.getloadavg()
    lab0, busy0 = tree_cpu(lab_pid), machine_busy()
    started = time.monotonic()
    with open(cwd / "stdout.txt", "wb") as out, open(cwd / "stderr.txt", "wb") as err:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=out, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.monotonic() - started
    cpu = usage.ru_utime + usage.ru_stime
    lab_cpu, busy = tree_cpu(lab_pid) - lab0, machine_busy() - busy0
    return {"wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
            "rss_mb": round(usage.ru_maxrss / 1024, 1),
            "rc": os.waitstatus_to_exitcode(status),
            "load_before": [round(x, 2) for x in load],
            "load_after": [round(x, 2) for x in os.getloadavg()],
            "machine_cpu_s": round(busy, 2), "lab_cpu_s": round(lab_cpu, 2),
            "others_cpu_s": round(max(busy - cpu - lab_cpu, 0.0), 2),
            "stdout": (cwd / "stdout.txt").read_text(errors="replace"),
            "stderr": (cwd / "stderr.txt").read_text(errors="replace")}


def tool_env(work: Path) -> dict[str, str]:
    """Both Python tools get a bytecode cache: this machine sets PYTHONDONTWRITEBYTECODE,
    which would make every run compile its modules (a wheel install ships .pyc files)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = str(work / "pycache")
    env["ANSIBLE_CONFIG"] = str(work / "ansible.cfg")
    env.pop("PYENGINE_PERSIST", None)
    return env


# -- the tools ---------------------------------------------------------------------------
class Bench:
    """One case's lab, work folder and runners."""

    def __init__(self, work: Path, inventory: Path, hosts: list[dict[str, Any]],
                 services: bool, lab_pid: int | None) -> None:
        self.work = work
        self.inventory = inventory
        self.hosts = hosts
        self.lab_pid = lab_pid
        self.env = tool_env(work)
        (work / "baseline.yml").write_text(baseline.playbook_yaml(services))
        (work / "reset.yml").write_text(baseline.reset_playbook_yaml())
        (work / "baseline_pyinfra.py").write_text(baseline.pyinfra_deploy(services))
        (work / "ansible.cfg").write_text(ansible_cfg(work))
        entries = []
        for h in hosts:
            entries.append((h["ansible_host"], {
                "ssh_port": int(h.get("ansible_port", 22)), "ssh_user": h["ansible_user"],
                "ssh_key": h["ansible_ssh_private_key_file"],
                "ssh_known_hosts_file": h["pyengine_known_hosts"],
                "ssh_strict_host_key_checking": "yes"}))
        (work / "pyinfra_inventory.py").write_text(f"lab = {entries!r}\n")

    def pyengine_cmd(self, playbook: str, extra: list[str] | None = None) -> list[str]:
        return PYENGINE + ["run", str(self.work / playbook), "-i", str(self.inventory),
                           "--limit", limit_of(self.hosts), "--forks", str(len(self.hosts)),
                           "--report-json", str(self.work / "pyengine.json"),
                           "--history-db", str(self.work / "history.db")] + (extra or [])

    def reset(self) -> None:
        sh(self.pyengine_cmd("reset.yml"), env=self.env, cwd=self.work)

    def converge(self) -> None:
        sh(self.pyengine_cmd("baseline.yml"), env=self.env, cwd=self.work)

    def run(self, tool: str, extra: list[str] | None = None) -> dict[str, Any]:
        if tool == "pyengine":
            report = self.work / "pyengine.json"
            report.unlink(missing_ok=True)
            row = measured(self.pyengine_cmd("baseline.yml", extra), self.env, self.work,
                           self.lab_pid)
            if report.exists():
                data = json.loads(report.read_text())
                hosts = list(data["hosts"].values())
                row["ok_hosts"] = sum(1 for h in hosts
                                      if not h["unreachable"] and not h["failed"])
                row["changed"] = sum(h["changed"] for h in hosts)
                row["round_trips"] = sorted({h["round_trips"] for h in hosts})
                row["phases"] = phase_summary([h.get("phases") or {} for h in hosts])
            return row
        if tool == "ansible":
            row = measured([str(BENCH_VENV / "bin" / "ansible-playbook"), "-i",
                            str(self.inventory), "--limit", limit_of(self.hosts), "-f",
                            str(len(self.hosts)), str(self.work / "baseline.yml")],
                           self.env, self.work, self.lab_pid)
            recap = re.findall(r"ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)",
                               row["stdout"])
            row["changed"] = sum(int(r[1]) for r in recap)
            row["ok_hosts"] = sum(1 for r in recap if r[2] == "0" and r[3] == "0")
            return row
        row = measured([str(BENCH_VENV / "bin" / "pyinfra"), "-y", "--parallel",
                        str(len(self.hosts)), str(self.work / "pyinfra_inventory.py"),
                        str(self.work / "baseline_pyinfra.py")], self.env, self.work,
                       self.lab_pid)
        # pyinfra prints its results table on stderr: "Grand total HOSTS SUCCESS ERROR NOCHANGE"
        total = re.search(r"Grand total\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)", row["stderr"])
        if total:
            row["changed"] = int(total.group(2).replace("-", "0"))
            row["errors"] = int(total.group(3).replace("-", "0"))
            row["ok_hosts"] = len(self.hosts) if row["errors"] == 0 else None
        return row


def ansible_cfg(work: Path) -> str:
    return ("[defaults]\nhost_key_checking = True\ninterpreter_python = /usr/bin/python3\n"
            "stdout_callback = default\nretry_files_enabled = False\n"
            f"local_tmp = {work}/ansible-tmp\n"
            "[ssh_connection]\npipelining = True\n"
            f"control_path_dir = {work}/cp\n")


def phase_summary(phases: list[dict[str, Any]]) -> dict[str, float]:
    """Median seconds per phase over the hosts (batches summed per host)."""
    out: dict[str, float] = {}
    for key in ("connect", "auth", "agent_start", "facts", "batches", "teardown"):
        values = [sum(p[key]) if isinstance(p.get(key), list) else p.get(key) for p in phases]
        values = [v for v in values if v is not None]
        if values:
            out[key] = round(statistics.median(values), 3)
    return out


def has_persist() -> bool:
    return "--persist" in sh(PYENGINE + ["run", "--help"]).stdout


# -- the cases ---------------------------------------------------------------------------
def run_case(case: str, args: argparse.Namespace, out: dict[str, Any],
             labs: dict[str, Path]) -> None:
    count, delay, light = CASES[case]
    name = LIGHT_LAB_NAME if light else LAB_NAME
    octet = args.light_octet if light else args.octet
    if name not in labs:  # the light cases share one lab of the largest size asked for
        size = max(CASES[c][0] for c in args.cases if CASES[c][2] == light)
        print(f"lab {name}: {size} {'light' if light else 'systemd'} hosts, {delay} ms "
              "each way", flush=True)
        labs[name] = lab_up(name, size, delay, octet, light)
    inventory = labs[name]
    print(f"{case}: {count} hosts", flush=True)
    work = Path(tempfile.mkdtemp(prefix=f"pe-bench-{case}-"))
    try:
        bench = Bench(work, inventory, lab_hosts(inventory)[:count], services=not light,
                      lab_pid=lab_daemon_pid(name))
        bench.converge()  # warms the hosts' page caches for every tool alike
        tools = [t for t in args.tools if t != "ansible" or count <= args.ansible_max]
        for tool in tools:
            bench.reset()
            record(out, case, count, delay, tool, "cold", [bench.run(tool)])
            repeat = 1 if tool == "ansible" else args.repeat
            record(out, case, count, delay, tool, "no-op",
                   [bench.run(tool) for _ in range(repeat)])
        if "pyengine" in tools and has_persist():
            bench.run("pyengine", ["--persist", "5m"])  # leaves connections warm
            runs = []
            for _ in range(args.repeat):
                runs.append(bench.run("pyengine", ["--persist", "5m"]))
            record(out, case, count, delay, "pyengine", "warm", runs)
            sh(PYENGINE + ["persist", "stop"], env=bench.env, check=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def record(out: dict[str, Any], case: str, hosts: int, delay: int, tool: str, kind: str,
           runs: list[dict[str, Any]]) -> None:
    for r in runs:
        note = f"changed={r.get('changed')} ok_hosts={r.get('ok_hosts')}"
        if "round_trips" in r:
            note += f" round_trips/host={r['round_trips']}"
        print(f"  {tool:<9} {kind:<6} {r['wall_s']:7.2f} s  cpu {r['cpu_s']:6.2f} s  rss "
              f"{r['rss_mb']:6.1f} MB  rc={r['rc']} {note}  load {r['load_before'][0]}"
              f"->{r['load_after'][0]}  others' cpu {r['others_cpu_s']} s", flush=True)
        if r["rc"] != 0:
            print(f"    (rc {r['rc']}) {r['stdout'][-800:]}\n{r['stderr'][-800:]}", flush=True)
        r.pop("stdout", None)
        r.pop("stderr", None)
    summary = {k: statistics.median(r[k] for r in runs) for k in ("wall_s", "cpu_s", "rss_mb")}
    out["rows"].append({"case": case, "hosts": hosts, "delay_ms": delay, "tool": tool,
                        "kind": kind, **summary,
                        "ok": all(r["rc"] == 0 and r.get("ok_hosts") == hosts for r in runs),
                        "changed": runs[-1].get("changed"), "runs": runs})
    Path(out["path"]).write_text(json.dumps({k: v for k, v in out.items() if k != "path"},
                                            indent=1) + "\n")


def print_table(rows: list[dict[str, Any]]) -> None:
    print()
    print(f"{'case':<9} {'row':<6} {'pyengine':>24} {'pyinfra':>24} {'ansible':>24} "
          f"{'pyinfra/pe':>10} {'ansible/pe':>10}")
    keys: list[tuple[str, str]] = []
    for r in rows:
        if (r["case"], r["kind"]) not in keys:
            keys.append((r["case"], r["kind"]))
    for case, kind in keys:
        cell = {r["tool"]: r for r in rows if r["case"] == case and r["kind"] == kind}
        pe = cell.get("pyengine")

        def show(tool: str, cell: dict[str, Any] = cell) -> str:
            r = cell.get(tool)
            return f"{r['wall_s']:.2f}s {r['cpu_s']:.1f}cpu {r['rss_mb']:.0f}MB" if r else "-"

        def ratio(tool: str, cell: dict[str, Any] = cell, pe: Any = pe) -> str:
            r = cell.get(tool)
            return f"{r['wall_s'] / pe['wall_s']:.1f}x" if r and pe else "-"

        print(f"{case:<9} {kind:<6} {show('pyengine'):>24} {show('pyinfra'):>24} "
              f"{show('ansible'):>24} {ratio('pyinfra'):>10} {ratio('ansible'):>10}")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", nargs="+", default=list(CASES), choices=list(CASES))
    ap.add_argument("--tools", nargs="+", default=list(TOOLS), choices=list(TOOLS))
    ap.add_argument("--repeat", type=int, default=3,
                    help="no-op and warm runs per tool and case (median shown); "
                         "ansible-core runs its no-op once")
    ap.add_argument("--ansible-max", type=int, default=10,
                    help="ansible-core only in cases with at most this many hosts")
    ap.add_argument("--octet", type=int, default=7, help="systemd lab at 127.0.<octet>.N")
    ap.add_argument("--light-octet", type=int, default=8, help="light lab at 127.0.<octet>.N")
    ap.add_argument("--keep-lab", action="store_true")
    ap.add_argument("--out", default=str(HERE / "results.json"))
    args = ap.parse_args()
    if os.geteuid() != 0:
        raise SystemExit("the benchmark needs root (it brings up a lab)")
    if "ansible" in args.tools or "pyinfra" in args.tools:
        ensure_tools()
    out: dict[str, Any] = {"path": args.out, "versions": versions(),
                           "machine": {"cpus": os.cpu_count(),
                                       "load_at_start": [round(x, 2)
                                                         for x in os.getloadavg()],
                                       "started": time.strftime("%Y-%m-%d %H:%M:%S UTC",
                                                                time.gmtime())},
                           "rows": []}
    print("versions:", out["versions"], flush=True)
    labs: dict[str, Path] = {}
    try:
        order = sorted(args.cases, key=list(CASES).index)
        for at, case in enumerate(order):
            run_case(case, args, out, labs)
            light = CASES[case][2]
            if not args.keep_lab and all(CASES[c][2] != light for c in order[at + 1:]):
                name = LIGHT_LAB_NAME if light else LAB_NAME  # not needed any more
                sh(PYENGINE + ["lab", "down", "--name", name], check=False)
                labs.pop(name, None)
    finally:
        for name in labs if not args.keep_lab else ():
            sh(PYENGINE + ["lab", "down", "--name", name], check=False)
    out["machine"]["load_at_end"] = [round(x, 2) for x in os.getloadavg()]
    Path(args.out).write_text(json.dumps({k: v for k, v in out.items() if k != "path"},
                                         indent=1) + "\n")
    print_table(out["rows"])
    return 0


if __name__ == "__main__":
    sys.exit(main())
