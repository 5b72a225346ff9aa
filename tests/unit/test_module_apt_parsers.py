"""The apt module's readers of apt-cache, apt-get -s and dpkg-query output.

Samples were recorded on a Debian 12 (bookworm) machine with LC_ALL=C (the module
runs apt with LC_ALL=C too) on 2026-11-26; the lab tests run the same module
against a real apt repository.
"""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest

MODULES = Path(__file__).resolve().parents[2] / "modules"


def load(name: str) -> SimpleNamespace:
    path = MODULES / f"{name}.py"
    namespace: dict = {"__name__": f"pyengine_module_{name}"}
    exec(compile(path.read_text(), str(path), "exec"), namespace)
    return SimpleNamespace(**namespace)


apt = load("apt")
package_facts = load("package_facts")

# `apt-cache policy bash nosuchpkgzz cowsay` (an unknown name prints nothing)
POLICY = """\
bash:
  Installed: 5.2.15-2+b8
  Candidate: 5.2.15-2+b13
  Version table:
     5.2.15-2+b13 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
 *** 5.2.15-2+b8 100
        100 /var/lib/dpkg/status
cowsay:
  Installed: (none)
  Candidate: 3.03+dfsg2-8
  Version table:
     3.03+dfsg2-8 500
        500 http://deb.debian.org/debian bookworm/main amd64 Packages
"""

# `apt-get -s install cowsay`
SIM_INSTALL = """\
Reading package lists...
Building dependency tree...
Reading state information...
The following additional packages will be installed:
  libtext-charwidth-perl
The following NEW packages will be installed:
  cowsay libtext-charwidth-perl
0 upgraded, 2 newly installed, 0 to remove and 118 not upgraded.
Inst libtext-charwidth-perl (0.04-11 Debian:12.15/oldstable [amd64])
Inst cowsay (3.03+dfsg2-8 Debian:12.15/oldstable [all])
Conf libtext-charwidth-perl (0.04-11 Debian:12.15/oldstable [amd64])
Conf cowsay (3.03+dfsg2-8 Debian:12.15/oldstable [all])
"""

# `apt-get -s install --only-upgrade bash`, `apt-get -s remove e2fsprogs`,
# `apt-get -s purge e2fsprogs`
SIM_UPGRADE = ("Inst bash [5.2.15-2+b8] (5.2.15-2+b13 Debian:12.15/oldstable [amd64])\n"
               "Conf bash (5.2.15-2+b13 Debian:12.15/oldstable [amd64])\n")
SIM_REMOVE = "Remv e2fsprogs [1.47.0-2]\n"
SIM_PURGE = "Purg e2fsprogs [1.47.0-2]\n"

# `dpkg-query -W -f '${binary:Package}\t${Version}\t${db:Status-Abbrev}\n' bash libc6 nano`
# plus a package removed with its configuration left ("rc").
DPKG = ("bash\t5.2.15-2+b8\tii \n"
        "libc6:amd64\t2.36-9+deb12u14\tii \n"
        "nano\t\tun \n"
        "cron\t3.0pl1-162\trc \n")


def test_policy_reads_installed_and_candidate() -> None:
    assert apt.parse_policy(POLICY) == {"bash": ("5.2.15-2+b8", "5.2.15-2+b13"),
                                        "cowsay": (None, "3.03+dfsg2-8")}


def test_simulated_install_lists_dependencies_with_versions() -> None:
    assert apt.parse_simulation(SIM_INSTALL) == {
        "libtext-charwidth-perl": {"before": None, "after": "0.04-11"},
        "cowsay": {"before": None, "after": "3.03+dfsg2-8"}}


def test_simulated_upgrade_remove_and_purge() -> None:
    assert apt.parse_simulation(SIM_UPGRADE) == {
        "bash": {"before": "5.2.15-2+b8", "after": "5.2.15-2+b13"}}
    assert apt.parse_simulation(SIM_REMOVE) == {"e2fsprogs": {"before": "1.47.0-2",
                                                              "after": None}}
    assert apt.parse_simulation(SIM_PURGE) == apt.parse_simulation(SIM_REMOVE)


def test_dpkg_query_strips_native_arch_and_keeps_leftovers_apart() -> None:
    installed, leftovers = apt.parse_dpkg_query(DPKG, native="amd64")
    assert installed == {"bash": "5.2.15-2+b8", "libc6": "2.36-9+deb12u14"}
    assert leftovers == {"cron": "3.0pl1-162"}


@pytest.mark.parametrize("spec, parsed", [
    ("openssl", ("openssl", None, None)),
    ("openssl=3.0.15-1~deb12u1", ("openssl", None, "3.0.15-1~deb12u1")),
    ("libc6:i386", ("libc6", "i386", None)),
    ("linux-image-*=6.1*", ("linux-image-*", None, "6.1*")),
])
def test_package_specs(spec: str, parsed: tuple) -> None:
    assert apt.parse_spec(spec) == parsed


def test_bad_spec_is_refused() -> None:
    with pytest.raises(ValueError):
        apt.parse_spec("two words")


def test_snapshot_diff_and_its_description() -> None:
    changes = apt.diff_snapshots({"a": "1", "b": "1", "c": "2"}, {"a": "1", "b": "2", "d": "5"})
    assert changes == {"b": {"before": "1", "after": "2"}, "c": {"before": "2", "after": None},
                       "d": {"before": None, "after": "5"}}
    assert apt.describe(changes) == ["upgraded b 1 -> 2", "removed c 2", "installed d 5"]


def test_package_facts_splits_debian_versions_like_ansible() -> None:
    text = ("bash\t5.2.15-2+b8\tamd64\tii \n"
            "libc6\t2.36-9+deb12u14\tamd64\tii \n"
            "libc6\t2.36-9+deb12u14\ti386\tii \n"
            "perl-base\t5.36.0-7+deb12u1\tamd64\tii \n"
            "adduser\t3.134\tall\tii \n"
            "systemd\t1:252.38-1~deb12u1\tamd64\tii \n"
            "cron\t3.0pl1-162\tamd64\trc \n")
    got = package_facts.parse_dpkg(text)
    assert got["bash"] == [{"name": "bash", "version": "5.2.15", "release": "2+b8",
                            "epoch": None, "arch": "amd64", "source": "apt"}]
    assert [e["arch"] for e in got["libc6"]] == ["amd64", "i386"]
    assert got["adduser"][0]["release"] is None
    assert got["systemd"][0]["epoch"] == 1 and got["systemd"][0]["version"] == "252.38"
    assert "cron" not in got
