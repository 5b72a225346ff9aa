"""Parsers and command construction of pamd, ufw, openssh_keypair, selinux and seport.

The module files are loaded as plain Python (they are stdlib-only). Recorded command
outputs are quoted inline with where they come from; commands are argv lists.
"""

from __future__ import annotations

import datetime
import importlib.util
import json
import subprocess
from pathlib import Path
from types import ModuleType
from typing import Any

from pyengine.agent.runtime import run_module
from pyengine.modspec import normalize_args

MODULES = Path(__file__).resolve().parents[2] / "modules"


def _load(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(f"pyengine_module_{name}", MODULES / f"{name}.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


pamd = _load("pamd")
NOW = datetime.datetime(2026, 1, 2, 3, 4, 5)


# ------------------------------------------------------------------------- pamd
def test_pamd_tokens_keep_brackets_together() -> None:
    assert pamd.tokens("auth [success=1 default=ignore] pam_mysql.so [query=select x] y") == [
        "auth", "[success=1 default=ignore]", "pam_mysql.so", "[query=select x]", "y"]


def test_pamd_control_normalized_for_matching() -> None:
    assert pamd.normalize_control("[success = 1   default=ignore]") == \
        "[success=1 default=ignore]"
    rule = pamd.parse_rule("session [success=1 default=ignore] pam_succeed_if.so quiet")
    assert rule is not None
    assert rule.matches("session", "[success=1  default = ignore]", "pam_succeed_if.so")
    assert not rule.matches("session", "[success=2 default=ignore]", "pam_succeed_if.so")


def test_pamd_trailing_comment_is_not_an_argument() -> None:
    rule = pamd.parse_rule("session optional pam_mail.so standard noenv # [1]")
    assert rule is not None
    assert rule.args == ["standard", "noenv"] and rule.comment == "# [1]"
    assert rule.render() == "session    optional pam_mail.so standard noenv # [1]"


def test_pamd_backslash_continues_a_rule() -> None:
    lines = pamd.parse_service("auth required pam_env.so \\\n    readenv=1\n# done\n")
    assert isinstance(lines[0], pamd.Rule) and lines[0].args == ["readenv=1"]
    assert lines[1] == "# done"


def test_pamd_render_adds_then_replaces_the_mark() -> None:
    lines = pamd.parse_service("#%PAM-1.0\nauth   required   pam_env.so\n")
    first = pamd.render_service(lines, NOW)
    assert first == ("#%PAM-1.0\n# Updated by Ansible - 2026-01-02T03:04:05\n"
                     "auth       required pam_env.so\n")
    again = pamd.render_service(pamd.parse_service(first), NOW.replace(year=2027))
    assert again == first.replace("2026", "2027")


def test_pamd_args_present_sets_values_in_place_and_appends_in_order() -> None:
    lines = pamd.parse_service("password requisite pam_pwquality.so retry=3 minlen=8\n")
    params = {"type": "password", "control": "requisite", "module_path": "pam_pwquality.so",
              "module_arguments": ["minlen=14", "enforce_for_root", "dcredit=-1 ucredit=-1"],
              "state": "args_present"}
    assert pamd.apply(lines, params) == 1
    assert lines[0].args == ["retry=3", "minlen=14", "enforce_for_root", "dcredit=-1",
                             "ucredit=-1"]
    assert pamd.apply(lines, params) == 0


def test_pamd_after_every_match_and_not_twice() -> None:
    lines = pamd.parse_service("auth required pam_a.so\nauth required pam_a.so\n")
    params = {"type": "auth", "control": "required", "module_path": "pam_a.so",
              "new_type": "auth", "new_control": "optional", "new_module_path": "pam_b.so",
              "module_arguments": None, "state": "after"}
    assert pamd.apply(lines, params) == 2
    assert [r.path for r in lines] == ["pam_a.so", "pam_b.so", "pam_a.so", "pam_b.so"]
    assert pamd.apply(lines, params) == 0


def test_pamd_invalid_bracket_action_is_reported() -> None:
    rule = pamd.parse_rule("auth [success=maybe] pam_x.so")
    assert rule is not None
    assert rule.problem() == ("Rule control action, maybe, is not valid in rule "
                              "auth       [success=maybe] pam_x.so")
    ok = pamd.parse_rule("auth [success=2 new_authtok_reqd=done default=die] pam_x.so")
    assert ok is not None and ok.problem() is None


# -------------------------------------------------------------- openssh_keypair
keypair = _load("openssh_keypair")


def _keypair(args: dict[str, Any], check: bool = False) -> dict[str, Any]:
    source = (MODULES / "openssh_keypair.py").read_text()
    params = normalize_args("community.crypto.openssh_keypair", args)
    return run_module(source, params, check_mode=check, diff_mode=True, name="openssh_keypair")


def _keygen(path: Path, *extra: str) -> None:
    subprocess.run(["ssh-keygen", "-q", "-f", str(path), *extra], check=True)


def _pub_of(path: Path) -> str:
    return subprocess.run(["ssh-keygen", "-P", "", "-y", "-f", str(path)], check=True,
                          capture_output=True, text=True).stdout.split()[1]


def test_keypair_listing_and_public_parsers() -> None:
    # `ssh-keygen -l` of OpenSSH 9.2p1 (Debian 12), a key without comment and one with.
    assert keypair.parse_listing("1024 SHA256:NEFF7n2Iy0uZEwFBZA6pQZCHb/tcq1dMSdnaQEym7Hg  "
                                 "(RSA)\n") == {"size": 1024, "type": "rsa",
                                                "fingerprint": "SHA256:NEFF7n2Iy0uZEwFBZA6p"
                                                               "QZCHb/tcq1dMSdnaQEym7Hg"}
    assert keypair.parse_listing("256 SHA256:ttZw me@x y (ED25519)")["type"] == "ed25519"
    assert keypair.parse_public("ssh-rsa AAAA \n") == ("ssh-rsa", "AAAA", "")
    assert keypair.parse_public("ssh-ed25519 AAAA me and you\n") == ("ssh-ed25519", "AAAA",
                                                                    "me and you")
    assert keypair.generate_argv("/usr/bin/ssh-keygen", "/k", "ed25519", 256, None, None) == [
        "/usr/bin/ssh-keygen", "-q", "-N", "", "-b", "256", "-t", "ed25519", "-f", "/k",
        "-C", ""]


def test_keypair_partial_idempotence_regenerates_on_size_only(tmp_path: Path) -> None:
    key = tmp_path / "id_rsa"
    _keygen(key, "-N", "", "-t", "rsa", "-b", "1024", "-C", "old")
    old = _pub_of(key)
    same = _keypair({"path": str(key), "size": 1024})
    assert not same["changed"] and same["public_key"].split()[1] == old
    assert same["comment"] == "old"  # no comment asked: the key's own is kept
    never = _keypair({"path": str(key), "size": 2048, "regenerate": "never"})
    assert not never["changed"] and _pub_of(key) == old
    fail = _keypair({"path": str(key), "size": 2048, "regenerate": "fail"})
    assert fail["failed"] and "wrong type and/or size" in fail["msg"]
    dry = _keypair({"path": str(key), "size": 2048}, check=True)
    assert dry["changed"] and _pub_of(key) == old
    new = _keypair({"path": str(key), "size": 2048})
    assert new["changed"] and _pub_of(key) != old and new["size"] == 2048
    assert new["diff"]["before"]["size"] == 1024 and new["diff"]["after"]["size"] == 2048
    assert (key.stat().st_mode & 0o777) == 0o600
    assert not _keypair({"path": str(key), "size": 2048})["changed"]


def test_keypair_wrong_pub_rewritten_from_private_key(tmp_path: Path) -> None:
    key, other = tmp_path / "id", tmp_path / "other"
    _keygen(key, "-N", "", "-t", "ed25519", "-C", "mine")
    _keygen(other, "-N", "", "-t", "ed25519", "-C", "theirs")
    (tmp_path / "id.pub").write_bytes((tmp_path / "other.pub").read_bytes())
    result = _keypair({"path": str(key), "type": "ed25519"})
    assert result["changed"] and "rewrote" in result["msg"]
    assert (tmp_path / "id.pub").read_text().split()[1] == _pub_of(key)
    assert result["fingerprint"] == keypair.parse_listing(subprocess.run(
        ["ssh-keygen", "-l", "-f", str(key)], capture_output=True, text=True).stdout)[
        "fingerprint"]
    assert not _keypair({"path": str(key), "type": "ed25519"})["changed"]


def test_keypair_comment_changes_without_regenerating(tmp_path: Path) -> None:
    key = tmp_path / "id"
    _keygen(key, "-N", "", "-t", "ed25519", "-C", "before")
    old = _pub_of(key)
    result = _keypair({"path": str(key), "type": "ed25519", "comment": "after@host"})
    assert result["changed"] and result["comment"] == "after@host"
    assert _pub_of(key) == old
    assert (tmp_path / "id.pub").read_text().strip().endswith(" after@host")
    assert not _keypair({"path": str(key), "type": "ed25519", "comment": "after@host"})[
        "changed"]


def test_keypair_passphrase_encrypts_and_must_open_the_key(tmp_path: Path) -> None:
    key = tmp_path / "id"
    args = {"path": str(key), "type": "ed25519", "passphrase": "s3cret pass"}
    assert _keypair(args)["changed"]
    locked = subprocess.run(["ssh-keygen", "-P", "", "-y", "-f", str(key)], capture_output=True)
    assert locked.returncode != 0  # encrypted
    assert not _keypair(args)["changed"]
    wrong = _keypair(dict(args, passphrase="nope"))
    assert wrong["failed"] and "protected with a passphrase" in wrong["msg"]
    unprotected = tmp_path / "plain"
    _keygen(unprotected, "-N", "", "-t", "ed25519")
    refused = _keypair(dict(args, path=str(unprotected)))
    assert refused["failed"]
    replaced = _keypair(dict(args, passphrase="nope", regenerate="full_idempotence"))
    assert replaced["changed"]
    assert not _keypair(dict(args, passphrase="nope"))["changed"]


# ------------------------------------------------------------------------- ufw
ufw = _load("ufw")

# Recorded from ufw 0.36.2 on Debian 12 (a pyengine lab host, `apt-get install ufw`),
# LANG=C. `ufw status verbose` with the firewall on:
UFW_STATUS_ACTIVE = """Status: active
Logging: on (low)
Default: deny (incoming), allow (outgoing), disabled (routed)
New profiles: skip

To                         Action      From
--                         ------      ----
22/tcp                     ALLOW IN    Anywhere
22/tcp (v6)                ALLOW IN    Anywhere (v6)

"""
# `ufw --dry-run allow from 10.0.0.0/8 to any port 443 proto tcp comment 'web in'` with
# 22/tcp allowed (chain declarations and logging lines shortened): an IPv4-only rule
# rewrites only user.rules.
UFW_DRY_V4 = """*filter
:ufw-user-input - [0:0]
:ufw-user-output - [0:0]
### RULES ###

### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in
-A ufw-user-input -p tcp --dport 22 -j ACCEPT

### tuple ### allow tcp 443 0.0.0.0/0 any 10.0.0.0/8 in comment=77656220696e
-A ufw-user-input -p tcp --dport 443 -s 10.0.0.0/8 -j ACCEPT

### END RULES ###
COMMIT
Rules updated
"""
# `ufw --dry-run delete allow 22/tcp`: both families, no tuple left.
UFW_DRY_DELETE = """*filter
:ufw-user-input - [0:0]
### RULES ###

### END RULES ###
COMMIT
*filter
:ufw6-user-input - [0:0]
### RULES ###

### END RULES ###
COMMIT
Rules updated
Rules updated (v6)
"""
# `ufw --dry-run allow 22/tcp` when the rule is there.
UFW_DRY_EXISTING = "Skipping adding existing rule\nSkipping adding existing rule (v6)\n"
# `ufw status numbered` with an IPv4 and an IPv6 rule.
UFW_NUMBERED = """Status: active

     To                         Action      From
     --                         ------      ----
[ 1] 22/tcp                     ALLOW IN    Anywhere
[ 2] 2222/tcp                   LIMIT IN    Anywhere                   # alt ssh
[ 3] 22/tcp (v6)                ALLOW IN    Anywhere (v6)
"""


def test_ufw_dry_run_parsed_per_family() -> None:
    assert ufw.dry_run_tuples(UFW_DRY_V4) == {"v4": [
        "### tuple ### allow tcp 22 0.0.0.0/0 any 0.0.0.0/0 in",
        "### tuple ### allow tcp 443 0.0.0.0/0 any 10.0.0.0/8 in comment=77656220696e"]}
    assert ufw.dry_run_tuples(UFW_DRY_DELETE) == {"v4": [], "v6": []}
    assert ufw.dry_run_tuples(UFW_DRY_EXISTING) == {}


def test_ufw_status_settings_and_numbers() -> None:
    assert ufw.status_active(UFW_STATUS_ACTIVE)
    assert not ufw.status_active("Status: inactive\n")
    assert ufw.numbered_rules(UFW_NUMBERED) == [(1, False), (2, False), (3, True)]
    conf = ufw.parse_shell_vars('# comment\nENABLED=yes\nLOGLEVEL=low\n')
    assert conf == {"ENABLED": "yes", "LOGLEVEL": "low"}
    assert ufw.parse_shell_vars('DEFAULT_INPUT_POLICY="DROP"\n')["DEFAULT_INPUT_POLICY"] == "DROP"
    assert ufw.version_of("ufw 0.36.2\nCopyright 2008-2023 Canonical Ltd.\n") == (0, 36)


def test_ufw_insert_positions_follow_ansible() -> None:
    rules = ufw.numbered_rules(UFW_NUMBERED)
    assert ufw.insert_position(1, "zero", rules) == 1
    assert ufw.insert_position(0, "first-ipv6", rules) == 3
    assert ufw.insert_position(-1, "last-ipv4", rules) == 1
    assert ufw.insert_position(1, "last-ipv6", rules) is None  # past the end: append


def test_ufw_logging_levels() -> None:
    assert not ufw.logging_needed("on", "medium")
    assert ufw.logging_needed("on", "off")
    assert ufw.logging_needed("high", "low")
    assert not ufw.logging_needed("off", "off")


def test_ufw_rule_argv_is_a_list_with_user_values_as_single_items() -> None:
    params = {"route": False, "delete": False, "rule": "allow", "direction": "in",
              "interface": "eth0", "interface_in": None, "interface_out": None, "log": True,
              "from_ip": "10.0.0.0/8", "from_port": None, "to_ip": "any", "to_port": "443",
              "proto": "tcp", "name": None, "comment": "web; rm -rf /"}
    assert ufw.rule_argv("/usr/sbin/ufw", params, insert_at=2, dry_run=True) == [
        "/usr/sbin/ufw", "--dry-run", "insert", "2", "allow", "in", "on", "eth0", "log",
        "from", "10.0.0.0/8", "to", "any", "port", "443", "proto", "tcp",
        "comment", "web; rm -rf /"]
    routed = dict(params, route=True, delete=True, direction=None, interface=None,
                  interface_in="eth0", interface_out="eth1", log=False, comment=None,
                  name="OpenSSH", proto=None, to_port=None)
    assert ufw.rule_argv("ufw", routed, insert_at=3) == [
        "ufw", "route", "delete", "allow", "in", "on", "eth0", "out", "on", "eth1",
        "from", "10.0.0.0/8", "to", "any", "app", "OpenSSH"]


# --------------------------------------------------------------------- selinux
selinux = _load("selinux")

# `grubby --info=ALL` prints key=value lines per boot entry (index=, kernel="...",
# args="...", root=, initrd=, title=, id=): the shape ansible.posix.selinux reads with
# ^args="(.*)"$. Two entries, as on a RHEL 9 host with a rescue kernel.
GRUBBY_INFO = '''index=0
kernel="/boot/vmlinuz-5.14.0-427.13.1.el9_4.x86_64"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap rhgb quiet"
root="/dev/mapper/rhel-root"
initrd="/boot/initramfs-5.14.0-427.13.1.el9_4.x86_64.img"
title="Red Hat Enterprise Linux (5.14.0-427.13.1.el9_4.x86_64) 9.4 (Plow)"
id="8d2b0ae1c34d4a0b9b0c0b7c0e1d0a11-5.14.0-427.13.1.el9_4.x86_64"
index=1
kernel="/boot/vmlinuz-0-rescue-8d2b0ae1c34d4a0b9b0c0b7c0e1d0a11"
args="ro crashkernel=1G-4G:192M,4G-64G:256M,64G-:512M resume=/dev/mapper/rhel-swap"
root="/dev/mapper/rhel-root"
initrd="/boot/initramfs-0-rescue-8d2b0ae1c34d4a0b9b0c0b7c0e1d0a11.img"
title="Red Hat Enterprise Linux (0-rescue-8d2b0ae1c34d4a0b9b0c0b7c0e1d0a11) 9.4 (Plow)"
id="8d2b0ae1c34d4a0b9b0c0b7c0e1d0a11-0-rescue"
'''


def test_selinux_getenforce_words() -> None:
    # getenforce (libselinux utils/getenforce.c) prints one of these three words.
    assert selinux.parse_getenforce("Enforcing\n") == "enforcing"
    assert selinux.parse_getenforce("Permissive\n") == "permissive"
    assert selinux.parse_getenforce("Disabled\n") == "disabled"
    assert selinux.parse_getenforce("getenforce: command failed") is None


def test_selinux_kernel_line_from_grubby() -> None:
    assert selinux.kernel_enabled(GRUBBY_INFO) is True
    assert selinux.kernel_enabled(GRUBBY_INFO.replace(' quiet"', ' quiet selinux=0"')) is None
    assert selinux.kernel_enabled(GRUBBY_INFO.replace('swap"', 'swap selinux=0"').replace(
        ' quiet"', ' quiet selinux=0"')) is False
    assert selinux.grubby_argv("/usr/sbin/grubby", False) == [
        "/usr/sbin/grubby", "--update-kernel=ALL", "--args", "selinux=0"]
    assert selinux.grubby_argv("grubby", True)[2] == "--remove-args"
    assert selinux.setenforce_argv("/usr/sbin/setenforce", "permissive") == [
        "/usr/sbin/setenforce", "0"]


def test_selinux_config_lines() -> None:
    text = "SELINUX=enforcing\n#SELINUX=disabled\nSELINUXTYPE=targeted\n"
    assert selinux.config_value(text, "SELINUX") == "enforcing"
    assert selinux.config_value(text, "SELINUXTYPE") == "targeted"
    assert selinux.set_config_value(text, "SELINUX", "permissive") == (
        "SELINUX=permissive\n#SELINUX=disabled\nSELINUXTYPE=targeted\n")


# ---------------------------------------------------------------------- seport
seport = _load("seport")

# `semanage port -l` as printed by seobject.py's portRecords.list() (SELinuxProject/
# selinux, python/semanage/seobject.py: a heading, an empty line, then "%-30s %-8s "
# and the ports joined by ", "); the http lines as in Red Hat's "Using SELinux" guide.
SEMANAGE_PORTS = """SELinux Port Type              Proto    Port Number

http_cache_port_t              tcp      8080, 8118, 8123, 10001-10010
http_port_t                    tcp      80, 81, 443, 488, 8008, 8009, 8443, 9000
ssh_port_t                     tcp      22
"""

# A semanage stand-in for the flow tests: it keeps policy and local records in a JSON
# file, lists them in the format above, and applies -a/-m/-d as semanage does
# (refusing to add a defined port, to modify or delete an undefined one, or to
# delete a policy port).
FAKE_SEMANAGE = r'''#!/usr/bin/env python3
import json, sys
store, log = sys.argv[0] + ".json", sys.argv[0] + ".log"
db = json.load(open(store))
open(log, "a").write(" ".join(sys.argv[1:]) + "\n")
args = sys.argv[2:]
def listing(recs):
    out = {}
    for key, t in recs:
        out.setdefault((t, key.split("/")[0]), []).append(key.split("/")[1])
    print("%-30s %-8s %s\n" % ("SELinux Port Type", "Proto", "Port Number"))
    for (t, proto) in sorted(out):
        print("%-30s %-8s " % (t, proto) + ", ".join(out[(t, proto)]))
if args[0] == "-l":
    recs = list(db["local"].items()) if "-C" in args else (
        list(db["policy"].items()) + list(db["local"].items()))
    listing(recs); sys.exit(0)
proto = args[args.index("-p") + 1]; key = proto + "/" + args[-1]
known = key in db["policy"] or key in db["local"]
if args[0] == "-a":
    if known: sys.exit("ValueError: Port %s already defined" % key)
    db["local"][key] = args[args.index("-t") + 1]
elif args[0] == "-m":
    if not known: sys.exit("ValueError: Port %s is not defined" % key)
    db["local"][key] = args[args.index("-t") + 1]
elif args[0] == "-d":
    if key not in db["local"]:
        sys.exit("ValueError: Port %s is defined in policy, cannot be deleted" % key)
    del db["local"][key]
json.dump(db, open(store, "w"))
'''


def test_seport_listing_parsed() -> None:
    parsed = seport.parse_port_list(SEMANAGE_PORTS)
    assert parsed[("ssh_port_t", "tcp")] == ["22"]
    assert parsed[("http_cache_port_t", "tcp")][-1] == "10001-10010"
    assert seport.types_by_port(parsed)[(10001, 10010, "tcp")] == "http_cache_port_t"
    assert seport.plan(parsed, parsed, ["22", "2222", "8080"], "tcp", "ssh_port_t",
                       "present") == [("-a", "2222"), ("-m", "8080")]
    assert seport.plan(parsed, parsed, ["22", "2222"], "tcp", "ssh_port_t", "absent") == [
        ("-d", "22")]
    assert seport.change_argv("/usr/sbin/semanage", "-a", "2222", "tcp", "ssh_port_t",
                              False) == ["/usr/sbin/semanage", "port", "-a", "-t",
                                         "ssh_port_t", "-p", "tcp", "-N", "2222"]
    assert seport.change_argv("semanage", "-d", "2222", "tcp", "ssh_port_t", True) == [
        "semanage", "port", "-d", "-p", "tcp", "2222"]


def _fake_semanage(tmp_path: Path) -> Path:
    fake = tmp_path / "semanage"
    fake.write_text(FAKE_SEMANAGE)
    fake.chmod(0o755)
    policy = {f"{proto}/{port}": t for (t, proto), ports in
              seport.parse_port_list(SEMANAGE_PORTS).items() for port in ports}
    (tmp_path / "semanage.json").write_text(json.dumps({"policy": policy, "local": {}}))
    (tmp_path / "fs").mkdir()
    (tmp_path / "fs" / "enforce").write_text("1")
    return fake


def _seport(fake: Path, args: dict[str, Any], check: bool = False) -> dict[str, Any]:
    source = (MODULES / "seport.py").read_text()
    params = normalize_args("community.general.seport", dict(
        args, _semanage=str(fake), _selinuxfs=str(fake.parent / "fs")))
    return run_module(source, params, check_mode=check, diff_mode=True, name="seport")


def test_seport_adds_modifies_then_changes_nothing(tmp_path: Path) -> None:
    fake = _fake_semanage(tmp_path)
    args = {"ports": "2222,8080", "proto": "tcp", "setype": "ssh_port_t"}
    dry = _seport(fake, args, check=True)
    assert dry["changed"] and json.loads((tmp_path / "semanage.json").read_text())[
        "local"] == {}
    first = _seport(fake, args)
    assert first["changed"], first
    assert (tmp_path / "semanage.log").read_text().splitlines()[-2:] == [
        "port -a -t ssh_port_t -p tcp 2222", "port -m -t ssh_port_t -p tcp 8080"]
    assert first["diff"]["after"] == "ssh_port_t tcp: 22, 2222, 8080\n"
    again = _seport(fake, args)
    assert not again["changed"] and again["msg"] == "ports already labelled ssh_port_t"
    local = _seport(fake, dict(args, ports=["2222"], local=True, state="absent",
                               reload=False))
    assert local["changed"]
    assert (tmp_path / "semanage.log").read_text().splitlines()[-1] == \
        "port -d -p tcp -N 2222"


def test_seport_refuses_when_selinux_is_off_and_reports_semanage_errors(
        tmp_path: Path) -> None:
    fake = _fake_semanage(tmp_path)
    (tmp_path / "fs" / "enforce").unlink()
    off = _seport(fake, {"ports": "2222", "proto": "tcp", "setype": "ssh_port_t"})
    assert off["failed"] and off["msg"] == "SELinux is disabled on this host."
    (tmp_path / "fs" / "enforce").write_text("0")
    policy_port = _seport(fake, {"ports": "22", "proto": "tcp", "setype": "ssh_port_t",
                                 "state": "absent"})
    assert policy_port["failed"] and "defined in policy, cannot be deleted" in \
        policy_port["msg"]


def test_keypair_failure_never_shows_the_passphrase(tmp_path: Path) -> None:
    result = _keypair({"path": str(tmp_path / "id"), "type": "rsa1",
                       "passphrase": "hunter2-secret"})
    assert result["failed"] and "could not generate a rsa1 key" in result["msg"]
    assert "hunter2-secret" not in json.dumps(result)
