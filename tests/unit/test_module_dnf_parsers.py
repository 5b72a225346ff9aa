"""The dnf/yum module's parsers against outputs recorded on real systems.

There is no RHEL-family host in the lab, so the module's reading of dnf4, dnf5 and
yum output is pinned here with short excerpts of real runs (each sample says where
it was recorded). The rpm lines use the module's own --queryformat, so their shape
is fixed by us, not by rpm's version.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

MODULES = Path(__file__).resolve().parents[2] / "modules"


def load(name: str) -> SimpleNamespace:
    """The module file's functions, without running main."""
    path = MODULES / f"{name}.py"
    namespace: dict = {"__name__": f"pyengine_module_{name}"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return SimpleNamespace(**namespace)


dnf = load("dnf")

# dnf4 on Fedora 39, `dnf install hedgewars` (rows shortened), as posted in
# https://github.com/rpm-software-management/dnf5/issues/1593
DNF4_INSTALL = """\
Dependencies resolved.
==============================================================================================
 Package              Architecture        Version                 Repository            Size
==============================================================================================
Installing:
 hedgewars            x86_64              1.0.2-7.fc39            updates              2.7 M
Installing dependencies:
 SDL2_mixer           x86_64              2.6.3-2.fc39            fedora               159 k
 SDL2_net             x86_64              2.2.0-3.fc39            fedora                19 k

Transaction Summary
==============================================================================================
Install  3 Packages

Total download size: 2.9 M
Operation aborted.
"""

# yum on CentOS 7, an update of dbus with a dependency, as posted in
# https://github.com/wulabing/Xray_onekey/issues/131
YUM_UPDATE = """\
Dependencies Resolved

================================================================================
 Package           Arch           Version                    Repository    Size
================================================================================
Updating:
 dbus              x86_64         1:1.10.24-13.el7_6         base         245 k
Updating for dependencies:
 dbus-libs         x86_64         1:1.10.24-13.el7_6         base         169 k

Transaction Summary
================================================================================
Upgrade  1 Package (+1 Dependent package)

Total download size: 414 k
Exiting on user command
"""

# dnf5 on Fedora 41, an upgrade with "replacing" rows (shortened), as posted in
# https://github.com/rpm-software-management/dnf5/issues/1897
DNF5_UPGRADE = """\
Package                      Arch   Version                 Repository      Size
Upgrading:
 efi-filesystem              noarch 5-13.fc41               updates      0.0   B
   replacing efi-filesystem  noarch 5-12.fc41               fedora       0.0   B
 qemu-img                    x86_64 2:9.1.2-1.fc41          updates     22.9 MiB
   replacing qemu-img        x86_64 2:9.1.1-2.fc41          updates     22.9 MiB
Installing dependencies:
 hiredis                     x86_64 1.2.0-3.fc41            fedora     110.1 KiB

Transaction Summary:
 Installing:         1 package
 Upgrading:          2 packages
 Replacing:          2 packages
Operation aborted by the user.
"""

# A long package name pushes the rest of its row onto the next line (dnf4 layout).
DNF4_WRAPPED = """\
Removing:
 python3-a-package-name-that-is-much-too-long-for-its-column
                            noarch          1.0-1.el9           @appstream          12 k
Removing unused dependencies:
 libfoo                     x86_64          2.1-4.el9           @baseos             80 k
"""

# dnf on Fedora 25, `dnf check-update` (rows shortened), as posted in
# https://github.com/matteocorti/check_updates/issues/15
DNF_CHECK_UPDATE = """\
Last metadata expiration check: 0:07:38 ago on Sun Dec 25 20:46:13 2016.

PackageKit.x86_64                         1.1.4-2.fc25                   updates
audit.x86_64                              2.7-1.fc25                     updates
cockpit-bridge.x86_64                     126-1.fc25                     updates
cockpit-ws.x86_64                         126-1.fc25                     updates
"""

# dnf on EL8: the "Obsoleting Packages" part lists replacements under their obsoleted
# package, as posted in https://github.com/HariSekhon/Nagios-Plugins/issues/341
DNF_CHECK_UPDATE_OBSOLETES = """\
grub2-tools-efi.x86_64                1:2.02-87.el8_2                                BaseOS
podman.x86_64                         1.6.4-10.module_el8.2.0+305+5e198a41           AppStream

Obsoleting Packages
grub2-tools-efi.x86_64                1:2.02-87.el8_2                                BaseOS
    grub2-tools.x86_64                1:2.02-78.el8_1.1                              @BaseOS
"""


def test_dnf4_install_table_lists_requested_and_dependencies() -> None:
    table = dnf.parse_transaction(DNF4_INSTALL)
    assert table == {
        "hedgewars": {"action": "install", "arch": "x86_64", "version": "1.0.2-7.fc39"},
        "SDL2_mixer": {"action": "install", "arch": "x86_64", "version": "2.6.3-2.fc39"},
        "SDL2_net": {"action": "install", "arch": "x86_64", "version": "2.2.0-3.fc39"},
    }


def test_yum_updating_sections_are_upgrades_with_epoch() -> None:
    table = dnf.parse_transaction(YUM_UPDATE)
    assert table == {
        "dbus": {"action": "upgrade", "arch": "x86_64", "version": "1:1.10.24-13.el7_6"},
        "dbus-libs": {"action": "upgrade", "arch": "x86_64", "version": "1:1.10.24-13.el7_6"},
    }


def test_dnf5_replacing_rows_and_summary_are_not_packages() -> None:
    table = dnf.parse_transaction(DNF5_UPGRADE)
    assert set(table) == {"efi-filesystem", "qemu-img", "hiredis"}
    assert table["qemu-img"] == {"action": "upgrade", "arch": "x86_64",
                                 "version": "2:9.1.2-1.fc41"}
    assert table["hiredis"]["action"] == "install"


def test_wrapped_long_name_joins_next_line() -> None:
    table = dnf.parse_transaction(DNF4_WRAPPED)
    long_name = "python3-a-package-name-that-is-much-too-long-for-its-column"
    assert table[long_name] == {"action": "remove", "arch": "noarch", "version": "1.0-1.el9"}
    assert table["libfoo"]["action"] == "remove"


def test_nothing_to_do_is_an_empty_table() -> None:
    assert dnf.parse_transaction("Dependencies resolved.\nNothing to do.\nComplete!\n") == {}


def test_check_update_rows_skip_the_metadata_line() -> None:
    assert dnf.parse_check_update(DNF_CHECK_UPDATE) == {
        "PackageKit": "1.1.4-2.fc25", "audit": "2.7-1.fc25",
        "cockpit-bridge": "126-1.fc25", "cockpit-ws": "126-1.fc25"}


def test_check_update_stops_at_obsoleting_section() -> None:
    assert dnf.parse_check_update(DNF_CHECK_UPDATE_OBSOLETES) == {
        "grub2-tools-efi": "1:2.02-87.el8_2",
        "podman": "1.6.4-10.module_el8.2.0+305+5e198a41"}


def test_rpm_query_drops_missing_epoch_and_keeps_arch_keys() -> None:
    text = ("bash\t(none):5.2.26-3.fc40\tx86_64\n"
            "dbus\t1:1.14.10-3.fc40\tx86_64\n"
            "glibc\t(none):2.39-17.fc40\ti686\n"
            "glibc\t(none):2.39-17.fc40\tx86_64\n"
            "package foo is not installed\n")
    got = dnf.parse_rpm_query(text)
    assert got["bash"] == "5.2.26-3.fc40"
    assert got["dbus"] == "1:1.14.10-3.fc40"
    assert got["glibc.i686"] == got["glibc.x86_64"] == "2.39-17.fc40"
    assert "foo" not in got


def test_snapshot_diff_reports_moves_by_name_only() -> None:
    before = dnf.parse_rpm_query("bash\t(none):5.2.26-1\tx86_64\nnano\t(none):7.2-1\tx86_64\n")
    after = dnf.parse_rpm_query("bash\t(none):5.2.26-3\tx86_64\ntree\t(none):2.1-1\tx86_64\n")
    assert dnf.diff_snapshots(before, after) == {
        "bash": {"before": "5.2.26-1", "after": "5.2.26-3"},
        "nano": {"before": "7.2-1", "after": None},
        "tree": {"before": None, "after": "2.1-1"}}


def test_name_version_split_needs_a_known_name() -> None:
    installed = {"kernel": "5.14.0-427.el9", "python3-libs": "3.9.18-1.el9"}
    assert dnf.split_name_version("kernel-5.14.0-427.el9", installed) == (
        "kernel", "5.14.0-427.el9")
    # "python3-libs" must not be read as name "python3" version "libs".
    assert dnf.split_name_version("python3-libs", installed) == ("python3-libs", None)
    assert dnf._installed("kernel-5.14*", installed)
    assert dnf._installed("kernel-5.14.0", installed)
    assert not dnf._installed("kernel-5.1", installed)
    assert not dnf._installed("kernel-6*", installed)
    assert dnf._installed("python3-*", installed)


def test_yum_is_the_dnf_module() -> None:
    assert (MODULES / "yum.py").resolve() == (MODULES / "dnf.py").resolve()
