"""setup, getent, get_url, mount, modprobe, ini_file, package and sysctl through `pyengine run`.

One playbook converges lab host h1 with every module (FQCN names, as hardening roles
write them); the host is then read with independent commands. Run 2 must change
nothing. Run 3 is check mode with --diff against a changed playbook: it reports the
changes with diffs and the host stays exactly as it was. A second playbook pins the
failures Ansible also reports: a kernel module that cannot be loaded (check mode and
real run) and a sysctl value the read-only /proc/sys of a lab host refuses, even with
ignoreerrors. get_url fetches from an HTTP server started inside h1 (the lab host has
its own network namespace) and from a file:// URL. Everything made is removed after.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.lab

SUF = uuid.uuid4().hex[:6]
BASE = f"/srv/pyetest-{SUF}"
INI = f"{BASE}/app.ini"
FSTAB = f"{BASE}/fstab"
MNT = f"{BASE}/mnt"
MOD = f"pyetest{SUF}"
PORT = 18000 + int(SUF[:3], 16) % 1000
PAYLOAD = "#!/bin/sh\necho pyengine\n"

PLAYBOOK = f"""
- hosts: h1
  gather_facts: false
  tasks:
    - name: setup
      ansible.builtin.setup:
        gather_subset: ["!all", "network"]
        filter: ["ansible_distribution*", "ansible_all_ipv4_addresses", "ansible_local"]
    - name: facts arrived
      ansible.builtin.assert:
        that:
          - ansible_facts.distribution == 'Debian'
          - ansible_distribution_major_version | int >= 12
    - name: getent
      ansible.builtin.getent: {{database: passwd, key: root}}
    - name: getent arrived
      ansible.builtin.assert:
        that: ["ansible_facts.getent_passwd.root[4] == '/root'"]
    - name: ini
      community.general.ini_file:
        path: {INI}
        section: main
        option: level
        value: "VALUE"
        mode: "0640"
    - name: ini comment
      community.general.ini_file: {{path: {INI}, section: main, option: enabled, value: "yes"}}
    - name: get_url http
      ansible.builtin.get_url:
        url: http://127.0.0.1:{PORT}/tool.sh
        dest: {BASE}/tool.sh
        mode: "MODE"
        checksum: "sha256:http://127.0.0.1:{PORT}/SHA256SUMS"
    - name: get_url file
      ansible.builtin.get_url: {{url: "file://{BASE}/www/tool.sh", dest: {BASE}/copy.sh}}
    - name: fstab
      ansible.posix.mount:
        path: /data
        src: /dev/vdb1
        fstype: ext4
        opts: OPTS
        fstab: {FSTAB}
        state: present
    - name: tmpfs
      ansible.posix.mount:
        path: {MNT}
        src: tmpfs
        fstype: tmpfs
        opts: size=1m
        fstab: {FSTAB}
        state: mounted
    - name: modprobe
      community.general.modprobe:
        name: {MOD}
        state: absent
        persistent: present
        params: "PARAMS"
    - name: package
      ansible.builtin.package:
        name: openssh-server
        state: present
        install_recommends: false
"""

FAILURES = f"""
- hosts: h1
  gather_facts: false
  tasks:
    - name: modprobe missing
      community.general.modprobe: {{name: {MOD}, state: present}}
      ignore_errors: true
      register: missing
    - name: sysctl refused
      ansible.posix.sysctl:
        name: kernel.dmesg_restrict
        value: "VALUE"
        sysctl_set: true
        ignoreerrors: true
        sysctl_file: {BASE}/sysctl.conf
      ignore_errors: true
      register: refused
    - name: package backend refuses unknown argument
      ansible.builtin.package: {{name: openssh-server, enablerepoo: x}}
      ignore_errors: true
