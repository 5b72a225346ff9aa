"""Gather the host's facts again, as Ansible's setup module does, honouring gather_subset/filter.

The agent already gathers facts in its first exchange; a `setup` task gathers them
afresh (after a change of hostname, a new mount, ...) with the same code, adds the
facts only setup gives (`ansible_local` from fact_path, cmdline, dns, ssh host keys,
fips, apparmor, IPv6 addresses) and returns them as `ansible_facts`, which the
controller stores as the host's facts. `gather_subset` takes Ansible's names (all,
min, hardware, network, virtual and collector names such as distribution, mounts,
dns; `!name` excludes; `!all` keeps the minimal set, `!all,!min` keeps nothing);
`filter` keeps only facts matching one of its shell patterns (with or without the
`ansible_` prefix). Never changes anything.
"""

import fnmatch
import json
import os
import sys

ARGS = {
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"],
                      "help": "Which facts: all, min, hardware, network, virtual or collector "
                              "names; !name excludes."},
    "filter": {"type": "list", "elements": "str", "default": [],
               "help": "Only facts matching one of these shell patterns (e.g. ansible_dist*)."},
    "gather_timeout": {"type": "int", "default": 10,
                       "help": "Accepted for Ansible compatibility (gathering reads files only)."},
    "fact_path": {"type": "path", "default": "/etc/ansible/facts.d",
                  "help": "Folder of *.fact files (JSON, INI or executables printing JSON) "
                          "for ansible_local."},
}

# Collector name -> facts it gives (names without the ansible_ prefix).
COLLECTORS = {
    "platform": ["system", "kernel", "kernel_version", "machine", "architecture", "nodename",
                 "hostname", "fqdn", "domain", "machine_id", "userspace_bits"],
    "distribution": ["os_family", "distribution", "distribution_version",
                     "distribution_major_version", "distribution_release", "os_name"],
    "python": ["python", "python_version"],
    "user": ["user_id", "user_uid", "user_gid", "user_dir", "user_shell", "real_user_id",
             "effective_user_id", "real_group_id", "effective_group_id"],
    "env": ["env"],
    "date_time": ["date_time"],
    "selinux": ["selinux"],
    "apparmor": ["apparmor"],
    "fips": ["fips"],
    "pkg_mgr": ["pkg_mgr"],
    "service_mgr": ["service_mgr"],
    "cmdline": ["cmdline", "proc_cmdline"],
    "dns": ["dns"],
    "local": ["local"],
    "ssh_pub_keys": ["ssh_host_key_rsa_public", "ssh_host_key_ecdsa_public",
                     "ssh_host_key_ed25519_public", "ssh_host_key_dsa_public",
                     "ssh_host_key_rsa_public_keytype", "ssh_host_key_ecdsa_public_keytype",
                     "ssh_host_key_ed25519_public_keytype", "ssh_host_key_dsa_public_keytype"],
    "hardware": ["memtotal_mb", "memfree_mb", "swaptotal_mb", "processor_vcpus",
                 "processor_count", "uptime_seconds"],
    "mounts": ["mounts"],
    "network": ["default_ipv4", "interfaces", "all_ipv4_addresses", "all_ipv6_addresses"],
    "virtual": ["virtualization_type", "virtualization_role"],
}
MIN = ["platform", "distribution", "python", "user", "env", "date_time", "selinux", "apparmor",
       "fips", "pkg_mgr", "service_mgr", "cmdline", "dns", "local", "ssh_pub_keys"]
GROUPS = {"min": MIN, "hardware": ["hardware", "mounts"], "network": ["network"],
          "virtual": ["virtual"]}
# Subsets Ansible knows that have nothing here (external tools): accepted, give nothing.
NOTHING = ("ohai", "facter", "caps", "lsb", "devices", "dmi", "interfaces")


def collectors(subset):
    """The collector names a gather_subset list selects, by Ansible's rules: the minimal set
    first, then additions, minus exclusions (except those also named explicitly). An
    unknown name raises ValueError; an unknown exclusion is ignored."""
    every = set(COLLECTORS)
    added, excluded, explicit = set(MIN), set(), set()
    for raw in subset or ["all"]:
        name = raw.strip()
        if name == "all":
            added |= every
        elif name == "!all":
            excluded |= every - set(MIN)
        elif name.startswith("!"):
            name = name[1:]
            excluded |= set(GROUPS.get(name, [name]))
        elif name == "min":
            added |= set(MIN)  # not "explicit": a later !dns still removes dns
        elif name in GROUPS or name in COLLECTORS or name in NOTHING:
            names = set(GROUPS.get(name, [name] if name in COLLECTORS else []))
            added |= names
            explicit |= names
        else:
            raise ValueError("Bad subset '%s' given to Ansible. gather_subset options allowed: "
                             "all, %s" % (name, ", ".join(sorted(set(COLLECTORS) | set(GROUPS)
                                                                 | set(NOTHING)))))
    return added - (excluded - explicit)


def _read(path):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return None


