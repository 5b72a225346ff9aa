"""The 40-task no-op baseline, written once and rendered for each tool.

A realistic hardening mix (lines in config files, folders and file modes, small
managed files, sysctl drop-ins, services), all under paths the benchmark owns on
the lab hosts, so a run after the first changes nothing.

Light lab hosts (`pyengine lab up --light`) run sshd without systemd: there the four
service tasks are replaced by four more lines in a config file (`services=False`), for
every tool alike, so each tool still runs the same 40 operations.
"""

from __future__ import annotations

import json
from typing import Any

ROOT = "/etc/pe-bench"

LINES = [
    ("sshd.conf", "PermitRootLogin", "PermitRootLogin prohibit-password"),
    ("sshd.conf", "PermitEmptyPasswords", "PermitEmptyPasswords no"),
    ("sshd.conf", "X11Forwarding", "X11Forwarding no"),
    ("sshd.conf", "MaxAuthTries", "MaxAuthTries 4"),
    ("sshd.conf", "ClientAliveInterval", "ClientAliveInterval 300"),
    ("login.defs", "PASS_MAX_DAYS", "PASS_MAX_DAYS 365"),
    ("login.defs", "PASS_MIN_DAYS", "PASS_MIN_DAYS 1"),
    ("login.defs", "PASS_WARN_AGE", "PASS_WARN_AGE 7"),
    ("login.defs", "UMASK", "UMASK 027"),
    ("journald.conf", "Storage", "Storage=persistent"),
]
DIRS = [f"{ROOT}/d{i}" for i in range(6)]
MODES = [("sshd.conf", "0600"), ("login.defs", "0644"), ("journald.conf", "0644"),
         ("motd", "0644")]
FILES = [(f"banner{i}", f"Authorised use only ({i}).\n") for i in range(7)] + [
    ("motd", "Managed by the benchmark.\n")]
SYSCTL = [
    ("10-kptr", "kernel.kptr_restrict = 2\n"),
    ("10-dmesg", "kernel.dmesg_restrict = 1\n"),
    ("20-redirects", "net.ipv4.conf.all.accept_redirects = 0\n"),
    ("20-send", "net.ipv4.conf.all.send_redirects = 0\n"),
    ("30-syncookies", "net.ipv4.tcp_syncookies = 1\n"),
    ("30-rpfilter", "net.ipv4.conf.all.rp_filter = 1\n"),
]
SERVICES = ["ssh", "cron", "ssh", "cron"]
# In place of SERVICES on hosts without systemd (same count: the baseline stays 40 tasks).
NO_SERVICE_LINES = [
    ("limits.conf", "core", "* hard core 0"),
    ("limits.conf", "maxlogins", "* hard maxlogins 10"),
    ("limits.conf", "nproc", "* soft nproc 4096"),
    ("limits.conf", "nofile", "* soft nofile 65536"),
]


def task_count() -> int:
    return 1 + len(LINES) + len(DIRS) + len(MODES) + len(FILES) + len(SYSCTL) + 1 + \
        len(SERVICES)


