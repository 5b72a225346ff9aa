"""Host facts, gathered on the target by the agent in its first exchange.

Stdlib only, Python 3.7+: this file is shipped to the target beside agent.py and
runs there. Names follow Ansible's `ansible_*` facts so that existing playbooks'
`when: ansible_os_family == "Debian"` keep working. Everything is read from /proc,
/sys and /etc (no subprocess), so gathering costs a few milliseconds; anything
that cannot be read is left out or set to a neutral value, never an exception.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import socket
import struct
import sys
import time

# /etc/os-release ID -> (ansible_distribution, ansible_os_family)
_DISTROS = {
    "debian": ("Debian", "Debian"),
    "ubuntu": ("Ubuntu", "Debian"),
    "linuxmint": ("Linux Mint", "Debian"),
    "raspbian": ("Debian", "Debian"),
    "pop": ("Pop!_OS", "Debian"),
    "kali": ("Kali", "Debian"),
    "devuan": ("Devuan", "Debian"),
    "rhel": ("RedHat", "RedHat"),
    "centos": ("CentOS", "RedHat"),
    "rocky": ("Rocky", "RedHat"),
    "almalinux": ("AlmaLinux", "RedHat"),
    "ol": ("OracleLinux", "RedHat"),
    "fedora": ("Fedora", "RedHat"),
    "amzn": ("Amazon", "RedHat"),
    "sles": ("SLES", "Suse"),
    "sles_sap": ("SLES_SAP", "Suse"),
    "opensuse-leap": ("openSUSE Leap", "Suse"),
    "opensuse-tumbleweed": ("openSUSE Tumbleweed", "Suse"),
    "alpine": ("Alpine", "Alpine"),
    "arch": ("Archlinux", "Archlinux"),
    "gentoo": ("Gentoo", "Gentoo"),
    "freebsd": ("FreeBSD", "FreeBSD"),
}

# Package managers by preference per family, then in general.
_PKG_MGRS = ["apt", "dnf5", "dnf", "yum", "zypper", "apk", "pacman", "emerge", "pkg"]

# File systems that are never "disks" in ansible_mounts.
_PSEUDO_FS = {
    "proc", "sysfs", "devpts", "cgroup", "cgroup2", "securityfs", "pstore", "debugfs",
    "tracefs", "configfs", "fusectl", "mqueue", "hugetlbfs", "bpf", "autofs", "binfmt_misc",
    "rpc_pipefs", "nsfs", "devtmpfs", "efivarfs", "selinuxfs",
}
# Network file systems: statvfs on a dead server can hang, so sizes are not read.
_NETWORK_FS = {"nfs", "nfs4", "cifs", "smbfs", "sshfs", "fuse.sshfs", "9p", "glusterfs", "ceph"}


def _read(path, default=""):
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return default


def _os_release():
    data = {}
    text = _read("/etc/os-release") or _read("/usr/lib/os-release")
    for line in text.splitlines():
        if "=" not in line or line.lstrip().startswith("#"):
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
            value = value[1:-1]
        data[key.strip()] = value
    return data


def distribution_facts():
    rel = _os_release()
    ident = rel.get("ID", "").lower()
    system = os.uname().sysname  # platform.system(), without importing platform
    name, family = _DISTROS.get(ident, (rel.get("NAME", system) or system, ""))
    if not family:
        for like in rel.get("ID_LIKE", "").lower().split():
            if like in _DISTROS:
                family = _DISTROS[like][1]
                break
    version = rel.get("VERSION_ID", "")
    if family == "Debian" and name == "Debian":
        # Ansible reports Debian's point release ("12.5") from /etc/debian_version.
        point = _read("/etc/debian_version").strip()
        if re.match(r"^\d+(\.\d+)*$", point):
            version = point
    release = rel.get("VERSION_CODENAME", "") or rel.get("UBUNTU_CODENAME", "")
    if not release:
        match = re.search(r"\(([^)]+)\)", rel.get("VERSION", ""))
        release = match.group(1).split()[0].lower() if match else ""
    return {
        "ansible_system": system,
        "ansible_os_family": family or system,
        "ansible_distribution": name,
        "ansible_distribution_version": version,
        "ansible_distribution_major_version": version.split(".")[0] if version else "",
        "ansible_distribution_release": release,
        "ansible_os_name": rel.get("PRETTY_NAME", name),
    }


def pkg_mgr_fact(family):
    preferred = {
        "Debian": ["apt"],
        "RedHat": ["dnf5", "dnf", "yum"],
        "Suse": ["zypper"],
        "Alpine": ["apk"],
        "Archlinux": ["pacman"],
    }.get(family, [])
    for name in preferred + _PKG_MGRS:
        if shutil.which(name):
            return "dnf" if name == "dnf5" else name
    return "unknown"


def service_mgr_fact():
    # systemd creates /run/systemd/system only when it is PID 1 (sd_booted()).
    if os.path.isdir("/run/systemd/system"):
        return "systemd"
    comm = _read("/proc/1/comm").strip()
    if comm == "systemd":
        return "systemd"
    if os.path.exists("/sbin/openrc-run") or os.path.isdir("/run/openrc"):
        return "openrc"
    if comm in ("init", "sysvinit"):
        if os.path.exists("/sbin/initctl") and "upstart" in _read("/sbin/initctl", ""):
            return "upstart"
        return "sysvinit"
    return comm or "service"


def python_facts():
    info = sys.version_info
    return {
        "ansible_python_version": f"{info[0]}.{info[1]}.{info[2]}",
        "ansible_python": {
            "executable": sys.executable,
            "type": sys.implementation.name,  # Ansible: "cpython"
            "has_sslcontext": True,
            "version": {
                "major": info[0], "minor": info[1], "micro": info[2],
                "releaselevel": info[3], "serial": info[4],
            },
            "version_info": list(info),
        },
    }


def _fqdn(name):
    """socket.getfqdn(), asked with bytes: a str name goes through the idna codec, whose
    import (encodings.idna, stringprep) cost ~3 ms of every agent's start."""
    try:
        hostname, aliases, _ = socket.gethostbyaddr(name.encode("ascii"))
    except OSError:
        return name
    for alias in [hostname] + aliases:
        if "." in alias:
            return alias
    return hostname


