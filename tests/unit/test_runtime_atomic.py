"""atomic_write under SIGKILL: the destination is the old file or the new one, never a mix.

This is the local half of the guarantee; tests/lab/test_module_files_copy_kill.py kills
the SSH connection during a large `copy` on a lab host.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

RUNTIME = Path(__file__).resolve().parents[2] / "pyengine" / "agent" / "runtime.py"

OLD = b"O" * (3 * 1024 * 1024)
NEW_SIZE = 40 * 1024 * 1024

WRITER = """
import importlib.util, sys
spec = importlib.util.spec_from_file_location("rt", sys.argv[1])
rt = importlib.util.module_from_spec(spec); spec.loader.exec_module(rt)
sys.stdout.write("ready\\n"); sys.stdout.flush()
rt.Module().atomic_write(sys.argv[2], b"N" * int(sys.argv[3]))
"""


def test_killed_writer_leaves_old_or_new_never_partial(tmp_path: Path) -> None:
    target = tmp_path / "big.bin"
    outcomes = set()
    for attempt in range(6):
        target.write_bytes(OLD)
        proc = subprocess.Popen([sys.executable, "-c", WRITER, str(RUNTIME), str(target),
                                 str(NEW_SIZE)], stdout=subprocess.PIPE)
        assert proc.stdout is not None
        assert proc.stdout.readline() == b"ready\n"
        time.sleep(0.02 * attempt)  # from "before the write" to "probably done"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        data = target.read_bytes()
        assert data in (OLD, b"N" * NEW_SIZE), f"partial file: {len(data)} bytes"
        outcomes.add("new" if data[:1] == b"N" else "old")
    # A kill at the first moment must have caught at least one write before its rename.
    assert "old" in outcomes
