"""Control a systemd unit: start/stop/restart/reload it, enable, mask, daemon-reload.

Ansible's `systemd_service` (alias `systemd`). The unit's state is read with
`systemctl show`, so check mode reports exactly what a real run would do; the
steps run in Ansible's order: daemon-reload, mask, enable, then the run state.
"""

ARGS = {
    "name": {"type": "str", "aliases": ["service", "unit"],
             "help": "The unit (a bare name means NAME.service)."},
    "state": {"type": "str", "choices": ["reloaded", "restarted", "started", "stopped"],
              "help": "started/stopped only change what differs; restarted/reloaded always act."},
    "enabled": {"type": "bool", "help": "Start the unit at boot."},
    "masked": {"type": "bool", "help": "Mask the unit so nothing can start it."},
    "force": {"type": "bool", "default": False, "help": "Pass --force to enable/mask."},
    "daemon_reload": {"type": "bool", "default": False, "aliases": ["daemon-reload"],
                      "help": "Run daemon-reload first (after changing unit files)."},
    "daemon_reexec": {"type": "bool", "default": False, "aliases": ["daemon-reexec"],
                      "help": "Run daemon-reexec first."},
    "scope": {"type": "str", "default": "system", "choices": ["system", "user", "global"],
              "help": "The systemd manager to talk to."},
    "no_block": {"type": "bool", "default": False,
                 "help": "Do not wait for the start/stop job to finish."},
}

_SHOW = "Id,LoadState,ActiveState,SubState,UnitFileState,Description,MainPID,FragmentPath"


def unit_status(m, ctl, name):
    """`systemctl show` properties of the unit as a dict."""
    rc, out, err = m.run(ctl + ["show", name, "--property=" + _SHOW])
    if rc != 0:
        m.fail("systemctl show %s failed: %s" % (name, (err or out).strip()), rc=rc)
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def is_enabled(m, ctl, name):
    rc, out, _err = m.run(ctl + ["is-enabled", name])
    word = out.strip().splitlines()[-1] if out.strip() else ""
    return rc == 0 and word not in ("static", "masked", "indirect", "generated", "transient"), word


def plan_state(want, active):
    """The systemctl verb for `state` given ActiveState, or None."""
    running = active in ("active", "activating", "reloading")
    if want == "started":
        return None if running else "start"
    if want == "stopped":
        return "stop" if running or active == "deactivating" else None
    if want == "restarted":
        return "restart"
    if want == "reloaded":
        return "reload" if running else "start"
    return None


def systemd_main(m, p):
    """The whole systemd logic; `service` carries a copy of this function."""
    ctl = [m.which("systemctl", required=True)]
    if p.get("scope") in ("user", "global"):
        ctl.append("--" + p["scope"])
    result, done = {"changed": False}, []
    if not m.check_mode:
        if p.get("daemon_reexec"):
            m.run(ctl + ["daemon-reexec"], check=True)
        if p.get("daemon_reload"):
            m.run(ctl + ["daemon-reload"], check=True)
    name = p.get("name")
    if not name:
        if p.get("state") or p.get("enabled") is not None or p.get("masked") is not None:
            m.fail("name is required with state, enabled or masked")
        result["msg"] = "daemon reloaded" if p.get("daemon_reload") else "nothing to do"
        return result
    status = unit_status(m, ctl, name)
    result.update(name=name, status=status)
    if status.get("LoadState") == "not-found" and p.get("masked") is not True:
        m.fail("Could not find the requested service %s: host" % name)
    steps = []
    masked_now = status.get("UnitFileState") == "masked" or status.get("LoadState") == "masked"
    if p.get("masked") is not None and p["masked"] != masked_now:
        steps.append(["mask" if p["masked"] else "unmask"])
        masked_now = p["masked"]
    if p.get("enabled") is not None:
        enabled, word = is_enabled(m, ctl, name)
        if word == "static" and p["enabled"]:
            m.warn("unit %s is static: it has no [Install] section to enable" % name)
        elif p["enabled"] != enabled:
            if masked_now and p["enabled"]:
                m.fail("Unable to enable service %s: it is masked" % name)
            steps.append(["enable" if p["enabled"] else "disable"])
        result["enabled"] = p["enabled"] if word != "static" else False
    if p.get("state"):
        verb = plan_state(p["state"], status.get("ActiveState", ""))
        if verb:
            steps.append([verb])
        result["state"] = p["state"]
    for step in steps:
        done.append(step[0])
        if m.check_mode:
            continue
        extra = (["--force"] if p.get("force") and step[0] in ("enable", "mask") else []) + (
            ["--no-block"] if p.get("no_block") else [])
        m.run(ctl + step + extra + [name], check=True)
    result["changed"] = bool(done)
    if done:
        after = _predict(status, done)
        if not m.check_mode:
            result["status"] = after = unit_status(m, ctl, name)
        if _brief(after) != _brief(status):
            result["diff"] = m.text_diff(_brief(status), _brief(after), "unit %s" % name)
        result["msg"] = "%s %s" % ("would run" if m.check_mode else "ran", ", ".join(done))
    else:
        result["msg"] = "unit %s already as requested" % name
    return result


_AFTER = {"start": ("ActiveState", "active"), "stop": ("ActiveState", "inactive"),
          "enable": ("UnitFileState", "enabled"), "disable": ("UnitFileState", "disabled"),
          "mask": ("UnitFileState", "masked"), "unmask": ("UnitFileState", "disabled")}


def _predict(status, done):
    after = dict(status)
    for verb in done:
        if verb in _AFTER:
            after[_AFTER[verb][0]] = _AFTER[verb][1]
    return after


def _brief(status):
    return "ActiveState: %s\nUnitFileState: %s\n" % (
        status.get("ActiveState"), status.get("UnitFileState"))


def main(m):
    return systemd_main(m, m.params)
