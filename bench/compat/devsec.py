#!/usr/bin/env python3
"""devsec.hardening run unedited by ansible-playbook (lab host h1) and pyengine (h2).

Both hosts start from the lab's pristine image. The playbook is the two roles' README
"Example Playbook" (see PLAYBOOK); the collection is copied into a temporary collections
path given to both tools as ANSIBLE_COLLECTIONS_PATH, and the collections it depends on
(ansible.posix, community.general, community.crypto) come from `pip install ansible` in
the venv. Each tool runs twice (the second run of pyengine must report 0 changed); the
end states under /etc, /home and /root are then compared (devsec_state.py) and the
differences written as JSON and text.

Run as root from the repository root (see bench/compat/README.md):
    DEVSEC_COLLECTION_SRC=/path/to/ansible-collection-hardening \
        .venv/bin/python bench/compat/devsec.py
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
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))

import devsec_source as collection  # noqa: E402
import devsec_state as snapshot  # noqa: E402

from pyengine.lab.config import LAB_USER  # noqa: E402
from pyengine.lab.lab import Lab, LabHost  # noqa: E402

VENV_BIN = ROOT / ".venv" / "bin"
ANSIBLE_HOST = "h1"
PYENGINE_HOST = "h2"
# Which variant ansible-playbook last ran on h1 (under /var, which is not compared).
STATE_MARK = "/var/tmp/pe-compat-ansible-variant"

# The roles' README "Example Playbook" sections, verbatim, one play each.
PLAYBOOK = """\
# devsec.hardening, as roles/os_hardening/README.md and roles/ssh_hardening/README.md show it.
- hosts: all
  become: true
  roles:
    - name: devsec.hardening.os_hardening

- hosts: all
  become: true
  roles:
    - name: devsec.hardening.ssh_hardening
"""


# The READMEs' other usage examples (os_hardening "Changing sysctl variables",
# ssh_hardening "ssh_custom_options"), role names in the short form; only `hosts: localhost`
# becomes `hosts: all` with `become: true` to reach a lab host.
PLAYBOOK_CUSTOM = """\
# devsec.hardening, the READMEs' examples with variables (hosts: localhost -> all, become).
- hosts: all
  become: true
  roles:
    - devsec.hardening.os_hardening
  vars:
    sysctl_overwrite:
      # Enable IPv4 traffic forwarding.
      net.ipv4.ip_forward: 1

- hosts: all
  become: true
  roles:
    - devsec.hardening.ssh_hardening
  vars:
    ssh_custom_options:
      - "Include /etc/ssh/ssh_config.d/*"
    sshd_custom_options:
      - "AcceptEnv LANG"
