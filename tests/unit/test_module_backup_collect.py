"""backup_collect run directly on a temp tree: globs, size limits and the secrets denylist."""

from __future__ import annotations

import base64
from pathlib import Path

from pyengine.agent.runtime import run_module
from pyengine.paths import builtin_modules_dir

SOURCE = (builtin_modules_dir() / "backup_collect.py").read_text()


def _run(**params: object) -> dict:
    params.setdefault("default_set", False)
    return run_module(SOURCE, params, name="backup_collect")


def test_collects_globs_and_folders(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "a.conf").write_text("a=1\n")
    (tmp_path / "app" / "sub").mkdir()
    (tmp_path / "app" / "sub" / "b.conf").write_text("b=2\n")
    result = _run(paths=[str(tmp_path / "app")])
    assert result["failed"] is False and result["changed"] is False
    files = {k: base64.b64decode(v) for k, v in result["files"].items()}
    assert files == {str(tmp_path / "app" / "a.conf"): b"a=1\n",
                     str(tmp_path / "app" / "sub" / "b.conf"): b"b=2\n"}


def test_private_keys_are_refused_by_name_and_by_content(tmp_path: Path) -> None:
    (tmp_path / "id_ed25519").write_text("whatever\n")
    (tmp_path / "innocent.conf").write_text(
        "-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----\n")
    (tmp_path / "ok.conf").write_text("fine\n")
    result = _run(paths=[str(tmp_path / "*")])
    assert list(result["files"]) == [str(tmp_path / "ok.conf")]
    reasons = {r["path"]: r["reason"] for r in result["refused"]}
    assert reasons[str(tmp_path / "id_ed25519")] == "on the secrets denylist"
    assert reasons[str(tmp_path / "innocent.conf")] == "contains a private key"


def test_extra_deny_adds_but_cannot_remove(tmp_path: Path) -> None:
    (tmp_path / "token.txt").write_text("t\n")
    (tmp_path / "x.key").write_text("k\n")
    result = _run(paths=[str(tmp_path / "*")], extra_deny=[str(tmp_path / "token*")])
    assert result["files"] == {}
    assert len(result["refused"]) == 2


def test_large_files_are_skipped_and_named(tmp_path: Path) -> None:
    (tmp_path / "big.conf").write_bytes(b"x" * 2000)
    result = _run(paths=[str(tmp_path / "big.conf")], max_file_size=1000)
    assert result["files"] == {}
    assert "larger than max_file_size" in result["skipped"][0]["reason"]


def test_extra_commands_run_without_shell(tmp_path: Path) -> None:
    result = _run(commands={"echo": ["echo", "$HOME; id"]})
    assert result["commands"] == {"echo": "$HOME; id\n"}


def test_default_set_never_includes_shadow() -> None:
    result = run_module(SOURCE, {"default_set": True, "max_files": 50}, name="backup_collect",
                        facts={"ansible_os_family": "Debian"})
    assert result["failed"] is False
    assert not any("shadow" in path for path in result["files"])
    assert "/etc/passwd" in result["files"]
