"""Parsers of the patch module against recorded outputs of real systems.

Every fixture in tests/fixtures/patch/ names its source (a public bug report where the
output was pasted, or this Debian 12 machine) in tests/fixtures/patch/README.md.
"""

from __future__ import annotations

import importlib.util
import subprocess
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "fixtures" / "patch"


def _load():
    spec = importlib.util.spec_from_file_location("patch_module", ROOT / "modules" / "patch.py")
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


patch = _load()


def fixture(name: str) -> str:
    return (FIXTURES / name).read_text()


# ------------------------------------------------------------------ check-update
def test_yum_check_update_centos6_reads_every_table_row():
    # https://github.com/saltstack/salt/issues/44150
    rows = patch.parse_check_update(fixture("yum_check_update_centos6.txt"))
    assert len(rows) == 10
    assert rows[0] == {"name": "acl", "arch": "x86_64", "version": "2.2.49-7.el6_9.1",
                       "repo": "updates"}
    assert rows[3]["name"] == "ca-certificates" and rows[3]["arch"] == "noarch"
    assert {r["name"] for r in rows} >= {"bash", "coreutils-libs", "cronie-anacron"}


def test_yum_check_update_skips_plugin_banner_mirrors_and_repo_progress():
    # https://github.com/future-architect/vuls/issues/32
    rows = patch.parse_check_update(fixture("yum_check_update_plugins_repos.txt"))
    assert [r["name"] for r in rows] == [
        "Django14", "GeoIP", "Percona-Server-shared-56", "abrt", "abrt-addon-ccpp",
        "abrt-addon-kerneloops", "abrt-addon-python"]
    assert rows[2]["version"] == "5.6.21-rel70.1.el6" and rows[2]["repo"] == "repo-base"


def test_dnf_check_update_el8_rows():
    # https://github.com/HariSekhon/Nagios-Plugins/issues/341
    rows = patch.parse_check_update(fixture("dnf_check_update_el8.txt"))
    assert len(rows) == 12
    assert rows[-1] == {"name": "libdnf", "arch": "x86_64", "version": "0.39.1-6.el8_2",
                        "repo": "BaseOS"}


def test_obsoleting_section_is_not_counted_as_updates():
    # https://github.com/OpenMandrivaAssociation/distribution/issues/2548
    assert patch.parse_check_update(fixture("dnf_check_update_obsoleting.txt")) == []


def test_dnf5_check_upgrade_reads_upgrades_and_ignores_obsoletes():
    # https://github.com/AvengeMedia/DankMaterialShell/issues/3522
    rows = patch.parse_check_update(fixture("dnf5_check_upgrade.txt"))
    assert [(r["name"], r["arch"]) for r in rows] == [
        ("apparmor-libs", "x86_64"), ("proton-vpn-daemon", "noarch"),
        ("proton-vpn-gtk-app", "noarch"), ("python3-proton-vpn-api-core", "aarch64"),
        ("python3-proton-vpn-api-core", "x86_64")]
    assert rows[0]["version"] == "6.0.0~alpha1-1.fc44"


# -------------------------------------------------------------------- updateinfo
def test_yum_updateinfo_security_rhel7():
    # https://github.com/romkatv/powerlevel10k/issues/1118
    rows = patch.parse_updateinfo(fixture("yum_updateinfo_list_security_rhel7.txt"))
    assert len(rows) == 13
    assert rows[0] == {"advisory": "RHSA-2014:1031", "severity": "Important", "type": "Sec.",
                       "name": "389-ds-base", "version": "0:1.3.1.6-26.el7_0",
                       "arch": "x86_64"}
    assert rows[-1]["name"] == "389-ds-base-libs"
    assert {r["severity"] for r in rows} == {"Important", "Moderate"}


def test_yum_updateinfo_keeps_epochs():
    # https://github.com/openshift-labs/learn-katacoda/issues/1052
    rows = patch.parse_updateinfo(fixture("yum_updateinfo_list_epochs_el7.txt"))
    dbus = [r for r in rows if r["name"] == "dbus"]
    assert [r["version"] for r in dbus] == ["1:1.10.24-14.el7_8", "1:1.10.24-15.el7"]
    assert {r["name"] for r in rows} >= {"bash", "binutils", "curl", "dbus-libs",
                                          "elfutils-default-yama-scope"}
    assert [r for r in rows if r["name"] == "elfutils-default-yama-scope"][0]["arch"] == \
        "noarch"


def test_dnf4_list_sec_skips_repo_lines():
    # https://github.com/fedora-infra/bodhi/pull/2099
    rows = patch.parse_updateinfo(fixture("dnf4_list_sec_fedora.txt"))
    assert rows == [{"advisory": "FEDORA-2017-ad1937a146", "severity": "Moderate",
                     "type": "Sec.", "name": "TurboGears", "version": "0:1.0.2.2-2.fc17",
                     "arch": "noarch"}]


