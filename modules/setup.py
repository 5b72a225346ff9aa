"""Gather the host's facts again, as Ansible's setup module does, honouring gather_subset/filter.

The agent already gathers facts in its first exchange; a `setup` task gathers them
afresh (after a change of hostname, a new mount, ...) with the same code, adds the
facts only setup gives (`ansible_local` from fact_path, cmdline, dns, ssh host keys,
fips, apparmor, IPv6 addresses) and returns them as `ansible_facts`, which the
controller stores as the host's facts. `gather_subset` takes Ansible's names (all,
min, hardware, network, virtual and collector names such as distribution, mounts,
dns; `!name` excludes; `!all` keeps the minimal set, `!all,!min` keeps nothing);
`filter` keeps only facts matching one of its shell patterns (with or without the
`ansible_` prefix). Never changes anything. `gather_facts` is this module under
Ansible's other name (modules/gather_facts.py links here).
"""

import fnmatch
import json
import os
import sys
import time

ARGS = {
    "gather_subset": {"type": "list", "elements": "str", "default": ["all"],
                      "help": "Which facts: all, min, hardware, network, virtual or collector "
                              "names; !name excludes."},
    "filter": {"type": "list", "elements": "str", "default": [],
               "help": "Only facts matching one of these shell patterns (e.g. ansible_dist*)."},
    "gather_timeout": {"type": "int", "default": 10,
                       "help": "Accepted for Ansible compatibility (gathering reads files only)."},
    "parallel": {"type": "bool",
                 "help": "gather_facts's option (this module is also gather_facts): accepted, "
                         "one gatherer runs."},
    "fact_path": {"type": "path", "default": "/etc/ansible/facts.d",
                  "help": "Folder of *.fact files (JSON, INI or executables printing JSON) "
                          "for ansible_local."},
}

# Collector name -> facts it gives (names without the ansible_ prefix).
COLLECTORS = {
    "platform": ["system", "kernel", "kernel_version", "machine", "architecture", "nodename",
                 "hostname", "fqdn", "domain", "machine_id", "userspace_bits",
                 "userspace_architecture", "is_chroot"],
    "distribution": ["os_family", "distribution", "distribution_version",
                     "distribution_major_version", "distribution_minor_version",
                     "distribution_release", "os_name"],
    "python": ["python", "python_version"],
    "user": ["user_id", "user_uid", "user_gid", "user_dir", "user_shell", "user_gecos",
             "real_user_id",
             "effective_user_id", "real_group_id", "effective_group_id"],
    "env": ["env"],
    "date_time": ["date_time"],
    "selinux": ["selinux"],
    "apparmor": ["apparmor"],
    "fips": ["fips"],
    "lsb": ["lsb"],
    "loadavg": ["loadavg"],
    "pkg_mgr": ["pkg_mgr"],
    "service_mgr": ["service_mgr"],
    "cmdline": ["cmdline", "proc_cmdline"],
    "dns": ["dns"],
    "local": ["local"],
    "ssh_pub_keys": ["ssh_host_key_rsa_public", "ssh_host_key_ecdsa_public",
                     "ssh_host_key_ed25519_public", "ssh_host_key_dsa_public",
                     "ssh_host_key_rsa_public_keytype", "ssh_host_key_ecdsa_public_keytype",
                     "ssh_host_key_ed25519_public_keytype", "ssh_host_key_dsa_public_keytype"],
    "hardware": ["memtotal_mb", "memfree_mb", "swaptotal_mb", "swapfree_mb", "memory_mb",
                 "processor", "processor_vcpus", "processor_count", "processor_cores",
                 "processor_threads_per_core", "processor_nproc", "uptime_seconds"],
    "mounts": ["mounts"],
    "network": ["default_ipv4", "default_ipv6", "interfaces", "all_ipv4_addresses",
                "all_ipv6_addresses"],
    "virtual": ["virtualization_type", "virtualization_role"],
}
MIN = ["platform", "distribution", "python", "user", "env", "date_time", "selinux", "apparmor",
       "fips", "lsb", "pkg_mgr", "service_mgr", "cmdline", "dns", "local", "ssh_pub_keys"]
GROUPS = {"min": MIN, "hardware": ["hardware", "mounts", "loadavg"], "network": ["network"],
          "virtual": ["virtual"]}
