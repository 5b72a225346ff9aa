#!/usr/bin/env python3
"""devsec.hardening in check mode: ansible-playbook --check (h1) beside pyengine --check (h2).

Both hosts start pristine. Each tool runs the README playbook once with --check; what
each reports (changed counts, failures, the tasks only one of them calls changed) is
compared, and each host's /etc, /home, /root (and /usr modes) after the run is compared
with the same host before it: check mode must leave both untouched. Same inputs as
devsec.py (playbook, inventory, ansible.cfg, lab vars).

Run as root from the repository root (see bench/compat/README.md):
    .venv/bin/python bench/compat/devsec_check.py
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import devsec  # noqa: E402
import devsec_source as collection  # noqa: E402
import devsec_state as snapshot  # noqa: E402

from pyengine.lab.lab import Lab  # noqa: E402


def write_reports(out: Path, result: dict[str, Any]) -> None:
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"devsec.hardening {result['collection_version']} in check mode — ansible-playbook "
             f"--check on {devsec.ANSIBLE_HOST}, pyengine --check on {devsec.PYENGINE_HOST}",
             "", f"versions: {result['versions']}", ""]
    for run in result["runs"]:
        lines.append(f"{run['tool']:<17} --check: {run['wall_s']:7.1f} s  exit "
                     f"{run['exit_code']}  changed={run['changed']} failed={run['failed']}")
        lines += [f"    FAILED {name}" for name in run["failed_tasks"]]
    only_a, only_p = devsec.changed_task_differences(result["runs"])
    lines += ["", "tasks reported changed by one tool only:"]
    lines += [f"    ansible only:  {name}" for name in only_a]
    lines += [f"    pyengine only: {name}" for name in only_p]
    for host, diffs in result["moved"].items():
        lines += ["", f"{host}: {len(diffs)} differences after the check run vs before"]
        lines += [f"    {d['kind']:<10} {d['path']} before={d['left']!r} after={d['right']!r}"
                  for d in diffs]
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="compat", help="lab name")
    ap.add_argument("--octet", type=int, default=38, help="lab hosts at 127.0.<octet>.N")
    ap.add_argument("--out", default=str(HERE / "results-check"),
                    help="report path without suffix (.json and .txt are written)")
    ap.add_argument("--keep-work", action="store_true", help="keep the temp folder")
    args = ap.parse_args()
    source = collection.source_for_a_lab_run()
    work = Path(tempfile.mkdtemp(prefix="pe-compat-check-"))
    try:
        lab = Lab(args.name, args.octet)
        lab.up(2)
        hosts = [devsec.ANSIBLE_HOST, devsec.PYENGINE_HOST]
        print(f"resetting {', '.join(hosts)} to pristine ...", flush=True)
        lab.reset(hosts=hosts)
        inputs = devsec.prepare(work, lab, source, lab.host(devsec.ANSIBLE_HOST))
        before = {name: snapshot.capture(lab.host(name)) for name in hosts}
        runs = [devsec.run_ansible(work, inputs.env, 1, extra_args=("--check",)),
                devsec.run_pyengine(work, inputs.env, 1, extra_args=("--check",))]
        for run in runs:
            print(f"{run.tool:<17} --check: {run.wall_s:7.1f} s exit {run.exit_code} "
                  f"changed={run.changed} failed={run.failed}", flush=True)
        moved = {name: [d.to_dict() for d in snapshot.compare(
            before[name], snapshot.capture(lab.host(name)))] for name in hosts}
        result = {
            "collection_version": collection.version(inputs.collection),
            "versions": devsec.versions(inputs.env),
            "lab_vars": inputs.lab_vars,
            "runs": [{**asdict(r), "log": Path(r.log).name} for r in runs],
            "moved": moved,
        }
        write_reports(Path(args.out), result)
        print(f"report: {Path(args.out).with_suffix('.txt')}", flush=True)
    finally:
        if args.keep_work:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
