"""The run lock: a second run exits at once with its own code; a dead holder frees it."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pyengine.errors import EXIT_LOCKED, RunLocked
from pyengine.runlock import run_lock

HOLDER = """
import sys, time
from pathlib import Path
from pyengine.runlock import run_lock
with run_lock(Path(sys.argv[1]), "nightly.yml"):
    print("held", flush=True)
    time.sleep(60)
"""


def test_second_holder_is_refused_while_first_runs(tmp_path: Path) -> None:
    lock = tmp_path / ".pyengine" / "run.lock"
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(lock)], stdout=subprocess.PIPE,
                            text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
        with pytest.raises(RunLocked) as info:
            with run_lock(lock):
                pass
        assert info.value.exit_code == EXIT_LOCKED
        assert f"pid {proc.pid}" in str(info.value) and "nightly.yml" in str(info.value)
    finally:
        proc.kill()
        proc.wait()
    with run_lock(lock):  # the kernel released the dead holder's lock
        pass


def test_lock_is_reentrant_after_release(tmp_path: Path) -> None:
    lock = tmp_path / "run.lock"
    with run_lock(lock):
        pass
    with run_lock(lock):
        pass
