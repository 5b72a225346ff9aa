"""Return the installed packages as the `packages` fact (Ansible's shape).

`ansible_facts.packages` maps each name to a list of installed instances
({name, version, release, epoch, arch, source}); several entries mean several
versions or architectures. dpkg and rpm databases are read with their query tools.
"""

ARGS = {
    "manager": {"type": "list", "elements": "str", "default": ["auto"],
                "help": "auto, apt (dpkg) and/or rpm."},
    "strategy": {"type": "str", "default": "first", "choices": ["first", "all"],
                 "help": "first: the first manager that works; all: every one listed."},
}

_DPKG_FMT = "${Package}\t${Version}\t${Architecture}\t${db:Status-Abbrev}\n"
_RPM_FMT = "%{NAME}\t%{EPOCH}\t%{VERSION}\t%{RELEASE}\t%{ARCH}\n"


def parse_dpkg(text):
    """Installed packages from dpkg-query lines; Debian versions split like Ansible does
    (epoch:upstream-revision -> version upstream, release revision)."""
    out = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 4 or parts[3][1:2] not in ("i", "U", "F", "W", "t", "H"):
            continue
        name, full, arch = parts[0], parts[1], parts[2]
        epoch, _, rest = full.rpartition(":") if ":" in full else ("", "", full)
        version, _, release = rest.rpartition("-") if "-" in rest else (rest, "", "")
        out.setdefault(name, []).append({
            "name": name, "version": version, "release": release or None,
            "epoch": int(epoch) if epoch.isdigit() else None, "arch": arch, "source": "apt"})
    return out


def parse_rpm(text):
    out = {}
    for line in text.splitlines():
        parts = line.split("\t")
        if len(parts) != 5:
            continue
        name, epoch, version, release, arch = parts
        out.setdefault(name, []).append({
            "name": name, "version": version, "release": release,
            "epoch": int(epoch) if epoch.isdigit() else None, "arch": arch, "source": "rpm"})
    return out


def main(m):
    p = m.params
    wanted = [x.lower() for x in p["manager"]]
    if "auto" in wanted:
        wanted = ["apt", "rpm"]
    unknown = [w for w in wanted if w not in ("apt", "dpkg", "rpm")]
    if unknown:
        m.fail("unsupported package manager(s): %s (apt, rpm)" % ", ".join(unknown))
    packages, used = {}, []
    for manager in wanted:
        if manager in ("apt", "dpkg"):
            tool, argv, parse = "dpkg-query", ["-W", "-f", _DPKG_FMT], parse_dpkg
        else:
            tool, argv, parse = "rpm", ["-qa", "--qf", _RPM_FMT], parse_rpm
        path = m.which(tool)
        if not path:
            continue
        rc, out, err = m.run([path] + argv, env={"LC_ALL": "C"})
        if rc != 0:
            m.warn("%s failed: %s" % (tool, err.strip()))
            continue
        for name, entries in parse(out).items():
            packages.setdefault(name, []).extend(entries)
        used.append(manager)
        if p["strategy"] == "first":
            break
    if not used:
        m.fail("none of the package managers %s is usable here" % ", ".join(wanted))
    return {"changed": False, "ansible_facts": {"packages": packages},
            "msg": "%d packages (%s)" % (len(packages), ", ".join(used))}
