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
    current = _apt_state(m, names) if mgr == "apt" else _rpm_state(m, names, tool)
    if state == "absent":
        todo = [n for n in names if current.get(n, [None])[0]]
        verb = "remove"
    else:
        missing = [n for n in names if not current.get(n, [None])[0]]
        unknown = [n for n in missing if mgr == "apt" and not current.get(n, [0, 0])[1]]
        if unknown:
            m.fail("No package matching '%s' is available" % "', '".join(unknown))
        todo = missing
        if state == "latest":
            todo += [n for n in names if n not in missing and current[n][1]
                     and current[n][1] != current[n][0]]
        verb = "install"
    result = {"changed": bool(todo), "use": mgr, "packages": todo}
    if not todo:
        result["msg"] = "packages already %s" % state
        return result
    result["msg"] = "%s %s %s" % ("would" if m.check_mode else "did", verb, ", ".join(todo))
    if m.check_mode:
        return result
    argv = [tool] + (_APT_OPTS if mgr == "apt" else ["-y"]) + [verb] + todo
    rc, out, err = m.run(argv, env=_ENV)
    result.update(rc=rc, stdout=out, stderr=err)
    if rc != 0:
        lines = [ln for ln in (err or out).splitlines() if ln.strip()]
        m.fail("%s failed: %s" % (" ".join([mgr, verb] + todo), lines[-1] if lines else rc),
               **result)
    return result