# Subsets Ansible knows that have nothing here (external tools): accepted, give nothing.
NOTHING = ("ohai", "facter", "caps", "devices", "dmi", "interfaces")


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
    for kind in ("rsa", "ecdsa", "ed25519", "dsa"):
        text = _read("/etc/ssh/ssh_host_%s_key.pub" % kind)
        if text and len(text.split()) >= 2:
            keytype, key = text.split()[:2]
            facts["ansible_ssh_host_key_%s_public" % kind] = key
            facts["ansible_ssh_host_key_%s_public_keytype" % kind] = keytype
    facts["ansible_local"] = local_facts(m, fact_path)
    facts["ansible_date_time"] = date_time_facts(time.time())
    facts.update(hardware_extra(_read("/proc/cpuinfo") or "", _read("/proc/meminfo") or ""))
    facts.update(platform_extra(m))
    facts.update(network_extra(_read("/proc/net/if_inet6") or ""))
    return facts


def date_time_facts(now):
    """ansible_date_time with every key Ansible's date_time collector gives."""
    local = time.localtime(now)
    utc = time.gmtime(now)
    micro = "%06d" % int((now - int(now)) * 1000000)
    return {
        "year": time.strftime("%Y", local), "month": time.strftime("%m", local),
        "weekday": time.strftime("%A", local), "weekday_number": time.strftime("%w", local),
        "weeknumber": time.strftime("%W", local), "day": time.strftime("%d", local),
        "hour": time.strftime("%H", local), "minute": time.strftime("%M", local),
        "second": time.strftime("%S", local), "epoch": str(int(now)),
        "epoch_int": str(int(now)), "date": time.strftime("%Y-%m-%d", local),
        "time": time.strftime("%H:%M:%S", local),
        "iso8601_micro": time.strftime("%Y-%m-%dT%H:%M:%S", utc) + ".%sZ" % micro,
        "iso8601": time.strftime("%Y-%m-%dT%H:%M:%SZ", utc),
        "iso8601_basic": time.strftime("%Y%m%dT%H%M%S", local) + micro,
        "iso8601_basic_short": time.strftime("%Y%m%dT%H%M%S", local),
        "tz": time.strftime("%Z", local), "tz_dst": time.tzname[1],
        "tz_offset": time.strftime("%z", local),
    }


def hardware_extra(cpuinfo, meminfo):
    """Processor and memory facts as Ansible's Linux hardware collector names them."""
    processors, physical, cores, siblings = [], set(), {}, {}
    current = None
    for line in cpuinfo.splitlines():
        key, _, value = (part.strip() for part in line.partition(":"))
        if key == "processor":
            processors.append(value)
        elif key in ("vendor_id", "model name"):
            processors.append(value)
        elif key == "physical id":
            current = value
            physical.add(value)
        elif key == "cpu cores" and current is not None:
            cores[current] = int(value)
        elif key == "siblings" and current is not None:
            siblings[current] = int(value)
    facts = {"ansible_processor": processors}
    count = len(physical) or 1
    facts["ansible_processor_count"] = count
    if cores:
        facts["ansible_processor_cores"] = list(cores.values())[0]
        per_core = list(siblings.values())[0] // facts["ansible_processor_cores"] \
            if siblings and facts["ansible_processor_cores"] else 1
        facts["ansible_processor_threads_per_core"] = per_core
    try:
        facts["ansible_processor_nproc"] = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        facts["ansible_processor_nproc"] = os.cpu_count() or 1
    mem = {}
    for line in meminfo.splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            mem[key] = int(parts[0]) // 1024
    if mem:
        total, free = mem.get("MemTotal", 0), mem.get("MemFree", 0)
        cached = free + mem.get("Buffers", 0) + mem.get("Cached", 0)
        swap_total, swap_free = mem.get("SwapTotal", 0), mem.get("SwapFree", 0)
        facts["ansible_swapfree_mb"] = swap_free
        facts["ansible_memory_mb"] = {
            "real": {"total": total, "used": total - free, "free": free},
            "nocache": {"free": cached, "used": total - cached},
            "swap": {"total": swap_total, "free": swap_free, "used": swap_total - swap_free,
                     "cached": mem.get("SwapCached", 0)},
        }
    return facts


