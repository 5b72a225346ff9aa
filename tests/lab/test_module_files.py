"""The file modules through SSH on a lab host, as a run sends them (modspec + agent session).

For each module: (1) apply, (2) assert the real state with an independent command inside
the host (`LabHost.exec`, nsenter: not the SSH layer under test), (3) apply again and
assert no change, (4) drift the host, run in check mode: `changed` is reported and
nothing moved, (5) the diff says what changed. Plus `validate` with `sshd -t -f %s`
refusing a broken sshd_config line (original untouched), and a connection killed during
a 40 MB `copy` (destination old or new, never partial, no temp file left).

Every test works in its own folder under /root on h1 (h2 for the killed connections)
and removes it afterwards: the lab is shared by the session.
"""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from modtarget import hostvars as _hostvars

from pyengine.agent.session import PythonAgentSession
from pyengine.connection import connection_for_host
from pyengine.errors import PyengineError
from pyengine.modspec import normalize_args

pytestmark = pytest.mark.lab

MODULES = Path(__file__).resolve().parents[2] / "modules"


class Target:
    """One agent session on one lab host, plus independent checks inside the host."""

    def __init__(self, lab: Any, index: int) -> None:
        self.host = lab.hosts[index]
        self.conn = connection_for_host(self.host.name, _hostvars(lab, self.host.name))
        self.session = PythonAgentSession(
            self.conn, module_source=lambda name: (MODULES / f"{name}.py").read_text())
        self.session.start()

    def apply(self, module: str, check: bool = False, crash_ok: bool = False,
              **args: Any) -> dict[str, Any]:
        """Validate args like the controller, run the module in one batch, return its result."""
        item = {"id": 1, "module": module, "args": normalize_args(module, args),
                "check_mode": check, "diff": True, "environment": None,
                "ignore_errors": True, "no_log": False}
        [reply] = self.session.run_all([item])
        result: dict[str, Any] = reply["result"]
        assert crash_ok or "exception" not in result, result["exception"]
        return result

    def sh(self, script: str) -> str:
        return str(self.host.exec(["/bin/sh", "-c", script]).stdout)

    def close(self) -> None:
        self.session.close()
        self.conn.close()


@pytest.fixture(scope="module")
def target(lab: Any) -> Iterator[Target]:
    t = Target(lab, 0)
    yield t
    t.close()


@pytest.fixture
def base(target: Target) -> Iterator[str]:
    folder = f"/root/pye-modtest-{uuid.uuid4().hex[:10]}"
    target.host.exec(["mkdir", "-p", folder])
    yield folder
    target.host.exec(["rm", "-rf", folder])


def cycle(t: Target, module: str, args: dict[str, Any], state: str, expected: str,
          drift: str) -> dict[str, Any]:
    """Steps 1-4 for a module that changes something; returns the first result for (5)."""
    first = t.apply(module, **args)
    assert not first.get("failed"), first
    assert first["changed"] is True, first
    assert t.sh(state) == expected
    second = t.apply(module, **args)
    assert not second.get("failed") and second["changed"] is False, second
    assert second.get("msg"), "a no-op must say why"
    assert t.sh(state) == expected
    t.sh(drift)
    drifted = t.sh(state)
    assert drifted != expected, "the drift command changed nothing"
    dry = t.apply(module, check=True, **args)
    assert dry["changed"] is True and not dry.get("failed"), dry
    assert t.sh(state) == drifted, "check mode changed the host"
    fixed = t.apply(module, **args)
    assert fixed["changed"] is True and t.sh(state) == expected
    return first


# ------------------------------------------------------------------------- copy
def test_copy_content_converges_and_diffs(target: Target, base: str) -> None:
    dest = f"{base}/issue.net"
    first = cycle(target, "copy", {"dest": dest, "content": "Authorised use only\n",
                                   "mode": "0640", "owner": "nobody"},
                  state=f"stat -c '%a %U' {dest}; cat {dest}",
                  expected="640 nobody\nAuthorised use only\n",
                  drift=f"echo tampered >> {dest}")
    assert first["diff"]["before"] == ""
    assert first["diff"]["after"] == "Authorised use only\n"
    assert first["checksum"] == hashlib.sha1(b"Authorised use only\n").hexdigest()
    assert target.sh(f"ls -A {base}") == "issue.net\n"  # no temp file, no backup


