"""The module runtime (`m`): modes, commands, attributes, diffs and `run_module` itself."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from pyengine.agent.runtime import MAX_DIFF_BYTES, Module, ModuleFail, run_module


@pytest.mark.parametrize(
    ("mode", "current", "is_dir", "expected"),
    [
        ("0644", None, False, 0o644),
        ("644", None, False, 0o644),
        ("0o750", None, False, 0o750),
        ("01777", None, True, 0o1777),
        (0o600, None, False, 0o600),
        ("u=rw,g=r,o=", 0o777, False, 0o640),
        ("u+x", 0o644, False, 0o744),
        ("go-w", 0o666, False, 0o644),
        ("a+X", 0o644, False, 0o644),  # plain file without x: X adds nothing
        ("a+X", 0o744, False, 0o755),  # already executable by someone: X adds x
        ("a+X", 0o644, True, 0o755),  # folders always get X
        ("u=rwX,g=rX,o=", 0o777, True, 0o750),
        ("g=u", 0o640, False, 0o660),
        ("u+s,o+t", 0o755, True, 0o5755),
        ("u=rwx,g=rx,o=r", 0, False, 0o754),
        ("o=", 0o4757, False, 0o4750),  # = on others leaves setuid alone
        ("u-x+s", 0o755, False, 0o4655),  # several operations in one clause
    ],
)
def test_parse_mode_octal_and_symbolic(mode, current, is_dir, expected) -> None:
    assert Module().parse_mode(mode, current, is_dir) == expected


def test_parse_mode_without_who_honours_umask() -> None:
    old = os.umask(0o022)
    try:
        assert Module().parse_mode("+w", 0o444) == 0o644
    finally:
        os.umask(old)


@pytest.mark.parametrize("bad", ["rwxr-xr-x", "u=rwz", "9", "0o8", "z+r", True])
def test_parse_mode_rejects_garbage(bad) -> None:
    with pytest.raises(ModuleFail, match="mode"):
        Module().parse_mode(bad, 0o644)


def test_run_returns_text_and_rc() -> None:
    m = Module(environment={"PYE_TASK_ENV": "task"})
    rc, out, err = m.run(["/bin/sh", "-c", "echo $PYE_TASK_ENV $PYE_X; echo oops >&2; exit 3"],
                         env={"PYE_X": "call"})
    assert (rc, out, err) == (3, "task call\n", "oops\n")


def test_run_feeds_data_and_never_inherits_stdin() -> None:
    m = Module()
    assert m.run(["cat"], data="abc") == (0, "abc", "")
    # Without data the child reads /dev/null: the agent's protocol stdin is never shared.
    assert m.run(["cat"]) == (0, "", "")


def test_run_missing_executable_is_rc_127() -> None:
    rc, out, err = Module().run(["/nonexistent/tool", "x"])
    assert rc == 127 and out == "" and "No such file" in err


def test_run_check_fails_the_module_with_the_error() -> None:
    with pytest.raises(ModuleFail, match=r"rc=2\): boom") as info:
        Module().run(["/bin/sh", "-c", "echo boom >&2; exit 2"], check=True)
    assert info.value.data["rc"] == 2


def test_run_refuses_a_shell_string() -> None:
    with pytest.raises(TypeError):
        Module().run("echo hi")  # type: ignore[arg-type]


def test_which_finds_and_requires() -> None:
    m = Module()
    assert m.which("sh") and os.path.isabs(m.which("sh") or "")
    assert m.which("no-such-tool-pyengine") is None
    with pytest.raises(ModuleFail, match="no-such-tool-pyengine"):
        m.which("no-such-tool-pyengine", required=True)


def test_read_bytes(tmp_path: Path) -> None:
    m = Module()
    (tmp_path / "f").write_bytes(b"\x00data")
    assert m.read_bytes(str(tmp_path / "f")) == b"\x00data"
    assert m.read_bytes(str(tmp_path / "missing")) is None
    with pytest.raises(ModuleFail, match="directory"):
        m.read_bytes(str(tmp_path))


def test_atomic_write_new_file_uses_umask_default(tmp_path: Path) -> None:
    old = os.umask(0o027)
    try:
        Module().atomic_write(str(tmp_path / "new"), "x")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "new").stat().st_mode) == 0o640
    assert (tmp_path / "new").read_text() == "x"


def test_atomic_write_keeps_mode_and_replaces_inode(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    target.chmod(0o604)
    inode = target.stat().st_ino
    Module().atomic_write(str(target), b"new")
    assert target.read_text() == "new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o604
    assert target.stat().st_ino != inode  # renamed over, not rewritten in place


def test_atomic_write_given_mode_wins(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    target.chmod(0o644)
    Module().atomic_write(str(target), "new", mode="u=rw,go=")
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_atomic_write_keeps_owner_and_sets_given_owner(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    os.chown(target, 65534, 65534)
    Module().atomic_write(str(target), "new")
    assert (target.stat().st_uid, target.stat().st_gid) == (65534, 65534)
    Module().atomic_write(str(target), "newer", owner="root", group="0")
    assert (target.stat().st_uid, target.stat().st_gid) == (0, 0)


def test_atomic_write_validate_failure_leaves_original_and_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "sshd_config"
    target.write_text("Port 22\n")
    target.chmod(0o600)
    with pytest.raises(ModuleFail, match="failed to validate: bad line") as info:
        Module().atomic_write(str(target), "Bogus\n", mode="0644",
                              validate="/bin/sh -c 'grep -q Port %s || { echo bad line >&2; "
                                       "exit 1; }'")
    assert info.value.data["exit_status"] == 1
    assert target.read_text() == "Port 22\n"
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert os.listdir(tmp_path) == ["sshd_config"]


def test_atomic_write_validate_sees_new_content(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old\n")
    Module().atomic_write(str(target), "new\n", validate="grep -q ^new %s")
    assert target.read_text() == "new\n"


def test_atomic_write_validate_needs_placeholder(tmp_path: Path) -> None:
    with pytest.raises(ModuleFail, match="%s"):
        Module().atomic_write(str(tmp_path / "f"), "x", validate="true")


def test_atomic_write_backup_keeps_the_original(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("old")
    result = Module().atomic_write(str(target), "new", backup=True)
    backup = Path(result["backup_file"])
    assert backup.parent == tmp_path and backup.name.startswith("f.")
    assert backup.read_text() == "old" and target.read_text() == "new"


def test_atomic_write_follows_symlink(tmp_path: Path) -> None:
    (tmp_path / "real").write_text("old")
    (tmp_path / "link").symlink_to("real")
    Module().atomic_write(str(tmp_path / "link"), "new")
    assert (tmp_path / "link").is_symlink()
    assert (tmp_path / "real").read_text() == "new"


def test_atomic_write_does_nothing_in_check_mode(tmp_path: Path) -> None:
    m = Module(check_mode=True)
    assert m.atomic_write(str(tmp_path / "f"), "x", backup=True) == {}
    assert os.listdir(tmp_path) == []


def test_atomic_write_missing_folder_fails(tmp_path: Path) -> None:
    with pytest.raises(ModuleFail, match="does not exist"):
        Module().atomic_write(str(tmp_path / "nope" / "f"), "x")


def test_set_attributes_plans_and_applies(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    target.chmod(0o644)
    dry = Module(check_mode=True)
    assert dry.set_attributes(str(target), mode="0600") == (
        True, {"path": str(target), "mode": "0644"}, {"path": str(target), "mode": "0600"})
    assert stat.S_IMODE(target.stat().st_mode) == 0o644
    assert Module().set_attributes(str(target), mode="0600")[0] is True
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert Module().set_attributes(str(target), mode="0600")[0] is False


@pytest.mark.skipif(os.geteuid() != 0, reason="chown needs root")
def test_set_attributes_owner_by_name_and_number(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("x")
    changed, before, after = Module().set_attributes(str(target), owner="nobody", group="65534")
    assert changed and before["owner"] == "root" and after["owner"] == "nobody"
    assert target.stat().st_uid == 65534 and target.stat().st_gid == 65534


def test_set_attributes_unknown_user_fails(tmp_path: Path) -> None:
    (tmp_path / "f").write_text("x")
    with pytest.raises(ModuleFail, match="user 'no-such-user-pye' does not exist"):
        Module().set_attributes(str(tmp_path / "f"), owner="no-such-user-pye")


def test_text_diff_only_when_asked_and_summarises_big_or_binary() -> None:
    assert Module().text_diff("a", "b", "/f") is None
    m = Module(diff_mode=True)
    assert m.text_diff(None, "b\n", "/f") == {
        "before": "", "after": "b\n", "before_header": "/f (absent)", "after_header": "/f"}
    big = m.text_diff("x" * (MAX_DIFF_BYTES + 1), b"\x00\x01", "/f")
    assert big is not None
    assert big["before"].startswith("[content not shown")
    assert big["after"].startswith("[binary content not shown: 2 bytes]")


def test_backup_local_copies(tmp_path: Path) -> None:
    target = tmp_path / "f"
    target.write_text("keep")
    backup = Module().backup_local(str(target))
    assert Path(backup).read_text() == "keep"
    assert not os.path.exists(Module(check_mode=True).backup_local(str(target)) + "x")


# ------------------------------------------------------------------- run_module
SOURCE = '''
ARGS = {
    "path": {"type": "path", "required": True, "aliases": ["dest"]},
    "state": {"type": "str", "default": "present", "choices": ["present", "absent"]},
    "force": {"type": "bool", "default": "no"},
    "count": {"type": "int"},
    "names": {"type": "list", "elements": "str"},
}

def main(m):
    return {"changed": m.params["force"], "params": m.params, "check": m.check_mode,
            "facts": m.facts}
'''


def test_run_module_normalises_params_like_the_controller() -> None:
    result = run_module(SOURCE, {"dest": "~/x", "force": "yes", "count": "3", "names": "a, b"},
                        check_mode=True, facts={"os_family": "Debian"})
    assert result["failed"] is False and result["changed"] is True
    assert result["params"] == {"path": os.path.expanduser("~/x"), "state": "present",
                                "force": True, "count": 3, "names": ["a", "b"]}
    assert result["check"] is True and result["facts"] == {"os_family": "Debian"}


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({}, "missing required argument 'path'"),
        ({"path": "/x", "colour": 1}, "unsupported argument 'colour'"),
        ({"path": "/x", "state": "gone"}, "must be one of present, absent"),
        ({"path": "/x", "force": "maybe"}, "cannot be converted to a bool"),
    ],
)
def test_run_module_argument_errors_become_failures(params, message) -> None:
    result = run_module(SOURCE, params)
    assert result["failed"] is True and result["changed"] is False
    assert message in result["msg"]


def test_run_module_reserved_arguments_pass_through() -> None:
    result = run_module(SOURCE, {"path": "/x", "_content_b64": "eA=="})
    assert result["params"]["_content_b64"] == "eA=="


def test_run_module_fail_carries_data() -> None:
    def main(m):
        m.fail("nope", rc=4)

    assert run_module(main, {}) == {"failed": True, "changed": False, "msg": "nope", "rc": 4}


def test_run_module_exception_is_a_failure_with_traceback() -> None:
    result = run_module("def main(m):\n    return 1 / 0\n", {}, name="boom")
    assert result["failed"] is True
    assert "ZeroDivisionError" in result["msg"] and "Traceback" in result["exception"]


def test_run_module_stray_print_becomes_a_warning(capsys) -> None:
    def main(m):
        print("debugging output")
        m.warn("careful")
        return {"changed": False}

    result = run_module(main, {})
    assert capsys.readouterr().out == ""
    assert result["warnings"] == ["careful", "module printed to stdout: debugging output"]


def test_run_module_restores_cwd_and_cleans_its_tmpdir(tmp_path: Path) -> None:
    seen = {}

    def main(m):
        seen["tmp"] = m.tmpdir
        os.chdir(tmp_path)
        return {}

    here = os.getcwd()
    result = run_module(main, {})
    assert result == {"changed": False, "failed": False}
    assert os.getcwd() == here
    assert not os.path.exists(seen["tmp"])


def test_run_module_non_dict_result_fails() -> None:
    result = run_module(lambda m: "ok", {})
    assert result["failed"] is True and "returned str" in result["msg"]


def test_run_module_accepts_an_object_with_main_and_args() -> None:
    class Loaded:
        ARGS = {"x": {"type": "int", "default": 5}}

        @staticmethod
        def main(m):
            return {"x": m.params["x"]}

    assert run_module(Loaded(), {})["x"] == 5


def test_atomic_write_keeps_the_selinux_label(tmp_path: Path) -> None:
    target = tmp_path / "sshd_config"
    target.write_text("old")
    label = b"system_u:object_r:sshd_config_t:s0\x00"
    try:
        os.setxattr(target, "security.selinux", label)
    except OSError as exc:
        pytest.skip(f"this filesystem does not store security.selinux: {exc}")
    Module().atomic_write(str(target), "new")
    assert target.read_text() == "new"
    assert os.getxattr(target, "security.selinux") == label


def test_atomic_write_unsafe_writes_only_when_rename_is_refused(tmp_path: Path,
                                                               monkeypatch) -> None:
    """A bind-mounted file (EBUSY on rename) is written in place only with unsafe_writes."""
    import errno

    target = tmp_path / "resolv.conf"
    target.write_text("old")

    def busy(src: str, dst: str) -> None:
        raise OSError(errno.EBUSY, "Device or resource busy")

    monkeypatch.setattr(os, "replace", busy)
    with pytest.raises(ModuleFail, match="busy"):
        Module().atomic_write(str(target), "new")
    assert target.read_text() == "old"
    m = Module()
    m.atomic_write(str(target), "new", unsafe_writes=True)
    assert target.read_text() == "new"
    assert "written in place" in m.warnings[0]
    assert os.listdir(tmp_path) == ["resolv.conf"]