def test_dnf5_advisory_list_columns():
    # https://github.com/rpm-software-management/dnf/issues/1893
    rows = patch.parse_updateinfo(fixture("dnf5_advisory_list.txt"))
    assert [(r["advisory"], r["name"], r["version"]) for r in rows] == [
        ("FEDORA-2018-318f184112", "flac", "0:1.4.0-1.fc29"),
        ("FEDORA-2999:002-02", "flac", "0:1.3.3-8.fc29")]
    assert rows[0]["type"] == "enhancement" and rows[0]["severity"] == "Moderate"


# ------------------------------------------------------------------ holds, reboot
def test_dnf_versionlock_list_names():
    # https://github.com/PackageKit/PackageKit/issues/677 and /444
    assert patch.parse_versionlock(fixture("dnf_versionlock_list.txt")) == {"terraform",
                                                                            "tcsh"}


def test_conf_excludes_only_from_main_section():
    text = "[main]\ngpgcheck=1\nexclude=kernel* httpd,php*\n[epel]\nexclude=nginx\n"
    assert patch.parse_conf_excludes(text) == ["kernel*", "httpd", "php*"]


@pytest.mark.parametrize("name,pkgs", [
    ("needs_restarting_r_alma8.txt", ["glibc", "linux-firmware"]),  # AlmaLinux deploy #177
    ("needs_restarting_r_rhel9_unregistered.txt", ["dbus-daemon"]),  # cisagov upgrade #78
])
def test_needs_restarting_r_rc1_means_reboot(name, pkgs):
    required, found = patch.parse_needs_restarting_r(1, fixture(name))
    assert required is True and found == pkgs


def test_needs_restarting_r_rc0_means_no_reboot():
    assert patch.parse_needs_restarting_r(0, "") == (False, [])


def test_needrestart_batch_kernel_and_services():
    # https://github.com/kellyjonbrazil/jc/issues/339
    assert patch.parse_needrestart(fixture("needrestart_b_debian11.txt")) == (
        3, ["exim4.service", "php7.4-fpm.service"])


def test_needrestart_verbose_lines_are_ignored():
    # https://github.com/liske/needrestart/issues/22
    assert patch.parse_needrestart(fixture("needrestart_bkv_debian8.txt")) == (2, [])


# ---------------------------------------------------------------------------- apt
def test_policy_sources_debian12_security_archive():
    sources = patch.parse_policy_sources(fixture("debian12_apt_cache_policy.txt"))
    sec = "http://deb.debian.org/debian-security bookworm-security/main amd64 Packages"
    main = "http://deb.debian.org/debian bookworm/main amd64 Packages"
    assert sources[sec]["l"] == "Debian-Security"
    assert sources[sec]["n"] == "bookworm-security"
    assert sources[main]["l"] == "Debian"
    assert patch.source_is_security(sec, sources)
    assert not patch.source_is_security(main, sources)
    upd = "http://deb.debian.org/debian bookworm-updates/main amd64 Packages"
    assert not patch.source_is_security(upd, sources)
    assert sources["/var/lib/dpkg/status"] == {"a": "now"}


def test_policy_packages_versions_and_sources():
    pkgs = patch.parse_policy_packages(fixture("debian12_apt_cache_policy_pkgs.txt"))
    openssl = pkgs["openssl"]
    assert openssl["installed"] == "3.0.19-1~deb12u2"
    assert openssl["candidate"] == "3.0.22-1~deb12u2"
    versions = dict(openssl["versions"])
    assert versions["3.0.22-1~deb12u2"] == [
        "http://deb.debian.org/debian-security bookworm-security/main amd64 Packages"]
    assert versions["3.0.19-1~deb12u2"] == ["/var/lib/dpkg/status"]
    libc = pkgs["libc6"]
    assert libc["installed"] == libc["candidate"]
    assert len(libc["versions"]) == 2


def test_source_without_release_data_uses_suite_name():
    src = "file:/srv/repo jammy-security/main amd64 Packages"
    assert patch.source_is_security(src, {})
    assert not patch.source_is_security("file:/srv/repo jammy/main amd64 Packages", {})


def test_parse_sim_inst_remv_and_kept_back():
    text = (
        "Reading package lists...\n"
        "The following packages have been kept back:\n"
        "  linux-image-amd64 systemd\n"
        "The following packages will be upgraded:\n"
        "  openssl\n"
        "Inst openssl [3.0.19-1~deb12u2] (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security"
        " [amd64])\n"
        "Inst libnew (1.0 Debian:12.15/oldstable [amd64])\n"
        "Remv oldpkg [0.9]\n"
        "Conf openssl (3.0.22-1~deb12u2 Debian-Security:12/oldstable-security [amd64])\n")
    plan = patch.parse_sim(text)
    assert plan["install"] == [
        ("openssl", "3.0.19-1~deb12u2", "3.0.22-1~deb12u2",
         "Debian-Security:12/oldstable-security [amd64]"),
        ("libnew", None, "1.0", "Debian:12.15/oldstable [amd64]")]
    assert plan["remove"] == [("oldpkg", "0.9")]
    assert plan["kept_back"] == ["linux-image-amd64", "systemd"]


