"""The real agent as a subprocess of the `local` connection: protocol, batches, cleanup.

Modules here are written by the tests and only touch files in pytest's tmp_path.
"""

from __future__ import annotations

import json
import os
import pwd
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from pyengine.agent.session import (
    BOOTSTRAP,
    SKIP_BECOME_IF_ALREADY,
    AgentError,
    BecomeError,
    PythonAgentSession,
    ansible_facts_namespace,
)
from pyengine.connection.base import AgentChannel
from pyengine.connection.local import LocalConnection
from pyengine.errors import PyengineError
from pyengine.masking import clear_secrets, mask_text

WRITE = '''
ARGS = {"path": {"type": "path", "required": True}, "text": {"type": "str", "default": "x"}}

def main(m):
    path = m.params["path"]
    if m.read_bytes(path) == m.params["text"].encode():
        return {"changed": False, "msg": "already there"}
    if not m.check_mode:
        m.atomic_write(path, m.params["text"])
    return {"changed": True, "msg": "written"}
'''

FAIL = '''
def main(m):
    m.fail("asked to fail", detail=42)
'''

BOOM = '''
def main(m):
    value = {}
    return value["missing"]
'''

WAIT_FOR = '''
import os, time
ARGS = {"path": {"type": "path", "required": True}}

def main(m):
    deadline = time.time() + 20
    while not os.path.exists(m.params["path"]):
        if time.time() > deadline:
            m.fail("gave up waiting")
        time.sleep(0.01)
    return {"changed": False, "msg": "saw it"}
'''

NOISY = '''
import os, subprocess

def main(m):
    print("printed by the module")
    os.write(1, b"raw bytes on fd 1\\n")
    subprocess.call(["echo", "a child on fd 1"])
    rc, out, err = m.run(["/bin/sh", "-c", "echo $PYENGINE_TEST_VAR"])
    return {"changed": False, "msg": out.strip()}
'''

FLAGS = '''
def main(m):
    return {"changed": False, "check": m.check_mode, "diff": m.diff_mode,
            "os_family": m.facts.get("ansible_os_family")}
'''

SLEEP = '''
import time

def main(m):
    time.sleep(30)
    return {"changed": False}
'''

BROKEN = "def main(m)\n    return {}\n"

EXITS = "import sys\n\ndef main(m):\n    sys.exit(3)\n"

SCRATCH = '''
import os, time

def main(m):
    with open(os.path.join(m.tmpdir, "scratch.txt"), "w") as handle:
        handle.write("in progress")
    deadline = time.time() + 20
    while not os.path.exists(m.params["flag"]) and time.time() < deadline:
        time.sleep(0.01)
    return {"changed": False, "tmpdir": m.tmpdir}
'''

SOURCES = {"write": WRITE, "fail": FAIL, "boom": BOOM, "wait_for": WAIT_FOR, "noisy": NOISY,
           "flags": FLAGS, "sleep": SLEEP, "broken": BROKEN, "scratch": SCRATCH,
           "exits": EXITS}


class Recording:
    """Counts module source look-ups, as the executor's resolver would be called."""

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, name: str) -> str:
        self.calls.append(name)
        return SOURCES[name]


def item(i: int, module: str, **extra: Any) -> dict[str, Any]:
    base: dict[str, Any] = {"id": i, "module": module, "args": {}, "check_mode": False,
                            "diff": False, "environment": {}, "ignore_errors": False,
                            "no_log": False}
    base.update(extra)
    return base


@pytest.fixture
def agent_tmp(tmp_path: Path) -> Path:
    """The folder the agent uses as TMPDIR: it must be empty again after every test."""
    path = tmp_path / "agent-tmp"
    path.mkdir()
    return path


@pytest.fixture
def session(agent_tmp: Path):
    conn = LocalConnection("local1", {"env": {"TMPDIR": str(agent_tmp)}})
    sess = PythonAgentSession(conn, module_source=Recording(), python=sys.executable)
    yield sess
    sess.close()
    conn.close()


