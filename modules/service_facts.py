"""Return the host's services as the `services` fact (Ansible's shape).

`ansible_facts.services` maps 'NAME.service' (systemd) or 'NAME' (sysvinit
scripts) to {name, state: running/stopped/unknown, status: enabled/disabled/static/...,
source: systemd/sysv}.
"""

import glob
import os

ARGS = {}


def parse_list_units(text):
    """{unit: (state, load state)} from
    `systemctl list-units --type=service --all --no-legend --plain`."""
    out = {}
    for line in text.splitlines():
        parts = line.strip().lstrip("●* ").split(None, 4)
        if len(parts) < 4 or not parts[0].endswith(".service"):
            continue
        sub = parts[3]
        out[parts[0]] = ("running" if sub == "running" else (
            "stopped" if sub in ("dead", "exited", "failed") else sub), parts[1])
    return out


def parse_unit_files(text):
    """{unit: status} from `systemctl list-unit-files --type=service --no-legend`."""
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) >= 2 and parts[0].endswith(".service"):
            out[parts[0]] = parts[1]
    return out


def main(m):
    services = {}
    ctl = m.which("systemctl")
    if ctl and os.path.isdir("/run/systemd/system"):
        _rc, units, _ = m.run([ctl, "list-units", "--type=service", "--all", "--no-legend",
                               "--plain", "--no-pager"])
        _rc, files, _ = m.run([ctl, "list-unit-files", "--type=service", "--no-legend",
                               "--no-pager"])
        states, statuses = parse_list_units(units), parse_unit_files(files)
        for unit in sorted(set(states) | set(statuses)):
            if unit.endswith("@.service"):
                continue  # templates are not services of their own
            state, load = states.get(unit, ("stopped", "loaded"))
            status = statuses.get(unit, "not-found" if load == "not-found" else "unknown")
            services[unit] = {"name": unit, "state": state, "status": status,
                              "source": "systemd"}
    else:
        for script in sorted(glob.glob("/etc/init.d/*")):
            name = os.path.basename(script)
            if name in ("README", "skeleton", "rc", "rcS") or not os.access(script, os.X_OK):
                continue
            rc, _out, _err = m.run([script, "status"])
            enabled = bool(glob.glob("/etc/rc[2345].d/S??" + name))
            services[name] = {"name": name, "source": "sysv",
                              "state": "running" if rc == 0 else (
                                  "stopped" if rc == 3 else "unknown"),
                              "status": "enabled" if enabled else "disabled"}
    return {"changed": False, "ansible_facts": {"services": services},
            "msg": "%d services" % len(services)}
