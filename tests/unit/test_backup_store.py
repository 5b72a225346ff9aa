"""The git backup store, against a real git repository in a temp folder."""

from __future__ import annotations

import subprocess
from datetime import datetime, timezone
from pathlib import Path

import pytest

from pyengine.backup.store import BackupError, BackupStore, host_relpath


def _git(root: Path, *args: str) -> str:
    return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                          check=True).stdout


def _snapshot(sshd: str = "PermitRootLogin no\n") -> dict[str, bytes]:
    return {"/etc/ssh/sshd_config": sshd.encode(), "/etc/hosts": b"127.0.0.1 localhost\n",
            "/_commands/packages.txt": b"openssh-server 1:9.2\n"}


def test_first_run_commits_every_host_once(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    for host in ("h1", "h2"):
        store.write_host("lab", host, _snapshot())
    info = store.commit(datetime(2026, 11, 26, 2, 0, tzinfo=timezone.utc))
    assert info is not None and set(info.hosts) == {"h1", "h2"}
    tree = _git(store.root, "ls-tree", "-r", "--name-only", "HEAD").split()
    assert "backups/lab/h1/etc/ssh/sshd_config" in tree
    assert "backups/lab/h2/_commands/packages.txt" in tree
    log = _git(store.root, "log", "--format=%an|%aI|%s")
    assert log.strip() == "pyengine|2026-11-26T02:00:00+00:00|backup: 2 host(s) changed"


def test_unchanged_run_makes_no_commit(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    store.write_host("lab", "h1", _snapshot())
    first = store.commit()
    store.write_host("lab", "h1", _snapshot())
    assert store.commit() is None
    assert store.head() == (first.rev if first else None)


def test_edit_on_one_host_commits_only_that_host_with_its_diff(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    for host in ("h1", "h2", "h3"):
        store.write_host("lab", host, _snapshot())
    store.commit()
    store.write_host("lab", "h3", _snapshot("PermitRootLogin prohibit-password\n"))
    info = store.commit()
    assert info is not None and info.hosts == {"h3": ["/etc/ssh/sshd_config"]}
    message = _git(store.root, "log", "-1", "--format=%B")
    assert "- h3: /etc/ssh/sshd_config" in message
    diff = store.diff("h3")
    assert "-PermitRootLogin no" in diff and "+PermitRootLogin prohibit-password" in diff
    assert store.diff("h1") == ""  # h1 has a single commit: nothing to compare
    assert store.drift(store.log("h1")[0].rev) == {"h3": ["/etc/ssh/sshd_config"]}


def test_removed_file_and_command_output_are_named_in_changes(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    store.write_host("web", "w1", _snapshot())
    store.commit()
    files = _snapshot()
    del files["/etc/hosts"]
    files["/_commands/packages.txt"] = b"openssh-server 1:9.3\n"
    store.write_host("web", "w1", files)
    info = store.commit()
    assert info is not None
    assert sorted(info.hosts["w1"]) == ["-/etc/hosts", "command:packages.txt"]


def test_show_returns_old_revision_for_restore(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    store.write_host("lab", "h1", _snapshot("old\n"))
    old = store.commit()
    store.write_host("lab", "h1", _snapshot("new\n"))
    store.commit()
    assert old is not None
    assert store.show("h1", "/etc/ssh/sshd_config") == b"new\n"
    assert store.show("h1", "/etc/ssh/sshd_config", rev=old.rev) == b"old\n"
    assert [c.rev for c in store.log("h1")][-1] == old.rev
    with pytest.raises(BackupError, match="not in backup revision"):
        store.show("h1", "/etc/nothing")


def test_since_accepts_a_date_or_a_revision(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    store.write_host("lab", "h1", _snapshot("a\n"))
    store.commit(datetime(2026, 11, 1, tzinfo=timezone.utc))
    store.write_host("lab", "h1", _snapshot("b\n"))
    store.commit(datetime(2026, 11, 20, tzinfo=timezone.utc))
    assert "+b" in store.diff("h1", since="2026-11-10")
    with pytest.raises(BackupError, match="no backup revision"):
        store.diff("h1", since="2020-01-01")


def test_host_moving_group_keeps_one_copy(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    store.write_host("old", "h1", _snapshot())
    store.commit()
    store.write_host("new", "h1", _snapshot())
    store.commit()
    assert [p.parent.name for p in (store.root / "backups").glob("*/h1")] == ["new"]


def test_existing_repository_is_used_and_a_plain_folder_refused(tmp_path: Path) -> None:
    repo = tmp_path / "mine"
    repo.mkdir()
    _git(repo, "init", "-q")
    (repo / "README").write_text("client configs\n")
    store = BackupStore(repo)
    store.write_host("lab", "h1", _snapshot())
    assert store.commit() is not None
    assert "README" not in _git(repo, "show", "--name-only", "--format=", "HEAD")
    plain = tmp_path / "plain"
    plain.mkdir()
    (plain / "file").write_text("x")
    with pytest.raises(BackupError, match="not a git repository"):
        BackupStore(plain)


def test_push_goes_to_a_configured_remote_only(tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    store = BackupStore(tmp_path / "repo")
    store.write_host("lab", "h1", _snapshot())
    store.commit()
    with pytest.raises(BackupError, match="no remote"):
        store.push()
    _git(store.root, "remote", "add", "origin", str(remote))
    store.push()
    assert _git(remote, "log", "--format=%s").startswith("backup:")


def test_paths_cannot_escape_the_host_folder() -> None:
    assert host_relpath("/etc/hosts") == "etc/hosts"
    with pytest.raises(BackupError):
        host_relpath("/etc/../../outside")
    with pytest.raises(BackupError):
        BackupStore.host_dir(BackupStore.__new__(BackupStore), "lab", "../x")


def test_reading_commands_refuse_a_missing_repository(tmp_path: Path) -> None:
    """`backup restore --repo <typo>` used to create an empty repository at the typo."""
    import subprocess
    import sys

    for args in (["log", "h1"], ["diff", "h1"], ["drift"], ["restore", "h1", "/etc/motd"]):
        proc = subprocess.run([sys.executable, "-m", "pyengine", "backup", *args, "--repo",
                               str(tmp_path / "typo")], capture_output=True, text=True,
                              timeout=60)
        assert proc.returncode != 0 and "no backup repository" in proc.stderr, proc.stderr
        assert not (tmp_path / "typo").exists()


def test_a_host_name_is_never_a_glob(tmp_path: Path) -> None:
    store = BackupStore(tmp_path / "repo")
    store.write_host("lab", "h1", {"/etc/motd": b"h1\n"})
    with pytest.raises(BackupError):
        store.find_host_dir("*")
    with pytest.raises(BackupError):
        store.find_host_dir("h[1]")
    assert store.find_host_dir("h1").name == "h1"


def test_drift_diffs_are_short_unified_diffs_of_changed_text_files() -> None:
    from pyengine.backup.snapshot import drift_diffs

    old = {"/etc/a": b"one\ntwo\n", "/etc/bin": b"\xff\x00", "/etc/same": b"x",
           "/etc/gone": b"y", "/etc/big": "".join(f"{n}\n" for n in range(100)).encode()}
    new = {"/etc/a": b"one\n2\n", "/etc/bin": b"\xfe\x00", "/etc/same": b"x", "/etc/new": b"z",
           "/etc/big": "".join(f"{n}!\n" for n in range(100)).encode()}
    diffs = drift_diffs(old, new, max_lines=10)
    assert set(diffs) == {"/etc/a", "/etc/big"}  # binary, added and removed files: paths only
    assert diffs["/etc/a"].splitlines() == ["@@ -1,2 +1,2 @@", " one", "-two", "+2"]
    big = diffs["/etc/big"].splitlines()
    assert len(big) == 11 and big[-1] == "… 191 more lines"
    assert drift_diffs(None, new) == {}
    assert len(drift_diffs(old, {k: v + b"!" for k, v in old.items()}, max_files=2)) == 2