def test_start_returns_facts_that_match_this_machine(session: PythonAgentSession) -> None:
    facts = session.start()
    assert facts["ansible_kernel"] == os.uname().release
    assert facts["ansible_nodename"] == os.uname().nodename
    assert facts["ansible_architecture"] == os.uname().machine
    assert facts["ansible_python"]["executable"] == sys.executable
    assert facts["ansible_python_version"] == ".".join(map(str, sys.version_info[:3]))
    assert facts["ansible_boot_id"] == Path("/proc/sys/kernel/random/boot_id").read_text().strip()
    assert facts["ansible_user_uid"] == os.geteuid()
    release = dict(
        line.split("=", 1) for line in Path("/etc/os-release").read_text().splitlines()
        if "=" in line
    )
    assert facts["ansible_distribution_release"] == release.get("VERSION_CODENAME", "")
    assert facts["ansible_distribution_major_version"] == release["VERSION_ID"].strip('"')
    assert isinstance(facts["pyengine_reboot_required"], bool)
    assert any(m["mount"] == "/" for m in facts["ansible_mounts"])
    assert session.round_trips == 1
    assert ansible_facts_namespace(facts)["kernel"] == facts["ansible_kernel"]


def test_network_facts_match_iproute2(session: PythonAgentSession) -> None:
    import re
    import shutil
    import subprocess

    if shutil.which("ip") is None:
        pytest.skip("iproute2 not installed")
    facts = session.start()
    addrs = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True).stdout
    expected = [a for a in re.findall(r"inet (\d+\.\d+\.\d+\.\d+)/", addrs)
                if not a.startswith("127.")]
    assert sorted(facts["ansible_all_ipv4_addresses"]) == sorted(set(expected))
    route = subprocess.run(["ip", "-4", "route", "show", "default"], capture_output=True,
                           text=True).stdout.split()
    if "dev" in route:
        default = facts["ansible_default_ipv4"]
        assert default["interface"] == route[route.index("dev") + 1]
        assert default["gateway"] == route[route.index("via") + 1]
        assert default["address"] in expected


def test_batch_runs_in_order_and_streams_one_result_per_task(
    session: PythonAgentSession, tmp_path: Path
) -> None:
    session.start()
    items = [item(i, "write", args={"path": str(tmp_path / f"f{i}")}) for i in range(3)]
    results = list(session.run_batch(items))
    assert [r["id"] for r in results] == [0, 1, 2]
    assert all(r["result"]["changed"] for r in results)
    assert (tmp_path / "f2").read_text() == "x"
    assert session.round_trips == 2
    again = list(session.run_batch(items))
    assert [r["result"]["changed"] for r in again] == [False, False, False]
    assert session.round_trips == 3


def test_results_arrive_while_later_tasks_still_run(
    session: PythonAgentSession, tmp_path: Path
) -> None:
    """The second task only finishes after we saw the first result: streaming, not batching."""
    flag = tmp_path / "go"
    stream = session.run_batch([
        item(1, "write", args={"path": str(tmp_path / "a")}),
        item(2, "wait_for", args={"path": str(flag)}),
    ])
    first = next(stream)
    assert first["id"] == 1 and first["result"]["changed"] is True
    flag.write_text("now")
    second = next(stream)
    assert second["result"]["msg"] == "saw it"
    assert list(stream) == []


def test_batch_stops_at_first_unignored_failure(
    session: PythonAgentSession, tmp_path: Path
) -> None:
    results = list(session.run_batch([
        item(1, "fail", ignore_errors=True),
        item(2, "write", args={"path": str(tmp_path / "a")}),
        item(3, "fail"),
        item(4, "write", args={"path": str(tmp_path / "b")}),
    ]))
    assert [r["id"] for r in results] == [1, 2, 3]
    assert results[0]["result"] == {"failed": True, "changed": False, "msg": "asked to fail",
                                    "detail": 42}
    assert not (tmp_path / "b").exists()
    # The agent is still usable after a failure.
    assert next(session.run_batch([item(5, "flags")]))["result"]["failed"] is False


def test_module_exception_is_a_failed_result_with_a_short_traceback(
    session: PythonAgentSession,
) -> None:
    (result,) = list(session.run_batch([item(1, "boom")]))
    res = result["result"]
    assert res["failed"] is True
    assert "KeyError" in res["msg"]
    assert 'File "modules/boom.py", line 4, in main' in res["module_stderr"]
    assert 'return value["missing"]' in res["module_stderr"]  # the source line is shown
    assert "agent.py" not in res["module_stderr"]


