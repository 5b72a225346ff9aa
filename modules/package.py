"""Install or remove packages with whatever manager the host uses (apt, dnf or yum).

A portable task for mixed fleets: the manager comes from the `ansible_pkg_mgr`
fact unless `use` names one. It covers name/state only; use `apt` or `dnf` for
their own options (cache updates, repositories, security-only updates, ...).
"""

ARGS = {
    "name": {"type": "list", "elements": "str", "required": True, "aliases": ["pkg"],
             "help": "Package names."},
    "state": {"type": "str", "default": "present",
              "choices": ["present", "installed", "latest", "absent", "removed"],
              "help": "Installed, at the newest version, or removed."},
    "use": {"type": "str", "default": "auto", "choices": ["auto", "apt", "dnf", "yum"],
            "help": "The package manager; auto reads the ansible_pkg_mgr fact."},
}

_ENV = {"DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C", "LANG": "C"}
_APT_OPTS = ["-y", "-o", "Dpkg::Options::=--force-confdef", "-o",
             "Dpkg::Options::=--force-confold"]


def _apt_state(m, names):
    """{name: (installed version or None, candidate or None)}."""
    rc, out, _ = m.run([m.which("apt-cache", required=True), "policy"] + names, env=_ENV)
    state, name = {}, None
    for line in out.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            name = line[:-1]
            state[name] = [None, None]
        elif name and line.strip().split(":", 1)[0] in ("Installed", "Candidate"):
            key, value = line.strip().split(":", 1)
            value = value.strip()
            state[name][key == "Candidate"] = None if value == "(none)" else value
    return state


def _rpm_state(m, names, tool):
    """{name: (installed version or None, update or None)}."""
    state = {}
    for name in names:
        rc, out, _ = m.run([m.which("rpm", required=True), "-q", "--qf",
                            "%{VERSION}-%{RELEASE}", name], env=_ENV)
        state[name] = [out.strip() if rc == 0 else None, None]
    rc, out, _ = m.run([tool, "check-update", "-q"] + names, env=_ENV)
    for line in out.splitlines() if rc == 100 else []:
        parts = line.split()
        if len(parts) == 3 and parts[0].rsplit(".", 1)[0] in state:
            state[parts[0].rsplit(".", 1)[0]][1] = parts[1]
    return state


def main(m):
    p = m.params
    mgr = p["use"] if p["use"] != "auto" else m.facts.get("ansible_pkg_mgr", "")
    if mgr not in ("apt", "dnf", "yum"):
        m.fail("package manager %r is not supported by package (apt, dnf, yum); set use"
               % (mgr or "unknown"))
    state = {"installed": "present", "removed": "absent"}.get(p["state"], p["state"])
    names = [n for n in p["name"] if n.strip()]
    tool = m.which("apt-get" if mgr == "apt" else mgr, required=True)
    current = _state(m, mgr, names, tool)
    have = dict((n, current.get(n, [None, None])[0]) for n in names)
    jobs = []  # (verb, names)
    if state == "absent":
        jobs.append(("remove", [n for n in names if have[n]]))
    else:
        missing = [n for n in names if not have[n]]
        unknown = [n for n in missing if mgr == "apt" and not current.get(n, [0, 0])[1]]
        if unknown:
            m.fail("No package matching '%s' is available" % "', '".join(unknown))
        jobs.append(("install", missing))
        if state == "latest":
            behind = [n for n in names if have[n] and current[n][1] and current[n][1] != have[n]]
            # apt-get install upgrades an installed package; dnf/yum need `upgrade`.
            jobs.append(("install" if mgr == "apt" else "upgrade", behind))
    jobs = [(verb, todo) for verb, todo in jobs if todo]
    result = {"changed": bool(jobs), "use": mgr}
    if not jobs:
        result.update(msg="packages already %s" % state, packages={})
        return result
    todo = [n for _verb, group in jobs for n in group]
    if m.check_mode:
        result["packages"] = dict((n, {"before": have[n], "after": None if state == "absent"
                                       else current.get(n, [None, None])[1] or "(newest)"})
                                  for n in todo)
        result["msg"] = "would %s" % "; ".join("%s %s" % (v, ", ".join(g)) for v, g in jobs)
        return result
    outs = []
    for verb, group in jobs:
        argv = [tool] + (_APT_OPTS if mgr == "apt" else ["-y"]) + [verb] + group
        rc, out, err = m.run(argv, env=_ENV)
        outs.append(out)
        if rc != 0:
            lines = [ln for ln in (err or out).splitlines() if ln.strip()]
            m.fail("%s failed: %s" % (" ".join([mgr, verb] + group),
                                      lines[-1] if lines else rc), rc=rc, stdout=out, stderr=err)
    now = _state(m, mgr, todo, tool)
    result["packages"] = dict((n, {"before": have[n], "after": now.get(n, [None])[0]})
                              for n in todo)
    result["stdout"] = "".join(outs)
    result["msg"] = "; ".join("%s %s -> %s" % (n, c["before"] or "(none)", c["after"] or
                                               "(removed)")
                              for n, c in sorted(result["packages"].items()))
    return result


def _state(m, mgr, names, tool):
    return _apt_state(m, names) if mgr == "apt" else _rpm_state(m, names, tool)