def test_parse_conffiles():
    text = ("PKG openssh-server\n /etc/ssh/moduli 0123 \n /etc/pam.d/sshd abcd\n"
            "PKG tzdata\n")
    assert patch.parse_conffiles(text) == {"openssh-server": ["/etc/ssh/moduli",
                                                              "/etc/pam.d/sshd"],
                                           "tzdata": []}


def test_unit_from_cgroup_v1_and_v2():
    assert patch.unit_from_cgroup("0::/system.slice/ssh.service\n") == "ssh.service"
    assert patch.unit_from_cgroup(
        "12:pids:/\n1:name=systemd:/system.slice/cron.service\n") == "cron.service"
    assert patch.unit_from_cgroup("0::/user.slice/user-0.slice/session-3.scope\n") is None


def test_kernel_reboot_reason(tmp_path):
    for k in ("6.1.0-17-amd64", "6.1.0-21-amd64"):
        (tmp_path / f"vmlinuz-{k}").touch()
    assert "6.1.0-21-amd64" in patch.kernel_reboot_reason("6.1.0-17-amd64", str(tmp_path))
    assert patch.kernel_reboot_reason("6.1.0-21-amd64", str(tmp_path)) is None
    # a container: the running kernel is not in /boot, so /boot says nothing
    assert patch.kernel_reboot_reason("6.8.0-1-cloud", str(tmp_path)) is None


def test_matches_any_exclude_globs():
    assert patch.matches_any("linux-image-6.1.0-21-amd64", ["linux-image-*"])
    assert patch.matches_any("libc6:i386", ["libc6"])
    assert not patch.matches_any("openssl", ["openssh*"])


# ------------------------------------------------------------- Debian versions
@pytest.mark.parametrize("a,b,expected", [
    ("1.0", "1.0", 0), ("1.0", "2.0", -1), ("1.0~rc1", "1.0", -1), ("1:0.9", "2.0", 1),
    ("3.0.22-1~deb12u2", "3.0.19-1~deb12u2", 1), ("2.36-9+deb12u7", "2.36-9+deb12u14", -1),
    ("1.0-1", "1.0", 1), ("1.0a", "1.0", 1), ("1.0+b1", "1.0", 1), ("0001", "1", 0),
])
def test_deb_compare_known_pairs(a, b, expected):
    got = patch.deb_compare(a, b)
    assert (got > 0) - (got < 0) == expected


_part = st.text(alphabet="0123456789abz.+~", min_size=1, max_size=6).filter(
    lambda s: s[0].isdigit())


@settings(max_examples=120, deadline=None)
@given(a=_part, b=_part, ra=st.sampled_from(["", "-1", "-1~bpo", "-2+b1"]),
       rb=st.sampled_from(["", "-1", "-10"]))
def test_deb_compare_agrees_with_dpkg(a, b, ra, rb):
    va, vb = a + ra, b + rb
    ours = patch.deb_compare(va, vb)
    for op, want in (("lt", ours < 0), ("eq", ours == 0)):
        rc = subprocess.run(["dpkg", "--compare-versions", va, op, vb]).returncode
        assert (rc == 0) == want, (va, op, vb)


def test_check_update_joins_a_wrapped_long_name():
    # Synthetic (shape of yum's output when a name overflows its column): the name alone on
    # one line, version and repository indented on the next.
    text = ("python-backports-ssl_match_hostname.noarch\n"
            "                                     3.5.0.1-1.el7             epel\n"
            "bash.x86_64                          4.2.46-34.el7             base\n")
    rows = patch.parse_check_update(text)
    assert [(r["name"], r["version"], r["repo"]) for r in rows] == [
        ("python-backports-ssl_match_hostname", "3.5.0.1-1.el7", "epel"),
        ("bash", "4.2.46-34.el7", "base")]


def test_deleted_mapping_services_from_a_proc_tree(tmp_path):
    def proc(pid, maps, cgroup):
        d = tmp_path / str(pid)
        d.mkdir()
        (d / "maps").write_text(maps)
        (d / "cgroup").write_text(cgroup)

    lib = "7f00-7f10 r-xp 00000000 08:01 1234 "
    proc(10, lib + "/usr/lib/x86_64-linux-gnu/libssl.so.3 (deleted)\n",
         "0::/system.slice/nginx.service\n")
    proc(11, lib + "/usr/lib/x86_64-linux-gnu/libc.so.6\n", "0::/system.slice/cron.service\n")
    proc(12, lib + "/tmp/scratch (deleted)\n", "0::/system.slice/builder.service\n")
    proc(13, lib + "/usr/bin/bash (deleted)\n", "0::/user.slice/user-0.slice/session-1.scope\n")
    (tmp_path / "self").mkdir()
    assert patch.deleted_mapping_services(str(tmp_path)) == ["nginx.service"]