def test_module_calling_sys_exit_fails_its_task_only(session: PythonAgentSession) -> None:
    results = list(session.run_batch([item(1, "exits", ignore_errors=True), item(2, "flags")]))
    assert results[0]["result"]["failed"] is True
    assert "called sys.exit(3)" in results[0]["result"]["msg"]
    assert results[1]["result"]["failed"] is False


def test_module_that_does_not_compile_fails_its_task_only(session: PythonAgentSession) -> None:
    results = list(session.run_batch([item(1, "broken", ignore_errors=True), item(2, "flags")]))
    assert results[0]["result"]["failed"] is True
    assert "SyntaxError" in results[0]["result"]["msg"]
    assert results[1]["result"]["failed"] is False


def test_each_module_source_is_shipped_once(agent_tmp: Path, tmp_path: Path) -> None:
    sent: list[bytes] = []

    class Spy(LocalConnection):
        def open_agent(self, argv: list[str]) -> AgentChannel:
            channel = super().open_agent(argv)
            original = channel.write

            def write(data: bytes) -> None:
                sent.append(data)
                original(data)

            channel.write = write  # type: ignore[method-assign]
            return channel

    resolver = Recording()
    conn = Spy("spy", {"env": {"TMPDIR": str(agent_tmp)}})
    with PythonAgentSession(conn, module_source=resolver, python=sys.executable) as sess:
        list(sess.run_batch([item(1, "write", args={"path": str(tmp_path / "a")})]))
        sent.clear()
        list(sess.run_batch([item(2, "write", args={"path": str(tmp_path / "b")}),
                             item(3, "write", args={"path": str(tmp_path / "c")})]))
        frame = json.loads(b"".join(sent)[4:])
    assert resolver.calls == ["write"]
    assert frame["op"] == "batch" and frame["modules"] == {}
    assert [t["module"] for t in frame["tasks"]] == ["write", "write"]


def test_stray_output_cannot_corrupt_the_protocol(session: PythonAgentSession) -> None:
    results = list(session.run_batch([
        item(1, "noisy", environment={"PYENGINE_TEST_VAR": "from-environment"}),
        item(2, "flags"),
    ]))
    assert results[0]["result"]["msg"] == "from-environment"
    assert "PYENGINE_TEST_VAR" not in os.environ
    assert results[1]["result"]["failed"] is False
    assert b"raw bytes on fd 1" in session._channel.stderr_so_far()  # type: ignore[union-attr]


def test_check_and_diff_flags_and_facts_reach_the_module(session: PythonAgentSession) -> None:
    session.start()
    (res,) = list(session.run_batch([item(1, "flags", check_mode=True, diff=True)]))
    assert res["result"]["check"] is True and res["result"]["diff"] is True
    assert res["result"]["os_family"] == session.facts["ansible_os_family"]


def test_yaml_dates_and_sets_in_arguments_travel_as_json(
    session: PythonAgentSession, tmp_path: Path
) -> None:
    import datetime

    (res,) = list(session.run_batch([item(1, "write", args={
        "path": str(tmp_path / "d"), "text": datetime.date(2024, 1, 31)})]))
    assert res["result"]["changed"] is True
    assert (tmp_path / "d").read_text() == "2024-01-31"


def test_check_mode_changes_nothing(session: PythonAgentSession, tmp_path: Path) -> None:
    (res,) = list(session.run_batch([item(1, "write", check_mode=True,
                                          args={"path": str(tmp_path / "a")})]))
    assert res["result"]["changed"] is True
    assert not (tmp_path / "a").exists()


def test_abandoned_batch_is_drained_before_the_next(
    session: PythonAgentSession, tmp_path: Path
) -> None:
    stream = session.run_batch([item(i, "write", args={"path": str(tmp_path / f"f{i}")})
                                for i in range(5)])
    next(stream)
    stream.close()
    (res,) = list(session.run_batch([item(9, "flags")]))
    assert res["id"] == 9


