"""`history` and `report` on a damaged database: one clear line, no sqlite3 traceback."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyengine.history.db import HistoryDB


def _damaged(tmp_path: Path, how: str) -> Path:
    path = tmp_path / "history.sqlite"
    if how == "garbage":
        path.write_bytes(b"this is not a database at all\n" * 200)
    else:
        with HistoryDB(path) as db:
            assert db.runs() == []
        data = path.read_bytes()
        path.write_bytes(data[: len(data) // 3])  # truncated mid-page
        for extra in (tmp_path / "history.sqlite-wal", tmp_path / "history.sqlite-shm"):
            extra.unlink(missing_ok=True)
        if how == "truncated-header":
            path.write_bytes(data[:50])
    return path


@pytest.mark.parametrize("how", ["garbage", "truncated", "truncated-header"])
@pytest.mark.parametrize("command", [["history"], ["report", "-o", "out.html"]])
def test_damaged_history_is_one_line_error(tmp_path: Path, how: str, command: list[str]) -> None:
    path = _damaged(tmp_path, how)
    proc = subprocess.run([sys.executable, "-m", "pyengine", *command, "--db", str(path)],
                          capture_output=True, text=True, timeout=60, cwd=tmp_path)
    assert "Traceback" not in proc.stderr, proc.stderr
    if proc.returncode != 0:
        assert "history" in proc.stderr and len(proc.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "out.html").exists() or proc.returncode == 0
