"""backup_collect run directly on a temp tree: globs, size limits and the secrets denylist."""

from __future__ import annotations

import base64
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

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


# -- the denylist under any spelling (issue: /etc//shadow reached the backup repository) --

def _module_namespace() -> dict:
    namespace: dict = {}
    exec(compile(SOURCE, "backup_collect.py", "exec"), namespace)
    return namespace


_NS = _module_namespace()


def _spell(path: str, draw: st.DrawFn) -> str:
    """Another spelling of an absolute path: doubled slashes, `.` and `name/..` segments."""
    out = ""
    for part in path.strip("/").split("/"):
        out += "/" * draw(st.integers(1, 3))
        if draw(st.booleans()):
            out += "./"
        if draw(st.booleans()):
            out += draw(st.sampled_from(["x", "ssh", "etc", "tmp"])) + "/../"
        out += part
    return out


@st.composite
def _denied_spellings(draw: st.DrawFn) -> str:
    path = draw(st.sampled_from(["/etc/shadow", "/etc/gshadow", "/etc/shadow-",
                                 "/etc/ssh/ssh_host_ed25519_key", "/root/.ssh/id_rsa"]))
    return _spell(path, draw)


@settings(max_examples=300, deadline=None)
@given(_denied_spellings())
def test_denylist_holds_under_any_spelling(spelling: str) -> None:
    assert _NS["is_denied"](spelling, []), spelling


def test_dot_and_double_slash_spellings_of_a_folder_are_refused(tmp_path: Path) -> None:
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc" / "secret.conf").write_text("s=1\n")
    (tmp_path / "etc" / "plain.conf").write_text("p=1\n")
    deny = [str(tmp_path / "etc" / "secret.conf")]
    for spelling in (f"{tmp_path}/etc/.", f"{tmp_path}//etc//secret.conf",
                     f"{tmp_path}/etc/./secret.conf", f"{tmp_path}/etc/x/../secret.conf"):
        result = _run(paths=[spelling], extra_deny=deny)
        assert all("secret" not in p for p in result["files"]), spelling
    whole = _run(paths=[f"{tmp_path}/etc/."], extra_deny=deny)
    assert list(whole["files"]) == [str(tmp_path / "etc" / "plain.conf")]


def test_symlink_to_a_denied_file_is_refused_by_where_it_leads(tmp_path: Path) -> None:
    (tmp_path / "real.key.txt").write_text("k\n")
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "innocent.conf").symlink_to(tmp_path / "real.key.txt")
    result = _run(paths=[str(tmp_path / "conf" / "innocent.conf")],
                  extra_deny=[str(tmp_path / "real.key.txt")])
    assert result["files"] == {}
    assert result["refused"][0]["reason"] == "on the secrets denylist"


def test_shadow_content_under_any_name_is_refused(tmp_path: Path) -> None:
    (tmp_path / "users.bak").write_text(
        "root:$y$j9T$abcdefghijklmnop$ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789abc:19700:0:99999:7:::\n"
        "daemon:*:19700:0:99999:7:::\n")
    (tmp_path / "des.bak").write_text("old:abcdefghijklm:10000::::::\n")
    (tmp_path / "passwd.copy").write_text("root:x:0:0:root:/root:/bin/bash\n")
    result = _run(paths=[str(tmp_path / "*")])
    assert list(result["files"]) == [str(tmp_path / "passwd.copy")]
    assert {r["reason"] for r in result["refused"]} == {"contains password hashes"}