def test_task_tmpdir_exists_only_while_the_task_runs(
    session: PythonAgentSession, tmp_path: Path, agent_tmp: Path
) -> None:
    session.start()
    assert list(agent_tmp.iterdir()) == []  # an idle agent owns no files
    flag = tmp_path / "go"
    results: list[dict[str, Any]] = []
    runner = threading.Thread(target=lambda: results.extend(
        session.run_batch([item(1, "scratch", args={"flag": str(flag)})])))
    runner.start()
    for _ in range(500):
        if list(agent_tmp.iterdir()):
            break
        time.sleep(0.01)
    (tmpdir,) = list(agent_tmp.iterdir())
    assert (tmpdir / "scratch.txt").read_text() == "in progress"
    flag.write_text("go")
    runner.join(20)
    (res,) = results
    assert res["result"]["tmpdir"] == str(tmpdir)
    assert list(agent_tmp.iterdir()) == []


@pytest.mark.parametrize("how", ["eof", "sighup", "sigterm"])
def test_dropped_channel_mid_task_leaves_no_files(
    agent_tmp: Path, tmp_path: Path, how: str
) -> None:
    conn = LocalConnection("drop", {"env": {"TMPDIR": str(agent_tmp)}})
    sess = PythonAgentSession(conn, module_source=Recording(), python=sys.executable)
    sess.start()
    flag = tmp_path / "go"
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            list(sess.run_batch([item(1, "scratch", args={"flag": str(flag)})]))
        except BaseException as err:  # noqa: B036 - the test looks at it
            errors.append(err)

    runner = threading.Thread(target=consume)
    runner.start()
    for _ in range(500):
        if list(agent_tmp.iterdir()):
            break
        time.sleep(0.01)
    assert len(list(agent_tmp.iterdir())) == 1
    channel = sess._channel
    assert channel is not None
    if how == "eof":
        channel.proc.stdin.close()  # type: ignore[attr-defined]
        flag.write_text("go")  # the task ends; its result then meets a closed channel
    else:
        signum = signal.SIGHUP if how == "sighup" else signal.SIGTERM
        os.kill(channel.pid, signum)  # type: ignore[attr-defined]
    assert channel.exit_status(10) is not None
    assert list(agent_tmp.iterdir()) == []
    runner.join(10)
    if how == "eof":  # only stdin closed: the task finished and its result still came back
        assert errors == []
    else:
        assert len(errors) == 1 and isinstance(errors[0], AgentError)
    conn.close()


def test_task_timeout_is_an_agent_error(agent_tmp: Path) -> None:
    conn = LocalConnection("slow", {"env": {"TMPDIR": str(agent_tmp)}})
    sess = PythonAgentSession(conn, module_source=Recording(), python=sys.executable,
                              task_timeout=0.5)
    started = time.monotonic()
    with pytest.raises(AgentError, match="no answer from the agent within 0.5s"):
        list(sess.run_batch([item(1, "sleep")]))
    assert time.monotonic() - started < 10
    sess.close()
    conn.close()


def _python(version: str) -> Path | None:
    """A working interpreter of that version: PYENGINE_TEST_PYTHON<maj><min>, pyenv, PATH."""
    candidates = [os.environ.get("PYENGINE_TEST_PYTHON" + version.replace(".", ""), "")]
    candidates += [str(p) for p in sorted(
        (Path.home() / ".pyenv" / "versions").glob(f"{version}.*/bin/python3"))]
    candidates.append(shutil.which(f"python{version}") or "")
    for found in filter(None, candidates):
        probe = subprocess.run([found, "-c", "import sys; print(sys.version[:3])"],
                               capture_output=True, text=True)
        if probe.returncode == 0 and probe.stdout.strip() == version:
            return Path(found)
    return None


def test_old_python_is_refused_clearly() -> None:
    old = _python("3.6")
    if old is None:
        pytest.skip("no Python 3.6 on this machine")
    sess = PythonAgentSession(LocalConnection("old"), python=str(old))
    with pytest.raises(AgentError, match=r"needs Python 3.7\+ on the host, found 3.6"):
        sess.start()


