"""Set the host's name, both persistently and in the running system.

`systemd` hosts use hostnamectl (static and transient name); the file strategies
(`debian`, `redhat`, `generic`, also the fallback without a running systemd) write
/etc/hostname atomically and set the running name with sethostname(2).
"""

import os
import socket

ARGS = {
    "name": {"type": "str", "required": True, "help": "The host name to set."},
    "use": {"type": "str",
            "choices": ["systemd", "debian", "redhat", "generic", "alpine", "openrc", "sles",
                        "freebsd", "openbsd", "macos", "macosx", "darwin", "solaris"],
            "help": "How to set it; default: systemd when it runs, else /etc/hostname."},
}

HOSTNAME_FILE = "/etc/hostname"
_FILE_STRATEGIES = ("debian", "redhat", "generic", "alpine", "openrc", "sles")


def _strategy(m):
    use = m.params.get("use")
    if use:
        if use != "systemd" and use not in _FILE_STRATEGIES:
            m.fail("hostname strategy %r is not supported on this platform" % use)
        return use
    if os.path.isdir("/run/systemd/system") and m.which("hostnamectl"):
        return "systemd"
    return "generic"


def _static_systemd(m):
    rc, out, _err = m.run([m.which("hostnamectl", required=True), "--static"])
    if rc == 0:
        return out.strip()
    return _static_file(m)


def _static_file(m):
    raw = m.read_bytes(HOSTNAME_FILE)
    return raw.decode("utf-8", "replace").strip() if raw is not None else ""


def main(m):
    name = m.params["name"].strip()
    if not name or any(ch.isspace() for ch in name) or len(name) > 253:
        m.fail("invalid host name %r" % m.params["name"])
    strategy = _strategy(m)
    live = socket.gethostname()
    static = _static_systemd(m) if strategy == "systemd" else _static_file(m)
    before = "static: %s\nrunning: %s\n" % (static, live)
    after = "static: %s\nrunning: %s\n" % (name, name)
    facts = {"ansible_hostname": name.split(".")[0], "ansible_nodename": name}
    result = {"name": name, "strategy": strategy, "ansible_facts": facts,
              "changed": static != name or live != name}
    if not result["changed"]:
        result["msg"] = "host name already %s" % name
        return result
    result["diff"] = m.text_diff(before, after, "hostname")
    result["msg"] = "%s host name from %s to %s" % (
        "would change" if m.check_mode else "changed", static or live, name)
    if m.check_mode:
        return result
    if strategy == "systemd":
        m.run([m.which("hostnamectl", required=True), "set-hostname", name], check=True)
        if socket.gethostname() != name:  # hostnamed may refuse the transient name
            socket.sethostname(name)
    else:
        if static != name:
            m.atomic_write(HOSTNAME_FILE, name + "\n",
                           mode=None if os.path.exists(HOSTNAME_FILE) else 0o644)
        if live != name:
            try:
                socket.sethostname(name)
            except OSError as exc:
                m.fail("cannot set the running host name: %s" % exc)
    return result
