"""A loop whose middle item fails: the same playbook through ansible-playbook and through
pyengine (both on localhost, files only under tmp_path) leaves the same files and the
same exit status: every item runs, then the task fails and the next task does not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"

PLAY = """\
- hosts: all
  gather_facts: false
  tasks:
    - copy: {{dest: "{out}/{{{{ item }}}}.txt", content: "x"}}
      loop: [a, "no/such/folder/b", c]
    - copy: {{dest: "{out}/after.txt", content: "x"}}
"""


def _files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_loop_with_a_failing_item_ends_like_ansible(tmp_path: Path) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook not installed (pip install -e '.[test]')")
    results = {}
    for tool in ("ansible", "pyengine"):
        out = tmp_path / f"out-{tool}"  # not "pyengine": python -m would import it
        out.mkdir()
        book = tmp_path / f"{tool}.yml"
        book.write_text(PLAY.format(out=out))
        (tmp_path / "inv.ini").write_text(
            f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")
        if tool == "ansible":
            env = dict(os.environ, ANSIBLE_REMOTE_TMP=str(tmp_path / "remote-tmp"),
                       ANSIBLE_NOCOLOR="1")
            cmd = [str(ANSIBLE_PLAYBOOK), "-i", str(tmp_path / "inv.ini"), str(book)]
        else:
            env = dict(os.environ)
            cmd = [sys.executable, "-m", "pyengine", "run", str(book), "-i",
                   str(tmp_path / "inv.ini")]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=tmp_path,
                              env=env)
        results[tool] = (proc.returncode != 0, _files(out))
    assert results["pyengine"] == results["ansible"] == (True, ["a.txt", "c.txt"])
