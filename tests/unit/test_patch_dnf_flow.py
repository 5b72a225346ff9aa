"""The dnf path of the patch module end to end, with dnf/rpm/needs-restarting replaced by
small scripts that replay recorded outputs (tests/fixtures/patch/, sources in its README).

There is no RHEL host in the lab; this pins the orchestration (what is asked, in which
order, what is upgraded, how results are reported) on top of the parser tests.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from pathlib import Path

import pytest

from pyengine.agent.runtime import run_module

ROOT = Path(__file__).resolve().parents[2]
MODULE = (ROOT / "modules" / "patch.py").read_text()
FIXTURES = ROOT / "tests" / "fixtures" / "patch"

FAKE_DNF = textwrap.dedent('''\
    #!{python}
    """Replays recorded dnf output; `upgrade` moves the named packages in state.json."""
    import json, sys
    base = {base!r}
    args = [a for a in sys.argv[1:] if not a.startswith("-") or a == "--security"]
    opts = [a for a in sys.argv[1:] if a.startswith("-")]
    with open(base + "/calls.log", "a") as fh:
        fh.write(" ".join(sys.argv[1:]) + "\\n")
    state = json.load(open(base + "/state.json"))
    if args[:1] == ["check-update"]:
        name = "sec.txt" if "--security" in args else "all.txt"
        text = open(base + "/" + name).read()
        sys.stdout.write(text)
        sys.exit(100 if text.strip() else 0)
    if args[:2] == ["updateinfo", "list"]:
        sys.stdout.write(open(base + "/updateinfo.txt").read()); sys.exit(0)
    if args[:2] == ["versionlock", "list"]:
        sys.stdout.write(open(base + "/versionlock.txt").read()); sys.exit(0)
    if args[:1] == ["upgrade"]:
        for spec in args[1:]:
            state[spec] = state["available"][spec]
        json.dump(state, open(base + "/state.json", "w")); sys.exit(0)
    if args[:1] == ["needs-restarting"]:
        sys.exit(0)
    sys.exit(1)
''')
FAKE_RPM = textwrap.dedent('''\
    #!{python}
    import json, sys
    state = json.load(open({base!r} + "/state.json"))
    if sys.argv[1:2] == ["-qa"]:
        for key, ver in sorted(state.items()):
            if key != "available":
                print(key + "\\t" + ver)
        sys.exit(0)
    sys.exit(1)  # rpm -qc: no config files
''')
FAKE_NEEDS_RESTARTING = textwrap.dedent('''\
    #!/bin/sh
    if [ "$1" = -r ]; then cat {base}/needs_restarting.txt; exit 1; fi
    echo sshd.service
''')


@pytest.fixture
def fake_el8(tmp_path):
    """An EL8-like host: check-update rows from a real EL8 system (Nagios-Plugins #341),
    two of them security updates, one versionlocked (PackageKit #677 format)."""
    base = tmp_path / "el8"
    (base / "bin").mkdir(parents=True)
    rows = (FIXTURES / "dnf_check_update_el8.txt").read_text()
    (base / "all.txt").write_text(rows)
    sec = [ln for ln in rows.splitlines() if ln.startswith(("krb5-libs.", "libcurl."))]
    (base / "sec.txt").write_text("\n".join(sec) + "\n")
    (base / "updateinfo.txt").write_text(
        "RHSA-2020:1234 Important/Sec. libcurl-7.61.1-12.el8.x86_64\n")
    (base / "versionlock.txt").write_text("kmod-0:25-15.el8.*\n")
    (base / "needs_restarting.txt").write_text(
        (FIXTURES / "needs_restarting_r_alma8.txt").read_text())
    installed = {}
    available = {}
    for ln in rows.splitlines():
        name_arch, version, _repo = ln.split()
        installed[name_arch] = "0:0.1-1.el8"
        available[name_arch] = "0:" + version
    (base / "state.json").write_text(json.dumps(dict(installed, available=available)))
    for name, text in (("dnf", FAKE_DNF), ("rpm", FAKE_RPM),
                       ("needs-restarting", FAKE_NEEDS_RESTARTING)):
        path = base / "bin" / name
        path.write_text(text.format(python=sys.executable, base=str(base)))
        path.chmod(0o755)
    env = {"PATH": f"{base / 'bin'}:{os.environ['PATH']}"}
    return base, env


def run(env, check_mode=False, **args):
    args.setdefault("min_free_mb", 0)
    return run_module(MODULE, args, check_mode=check_mode, facts={"ansible_pkg_mgr": "dnf"},
                      environment=env, name="patch")


def calls(base):
    return (base / "calls.log").read_text().splitlines()


def test_list_marks_security_advisories_and_locks(fake_el8):
    base, env = fake_el8
    r = run(env, state="list")
    assert not r["failed"], r["msg"]
    pending = {u["name"]: u for u in r["pending"]}
    assert len(pending) == 12
    assert {n for n, u in pending.items() if u["security"]} == {"krb5-libs", "libcurl"}
    assert pending["libcurl"]["advisories"] == ["RHSA-2020:1234"]
    assert pending["kmod"]["held"] and r["held"] == ["kmod"]
    assert r["reboot_required"] is True
    assert r["reboot_reasons"] == ["needs-restarting -r: glibc, linux-firmware"]
    assert r["services_need_restart"] == ["sshd.service"]
    assert (r["pending_count"], r["security_count"]) == (12, 2)
    assert all("upgrade" not in c for c in calls(base))


def test_security_upgrades_exactly_the_security_packages(fake_el8):
    base, env = fake_el8
    r = run(env, state="security", exclude=["libcurl*"])
    assert not r["failed"], r["msg"]
    assert r["changes"] == [{"name": "krb5-libs.x86_64", "from": "0:0.1-1.el8",
                             "to": "0:1.17-18.el8"}]
    upgrade = [c for c in calls(base) if " upgrade " in f" {c} "]
    assert len(upgrade) == 1 and upgrade[0].endswith("upgrade krb5-libs.x86_64 "
                                                     "--exclude=libcurl*")
    assert (r["pending_count"], r["security_count"]) == (11, 1)


def test_latest_skips_the_versionlocked_package_and_check_mode_is_cache_only(fake_el8):
    base, env = fake_el8
    check = run(env, check_mode=True, state="latest")
    assert len(check["planned"]) == 11 and "kmod" not in {p["name"] for p in check["planned"]}
    assert all("-C" in c.split() for c in calls(base))  # no metadata refresh in check mode
    assert check["changes"] == [] and check["changed"] is True
    r = run(env, state="latest")
    assert len(r["changes"]) == 11
    assert "kmod.x86_64" not in {c["name"] for c in r["changes"]}
    assert any("--setopt=metadata_expire=3600" in c for c in calls(base))
