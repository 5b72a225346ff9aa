"""Configuration backup into git against real lab hosts (issue: config backup).

Each test uses its own repository in a temp folder and only files it creates on the
hosts (or puts back what it changed), because the lab is shared by the session.
"""

from __future__ import annotations

import json
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from pyengine.paths import builtin_playbooks_dir

pytestmark = pytest.mark.lab

FIVE = "h1,h2,h3,h4,h5"


def _git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def _backup(inventory: Path, repo: Path, tmp: Path, *extra: str) -> tuple[int, dict, str]:
    report = tmp / f"report-{uuid.uuid4().hex[:6]}.json"
    cmd = [sys.executable, "-m", "pyengine", "run", str(builtin_playbooks_dir() / "backup.yml"),
           "-i", str(inventory), "--limit", FIVE, "-e", f"backup_repo={repo}",
           "--report-json", str(report), *extra]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    data = json.loads(report.read_text()) if report.exists() else {}
    return proc.returncode, data, proc.stdout + proc.stderr


def _backup_task(report: dict, host: str) -> dict:
    return next(t for t in report["hosts"][host]["tasks"] if t["module"] == "backup")


def test_backup_commit_drift_restore_cycle(lab: Any, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    inventory = lab.inventory_path
    h3 = next(h for h in lab.hosts if h.name == "h3")
    original = h3.exec(["cat", "/etc/ssh/sshd_config"]).stdout
    try:
        rc, report, out = _backup(inventory, repo, tmp_path)
        assert rc == 0, out
        assert _git(repo, "rev-list", "--count", "HEAD").strip() == "1"
        tree = set(_git(repo, "ls-tree", "-r", "--name-only", "HEAD").split())
        for n in range(1, 6):
            assert f"backups/lab/h{n}/etc/ssh/sshd_config" in tree
            assert f"backups/lab/h{n}/etc/passwd" in tree
            assert f"backups/lab/h{n}/_commands/packages.txt" in tree
        assert not any("shadow" in path or path.endswith("_key") for path in tree)
        assert not any("/h6/" in path for path in tree)
        assert (repo / "backups/lab/h2/etc/hostname").read_text().strip() == "h2"

        head = _git(repo, "rev-parse", "HEAD")
        rc, report, out = _backup(inventory, repo, tmp_path)
        assert rc == 0, out
        assert _git(repo, "rev-parse", "HEAD") == head, "an unchanged run must not commit"
        assert all(_backup_task(report, f"h{n}")["changed"] is False for n in range(1, 6))

        h3.exec(["sh", "-c", "echo '# drift test' >> /etc/ssh/sshd_config"])
        rc, report, out = _backup(inventory, repo, tmp_path)
        assert rc == 0, out
        assert _git(repo, "rev-list", "--count", "HEAD").strip() == "2"
        touched = _git(repo, "show", "--name-only", "--format=", "HEAD").split()
        assert touched == ["backups/lab/h3/etc/ssh/sshd_config"]
        assert "+# drift test" in _git(repo, "show", "HEAD")
        assert "- h3: /etc/ssh/sshd_config" in _git(repo, "log", "-1", "--format=%B")
        assert _backup_task(report, "h3")["result"]["drift"] == ["/etc/ssh/sshd_config"]
        assert _backup_task(report, "h1")["result"]["drift"] == []

        restore = subprocess.run(
            [sys.executable, "-m", "pyengine", "backup", "restore", "h3", "/etc/ssh/sshd_config",
             "--rev", "HEAD~1", "--repo", str(repo), "-i", str(inventory)],
            capture_output=True, text=True, timeout=300)
        assert restore.returncode == 0, restore.stdout + restore.stderr
        assert h3.exec(["cat", "/etc/ssh/sshd_config"]).stdout == original
        assert h3.exec(["sshd", "-t"], check=False).returncode == 0
        rc, report, out = _backup(inventory, repo, tmp_path)
        assert rc == 0, out
        assert _backup_task(report, "h3")["result"]["drift"] == []
        assert _backup_task(report, "h3")["changed"] is False
    finally:
        h3.exec(["sh", "-c", f"cat > /etc/ssh/sshd_config <<'EOF'\n{original}EOF"])


def test_private_key_matching_a_user_glob_is_refused(lab: Any, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    h1 = next(h for h in lab.hosts if h.name == "h1")
    folder = f"/root/pe-bk-{uuid.uuid4().hex[:6]}"
    h1.exec(["mkdir", "-p", folder])
    h1.exec(["sh", "-c", f"printf -- '-----BEGIN OPENSSH PRIVATE KEY-----\\nAAAA\\n"
                         f"-----END OPENSSH PRIVATE KEY-----\\n' > {folder}/deploy.conf"])
    h1.exec(["sh", "-c", f"echo 'setting=1' > {folder}/app.conf"])
    try:
        rc, report, out = _backup(lab.inventory_path, repo, tmp_path, "-e",
                                  json.dumps({"backup_paths": [f"{folder}/*"]}))
        assert rc == 0, out
        task = _backup_task(report, "h1")
        refused = {r["path"]: r["reason"] for r in task["result"]["refused"]}
        assert refused == {f"{folder}/deploy.conf": "contains a private key"}
        tree = _git(repo, "ls-tree", "-r", "--name-only", "HEAD")
        assert f"backups/lab/h1{folder}/app.conf" in tree
        assert "deploy.conf" not in tree
        assert "BEGIN OPENSSH PRIVATE KEY" not in _git(repo, "log", "-p")
    finally:
        h1.exec(["rm", "-rf", folder])


def test_unreachable_host_keeps_its_last_backup(lab: Any, tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    rc, _, out = _backup(lab.inventory_path, repo, tmp_path)
    assert rc == 0, out
    before = _git(repo, "rev-parse", "HEAD:backups/lab/h5")
    inventory = yaml.safe_load(Path(lab.inventory_path).read_text())
    hosts = _find_hosts(inventory)
    hosts["h5"]["ansible_port"] = 1  # nothing listens there: h5 is unreachable
    broken = tmp_path / "inventory.yml"
    broken.write_text(yaml.safe_dump(inventory))
    h2 = next(h for h in lab.hosts if h.name == "h2")
    h2.exec(["sh", "-c", "echo '# pe-bk-drift' >> /etc/hosts"])
    try:
        rc, report, out = _backup(broken, repo, tmp_path)
        assert rc == 4, out
        assert report["hosts"]["h5"]["unreachable"] is True
        assert _git(repo, "rev-parse", "HEAD:backups/lab/h5") == before
        assert (repo / "backups/lab/h5/etc/ssh/sshd_config").exists()
        assert _git(repo, "show", "--name-only", "--format=", "HEAD").split() == [
            "backups/lab/h2/etc/hosts"]
    finally:
        h2.exec(["sed", "-i", "/# pe-bk-drift/d", "/etc/hosts"])


def _find_hosts(inventory: dict) -> dict:
    """The lab group's hosts mapping (the release groups only name the hosts again)."""
    hosts: dict = inventory["all"]["children"]["lab"]["hosts"]
    return hosts


def _restore(repo: Path, inventory: Path, host: str, path: str, *extra: str
             ) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "pyengine", "backup", "restore", host, path, "--repo", str(repo),
         "-i", str(inventory), *extra], capture_output=True, text=True, timeout=300)


def test_restoring_a_symlink_puts_the_link_back(lab: Any, tmp_path: Path) -> None:
    """Backup keeps a link as `symlink -> TARGET`; restore used to write that text into a
    regular file, and its --check --diff showed another diff than the real run."""
    repo = tmp_path / "repo"
    h1 = next(h for h in lab.hosts if h.name == "h1")
    link = f"/etc/pe-relsym-{uuid.uuid4().hex[:6]}.conf"
    h1.exec(["ln", "-s", "hostname", link])
    try:
        rc, _, out = _backup(lab.inventory_path, repo, tmp_path, "-e",
                             json.dumps({"backup_paths": [link]}))
        assert rc == 0, out
        h1.exec(["sh", "-c", f"rm {link} && echo replaced > {link}"])
        check = _restore(repo, lab.inventory_path, "h1", link, "--check", "--diff")
        assert check.returncode == 0, check.stdout + check.stderr
        assert h1.exec(["cat", link]).stdout == "replaced\n"  # check mode changed nothing
        real = _restore(repo, lab.inventory_path, "h1", link)
        assert real.returncode == 0, real.stdout + real.stderr
        assert h1.exec(["readlink", link]).stdout.strip() == "hostname"
        again = _restore(repo, lab.inventory_path, "h1", link, "--check")
        assert again.returncode == 0 and "changed=0" in again.stdout.replace(" ", ""), \
            again.stdout
    finally:
        h1.exec(["rm", "-f", link])


def test_restore_refuses_a_host_pattern(lab: Any, tmp_path: Path) -> None:
    """`backup restore '*' /etc/motd` used to push h1's file to every host."""
    repo = tmp_path / "repo"
    rc, _, out = _backup(lab.inventory_path, repo, tmp_path)
    assert rc == 0, out
    before = {h.name: h.exec(["md5sum", "/etc/hostname"]).stdout for h in lab.hosts}
    proc = _restore(repo, lab.inventory_path, "*", "/etc/hostname")
    assert proc.returncode != 0 and "one host name, not a pattern" in proc.stderr
    assert {h.name: h.exec(["md5sum", "/etc/hostname"]).stdout for h in lab.hosts} == before


@pytest.mark.parametrize("spelling", ["/etc//shadow", "/etc/./shadow", "/etc/."])
def test_no_spelling_of_shadow_reaches_the_repository(lab: Any, tmp_path: Path,
                                                       spelling: str) -> None:
    repo = tmp_path / "repo"
    rc, report, out = _backup(lab.inventory_path, repo, tmp_path, "-e",
                              json.dumps({"backup_paths": [spelling]}))
    assert rc == 0, out
    tree = _git(repo, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert not any(p.endswith(("shadow", "shadow-")) for p in tree)
    found = subprocess.run(["git", "-C", str(repo), "grep", "-l", "-E", r"^root:\$", "HEAD",
                            "--", "."], capture_output=True, text=True)
    assert found.returncode == 1 and found.stdout == "", found.stdout  # 1: nothing matched