"""


def _run(lab: Any, tmp: Path, text: str, *flags: str, expect_rc: int = 0) -> dict[str, Any]:
    play = tmp / "play.yml"
    play.write_text(text)
    report = tmp / "report.json"
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", "-i",
                           str(lab.inventory_path), str(play), "--report-json", str(report),
                           *flags], capture_output=True, text=True, timeout=300)
    assert proc.returncode == expect_rc, proc.stdout + proc.stderr
    host: dict[str, Any] = json.loads(report.read_text())["hosts"]["h1"]
    return host


def _changed(host: dict[str, Any]) -> list[str]:
    return [t["name"] for t in host["tasks"] if t["changed"]]


def _play(value: str, opts: str, params: str, mode: str = "0755") -> str:
    return (PLAYBOOK.replace("VALUE", value).replace("OPTS", opts).replace("PARAMS", params)
            .replace("MODE", mode))


def test_modules_converge_then_change_nothing_then_check_mode_moves_nothing(
        lab: Any, tmp_path: Path) -> None:
    h1 = lab.host("h1")

    def sh(script: str) -> str:
        return str(h1.exec(["sh", "-c", script], check=False).stdout)

    sh(f"mkdir -p {BASE}/www && printf '{PAYLOAD}' > {BASE}/www/tool.sh && cd {BASE}/www && "
       f"sha256sum tool.sh > SHA256SUMS && printf '[main]\\n# enabled = no\\n' > {INI}")
    server = sh(f"cd {BASE}/www && setsid python3 -m http.server {PORT} --bind 127.0.0.1 "
                f">/dev/null 2>&1 & echo $!").strip()
    sh(f"for i in $(seq 50); do python3 -c 'import urllib.request as u; "
       f"u.urlopen(\"http://127.0.0.1:{PORT}/\")' 2>/dev/null && break; sleep 0.1; done")
    try:
        first = _run(lab, tmp_path, _play("3", "defaults,nofail", "numdummies=2"))
        assert first["failed"] == 0
        assert _changed(first) == ["ini", "ini comment", "get_url http", "get_url file",
                                   "fstab", "tmpfs", "modprobe"], first
        assert sh(f"cat {INI}") == "[main]\nlevel = 3\nenabled = yes\n"
        assert sh(f"stat -c %a {INI}").strip() == "640"
        assert sh(f"cat {BASE}/tool.sh") == PAYLOAD.replace("\\n", "\n")
        assert sh(f"stat -c %a {BASE}/tool.sh").strip() == "755"
        assert sh(f"cat {BASE}/copy.sh") == PAYLOAD.replace("\\n", "\n")
        assert sh(f"cat {FSTAB}") == (f"/dev/vdb1 /data ext4 defaults,nofail 0 0\n"
                                      f"tmpfs {MNT} tmpfs size=1m 0 0\n")
        assert f" {MNT} " in sh("cat /proc/self/mounts")
        assert sh(f"cat /etc/modules-load.d/{MOD}.conf") == f"{MOD}\n"
        assert sh(f"cat /etc/modprobe.d/{MOD}.conf") == f"options {MOD} numdummies=2\n"

        second = _run(lab, tmp_path, _play("3", "defaults,nofail", "numdummies=2"))
        assert _changed(second) == [] and second["changed"] == 0 and second["failed"] == 0

        state = (f"cat {INI} {FSTAB} /etc/modprobe.d/{MOD}.conf; stat -c %a {INI} "
                 f"{BASE}/tool.sh; cat /proc/self/mounts | grep pyetest")
        before = sh(state)
        dry = _run(lab, tmp_path, _play("4", "ro", "numdummies=3", "0700"), "--check", "--diff")
        assert _changed(dry) == ["ini", "get_url http", "fstab", "modprobe"], dry
        diffs = {t["name"]: t["diff"] for t in dry["tasks"] if t["diff"]}
        assert "level = 4" in diffs["ini"]["after"] and "level = 3" in diffs["ini"]["before"]
        assert "/dev/vdb1 /data ext4 ro 0 0" in diffs["fstab"]["after"]
        assert "numdummies=3" in json.dumps(diffs["modprobe"])
        assert diffs["get_url http"] == {"before": {"path": f"{BASE}/tool.sh", "mode": "0755"},
                                         "after": {"path": f"{BASE}/tool.sh", "mode": "0700"}}
        assert sh(state) == before
    finally:
        sh(f"kill {server} 2>/dev/null; umount {MNT} 2>/dev/null; rm -rf {BASE} "
           f"/etc/modules-load.d/{MOD}.conf /etc/modprobe.d/{MOD}.conf; true")


def test_unloadable_module_and_refused_sysctl_fail_like_ansible(lab: Any, tmp_path: Path) -> None:
    h1 = lab.host("h1")

    def sh(script: str) -> str:
        return str(h1.exec(["sh", "-c", script], check=False).stdout)

    sh(f"mkdir -p {BASE}")
    live = sh("cat /proc/sys/kernel/dmesg_restrict").strip()
    other = "0" if live == "1" else "1"
    try:
        for flags in ((), ("--check",)):
            host = _run(lab, tmp_path, FAILURES.replace("VALUE", other), *flags)
            by_name = {t["name"]: t for t in host["tasks"]}
            missing = by_name["modprobe missing"]
            assert missing["status"] == "failed" and missing["ignored"], missing
            assert "not found" in missing["msg"] and MOD in missing["msg"]
            wrong = by_name["package backend refuses unknown argument"]
            assert wrong["status"] == "failed" and "enablerepoo" in wrong["msg"]
            assert "'apt'" in wrong["msg"]
            refused = by_name["sysctl refused"]
            if not flags:
                assert refused["status"] == "failed", refused
                assert "read-only" in refused["msg"].lower()
                assert sh(f"cat {BASE}/sysctl.conf 2>/dev/null") == ""  # kernel first
            else:  # check mode cannot know the kernel would refuse: it plans the change
                assert refused["status"] == "changed", refused
        assert sh("cat /proc/sys/kernel/dmesg_restrict").strip() == live
    finally:
        sh(f"rm -rf {BASE}; true")


def _mount_task(state: str, extra: str = "") -> str:
    return f"""