def extra_facts(m, fact_path):
    """What setup gives beyond the agent's first-exchange facts."""
    facts = {}
    cmdline = (_read("/proc/cmdline") or "").split()
    parsed = {}
    for word in cmdline:
        key, sep, value = word.partition("=")
        parsed[key] = value if sep else True
    facts["ansible_cmdline"] = parsed
    facts["ansible_proc_cmdline"] = parsed
    facts["ansible_dns"] = dns_facts(_read("/etc/resolv.conf") or "")
    facts["ansible_fips"] = (_read("/proc/sys/crypto/fips_enabled") or "0").strip() == "1"
    facts["ansible_apparmor"] = {"status": "enabled" if os.path.isdir(
        "/sys/kernel/security/apparmor") else "disabled"}
    facts["ansible_real_user_id"] = os.getuid()
    facts["ansible_effective_user_id"] = os.geteuid()
    facts["ansible_real_group_id"] = os.getgid()
    facts["ansible_effective_group_id"] = os.getegid()
    facts["ansible_userspace_bits"] = "64" if sys.maxsize > 2 ** 32 else "32"
    facts["ansible_all_ipv6_addresses"] = ipv6_addresses(_read("/proc/net/if_inet6") or "")
    for kind in ("rsa", "ecdsa", "ed25519", "dsa"):
        text = _read("/etc/ssh/ssh_host_%s_key.pub" % kind)
        if text and len(text.split()) >= 2:
            keytype, key = text.split()[:2]
            facts["ansible_ssh_host_key_%s_public" % kind] = key
            facts["ansible_ssh_host_key_%s_public_keytype" % kind] = keytype
    facts["ansible_local"] = local_facts(m, fact_path)
    return facts


def dns_facts(text):
    """ansible_dns from resolv.conf: nameservers, domain, search, options."""
    dns = {}
    for line in text.splitlines():
        words = line.split()
        if not words or words[0].startswith(("#", ";")):
            continue
        if words[0] == "nameserver" and len(words) > 1:
            dns.setdefault("nameservers", []).append(words[1])
        elif words[0] == "domain" and len(words) > 1:
            dns["domain"] = words[1]
        elif words[0] == "search":
            dns["search"] = words[1:]
        elif words[0] == "sortlist":
            dns["sortlist"] = words[1:]
        elif words[0] == "options":
            for option in words[1:]:
                key, sep, value = option.partition(":")
                dns.setdefault("options", {})[key] = value if sep else True
    return dns


def ipv6_addresses(text):
    """Global IPv6 addresses from /proc/net/if_inet6 (loopback and link-local left out)."""
    found = []
    for line in text.splitlines():
        fields = line.split()
        if len(fields) < 6 or len(fields[0]) != 32:
            continue
        scope = int(fields[3], 16)
        if scope in (0x10, 0x20):  # host (loopback), link
            continue
        groups = [fields[0][i:i + 4].lstrip("0") or "0" for i in range(0, 32, 4)]
        address = ":".join(groups)
        try:
            import socket

            address = socket.inet_ntop(socket.AF_INET6, bytes.fromhex(fields[0]))
        except (OSError, ValueError, AttributeError):
            pass
        if address not in found:
            found.append(address)
    return found


def local_facts(m, folder):
    """ansible_local: each NAME.fact in `folder` -> its JSON (or INI sections) as a dict."""
    out = {}
    if not folder or not os.path.isdir(folder):
        return out
    for entry in sorted(os.listdir(folder)):
        if not entry.endswith(".fact"):
            continue
        path = os.path.join(folder, entry)
        name = entry[:-len(".fact")]
        if os.access(path, os.X_OK):
            rc, text, err = m.run([path])
            if rc != 0:
                m.warn("Failure executing fact script (%s), rc: %s, err: %s" % (path, rc, err))
                out[name] = "error loading fact - please check content"
                continue
        else:
            text = _read(path) or ""
        out[name] = _parse_fact(text, path, m)
    return out


def _parse_fact(text, path, m):
    try:
        return json.loads(text)
    except ValueError:
        pass
    try:
        import configparser

        parser = configparser.ConfigParser()
        parser.optionxform = str  # keep the keys' case
        parser.read_string(text)
        return {section: dict(parser.items(section)) for section in parser.sections()}
    except Exception:  # noqa: BLE001 - a broken fact file is reported, not fatal
        m.warn("error loading facts as JSON or ini - please check content: %s" % path)
        return "error loading facts as JSON or ini - please check content: %s" % path


def gather(m):
    """Fresh facts from the agent's own gatherer when it is loaded, else the first exchange's."""
    lib = sys.modules.get("pyengine_facts")
    if lib is not None and hasattr(lib, "gather"):
        return dict(lib.gather())
    return dict(m.facts or {})


def _collector_of(name):
    short = name[len("ansible_"):] if name.startswith("ansible_") else name
    for collector, names in COLLECTORS.items():
        if short in names:
            return collector
    return None


def select(facts, wanted, patterns):
    """The facts of the wanted collectors (unmapped ones go with min) matching `patterns`."""
    out = {}
    for name, value in facts.items():
        collector = _collector_of(name)
        if collector is None:
            if not wanted & set(MIN):
                continue
        elif collector not in wanted:
            continue
        if patterns:
            short = name[len("ansible_"):] if name.startswith("ansible_") else name
            if not any(fnmatch.fnmatch(name, pat) or fnmatch.fnmatch(short, pat)
                       for pat in patterns):
                continue
        out[name] = value
    return out


def main(m):
    p = m.params
    try:
        wanted = collectors(p["gather_subset"])
    except ValueError as exc:
        m.fail(str(exc))
    facts = gather(m)
    facts.update(extra_facts(m, p["fact_path"]))
    chosen = select(facts, wanted, p["filter"])
    chosen["gather_subset"] = list(p["gather_subset"] or ["all"])
    chosen["module_setup"] = True
    return {"changed": False, "ansible_facts": chosen,
            "msg": "%d facts gathered" % (len(chosen) - 2)}
