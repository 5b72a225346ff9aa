"""Shared helpers for the vault tests: the real ansible-vault and pyengine binaries."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
ANSIBLE_VAULT = BIN / "ansible-vault"


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """An environment without inherited vault settings; ansible keeps its state in `home`."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("ANSIBLE_", "PYENGINE_VAULT_"))}
    home.mkdir(parents=True, exist_ok=True)
    env.update(HOME=str(home), ANSIBLE_HOME=str(home / ".ansible"),
               ANSIBLE_LOCAL_TEMP=str(home / "tmp"), ANSIBLE_NOCOLOR="1")
    env.update(extra)
    return env


def ansible_vault(home: Path, *args: str, input: bytes | None = None,
                  cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run the real ansible-vault; fail the test with its stderr when it fails."""
    if not ANSIBLE_VAULT.exists():
        pytest.skip("ansible-vault not installed (pip install -e '.[test]')")
    proc = subprocess.run([str(ANSIBLE_VAULT), *args], input=input, capture_output=True,
                          cwd=cwd or home, env=clean_env(home, **env), check=False)
    assert proc.returncode == 0, proc.stderr.decode()
    return proc


def pyengine(home: Path, *args: str, input: bytes | None = None, cwd: Path | None = None,
             **env: str) -> subprocess.CompletedProcess[bytes]:
    """Run `python -m pyengine` as a user would; the caller checks the exit code."""
    # Without the settings clean_env makes for ansible-vault: pyengine would (rightly)
    # warn that it does not use them.
    pyengine_env = {k: v for k, v in clean_env(home, **env).items()
                    if k not in ("ANSIBLE_LOCAL_TEMP", "ANSIBLE_NOCOLOR")}
    return subprocess.run([sys.executable, "-m", "pyengine", *args], input=input,
                          capture_output=True, cwd=cwd or home, env=pyengine_env,
                          check=False)
