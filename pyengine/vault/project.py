"""Every vaulted value of a project is a secret in every run, not only in the runs whose
playbook loads it.

A backup run does not load the baseline's vault file, yet the hosts' configuration files
hold values rendered from it: unless the run knows those values, they reach the backup
repository in clear. So each run opens the vault files of its inventory and playbook
folders (group_vars/, host_vars/, vars/) and registers what they hold; the files it cannot
open (no password given) are noted, and the backup refuses to store files it cannot mask.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from pyengine.errors import PyengineError
from pyengine.masking import note_unopened_secrets
from pyengine.vault.lib import VaultLib
from pyengine.yamlload import load_yaml

VARS_FOLDERS = ("group_vars", "host_vars", "vars")
YAML_SUFFIXES = ("", ".yml", ".yaml", ".json")
MAX_FILE_SIZE = 1024 * 1024
MAX_FILES = 5000  # a guard against a vars folder that is really a data dump


def project_vault_files(folders: Iterable[Path]) -> list[Path]:
    """Vars files under the folders' group_vars/, host_vars/ and vars/ that hold vaulted
    data: a whole vault file, or `!vault` values inside YAML."""
    found: list[Path] = []
    seen = 0
    for folder in dict.fromkeys(Path(f) for f in folders):
        for sub in VARS_FOLDERS:
            root = folder / sub
            if not root.is_dir():
                continue
            for path in sorted(root.rglob("*")):
                seen += 1
                if seen > MAX_FILES:
                    return found
                if not path.is_file() or path.suffix not in YAML_SUFFIXES:
                    continue
                try:
                    if path.stat().st_size > MAX_FILE_SIZE:
                        continue
                    head = path.read_bytes()
                except OSError:
                    continue
                if head.startswith(b"$ANSIBLE_VAULT") or b"!vault" in head:
                    found.append(path)
    return found


def register_project_secrets(folders: Iterable[Path], vault: VaultLib | None) -> list[Path]:
    """Open every vault file of the project (which registers its values as secrets);
    returns, and notes for the backup, the files that could not be opened."""
    unopened: list[Path] = []
    for path in project_vault_files(folders):
        if vault is None or not vault.secrets:
            unopened.append(path)
            continue
        try:
            load_yaml(path, vault)
        except PyengineError:
            unopened.append(path)
    note_unopened_secrets(str(p) for p in unopened)
    return unopened
