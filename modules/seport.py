"""Label network ports with an SELinux type (semanage port), e.g. ssh_port_t for tcp/2222.

Same arguments and result as community.general.seport, through the `semanage` command
instead of the seobject Python bindings: `semanage port -l` (with `-C` for `local`)
is read first, a port (or range) already carrying `setype` is left alone, a port with
another type is modified (`-m`), a new one added (`-a`), and with state=absent a port
of `setype` is deleted (`-d`). `reload: false` passes `-N`. Fails when SELinux is
off unless `ignore_selinux_state`.

`_semanage` and `_selinuxfs` are test hooks (another semanage, a fake selinuxfs).
"""

import os
import re
import shlex

ARGS = {
    "ports": {"type": "list", "elements": "str", "required": True,
              "help": "Ports or ranges (8080-8090); a list or a comma-separated string."},
    "proto": {"type": "str", "required": True, "choices": ["tcp", "udp"],
              "help": "Protocol."},
    "setype": {"type": "str", "required": True, "help": "SELinux type, e.g. ssh_port_t."},
    "state": {"type": "str", "default": "present", "choices": ["absent", "present"],
              "help": "Whether the ports should carry setype."},
    "reload": {"type": "bool", "default": True, "help": "Reload the policy after the change."},
    "ignore_selinux_state": {"type": "bool", "default": False,
                             "help": "Run even when SELinux is off."},
    "local": {"type": "bool", "default": False,
              "help": "Consider only local customizations (semanage port -l -C)."},
    "_semanage": {"type": "str", "default": "semanage",
                  "help": "The semanage command (tests use another)."},
    "_selinuxfs": {"type": "path", "default": "/sys/fs/selinux",
                   "help": "Where selinuxfs is mounted (tests point it elsewhere)."},
}

# `semanage port -l` prints "%-30s %-8s " then the ports joined by ", " (seobject.py,
# portRecords.list); the header line starts with "SELinux Port Type".
_LINE = re.compile(r"^(\S+)\s+(tcp|udp|sctp|dccp)\s+(\S.*)$")


def parse_port_list(text):
    """`semanage port -l` -> {(setype, proto): ["22", "8080-8090", ...]} in listed order."""
    out = {}
    for line in text.splitlines():
        match = _LINE.match(line.strip())
        if not match or line.startswith("SELinux Port Type"):
            continue
        ports = [p.strip() for p in match.group(3).split(",") if p.strip()]
        out.setdefault((match.group(1), match.group(2)), []).extend(ports)
    return out


def port_key(port, proto):
    """'8080' -> (8080, 8080, proto); '10001-10010' -> (10001, 10010, proto)."""
    low, _sep, high = str(port).partition("-")
    return int(low), int(high or low), proto


def types_by_port(by_type):
    """{(low, high, proto): setype} from parse_port_list's result (the last one wins)."""
    out = {}
    for (setype, proto), ports in by_type.items():
        for port in ports:
            out[port_key(port, proto)] = setype
    return out


def change_argv(semanage, action, port, proto, setype, reload):
    argv = [semanage, "port", action]
    if action != "-d":
        argv += ["-t", setype]
    argv += ["-p", proto]
    if not reload:
        argv.append("-N")
    return argv + [port]


def plan(by_type_scope, by_type_all, ports, proto, setype, state):
    """[(action, port)] to run: -a/-m for present, -d for absent."""
    have = by_type_scope.get((setype, proto), [])
    known = types_by_port(by_type_all)
    actions = []
    for port in ports:
        if state == "present":
            if port in have:
                continue
            actions.append(("-m" if port_key(port, proto) in known else "-a", port))
        elif port in have:
            actions.append(("-d", port))
    return actions


def selinux_enabled(m, selinuxfs):
    if selinuxfs == "/sys/fs/selinux":
        probe = m.which("selinuxenabled")
        if probe:
            return m.run([probe])[0] == 0
    return os.path.exists(os.path.join(selinuxfs, "enforce"))


def main(m):
    p = m.params
    ports = [str(x).strip() for x in p["ports"] if str(x).strip()]
    for port in ports:
        if not re.match(r"^\d+(-\d+)?$", port):
            m.fail("ValueError: Invalid Port: %s" % port)
    if not (p["ignore_selinux_state"] or selinux_enabled(m, p["_selinuxfs"])):
        m.fail("SELinux is disabled on this host.")
    semanage = m.which(p["_semanage"])
    if semanage is None:
        m.fail("cannot find semanage on this host (install policycoreutils-python-utils)")

    rc, out, err = m.run([semanage, "port", "-l"], env={"LANG": "C"})
    if rc != 0:
        m.fail("semanage port -l failed: %s" % (err.strip() or out.strip()), rc=rc)
    by_type_all = parse_port_list(out)
    by_type_scope = by_type_all
    if p["local"]:
        rc, out, err = m.run([semanage, "port", "-l", "-C"], env={"LANG": "C"})
        if rc != 0:
            m.fail("semanage port -l -C failed: %s" % (err.strip() or out.strip()), rc=rc)
        by_type_scope = parse_port_list(out)

    actions = plan(by_type_scope, by_type_all, ports, p["proto"], p["setype"], p["state"])
    commands = [change_argv(semanage, action, port, p["proto"], p["setype"], p["reload"])
                for action, port in actions]
    result = {"ports": p["ports"], "proto": p["proto"], "setype": p["setype"],
              "state": p["state"], "changed": bool(actions),
              "commands": [" ".join(shlex.quote(a) for a in argv) for argv in commands]}
    have = by_type_scope.get((p["setype"], p["proto"]), [])
    if not actions:
        result["msg"] = "ports already %s %s" % (
            "labelled" if p["state"] == "present" else "not labelled", p["setype"])
        return result
    after = [x for x in have if p["state"] == "present" or x not in ports]
    if p["state"] == "present":
        after += [port for _action, port in actions]
    diff = m.text_diff("%s %s: %s\n" % (p["setype"], p["proto"], ", ".join(have)),
                       "%s %s: %s\n" % (p["setype"], p["proto"], ", ".join(after)),
                       "semanage port")
    if diff:
        result["diff"] = diff
    if m.check_mode:
        result["msg"] = "would run: " + "; ".join(result["commands"])
        return result
    for argv in commands:
        rc, out, err = m.run(argv, env={"LANG": "C"})
        if rc != 0:
            m.fail("%s: %s" % (" ".join(argv[1:4]), (err.strip() or out.strip())),
                   rc=rc, commands=result["commands"])
    result["msg"] = "ran: " + "; ".join(result["commands"])
    return result