def test_agent_runs_on_python_37(agent_tmp: Path, tmp_path: Path) -> None:
    py37 = _python("3.7")
    if py37 is None:
        pytest.skip("no Python 3.7 on this machine")
    conn = LocalConnection("py37", {"env": {"TMPDIR": str(agent_tmp)}})
    with PythonAgentSession(conn, module_source=Recording(), python=str(py37)) as sess:
        assert sess.facts["ansible_python_version"].startswith("3.7.")
        results = list(sess.run_batch([item(1, "write", args={"path": str(tmp_path / "a")}),
                                       item(2, "boom", ignore_errors=True)]))
    assert results[0]["result"]["changed"] is True
    assert "KeyError" in results[1]["result"]["msg"]
    assert list(agent_tmp.iterdir()) == []


# -- become, with a stand-in for sudo that behaves like `sudo -S` ---------------------

FAKE_SUDO = r'''
import os, sys
args = sys.argv[1:]
prompt, nonint = "Password:", False
while args and args[0].startswith("-"):
    flag = args.pop(0)
    if flag == "-p":
        prompt = args.pop(0)
    elif flag == "-u":
        args.pop(0)
    elif flag == "-n":
        nonint = True
if nonint:
    sys.stderr.write("sudo: a password is required\n")
    sys.exit(1)
for attempt in range(3):
    sys.stderr.write(prompt)
    sys.stderr.flush()
    line = b""
    while not line.endswith(b"\n"):  # byte by byte, as sudo does: the rest is the agent's
        c = os.read(0, 1)
        if not c:
            sys.exit(1)
        line += c
    if line == b"right-password\n":
        os.execvp(args[0], args)
    sys.stderr.write("Sorry, try again.\n")
    sys.stderr.flush()
sys.stderr.write("sudo: 3 incorrect password attempts\n")
sys.exit(1)
'''


@pytest.fixture
def fake_sudo(tmp_path: Path) -> str:
    path = tmp_path / "fake-sudo"
    path.write_text(f"#!{sys.executable}\n" + FAKE_SUDO)
    path.chmod(0o755)
    return str(path)


def test_become_argv() -> None:
    conn = LocalConnection("x")
    plain = PythonAgentSession(conn, become=True, become_user="app").argv()
    assert plain[:3] == ["/bin/sh", "-c", SKIP_BECOME_IF_ALREADY]
    assert plain[3:6] == ["sh", "app", "6"]
    assert plain[6:12] == ["sudo", "-H", "-S", "-n", "-u", "app"]
    assert plain[12:] == ["python3", "-c", BOOTSTRAP]
    with_pw = PythonAgentSession(conn, become=True, become_password="pw").argv()
    sudo = with_pw[6:]
    assert "-n" not in sudo and sudo[3] == "-p" and sudo[6] == "root"
    assert "pw" not in with_pw


def test_becoming_the_login_user_needs_no_sudo(agent_tmp: Path) -> None:
    """A minimal host reached as root has no sudo; becoming root must still work."""
    me = pwd.getpwuid(os.getuid()).pw_name
    conn = LocalConnection("b", {"env": {"TMPDIR": str(agent_tmp)}})
    sess = PythonAgentSession(conn, module_source=Recording(), become=True, become_user=me,
                              become_exe="/nonexistent/sudo", python=sys.executable)
    with sess:
        (res,) = list(sess.run_batch([item(1, "flags")]))
    assert res["result"]["failed"] is False
    other = PythonAgentSession(LocalConnection("b"), become=True, become_user="nobody-else",
                               become_exe="/nonexistent/sudo", python=sys.executable)
    with pytest.raises(PyengineError):
        other.start()


def test_become_with_password_answers_the_prompt(fake_sudo: str, agent_tmp: Path) -> None:
    conn = LocalConnection("b", {"env": {"TMPDIR": str(agent_tmp)}})
    sess = PythonAgentSession(conn, module_source=Recording(), become=True,
                              become_user="nobody", become_password="right-password",
                              become_exe=fake_sudo,
                              python=sys.executable)
    with sess:
        (res,) = list(sess.run_batch([item(1, "flags")]))
        stderr = sess._channel.stderr_so_far()  # type: ignore[union-attr]
    assert res["result"]["failed"] is False
    assert b"right-password" not in stderr
    assert mask_text("x right-password y") == "x ******** y"
    clear_secrets()