def host_facts():
    uname = os.uname()
    nodename = uname.nodename
    short = socket.gethostname().split(".")[0]
    try:
        fqdn = _fqdn(socket.gethostname())
    except (OSError, UnicodeError):
        fqdn = nodename
    return {
        "ansible_hostname": short,
        "ansible_nodename": nodename,
        "ansible_fqdn": fqdn,
        "ansible_domain": fqdn.split(".", 1)[1] if "." in fqdn else "",
        "ansible_kernel": uname.release,
        "ansible_kernel_version": uname.version,
        "ansible_architecture": uname.machine,
        "ansible_machine": uname.machine,
        "ansible_machine_id": _read("/etc/machine-id").strip(),
        "ansible_boot_id": _read("/proc/sys/kernel/random/boot_id").strip(),
    }


def hardware_facts():
    mem = {}
    for line in _read("/proc/meminfo").splitlines():
        key, _, rest = line.partition(":")
        parts = rest.split()
        if parts and parts[0].isdigit():
            mem[key] = int(parts[0]) // 1024
    try:
        vcpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        vcpus = os.cpu_count() or 1
    uptime = _read("/proc/uptime").split()
    return {
        "ansible_memtotal_mb": mem.get("MemTotal", 0),
        "ansible_memfree_mb": mem.get("MemFree", 0),
        "ansible_swaptotal_mb": mem.get("SwapTotal", 0),
        "ansible_processor_vcpus": vcpus,
        "ansible_processor_count": os.cpu_count() or vcpus,
        "ansible_uptime_seconds": int(float(uptime[0])) if uptime else 0,
    }


def _unescape_mount(text):
    return re.sub(r"\\([0-7]{3})", lambda mt: chr(int(mt.group(1), 8)), text)