def test_copy_controller_bytes_and_backup(target: Target, base: str) -> None:
    dest = f"{base}/blob"
    target.sh(f"printf old > {dest}; chmod 0600 {dest}")
    data = bytes(range(256)) * 4
    result = target.apply("copy", dest=dest, _content_b64=base64.b64encode(data).decode(),
                          backup=True)
    assert result["changed"] is True and result["backup_file"].startswith(dest + ".")
    assert target.sh(f"sha1sum < {dest}").split()[0] == hashlib.sha1(data).hexdigest()
    assert target.sh(f"cat {result['backup_file']}") == "old"
    assert target.sh(f"stat -c %a {dest}") == "600\n"  # the replaced file's mode is kept


def test_copy_validate_sshd_refuses_broken_config(target: Target, base: str) -> None:
    dest = f"{base}/sshd_config"
    target.sh(f"cp /etc/ssh/sshd_config {dest}; chmod 0600 {dest}")
    original = target.sh(f"sha1sum < {dest}")
    good = target.sh(f"cat {dest}")
    broken = target.apply("copy", dest=dest, content=good + "PermitRootLogin maybe\n",
                          validate="/usr/sbin/sshd -t -f %s", mode="0644")
    assert broken["failed"] is True and "failed to validate" in broken["msg"]
    assert "unsupported option \"maybe\"" in broken["stderr"]
    assert target.sh(f"sha1sum < {dest}") == original
    assert target.sh(f"stat -c %a {dest}; ls -A {base}") == "600\nsshd_config\n"
    ok = target.apply("copy", dest=dest, content=good + "MaxAuthTries 4\n",
                      validate="/usr/sbin/sshd -t -f %s")
    assert ok["changed"] is True and target.sh(f"tail -n 1 {dest}") == "MaxAuthTries 4\n"


# ------------------------------------------------------------------- lineinfile
def test_lineinfile_on_sshd_config(target: Target, base: str) -> None:
    dest = f"{base}/sshd_config"
    target.sh(f"cp /etc/ssh/sshd_config {dest}")
    args = {"path": dest, "regexp": "^#?PermitRootLogin", "line": "PermitRootLogin no",
            "validate": "/usr/sbin/sshd -t -f %s"}
    first = cycle(target, "lineinfile", args,
                  state=f"grep -c '^PermitRootLogin no$' {dest};"
                        f" grep -c '^#*PermitRootLogin' {dest}",
                  expected="1\n1\n",
                  drift=f"sed -i 's/^PermitRootLogin no$/PermitRootLogin yes/' {dest}")
    assert "#PermitRootLogin" in first["diff"]["before"]
    assert "\nPermitRootLogin no\n" in first["diff"]["after"]
    assert first["msg"] == "line replaced"


def test_lineinfile_validate_failure_leaves_original(target: Target, base: str) -> None:
    dest = f"{base}/sshd_config"
    target.sh(f"cp /etc/ssh/sshd_config {dest}")
    before = target.sh(f"sha1sum < {dest}")
    result = target.apply("lineinfile", path=dest, regexp="^#?PermitRootLogin",
                          line="PermitRootLogin maybe", validate="/usr/sbin/sshd -t -f %s")
    assert result["failed"] is True and "failed to validate" in result["msg"]
    assert target.sh(f"sha1sum < {dest}") == before
    assert target.sh(f"ls -A {base}") == "sshd_config\n"


# ------------------------------------------------------------------ blockinfile
def test_blockinfile_converges(target: Target, base: str) -> None:
    dest = f"{base}/limits.conf"
    target.sh(f"printf '# limits\\n' > {dest}")
    first = cycle(target, "blockinfile",
                  {"path": dest, "block": "* hard core 0\n* soft core 0"},
                  state=f"cat {dest}",
                  expected="# limits\n# BEGIN ANSIBLE MANAGED BLOCK\n* hard core 0\n"
                           "* soft core 0\n# END ANSIBLE MANAGED BLOCK\n",
                  drift=f"sed -i '/soft core/d' {dest}")
    assert first["msg"] == "Block inserted"
    assert first["diff"]["before"] == "# limits\n"


