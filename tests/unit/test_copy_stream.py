"""A big controller file travels in chunks, on request, and only when the target's copy
differs: controller memory does not grow with the file (issue: 100 MB copy, 450 MB RSS)."""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path
from typing import Any

import pytest

from pyengine.actions._files import content_args
from pyengine.agent import streams
from pyengine.agent.session import PythonAgentSession
from pyengine.connection.local import LocalConnection
from pyengine.paths import builtin_modules_dir


def _source(name: str) -> str:
    return (builtin_modules_dir() / f"{name}.py").read_text()


def _copy(session: PythonAgentSession, args: dict[str, Any], check: bool = False,
          diff: bool = False) -> dict[str, Any]:
    item = {"id": 1, "module": "copy", "args": args, "check_mode": check, "diff": diff,
            "environment": {}, "ignore_errors": False, "no_log": False}
    (result,) = session.run_all([item])
    return dict(result["result"])


@pytest.fixture
def session(tmp_path: Path) -> Any:
    agent_tmp = tmp_path / "agent-tmp"
    agent_tmp.mkdir()
    conn = LocalConnection("local1", {"env": {"TMPDIR": str(agent_tmp)}})
    sess = PythonAgentSession(conn, module_source=_source, python=sys.executable)
    yield sess
    sess.close()
    assert list(agent_tmp.iterdir()) == []


def test_big_file_is_streamed_once_then_compared_by_sha1(session: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(3 * streams.CHUNK + 123))
    dest = tmp_path / "dest.bin"
    args = content_args(big, {"dest": str(dest), "mode": "0640"}, big.name, 0o644)
    assert "_content_b64" not in args and args["_stream_size"] == big.stat().st_size

    check = _copy(session, args, check=True, diff=True)
    assert check["changed"] is True and not dest.exists() and session.streams_sent == 0
    assert "sha1" in check["diff"]["after"]

    first = _copy(session, args)
    assert first["changed"] is True, first
    assert dest.read_bytes() == big.read_bytes() and oct(dest.stat().st_mode & 0o777) == "0o640"
    assert first["checksum"] == hashlib.sha1(big.read_bytes()).hexdigest()
    assert session.streams_sent == 1

    again = _copy(session, args)
    assert again["changed"] is False and session.streams_sent == 1  # nothing travelled
    assert [p.name for p in tmp_path.iterdir() if "pyengine-tmp" in p.name] == []


def test_a_changed_source_is_streamed_again_and_checked(session: Any, tmp_path: Path) -> None:
    big = tmp_path / "big.bin"
    big.write_bytes(b"a" * (streams.STREAM_AT + 1))
    dest = tmp_path / "dest.bin"
    _copy(session, content_args(big, {"dest": str(dest)}, big.name, None))
    big.write_bytes(b"b" * (streams.STREAM_AT + 7))
    result = _copy(session, content_args(big, {"dest": str(dest)}, big.name, None))
    assert result["changed"] is True and dest.read_bytes() == big.read_bytes()


def test_small_files_still_travel_inside_the_batch(tmp_path: Path) -> None:
    small = tmp_path / "s.txt"
    small.write_text("x\n")
    args = content_args(small, {"dest": "/x"}, small.name, None)
    assert "_content_b64" in args and "_stream_ref" not in args