def test_wrong_become_password_is_a_clear_failure(fake_sudo: str) -> None:
    sess = PythonAgentSession(LocalConnection("b"), become=True, become_user="labpw",
                              become_password="wrong-password", become_exe=fake_sudo,
                              python=sys.executable)
    with pytest.raises(BecomeError, match="incorrect sudo password") as info:
        sess.start()
    assert "wrong-password" not in str(info.value)
    clear_secrets()


def test_become_without_password_when_sudo_wants_one(fake_sudo: str) -> None:
    sess = PythonAgentSession(LocalConnection("b"), become=True, become_user="nobody",
                              become_exe=fake_sudo, python=sys.executable)
    with pytest.raises(BecomeError, match="sudo needs a password"):
        sess.start()


@pytest.mark.parametrize("name", ["agent", "facts", "runtime"])
def test_target_code_parses_as_python_37(name: str) -> None:
    """The guard for hosts we have no interpreter for here: no 3.8+ syntax."""
    import ast

    path = Path(__file__).resolve().parents[2] / "pyengine" / "agent" / f"{name}.py"
    ast.parse(path.read_text(), feature_version=(3, 7))


def test_missing_sudo_is_named() -> None:
    sess = PythonAgentSession(LocalConnection("b"), become=True, become_user="nobody",
                              become_exe="/nonexistent/sudo-pyengine", python=sys.executable)
    with pytest.raises(PyengineError, match="sudo-pyengine"):
        sess.start()


def test_noise_from_shell_startup_files_is_skipped(tmp_path: Path, agent_tmp: Path) -> None:
    """A login banner or a chatty ~/.bashrc prints before the agent starts."""
    wrapper = tmp_path / "python-with-banner"
    wrapper.write_text(f"#!/bin/sh\necho 'Welcome to host x'\nprintf '\\000\\001\\002'\n"
                       f"exec {sys.executable} \"$@\"\n")
    wrapper.chmod(0o755)
    conn = LocalConnection("noisy", {"env": {"TMPDIR": str(agent_tmp)}})
    with PythonAgentSession(conn, module_source=Recording(), python=str(wrapper)) as sess:
        assert sess.facts["ansible_python"]["executable"] == sys.executable
        (res,) = list(sess.run_batch([item(1, "flags")]))
        assert res["result"]["failed"] is False
    assert len(sess.warnings) == 1 and "Welcome to host x" in sess.warnings[0]


def test_garbage_instead_of_the_agent_is_a_clear_error(tmp_path: Path) -> None:
    fake = tmp_path / "not-python"
    fake.write_text("#!/bin/sh\ncat /dev/zero | head -c 2000000\n")
    fake.chmod(0o755)
    sess = PythonAgentSession(LocalConnection("junk"), python=str(fake))
    with pytest.raises(AgentError, match="unexpected output instead of the agent"):
        sess.start()


def test_auto_interpreter_discovery(agent_tmp: Path, tmp_path: Path) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "python3.9").symlink_to(sys.executable)
    conn = LocalConnection("auto", {"env": {"TMPDIR": str(agent_tmp),
                                            "PATH": f"{bin_dir}:/nonexistent"}})
    with PythonAgentSession(conn, module_source=Recording(), python="auto") as sess:
        found = sess.facts["ansible_python"]["executable"]
        (res,) = list(sess.run_batch([item(1, "flags")]))
    # In the search order, /usr/bin/python3 comes before python3.9 (found on PATH).
    usr = Path("/usr/bin/python3")
    assert found == (str(usr) if usr.exists() else str(bin_dir / "python3.9"))
    assert res["result"]["failed"] is False


def test_a_new_agent_after_a_lost_one_gets_the_modules_again(
    session: PythonAgentSession, tmp_path: Path
) -> None:
    list(session.run_batch([item(1, "flags")]))
    first_pid = session.agent_pid
    assert first_pid is not None
    os.kill(first_pid, signal.SIGTERM)
    with pytest.raises(AgentError):
        list(session.run_batch([item(2, "flags")]))
    (res,) = list(session.run_batch([item(3, "flags")]))  # starts a new agent
    assert session.agent_pid != first_pid
    assert res["result"]["failed"] is False