def platform_extra(m):
    """Small platform facts: gecos, chroot, load, minor version, lsb, python details."""
    import platform
    import pwd

    facts = {}
    try:
        facts["ansible_user_gecos"] = pwd.getpwuid(os.geteuid()).pw_gecos.split(",")[0]
    except KeyError:
        pass
    try:
        facts["ansible_is_chroot"] = os.stat("/").st_ino != os.stat("/proc/1/root/.").st_ino
    except OSError:  # no access to PID 1's root: compare with a file system root's inode
        facts["ansible_is_chroot"] = os.stat("/").st_ino != 2
    try:
        one, five, fifteen = os.getloadavg()
        facts["ansible_loadavg"] = {"1m": one, "5m": five, "15m": fifteen}
    except OSError:
        pass
    facts["ansible_userspace_architecture"] = platform.machine()
    version = (m.facts or {}).get("ansible_distribution_version") or ""
    lib = sys.modules.get("pyengine_facts")
    if lib is not None and hasattr(lib, "distribution_facts"):
        version = lib.distribution_facts().get("ansible_distribution_version", version)
    if "." in version:
        facts["ansible_distribution_minor_version"] = version.split(".")[1]
    lsb = lsb_facts(m)
    if lsb:
        facts["ansible_lsb"] = lsb
    info = sys.version_info
    facts["ansible_python"] = {
        "version": {"major": info[0], "minor": info[1], "micro": info[2],
                    "releaselevel": info[3], "serial": info[4]},
        "version_info": list(info), "executable": sys.executable,
        "has_sslcontext": True, "type": platform.python_implementation().lower(),
    }
    return facts


def lsb_facts(m):
    """ansible_lsb from `lsb_release -a`, else /etc/lsb-release."""
    out = {}
    tool = m.which("lsb_release")
    if tool:
        rc, text, _ = m.run([tool, "-a"])
        names = {"Distributor ID": "id", "Description": "description", "Release": "release",
                 "Codename": "codename"}
        for line in text.splitlines() if rc == 0 else []:
            key, _, value = line.partition(":")
            if key.strip() in names:
                out[names[key.strip()]] = value.strip()
    else:
        names = {"DISTRIB_ID": "id", "DISTRIB_DESCRIPTION": "description",
                 "DISTRIB_RELEASE": "release", "DISTRIB_CODENAME": "codename"}
        for line in (_read("/etc/lsb-release") or "").splitlines():
            key, _, value = line.partition("=")
            if key.strip() in names:
                out[names[key.strip()]] = value.strip().strip("'\"")
    if out.get("release"):
        out["major_release"] = out["release"].split(".")[0]
    return out


def _ioctl_ipv4(name):
    """(address, netmask, broadcast) of an interface, or None."""
    import fcntl
    import socket
    import struct

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = struct.pack("256s", name.encode()[:15])
        out = []
        for request in (0x8915, 0x891B, 0x8919):  # SIOCGIFADDR, NETMASK, BRDADDR
            out.append(socket.inet_ntoa(fcntl.ioctl(sock.fileno(), request, packed)[20:24]))
        return out
    except OSError:
        return None
    finally:
        sock.close()


def _ipv4_block(address, netmask, broadcast, loopback):
    import socket
    import struct

    mask = struct.unpack("!I", socket.inet_aton(netmask))[0]
    addr = struct.unpack("!I", socket.inet_aton(address))[0]
    return {"address": address, "broadcast": "" if loopback else broadcast, "netmask": netmask,
            "network": socket.inet_ntoa(struct.pack("!I", addr & mask)),
            "prefix": str(bin(mask).count("1"))}


def network_extra(if_inet6):
    """ansible_<interface> facts, default_ipv4 details, default_ipv6 and IPv6 addresses."""
    facts = {}
    base = "/sys/class/net"
    names = sorted(os.listdir(base)) if os.path.isdir(base) else []
    v6 = parse_if_inet6(if_inet6)
    for name in names:
        folder = os.path.join(base, name)
        kind = (_read(os.path.join(folder, "type")) or "").strip()
        flags = int((_read(os.path.join(folder, "flags")) or "0").strip() or "0", 16)
        entry = {"device": name, "active": bool(flags & 0x1), "promisc": bool(flags & 0x100)}
        if os.path.isdir(os.path.join(folder, "bridge")):
            entry["type"] = "bridge"
        elif os.path.isdir(os.path.join(folder, "bonding")):
            entry["type"] = "bonding"
        else:
            entry["type"] = {"1": "ether", "772": "loopback", "65534": "tunnel"}.get(
                kind, "unknown")
        mtu = (_read(os.path.join(folder, "mtu")) or "").strip()
        if mtu.isdigit():
            entry["mtu"] = int(mtu)
        mac = (_read(os.path.join(folder, "address")) or "").strip()
        if mac and entry["type"] != "loopback":
            entry["macaddress"] = mac
        addr = _ioctl_ipv4(name)
        if addr:
            entry["ipv4"] = _ipv4_block(addr[0], addr[1], addr[2], entry["type"] == "loopback")
        if name in v6:
            entry["ipv6"] = v6[name]
        facts["ansible_" + name.replace("-", "_").replace(":", "_").replace(".", "_")] = entry
    facts["ansible_all_ipv6_addresses"] = [a["address"] for n in names for a in v6.get(n, [])
                                           if a["scope"] != "host"]
    return facts


