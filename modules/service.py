"""Start, stop, restart or reload a service and set whether it starts at boot.

Works with the host's init system (fact `ansible_service_mgr`, or `use`):
systemd through systemctl, sysvinit through the /etc/init.d script with
update-rc.d or chkconfig for boot links. For unit masking, daemon-reload or user
units use the `systemd` module.
"""

import glob
import os
import time

ARGS = {
    "name": {"type": "str", "required": True, "help": "The service's name."},
    "state": {"type": "str", "choices": ["reloaded", "restarted", "started", "stopped"],
              "help": "started/stopped only change what differs; restarted/reloaded always act."},
    "enabled": {"type": "bool", "help": "Start the service at boot."},
    "sleep": {"type": "int", "help": "With restarted (sysvinit): seconds between stop and start."},
    "pattern": {"type": "str",
                "help": "(sysvinit) the service runs when a process command line contains this."},
    "arguments": {"type": "str", "default": "", "aliases": ["args"],
                  "help": "(sysvinit) extra words passed to the init script."},
    "runlevel": {"type": "str", "default": "default",
                 "help": "Accepted for Ansible compatibility (OpenRC only)."},
    "use": {"type": "str", "default": "auto",
            "help": "The init system: auto (from facts), systemd or sysvinit."},
}


def plan_state(want, running):
    """The verb for `state` given whether the service runs now, or None."""
    if want == "started":
        return None if running else "start"
    if want == "stopped":
        return "stop" if running else None
    if want == "restarted":
        return "restart"
    if want == "reloaded":
        return "reload" if running else "start"
    return None


class Systemd(object):
    """systemctl for the basic verbs (a small copy of what `systemd` does)."""

    def __init__(self, m, name):
        self.m, self.name = m, name
        self.ctl = m.which("systemctl", required=True)
        rc, out, _ = m.run([self.ctl, "show", name, "--property=LoadState"])
        if out.strip() == "LoadState=not-found":
            m.fail("Could not find the requested service %s: host" % name)

    def running(self):
        _rc, out, _ = self.m.run([self.ctl, "is-active", self.name])
        return out.strip() in ("active", "activating", "reloading")

    def enabled(self):
        """True/False, or None for a static unit (nothing to enable: no [Install])."""
        rc, out, _ = self.m.run([self.ctl, "is-enabled", self.name])
        if out.strip() == "static":
            self.m.warn("unit %s is static: it has no [Install] section to enable" % self.name)
            return None
        return rc == 0 and out.strip() not in ("masked", "indirect", "generated")

    def act(self, verb):
        self.m.run([self.ctl, verb, self.name], check=True)

    def set_enabled(self, enabled):
        self.act("enable" if enabled else "disable")


class SysV(object):
    """An /etc/init.d script, with update-rc.d or chkconfig for the boot links."""

    def __init__(self, m, name):
        self.m, self.name, self.p = m, name, m.params
        self.script = "/etc/init.d/" + name
        if not os.path.isfile(self.script):
            m.fail("Could not find the requested service %s: no %s" % (name, self.script))

    def running(self):
        pattern = self.p.get("pattern")
        if pattern:
            return any(pattern in cmd for cmd in _cmdlines())
        rc, _out, _err = self.m.run([self.script, "status"])
        return rc == 0

    def enabled(self):
        return bool(glob.glob("/etc/rc[2345].d/S??%s" % self.name))

    def act(self, verb):
        extra = self.p.get("arguments", "").split()
        if verb == "restart" and self.p.get("sleep"):
            self.m.run([self.script, "stop"] + extra, check=True)
            time.sleep(self.p["sleep"])
            verb = "start"
        self.m.run([self.script, verb] + extra, check=True)

    def set_enabled(self, enabled):
        tool = self.m.which("update-rc.d")
        if tool:
            if enabled:
                self.m.run([tool, self.name, "defaults"], check=True)
            self.m.run([tool, self.name, "enable" if enabled else "disable"], check=True)
            return
        tool = self.m.which("chkconfig", required=True)
        self.m.run([tool, self.name, "on" if enabled else "off"], check=True)


def _cmdlines():
    for path in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(path, "rb") as handle:
                yield handle.read().replace(b"\0", b" ").decode("utf-8", "replace")
        except (IOError, OSError):
            continue


def _manager(m):
    use = m.params.get("use") or "auto"
    if use == "auto":
        use = m.facts.get("ansible_service_mgr") or (
            "systemd" if os.path.isdir("/run/systemd/system") else "sysvinit")
    if use not in ("systemd", "sysvinit"):
        m.fail("service manager %r is not supported here (systemd or sysvinit)" % use)
    return use


def main(m):
    p = m.params
    if not p.get("state") and p.get("enabled") is None:
        m.fail("one of state or enabled is required")
    mgr = _manager(m)
    backend = (Systemd if mgr == "systemd" else SysV)(m, p["name"])
    running = backend.running()
    steps = []
    enabled_before = None
    if p.get("enabled") is not None:
        enabled_before = backend.enabled()
        if enabled_before is not None and enabled_before != p["enabled"]:
            steps.append("enable" if p["enabled"] else "disable")
    verb = plan_state(p.get("state"), running) if p.get("state") else None
    if verb:
        steps.append(verb)
    result = {"name": p["name"], "changed": bool(steps), "manager": mgr}
    if p.get("state"):
        result["state"] = p["state"]
    if p.get("enabled") is not None:
        result["enabled"] = p["enabled"]
    if not steps:
        result["msg"] = "service %s already as requested" % p["name"]
        return result
    result["msg"] = "%s %s" % ("would run" if m.check_mode else "ran", ", ".join(steps))
    before = _brief(running, enabled_before)
    after = _brief(running if verb not in ("start", "stop") else verb == "start",
                   p["enabled"] if p.get("enabled") is not None else None)
    if before != after:
        result["diff"] = m.text_diff(before, after, "service %s" % p["name"])
    if m.check_mode:
        return result
    for step in steps:
        if step in ("enable", "disable"):
            backend.set_enabled(step == "enable")
        else:
            backend.act(step)
    return result


def _brief(running, enabled):
    text = "running: %s\n" % ("yes" if running else "no")
    if enabled is not None:
        text += "enabled: %s\n" % ("yes" if enabled else "no")
    return text