"""

PLAYBOOKS = {"example": PLAYBOOK, "custom": PLAYBOOK_CUSTOM}


@dataclass
class Run:
    tool: str
    host: str
    attempt: int
    wall_s: float
    exit_code: int
    changed: int | None
    failed: int | None
    changed_tasks: list[str] = field(default_factory=list)
    failed_tasks: list[str] = field(default_factory=list)
    log: str = ""


def sh(cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None,
       timeout: float = 3600) -> subprocess.CompletedProcess[str]:
    return subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd,
                          timeout=timeout)


# -- inputs both tools share --------------------------------------------------------------

def write_inventory(lab: Lab, path: Path) -> None:
    """The lab's hosts, logging in as the sudo user: ssh_hardening sets
    PermitRootLogin no, so a root login would lock the second run out."""
    hosts = {h.name: {"ansible_host": h.address, "ansible_port": h.port} for h in lab.hosts}
    group_vars = {
        "ansible_user": LAB_USER,
        "ansible_ssh_private_key_file": str(lab.private_key_path),
        "pyengine_known_hosts": str(lab.known_hosts_path),
        "ansible_ssh_common_args": (f"-o UserKnownHostsFile={lab.known_hosts_path} "
                                    "-o StrictHostKeyChecking=yes"),
        "ansible_python_interpreter": "/usr/bin/python3",
    }
    data = {"all": {"children": {"lab": {"hosts": hosts, "vars": group_vars}}}}
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def ansible_cfg(work: Path) -> str:
    return ("[defaults]\nhost_key_checking = True\nretry_files_enabled = False\n"
            "stdout_callback = default\n"
            f"local_tmp = {work}/ansible-local\n"
            "[ssh_connection]\npipelining = True\n"
            f"control_path_dir = {work}/cp\n")


def role_sysctls(coll: Path) -> dict[str, Any]:
    """The sysctls os_hardening sets on Debian: sysctl_config (defaults) combined with
    sysctl_custom_config (vars/Debian.yml), as tasks/sysctl.yml combines them."""
    role = coll / "roles" / "os_hardening"
    keys = dict(yaml.safe_load((role / "defaults" / "main.yml").read_text())["sysctl_config"])
    debian = yaml.safe_load((role / "vars" / "Debian.yml").read_text()) or {}
    keys.update(debian.get("sysctl_custom_config") or {})
    return keys


def unsettable_sysctls(host: LabHost, keys: list[str]) -> dict[str, list[str]]:
    """The role's keys a lab host cannot set, split by cause. `read_only`: they exist but
    only /proc/sys/net is writable in a lab host (its own network namespace; the rest is
    the machine's). `absent`: the machine's kernel, which lab hosts share, lacks them
    (Debian-only or not built in); Ansible's sysctl with `ignoreerrors` then reports them
    changed on every run."""
    probe = ("import os, sys\n"
             "for k in sys.argv[1:]:\n"
             "    p = '/proc/sys/' + k.replace('.', '/')\n"
             "    if not os.path.exists(p): print('absent', k)\n"
             "    elif not os.access(p, os.W_OK): print('read_only', k)\n")
    proc = host.exec(["python3", "-c", probe, *keys])
    found: dict[str, list[str]] = {"read_only": [], "absent": []}
    for line in proc.stdout.splitlines():
        cause, key = line.split()
        found[cause].append(key)
    return found


def lab_vars(sysctls: dict[str, list[str]]) -> dict[str, Any]:
    """Extra vars (-e @lab_vars.yml) for both tools, only for what a lab host cannot do.
    `sysctl_unsupported_entries` is the role's own knob for keys a platform lacks
    (tasks/sysctl.yml `when: item.key not in sysctl_unsupported_entries`).
    `molecule_yml.driver.name: docker` is the role's own switch for containers: its
    auditd restart handler is skipped (auditd cannot start without CAP_AUDIT_CONTROL,
    which lab hosts do not have); auditd is still installed and configured."""
    return {"sysctl_unsupported_entries": sorted(sysctls["read_only"] + sysctls["absent"]),
            "molecule_yml": {"driver": {"name": "docker"}}}


@dataclass
class Inputs:
    collection: Path
    lab_vars: dict[str, Any]
    unsettable: dict[str, list[str]]
    env: dict[str, str]


def prepare(work: Path, lab: Lab, source: Path, probe: LabHost,
            playbook: str = PLAYBOOK) -> Inputs:
    """Everything both tools read, in `work`: the collection in `work`/collections, the
    inventory, ansible.cfg, site.yml (PLAYBOOK) and lab_vars.yml (probed on `probe`)."""
    coll = collection.install(source, work / "collections")
    write_inventory(lab, work / "inventory.yml")
    (work / "ansible.cfg").write_text(ansible_cfg(work))
    (work / "site.yml").write_text(playbook)
    unsettable = unsettable_sysctls(probe, sorted(role_sysctls(coll)))
    extra = lab_vars(unsettable)
    (work / "lab_vars.yml").write_text(yaml.safe_dump(extra))
    return Inputs(coll, extra, unsettable, tool_env(work, work / "collections"))


# -- the two tools --------------------------------------------------------------------------

def tool_env(work: Path, collections_dir: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("ANSIBLE_")}
    env.update(ANSIBLE_CONFIG=str(work / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(collections_dir),
               ANSIBLE_HOME=str(work / "ansible-home"), NO_COLOR="1")
    return env


def run_ansible(work: Path, env: dict[str, str], attempt: int,
                extra_args: tuple[str, ...] = ()) -> Run:
    cmd = [str(VENV_BIN / "ansible-playbook"), "-i", str(work / "inventory.yml"),
           "--limit", ANSIBLE_HOST, "-e", f"@{work / 'lab_vars.yml'}", *extra_args,
           str(work / "site.yml")]
    started = time.monotonic()
    proc = sh(cmd, env=env, cwd=work)
    wall = time.monotonic() - started
    log = work / f"ansible-{attempt}.log"
    log.write_text(proc.stdout + proc.stderr)
    recap = re.search(rf"^{ANSIBLE_HOST}\s+:.*?changed=(\d+).*?failed=(\d+)", proc.stdout,
                      re.M)
    changed_tasks, failed_tasks = _ansible_task_outcomes(proc.stdout)
    return Run("ansible-playbook", ANSIBLE_HOST, attempt, round(wall, 1), proc.returncode,
               int(recap.group(1)) if recap else None, int(recap.group(2)) if recap else None,
               changed_tasks, failed_tasks, str(log))


def _ansible_task_outcomes(stdout: str) -> tuple[list[str], list[str]]:
    changed: list[str] = []
    failed: list[str] = []
    task = ""
    for line in stdout.splitlines():
        header = re.match(r"^(?:TASK|RUNNING HANDLER) \[(.*)\]", line)
        if header:
            task = header.group(1)
        elif line.startswith("changed: ") and (not changed or changed[-1] != task):
            changed.append(task)
        elif line.startswith(("fatal: ", "failed: ")) and "...ignoring" not in line \
                and (not failed or failed[-1] != task):
            failed.append(task)
    return changed, failed


def run_pyengine(work: Path, env: dict[str, str], attempt: int,
                 host: str = PYENGINE_HOST, extra_args: tuple[str, ...] = ()) -> Run:
    report = work / f"pyengine-{attempt}.json"
    report.unlink(missing_ok=True)
    cmd = [str(VENV_BIN / "pyengine"), "run", str(work / "site.yml"),
           "-i", str(work / "inventory.yml"), "--limit", host,
           "-e", f"@{work / 'lab_vars.yml'}", "--report-json", str(report), "--no-history",
           *extra_args]
    started = time.monotonic()
    proc = sh(cmd, env=env, cwd=work)
    wall = time.monotonic() - started
    log = work / f"pyengine-{attempt}.log"
    log.write_text(proc.stdout + proc.stderr)
    changed = failed = None
    changed_tasks: list[str] = []
    failed_tasks: list[str] = []
    if report.is_file():
        outcome = json.loads(report.read_text())["hosts"].get(host, {})
        changed, failed = outcome.get("changed"), outcome.get("failed")
        for task in outcome.get("tasks", []):
            if task.get("status") == "changed":
                changed_tasks.append(task["name"])
            elif task.get("status") == "failed" and not task.get("ignored"):
                failed_tasks.append(f"{task['name']}: {str(task.get('msg', ''))[:300]}")
    if not failed_tasks and proc.returncode != 0:
        failed_tasks.append(_last_lines(proc.stdout + proc.stderr))
    return Run("pyengine", host, attempt, round(wall, 1), proc.returncode, changed,
               failed, changed_tasks, failed_tasks, str(log))


def _last_lines(text: str, count: int = 6) -> str:
    return " | ".join(line for line in text.strip().splitlines()[-count:])


def versions(env: dict[str, str]) -> dict[str, str]:
    core = sh([str(VENV_BIN / "ansible-playbook"), "--version"], env=env).stdout
    first = core.splitlines()[0] if core else "?"
    pkg = sh([str(VENV_BIN / "python"), "-c",
              "import importlib.metadata as m; print(m.version('ansible'))"]).stdout.strip()
    return {"ansible-core": first.split("[core")[-1].strip(" ]"), "ansible": pkg or "?",
            "pyengine": sh([str(VENV_BIN / "pyengine"), "--version"]).stdout.strip(),
            "pyengine-commit": sh(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"])
            .stdout.strip()}


# -- report ---------------------------------------------------------------------------------

def changed_task_differences(runs: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """Names of the tasks only one tool reported changed in its first run (ansible's
    'ROLE : ' prefix and pyengine's 'handler ' prefix dropped)."""
    def names(tool: str) -> list[str]:
        for run in runs:
            if run["tool"] == tool and run["attempt"] == 1:
                return [re.sub(r"^(handler |[\w.]+ : )", "", n) for n in run["changed_tasks"]]
        return []
    ansible, pyengine = names("ansible-playbook"), names("pyengine")
    return ([n for n in ansible if n not in pyengine], [n for n in pyengine if n not in ansible])


def write_reports(out: Path, result: dict[str, Any], diffs_text: dict[str, str]) -> None:
    out.with_suffix(".json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"devsec.hardening {result['collection_version']} — ansible-playbook on "
             f"{ANSIBLE_HOST}, pyengine on {PYENGINE_HOST}", ""]
    lines += [f"versions: {result['versions']}", f"lab vars: {result['lab_vars']}", ""]
    for run in result["runs"]:
        lines.append(f"{run['tool']:<17} run {run['attempt']}: {run['wall_s']:7.1f} s  "
                     f"exit {run['exit_code']}  changed={run['changed']} failed={run['failed']}")
        for name in run["failed_tasks"]:
            lines.append(f"    FAILED {name}")
        if run["attempt"] == 2:
            for name in run["changed_tasks"]:
                lines.append(f"    changed: {name}")
    only_a, only_p = changed_task_differences(result["runs"])
    lines += ["", "tasks changed in run 1 by one tool only:"]
    lines += [f"    ansible only:  {name}" for name in only_a]
    lines += [f"    pyengine only: {name}" for name in only_p]
    lines += ["", f"pristine {ANSIBLE_HOST} vs {PYENGINE_HOST} (after ignores): "
              f"{len(result['pristine_differences'])} differences",
              f"end state {ANSIBLE_HOST} (ansible) vs {PYENGINE_HOST} (pyengine): "
              f"{len(result['differences'])} differences", ""]
    for diff in result["differences"]:
        lines.append(f"{diff['kind']:<10} {diff['path']}  ansible={diff['left']!r} "
                     f"pyengine={diff['right']!r}")
    for path, text in diffs_text.items():
        lines += ["", f"--- content of {path}", text.rstrip()]
    out.with_suffix(".txt").write_text("\n".join(lines) + "\n")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--name", default="compat", help="lab name")
    ap.add_argument("--octet", type=int, default=38, help="lab hosts at 127.0.<octet>.N")
    ap.add_argument("--only", choices=["both", "pyengine", "ansible"], default="both",
                    help="pyengine: reset and run only h2, compare with h1 as it stands "
                         "(ansible's runs taken from the previous results)")
    ap.add_argument("--variant", choices=sorted(PLAYBOOKS), default="example",
                    help="example: the roles' 'Example Playbook' (default); custom: the "
                         "READMEs' examples with variables")
    ap.add_argument("--out", help="report path without suffix (.json and .txt are "
                                  "written; default bench/compat/results[-VARIANT])")
    ap.add_argument("--keep-work", action="store_true", help="keep the temp folder")
    ap.add_argument("--max-diff-lines", type=int, default=60)
    args = ap.parse_args()
    source = collection.source_for_a_lab_run()

    work = Path(tempfile.mkdtemp(prefix="pe-compat-"))
    out = Path(args.out or HERE / ("results" if args.variant == "example"
                                   else f"results-{args.variant}"))
    previous: dict[str, Any] = {}
    if args.only == "pyengine" and out.with_suffix(".json").is_file():
        previous = json.loads(out.with_suffix(".json").read_text())
    try:
        lab = Lab(args.name, args.octet)
        lab.up(2)
        if args.only == "pyengine":
            _require_ansible_state(lab, args.variant)
        to_reset = {"both": [ANSIBLE_HOST, PYENGINE_HOST], "pyengine": [PYENGINE_HOST],
                    "ansible": [ANSIBLE_HOST]}[args.only]
        print(f"resetting {', '.join(to_reset)} to pristine ...", flush=True)
        lab.reset(hosts=to_reset)
        pristine: list[snapshot.Difference] = []
        if args.only == "both":
            pristine = snapshot.compare(snapshot.capture(lab.host(ANSIBLE_HOST)),
                                        snapshot.capture(lab.host(PYENGINE_HOST)))
        inputs = prepare(work, lab, source, lab.host(ANSIBLE_HOST), PLAYBOOKS[args.variant])
        env = inputs.env

        runs: list[Run] = []
        if args.only in ("both", "ansible"):
            for attempt in (1, 2):
                runs.append(run_ansible(work, env, attempt))
                _say(runs[-1])
            lab.host(ANSIBLE_HOST).exec(["sh", "-c", f"echo {args.variant} > {STATE_MARK}"])
        else:
            runs += [Run(**r) for r in previous.get("runs", []) if r["tool"] != "pyengine"]
        if args.only in ("both", "pyengine"):
            for attempt in (1, 2):
                runs.append(run_pyengine(work, env, attempt))
                _say(runs[-1])
        else:
            runs += [Run(**r) for r in previous.get("runs", []) if r["tool"] == "pyengine"]

        left, right = lab.host(ANSIBLE_HOST), lab.host(PYENGINE_HOST)
        diffs = snapshot.compare(snapshot.capture(left), snapshot.capture(right))
        texts: dict[str, str] = {}
        for diff in diffs:
            if diff.kind == "content" and diff.path not in texts:
                text = snapshot.content_diff(left, right, diff.path).splitlines()
                if len(text) > args.max_diff_lines:
                    text = text[:args.max_diff_lines] + [f"... ({len(text)} lines)"]
                texts[diff.path] = "\n".join(text)
        result = {
            "collection_version": collection.version(inputs.collection),
            "collection_source": source.name,
            "versions": versions(env),
            "playbook": PLAYBOOKS[args.variant],
            "lab_vars": inputs.lab_vars,
            "unsettable_sysctls": inputs.unsettable,
            "runs": [{**asdict(r), "log": Path(r.log).name} for r in runs],
            "pristine_differences": [d.to_dict() for d in pristine]
            if args.only == "both" else previous.get("pristine_differences", []),
            "differences": [d.to_dict() for d in diffs],
            "content_diffs": texts,
            "ignored": [{"glob": g, "reason": r} for g, r in snapshot.IGNORED],
            "content_not_compared": [{"glob": g, "reason": r}
                                     for g, r in snapshot.UNIQUE_CONTENT],
            "normalised": [{"regex": p, "reason": r} for p, _, r in snapshot.NORMALISED],
        }
        write_reports(out, result, texts)
        print(f"{len(diffs)} differences; report: {out.with_suffix('.txt')}", flush=True)
    finally:
        if args.keep_work:
            print(f"work folder kept: {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 0


def _require_ansible_state(lab: Lab, variant: str) -> None:
    """--only pyengine compares with h1 as ansible left it: it must hold that variant."""
    proc = lab.host(ANSIBLE_HOST).exec(["cat", STATE_MARK], check=False)
    found = proc.stdout.strip() if proc.returncode == 0 else "nothing (reset or never run)"
    if found != variant:
        raise SystemExit(f"{ANSIBLE_HOST} holds ansible's end state of {found}, not of "
                         f"--variant {variant}: run without --only first")


def _say(run: Run) -> None:
    print(f"{run.tool:<17} {run.host} run {run.attempt}: {run.wall_s:7.1f} s exit "
          f"{run.exit_code} changed={run.changed} failed={run.failed}", flush=True)
    for name in run.failed_tasks[:10]:
        print(f"    FAILED {name}", flush=True)


if __name__ == "__main__":
    sys.exit(main())
