"""One playbook run by ansible-playbook and by pyengine on this machine (local
connection, files only under the test's tmp_path), for tests that compare the two."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
TOOLS = ("ansible", "pyengine")


def require_ansible_playbook() -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook not installed (pip install -e '.[test]')")


def local_inventory(root: Path, hosts: str = "localhost") -> Path:
    """An inventory of `hosts` (one INI line's worth) reached with the local connection."""
    path = root / "inv.ini"
    path.write_text(f"{hosts} ansible_connection=local "
                    f"ansible_python_interpreter={sys.executable}\n")
    return path


def run_playbook(tool: str, root: Path, book: Path, *args: str,
                 inventory: Path | None = None, env: dict[str, str] | None = None
                 ) -> subprocess.CompletedProcess[str]:
    """`tool` ("ansible" or "pyengine") runs `book` with the inventory in `root`; its
    temporary files stay under `root` (no ~/.ansible)."""
    environ = {**os.environ, **(env or {})}
    if tool == "ansible":
        environ.update(ANSIBLE_REMOTE_TMP=str(root / "remote-tmp"), ANSIBLE_NOCOLOR="1")
        cmd = [str(ANSIBLE_PLAYBOOK)]
    else:
        cmd = [sys.executable, "-m", "pyengine", "run"]
    cmd += ["-i", str(inventory or root / "inv.ini"), *args, str(book)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=root,
                          env=environ)


def out_folder(root: Path, tool: str) -> Path:
    """Where a tool's run writes (not "pyengine": `python -m pyengine` would import it)."""
    folder = root / f"out-{tool}"
    folder.mkdir()
    return folder
