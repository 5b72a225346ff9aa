"""Task names and host output are printed as written: rich's `:emoji:` codes stay text
(a task named ':fire: restart' is not turned into a picture, as Ansible would not)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path


def test_emoji_codes_are_printed_as_written(tmp_path: Path) -> None:
    (tmp_path / "inv.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
    book = tmp_path / "book.yml"
    book.write_text("- hosts: all\n  gather_facts: false\n  tasks:\n"
                    "    - name: ':fire: restart'\n"
                    "      debug: {msg: ':smile: done :thumbs_up:'}\n")
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", "-i",
                           str(tmp_path / "inv.ini"), str(book)],
                          capture_output=True, text=True, timeout=120, cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-1500:] + proc.stderr[-1500:]
    assert ":fire: restart" in proc.stdout and ":smile: done :thumbs_up:" in proc.stdout
    assert "\U0001f525" not in proc.stdout and "\U0001f604" not in proc.stdout