def ansible_playbook(services: bool = True) -> list[dict[str, Any]]:
    """The playbook pyengine and ansible-core both run (Ansible syntax)."""
    tasks: list[dict[str, Any]] = [
        {"name": "bench root", "file": {"path": ROOT, "state": "directory", "mode": "0755"}}]
    for name, regexp, line in LINES:
        tasks.append({"name": f"line {line}", "lineinfile": {
            "path": f"{ROOT}/{name}", "regexp": f"^#?{regexp}", "line": line, "create": True,
            "mode": "0644" if name != "sshd.conf" else "0600"}})
    for d in DIRS:
        tasks.append({"name": f"dir {d}", "file": {"path": d, "state": "directory",
                                                   "mode": "0750"}})
    for name, content in FILES:
        tasks.append({"name": f"file {name}", "copy": {"dest": f"{ROOT}/{name}",
                                                       "content": content, "mode": "0644"}})
    for name, mode in MODES:
        tasks.append({"name": f"mode {name}", "file": {"path": f"{ROOT}/{name}",
                                                       "mode": mode}})
    tasks.append({"name": "sysctl.d folder", "file": {"path": f"{ROOT}/sysctl.d",
                                                      "state": "directory"}})
    for name, content in SYSCTL:
        tasks.append({"name": f"sysctl {name}", "copy": {
            "dest": f"{ROOT}/sysctl.d/{name}.conf", "content": content, "mode": "0644"}})
    if services:
        for svc in SERVICES:
            tasks.append({"name": f"service {svc}", "service": {"name": svc,
                                                                 "state": "started"}})
    else:
        for name, regexp, line in NO_SERVICE_LINES:
            tasks.append({"name": f"line {line}", "lineinfile": {
                "path": f"{ROOT}/{name}", "regexp": f"^#?{_re(regexp)}", "line": line,
                "create": True, "mode": "0644"}})
    assert len(tasks) == 40, len(tasks)
    return [{"name": "bench baseline", "hosts": "lab", "gather_facts": False, "tasks": tasks}]


def _re(word: str) -> str:
    """The limits.conf lines are matched by their item (`* hard core ...`)."""
    return f"\\* [^ ]+ {word} " if word in ("core", "maxlogins", "nproc", "nofile") else word


def playbook_yaml(services: bool = True) -> str:
    import yaml

    return yaml.safe_dump(ansible_playbook(services), sort_keys=False)


def reset_playbook_yaml() -> str:
    """Removes what the baseline manages (its files and folders): the next run is cold."""
    import yaml

    play = {"name": "bench reset", "hosts": "lab", "gather_facts": False,
            "tasks": [{"name": "remove the bench tree",
                       "file": {"path": ROOT, "state": "absent"}}]}
    return yaml.safe_dump([play], sort_keys=False)


def pyinfra_deploy(services: bool = True) -> str:
    """The same 40 operations as a pyinfra deploy file."""
    out = ["from io import StringIO", "from pyinfra.operations import files, systemd", "",
           f"files.directory(name='bench root', path={ROOT!r}, mode='755')"]
    for name, regexp, line in LINES:
        out.append(f"files.line(name={('line ' + line)!r}, path={ROOT + '/' + name!r}, "
                   f"line={('^#?' + regexp + '.*')!r}, replace={line!r})")
    for d in DIRS:
        out.append(f"files.directory(name={('dir ' + d)!r}, path={d!r}, mode='750')")
    for name, content in FILES:
        out.append(f"files.put(name={('file ' + name)!r}, src=StringIO({content!r}), "
                   f"dest={ROOT + '/' + name!r}, mode='644')")
    for name, mode in MODES:
        out.append(f"files.file(name={('mode ' + name)!r}, path={ROOT + '/' + name!r}, "
                   f"mode={mode[1:]!r}, touch=False)")
    out.append(f"files.directory(name='sysctl.d folder', path={ROOT + '/sysctl.d'!r})")
    for name, content in SYSCTL:
        out.append(f"files.put(name={('sysctl ' + name)!r}, src=StringIO({content!r}), "
                   f"dest={ROOT + '/sysctl.d/' + name + '.conf'!r}, mode='644')")
    if services:
        for svc in SERVICES:
            out.append(f"systemd.service(name={('service ' + svc)!r}, service={svc!r}, "
                       "running=True)")
    else:
        for name, regexp, line in NO_SERVICE_LINES:
            out.append(f"files.line(name={('line ' + line)!r}, path={ROOT + '/' + name!r}, "
                       f"line={('^#?' + _re(regexp) + '.*')!r}, replace={line!r})")
    return "\n".join(out) + "\n"


if __name__ == "__main__":
    print(json.dumps(ansible_playbook(), indent=1))