- hosts: h1
  gather_facts: false
  tasks:
    - name: mnt
      ansible.posix.mount:
        path: {MNT}
        src: tmpfs
        fstype: tmpfs
        opts: size=2m
        fstab: {FSTAB}
        state: {state}
{extra}"""


def test_mount_states_mounted_unmounted_remounted_absent(lab: Any, tmp_path: Path) -> None:
    h1 = lab.host("h1")

    def sh(script: str) -> str:
        return str(h1.exec(["sh", "-c", script], check=False).stdout)

    def mounted() -> bool:
        return f" {MNT} tmpfs " in sh("cat /proc/self/mounts")

    def changed(state: str, *flags: str) -> bool:
        host = _run(lab, tmp_path, _mount_task(state), *flags)
        assert host["failed"] == 0, host
        return bool(host["changed"])

    sh(f"mkdir -p {BASE} && touch {FSTAB}")
    try:
        assert changed("mounted", "--check") and not mounted() and sh(f"cat {FSTAB}") == ""
        assert changed("mounted") and mounted()
        assert "size=2048k" in sh(f"grep ' {MNT} ' /proc/self/mounts")
        assert not changed("mounted")
        assert changed("remounted") and mounted()  # remounted always reports a change
        assert changed("unmounted", "--check") and mounted()
        assert changed("unmounted") and not mounted()
        assert not changed("unmounted")
        assert sh(f"cat {FSTAB}") == f"tmpfs {MNT} tmpfs size=2m 0 0\n"
        assert changed("mounted") and mounted()  # the fstab line is there: mounted again
        assert changed("absent", "--check", "--diff") and mounted()
        assert changed("absent") and not mounted()
        assert sh(f"cat {FSTAB}") == "" and sh(f"test -e {MNT} || echo gone").strip() == "gone"
        assert not changed("absent")
    finally:
        sh(f"umount {MNT} 2>/dev/null; rm -rf {BASE}; true")


def test_package_hands_backend_arguments_to_apt(lab: Any, tmp_path: Path) -> None:
    """install_recommends and update_cache reach apt through `package` (Ansible's rule)."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
    from aptrepo import PkgSpec, build_repo, isolated_env, publish, unpublish

    main, extra, repo_name = f"pyetest-{SUF}-main", f"pyetest-{SUF}-rec", f"pkg{SUF}"
    h1 = lab.host("h1")
    repo = build_repo(tmp_path / "repo", [PkgSpec(main, "1.0", recommends=[extra]),
                                          PkgSpec(extra, "1.0")])
    publish(h1, repo, repo_name)
    env = json.dumps(isolated_env(repo_name))
    play = f"""
- hosts: h1
  gather_facts: false
  tasks:
    - name: pkg
      ansible.builtin.package:
        name: {main}
        state: present
        install_recommends: false
        update_cache: true
      environment: {env}
"""

    def installed(name: str) -> bool:
        out = h1.exec(["dpkg-query", "-W", "-f", "${db:Status-Abbrev}", name], check=False)
        return str(out.stdout).startswith("ii")

    try:
        first = _run(lab, tmp_path, play)
        task = first["tasks"][0]
        assert task["changed"] and task["result"]["cache_updated"] is True, task
        assert installed(main) and not installed(extra)  # the recommendation was not taken
        second = _run(lab, tmp_path, play)
        assert second["changed"] == 0
        # Check mode plans from the lists it has (no cache update, as in Ansible).
        dry = _run(lab, tmp_path, play.replace("state: present", "state: absent"), "--check",
                   "--diff")
        assert dry["changed"] == 1 and installed(main)
    finally:
        h1.exec(["sh", "-c", f"dpkg --purge {main} {extra} >/dev/null 2>&1; true"], check=False)
        unpublish(h1, repo_name)