def mount_facts():
    mounts = []
    seen = set()
    for line in _read("/proc/mounts").splitlines():
        fields = line.split()
        if len(fields) < 4:
            continue
        device, mount, fstype, options = (_unescape_mount(f) for f in fields[:4])
        if fstype in _PSEUDO_FS or mount in seen:
            continue
        if not (device.startswith("/") or ":/" in device or mount == "/"):
            continue
        seen.add(mount)
        entry = {"mount": mount, "device": device, "fstype": fstype, "options": options}
        if fstype not in _NETWORK_FS:
            try:
                st = os.statvfs(mount)
            except OSError:
                st = None
            if st is not None:
                entry.update({
                    "block_size": st.f_frsize,
                    "block_total": st.f_blocks,
                    "block_available": st.f_bavail,
                    "block_used": st.f_blocks - st.f_bavail,  # as Ansible counts it
                    "size_total": st.f_frsize * st.f_blocks,
                    "size_available": st.f_frsize * st.f_bavail,
                    "inode_total": st.f_files,
                    "inode_available": st.f_favail,
                    "inode_used": st.f_files - st.f_favail,
                })
        mounts.append(entry)
    return {"ansible_mounts": mounts}


def _iface_ipv4(iface):
    import fcntl  # POSIX only; imported here so the rest works elsewhere

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        packed = struct.pack("256s", iface.encode()[:15])
        addr = fcntl.ioctl(sock.fileno(), 0x8915, packed)[20:24]  # SIOCGIFADDR
        mask = fcntl.ioctl(sock.fileno(), 0x891B, packed)[20:24]  # SIOCGIFNETMASK
        return socket.inet_ntoa(addr), socket.inet_ntoa(mask)
    finally:
        sock.close()


def network_facts():
    """ansible_default_ipv4 from the kernel's routing table (best effort)."""
    default = {}
    for line in _read("/proc/net/route").splitlines()[1:]:
        fields = line.split()
        if len(fields) >= 8 and fields[1] == "00000000" and fields[7] == "00000000":
            gateway = socket.inet_ntoa(struct.pack("<L", int(fields[2], 16)))
            default = {"interface": fields[0], "gateway": gateway, "alias": fields[0]}
            try:
                address, netmask = _iface_ipv4(fields[0])
                default.update({"address": address, "netmask": netmask})
            except (OSError, ImportError):
                pass
            mac = _read(f"/sys/class/net/{fields[0]}/address").strip()
            if mac:
                default["macaddress"] = mac
            break
    interfaces = sorted(os.listdir("/sys/class/net")) if os.path.isdir("/sys/class/net") else []
    return {"ansible_default_ipv4": default, "ansible_interfaces": interfaces,
            "ansible_all_ipv4_addresses": _local_ipv4_addresses()}


def _local_ipv4_addresses():
    """The host's own IPv4 addresses (loopback left out, as Ansible does), from fib_trie."""
    found = []
    previous = ""
    for line in _read("/proc/net/fib_trie").splitlines():
        text = line.strip()
        if text.startswith("/32 host LOCAL") and previous:
            if not previous.startswith("127.") and previous not in found:
                found.append(previous)
        match = re.match(r"^[|+`]-- (\d+\.\d+\.\d+\.\d+)$", text)
        previous = match.group(1) if match else ""
    return found


def virtualization_facts():
    """Container detection first (what matters for services and reboots), then VMs."""
    environ = _read("/proc/1/environ").split("\0")
    kind = ""
    for item in environ:
        if item.startswith("container="):
            kind = item.split("=", 1)[1] or "container"
    if not kind:
        kind = _read("/run/systemd/container").strip()
    if not kind and os.path.exists("/.dockerenv"):
        kind = "docker"
    if not kind and os.path.exists("/run/.containerenv"):
        kind = "podman"
    if not kind:
        cgroup = _read("/proc/1/cgroup")
        for name in ("docker", "lxc", "kubepods", "containerd"):
            if "/" + name in cgroup:
                kind = "docker" if name in ("kubepods", "containerd") else name
                break
    if kind:
        if kind not in ("docker", "lxc", "podman", "systemd-nspawn", "openvz", "wsl"):
            kind = "container"
        return {"ansible_virtualization_type": kind, "ansible_virtualization_role": "guest"}
    product = _read("/sys/class/dmi/id/product_name").strip().lower()
    vendor = _read("/sys/class/dmi/id/sys_vendor").strip().lower()
    for needle, name in (("kvm", "kvm"), ("qemu", "kvm"), ("vmware", "VMware"),
                         ("virtualbox", "virtualbox"), ("hyper-v", "hyperv"),
                         ("microsoft", "hyperv"), ("xen", "xen"), ("amazon ec2", "kvm"),
                         ("google", "kvm")):
        if needle in product or needle in vendor:
            return {"ansible_virtualization_type": name, "ansible_virtualization_role": "guest"}
    if "hypervisor" in _read("/proc/cpuinfo"):
        return {"ansible_virtualization_type": "kvm", "ansible_virtualization_role": "guest"}
    return {"ansible_virtualization_type": "NA", "ansible_virtualization_role": "NA"}


