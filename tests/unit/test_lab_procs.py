"""PID files trust a PID only while it is the same, live process."""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

from pyengine.lab.procs import children, read_pid_file, write_pid_file


def test_pid_file_of_a_live_process_is_read_back(tmp_path: Path) -> None:
    write_pid_file(tmp_path / "pid", os.getpid())
    assert read_pid_file(tmp_path / "pid") == os.getpid()


def test_recycled_pid_with_another_start_time_is_not_trusted(tmp_path: Path) -> None:
    (tmp_path / "pid").write_text(f"{os.getpid()} 1\n")
    assert read_pid_file(tmp_path / "pid") is None


def test_missing_or_garbled_pid_file_means_no_process(tmp_path: Path) -> None:
    assert read_pid_file(tmp_path / "none") is None
    (tmp_path / "bad").write_text("x\n")
    assert read_pid_file(tmp_path / "bad") is None


def test_exited_but_unreaped_process_is_not_alive(tmp_path: Path) -> None:
    proc = subprocess.Popen(["sleep", "30"])
    try:
        write_pid_file(tmp_path / "pid", proc.pid)
        assert read_pid_file(tmp_path / "pid") == proc.pid
        assert proc.pid in children(os.getpid())
        proc.kill()
        deadline = time.monotonic() + 5
        while read_pid_file(tmp_path / "pid") is not None:  # a zombie until we wait()
            assert time.monotonic() < deadline
            time.sleep(0.01)
        assert Path(f"/proc/{proc.pid}").exists()
    finally:
        proc.kill()
        proc.wait()