# ---------------------------------------------------------------------- replace
def test_replace_converges(target: Target, base: str) -> None:
    dest = f"{base}/login.defs"
    target.sh(f"printf 'PASS_MAX_DAYS\\t99999\\nPASS_MIN_DAYS\\t0\\n' > {dest}")
    first = cycle(target, "replace",
                  {"path": dest, "regexp": r"^PASS_MAX_DAYS\s+\d+$",
                   "replace": "PASS_MAX_DAYS\t90"},
                  state=f"grep PASS_MAX {dest}", expected="PASS_MAX_DAYS\t90\n",
                  drift=f"sed -i 's/\\t90/\\t99999/' {dest}")
    assert first["msg"] == "1 replacements made"
    assert "99999" in first["diff"]["before"] and "99999" not in first["diff"]["after"]


# ------------------------------------------------------------------------- file
def test_file_directory_mode_owner(target: Target, base: str) -> None:
    path = f"{base}/srv/app"
    first = cycle(target, "file",
                  {"path": path, "state": "directory", "mode": "u=rwx,g=rx,o=",
                   "owner": "nobody"},
                  state=f"stat -c '%F %a %U' {path} {base}/srv",
                  expected="directory 750 nobody\ndirectory 750 nobody\n",
                  drift=f"chmod 0777 {path}")
    assert first["diff"] == {"before": {"path": path, "state": "absent"},
                             "after": {"path": path, "state": "directory"}}


def test_file_link_and_absent(target: Target, base: str) -> None:
    target.sh(f"mkdir {base}/r1 {base}/r2")
    link = f"{base}/current"
    first = cycle(target, "file", {"path": link, "src": f"{base}/r2", "state": "link"},
                  state=f"readlink {link}", expected=f"{base}/r2\n",
                  drift=f"ln -sfn {base}/r1 {link}")
    assert first["diff"]["after"]["src"] == f"{base}/r2"
    gone = cycle(target, "file", {"path": f"{base}/r1", "state": "absent"},
                 state=f"test -e {base}/r1 && echo present || echo absent",
                 expected="absent\n", drift=f"mkdir {base}/r1")
    assert gone["diff"]["after"]["state"] == "absent"


def test_file_touch_changes_every_time_but_not_in_check_mode(target: Target, base: str) -> None:
    path = f"{base}/stamp"
    target.sh(f"touch -d 2001-09-09 {path}")
    before = target.sh(f"stat -c %Y {path}")
    dry = target.apply("file", check=True, path=path, state="touch")
    assert dry["changed"] is True and target.sh(f"stat -c %Y {path}") == before
    real = target.apply("file", path=path, state="touch")
    assert real["changed"] is True and int(target.sh(f"stat -c %Y {path}")) > int(before)


# ---------------------------------------------------------- read-only modules
def test_stat_matches_the_host(target: Target, base: str) -> None:
    path = f"{base}/f"
    target.sh(f"printf 'hello\\n' > {path}; chmod 0640 {path}; chown nobody {path}")
    for check in (False, True):
        result = target.apply("stat", check=check, path=path)
        assert result["changed"] is False and "diff" not in result
        st = result["stat"]
        assert (st["mode"], st["pw_name"], st["size"], st["isreg"]) == ("0640", "nobody", 6, True)
        assert st["checksum"] == target.sh(f"sha1sum < {path}").split()[0]
        assert int(st["mtime"]) == int(target.sh(f"stat -c %Y {path}"))
    assert target.apply("stat", path=f"{base}/nope")["stat"] == {"exists": False}


def test_slurp_returns_the_bytes(target: Target, base: str) -> None:
    path = f"{base}/key"
    target.sh(f"head -c 2048 /dev/urandom > {path}")
    expected = target.sh(f"base64 -w0 < {path}")
    for check in (False, True):
        result = target.apply("slurp", check=check, src=path)
        assert result["changed"] is False and result["content"] == expected


def test_find_agrees_with_find1(target: Target, base: str) -> None:
    target.sh(f"mkdir -p {base}/etc/sub && touch {base}/etc/a.conf {base}/etc/sub/b.conf "
              f"{base}/etc/c.txt && touch -d 2001-01-01 {base}/etc/sub/b.conf")
    result = target.apply("find", paths=f"{base}/etc", patterns="*.conf", recurse=True,
                          age="30d")
    independent = target.sh(f"find {base}/etc -name '*.conf' -mtime +30")
    assert result["changed"] is False
    assert [f["path"] for f in result["files"]] == independent.split()
    assert target.apply("find", check=True, paths=f"{base}/etc", patterns="*.conf",
                        recurse=True)["matched"] == 2