def _version_key(text):
    return [int(part) if part.isdigit() else part for part in re.split(r"[.\-+~_]", text)]


def newest_installed_kernel():
    """The newest kernel with modules under /lib/modules, or '' when there is none."""
    try:
        names = [n for n in os.listdir("/lib/modules") if n[:1].isdigit()]
    except OSError:
        return ""
    best = ""
    for name in names:
        try:
            if not best or _version_key(name) > _version_key(best):
                best = name
        except TypeError:  # mixed str/int parts: fall back to text order
            if name > best:
                best = name
    return best


def reboot_facts(running_kernel):
    reasons = []
    if os.path.exists("/var/run/reboot-required") or os.path.exists("/run/reboot-required"):
        reasons.append("/var/run/reboot-required exists")
    newest = newest_installed_kernel()
    if newest and newest != running_kernel:
        try:
            newer = _version_key(newest) > _version_key(running_kernel)
        except TypeError:
            newer = newest > running_kernel
        if newer and os.path.isdir(os.path.join("/lib/modules", newest)):
            reasons.append(f"kernel {newest} installed, {running_kernel} running")
    return {
        "pyengine_reboot_required": bool(reasons),
        "pyengine_reboot_reasons": reasons,
        "pyengine_newest_kernel": newest,
    }


def user_facts():
    uid = os.geteuid()
    try:
        entry = pwd.getpwuid(uid)
        name, home, shell = entry.pw_name, entry.pw_dir, entry.pw_shell
    except KeyError:
        name, home, shell = str(uid), os.environ.get("HOME", "/"), ""
    return {
        "ansible_user_id": name,
        "ansible_user_uid": uid,
        "ansible_user_gid": os.getegid(),
        "ansible_user_dir": home,
        "ansible_user_shell": shell,
        "ansible_env": dict(os.environ),
    }


def date_facts():
    now = time.time()
    local = time.localtime(now)
    utc = time.gmtime(now)
    return {
        "ansible_date_time": {
            "epoch": str(int(now)),
            "date": time.strftime("%Y-%m-%d", local),
            "time": time.strftime("%H:%M:%S", local),
            "iso8601": time.strftime("%Y-%m-%dT%H:%M:%SZ", utc),
            "tz": time.strftime("%Z", local),
            "tz_offset": time.strftime("%z", local),
        }
    }


def selinux_facts():
    if not os.path.isdir("/sys/fs/selinux"):
        return {"ansible_selinux": {"status": "disabled"}}
    enforce = _read("/sys/fs/selinux/enforce").strip()
    mode = {"1": "enforcing", "0": "permissive"}.get(enforce, "unknown")
    return {"ansible_selinux": {"status": "enabled", "mode": mode}}


def gather():
    """All facts as a flat dict of `ansible_*` / `pyengine_*` variables."""
    facts = {}
    steps = [distribution_facts, python_facts, host_facts, hardware_facts, mount_facts,
             network_facts, virtualization_facts, user_facts, date_facts, selinux_facts]
    errors = []
    for step in steps:
        try:
            facts.update(step())
        except Exception as err:  # one unreadable corner must not cost the other facts
            errors.append(f"{step.__name__}: {err}")
    facts["ansible_pkg_mgr"] = pkg_mgr_fact(facts.get("ansible_os_family", ""))
    facts["ansible_service_mgr"] = service_mgr_fact()
    facts.update(reboot_facts(facts.get("ansible_kernel", "")))
    if errors:
        facts["pyengine_fact_errors"] = errors
    return facts