def _v6(hexaddr):
    import socket

    try:
        return socket.inet_ntop(socket.AF_INET6, bytes.fromhex(hexaddr))
    except (OSError, ValueError):
        return ":".join(hexaddr[i:i + 4] for i in range(0, 32, 4))


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


def parse_if_inet6(text):
    """{interface: [{address, prefix, scope}]} from /proc/net/if_inet6."""
    scopes = {0: "global", 0x10: "host", 0x20: "link", 0x40: "site"}
    found = {}
    for line in text.splitlines():
        f = line.split()
        if len(f) < 6 or len(f[0]) != 32:
            continue
        found.setdefault(f[5], []).append({"address": _v6(f[0]), "prefix": str(int(f[2], 16)),
                                           "scope": scopes.get(int(f[3], 16), "unknown")})
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


def default_routes(facts, ipv6_route):
    """Complete ansible_default_ipv4 from its interface's facts; add ansible_default_ipv6."""
    v4 = facts.get("ansible_default_ipv4")
    if isinstance(v4, dict) and v4.get("interface"):
        iface = facts.get("ansible_" + v4["interface"].replace("-", "_")) or {}
        for key in ("broadcast", "network", "prefix", "netmask", "address"):
            if key in (iface.get("ipv4") or {}):
                v4.setdefault(key, iface["ipv4"][key])
        for key in ("macaddress", "mtu", "type"):
            if key in iface:
                v4.setdefault(key, iface[key])
    v6 = {}
    for line in ipv6_route.splitlines():
        f = line.split()
        if len(f) >= 10 and f[0] == "0" * 32 and f[1] == "00" and f[4] != "0" * 32:
            v6 = {"gateway": _v6(f[4]), "interface": f[9]}
            iface = facts.get("ansible_" + f[9].replace("-", "_")) or {}
            for entry in iface.get("ipv6") or []:
                if entry["scope"] == "global":
                    v6.update(address=entry["address"], prefix=entry["prefix"],
                              scope=entry["scope"])
                    break
            for key in ("macaddress", "mtu", "type"):
                if key in iface:
                    v6[key] = iface[key]
            break
    facts["ansible_default_ipv6"] = v6


def mount_details(mounts, fstab):
    """Add Ansible's uuid (from /dev/disk/by-uuid, else N/A), dump and passno (from fstab)."""
    uuids = {}
    folder = "/dev/disk/by-uuid"
    if os.path.isdir(folder):
        for name in os.listdir(folder):
            uuids[os.path.realpath(os.path.join(folder, name))] = name
    fields = {}
    for line in fstab.splitlines():
        words = line.split("#")[0].split()
        if len(words) >= 2:
            fields[words[1]] = (words + ["0", "0", "0", "0"])[4:6]
    for entry in mounts:
        if isinstance(entry, dict):
            entry.setdefault("uuid", uuids.get(os.path.realpath(entry.get("device", "")), "N/A"))
            dump, passno = fields.get(entry.get("mount"), ("0", "0"))
            entry.setdefault("dump", int(dump) if dump.isdigit() else 0)
            entry.setdefault("passno", int(passno) if passno.isdigit() else 0)


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


def select(facts, wanted, patterns, interfaces=()):
    """The facts of the wanted collectors (unmapped ones go with min) matching `patterns`;
    `interfaces` are the per-interface fact names (network)."""
    out = {}
    for name, value in facts.items():
        collector = "network" if name in interfaces else _collector_of(name)
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
    default_routes(facts, _read("/proc/net/ipv6_route") or "")
    mount_details(facts.get("ansible_mounts") or [], _read("/etc/fstab") or "")
    dynamic = set("ansible_" + n.replace("-", "_").replace(":", "_").replace(".", "_")
                  for n in facts.get("ansible_interfaces") or [])
    chosen = select(facts, wanted, p["filter"], dynamic)
    chosen["gather_subset"] = list(p["gather_subset"] or ["all"])
    chosen["module_setup"] = True
    return {"changed": False, "ansible_facts": chosen,
            "msg": "%d facts gathered" % (len(chosen) - 2)}