def test_ping(target: Target) -> None:
    assert target.apply("ping")["ping"] == "pong"
    crashed = target.apply("ping", data="crash", crash_ok=True)
    assert crashed["failed"] is True and "boom" in crashed["msg"]
    assert target.apply("ping", check=True)["changed"] is False  # the agent lives on


def test_controller_rejects_bad_arguments_before_sending(target: Target) -> None:
    with pytest.raises(PyengineError, match="did you mean"):
        target.apply("lineinfile", path="/tmp/x", line="a", insertafterr="EOF")


# ------------------------------------------------------ connection killed mid-copy
COPY_MB = 24


def _drop(t: Target) -> None:
    """Cut the TCP connection under the SSH transport, as a dying WAN link would."""
    transport = getattr(t.conn, "transport", None)
    sock = getattr(transport, "sock", None)
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass


def test_killed_connection_during_large_copy_leaves_old_or_new(lab: Any) -> None:
    """Cut the SSH connection at several points of a tens-of-MB copy (during the transfer,
    and once the temp file appears on the host, i.e. while the module writes): the
    destination is always the old file or the new one, and no temp file stays behind."""
    index = 1 if len(lab.hosts) > 1 else 0
    host = lab.hosts[index]
    folder = f"/root/pye-modkill-{uuid.uuid4().hex[:10]}"
    dest = f"{folder}/big.bin"

    def sh(script: str) -> str:
        return str(host.exec(["/bin/sh", "-c", script]).stdout)

    def fresh_old() -> str:
        return sh(f"head -c 3M /dev/urandom > {dest} && sha1sum < {dest}").split()[0]

    sh(f"mkdir -p {folder}")
    old = fresh_old()
    new_data = os.urandom(COPY_MB * 1024 * 1024)
    new = hashlib.sha1(new_data).hexdigest()
    payload = base64.b64encode(new_data).decode()
    try:
        # A full copy first: how long it takes sets the kill points.
        t = Target(lab, index)
        started = time.monotonic()
        done = t.apply("copy", dest=dest, _content_b64=payload)
        took = time.monotonic() - started
        t.close()
        assert done["changed"] is True and sh(f"sha1sum < {dest}").split()[0] == new
        old = fresh_old()

        outcomes = []
        for point in (0.2, 0.7, "temp file"):
            t = Target(lab, index)
            errors: list[BaseException] = []

            def run(t: Target = t, errors: list[BaseException] = errors) -> None:
                try:
                    t.apply("copy", dest=dest, _content_b64=payload)
                except BaseException as err:  # noqa: B036 - the drop is what we expect
                    errors.append(err)

            worker = threading.Thread(target=run)
            worker.start()
            seen = []
            if point == "temp file":  # the module is writing: cut now
                deadline = time.monotonic() + took * 3 + 10
                while worker.is_alive() and time.monotonic() < deadline:
                    if ".pyengine-tmp" in sh(f"ls -A {folder}"):
                        break
            else:
                time.sleep(took * float(point))
            _drop(t)
            seen.append(sh(f"sha1sum < {dest}").split()[0])
            worker.join(60)
            assert not worker.is_alive()
            deadline = time.monotonic() + 15
            while True:  # the agent notices the drop and exits; watch the file meanwhile
                seen.append(sh(f"sha1sum < {dest}").split()[0])
                leftovers = sh(f"ls -A {folder}").split()
                if leftovers == ["big.bin"] or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert set(seen) <= {old, new}, f"partial file seen after a cut at {point}"
            assert leftovers == ["big.bin"], f"left behind: {leftovers}"
            outcomes.append("new" if seen[-1] == new else "old")
            t.conn.close()
            if seen[-1] == new:
                old = fresh_old()
        print(f"cut outcomes: {outcomes}, full copy took {took:.1f}s")
        assert "old" in outcomes, outcomes  # at least one cut landed before the rename
    finally:
        host.exec(["rm", "-rf", folder])
