"""Vault-encrypted files on the controller: `copy: src=`, `template: src=`,
`lookup('file')` and `lookup('unvault')` send the plaintext, `decrypt: false` the
ciphertext. The same playbook through ansible-playbook and pyengine (localhost, files
only under tmp_path) writes the same files; pyengine's second run changes nothing and
its output never shows the plaintext."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from vs_ansible import TOOLS, local_inventory, out_folder, require_ansible_playbook, run_playbook

from pyengine.vault.lib import VaultLib
from pyengine.vault.secrets import VaultSecret

PASSWORD = "correct horse battery"
SECRET_TEXT = "BEGIN-KEY-7f3a9\nsecond line of the key\n"

PLAY = """\
- hosts: all
  gather_facts: false
  vars:
    who: operator
  tasks:
    - copy: {src: secret.txt, dest: "OUT/copy.txt", mode: "0600"}
    - copy: {src: secret.txt, dest: "OUT/still-encrypted.txt", decrypt: false}
    - template: {src: conf.j2, dest: "OUT/template.txt"}
    - copy: {content: "{{ lookup('file', 'secret.txt') }}", dest: "OUT/lookup-file.txt"}
    - copy: {content: "{{ lookup('unvault', 'secret.txt') }}", dest: "OUT/lookup-unvault.txt"}
    - copy: {content: "{{ lookup('unvault', 'plain.txt') }}", dest: "OUT/unvault-plain.txt"}
    - debug: {msg: "{{ lookup('file', 'secret.txt') }}"}
"""


def _project(root: Path) -> None:
    vault = VaultLib([VaultSecret("default", PASSWORD.encode())])
    (root / "files").mkdir()
    (root / "templates").mkdir()
    (root / "files" / "secret.txt").write_bytes(vault.encrypt(SECRET_TEXT.encode()))
    (root / "files" / "plain.txt").write_text("not secret\n")
    (root / "templates" / "conf.j2").write_bytes(vault.encrypt(b"user={{ who }}\nkey=x\n"))
    (root / "pw").write_text(PASSWORD + "\n")
    local_inventory(root)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_vaulted_controller_files_like_ansible(tmp_path: Path) -> None:
    require_ansible_playbook()
    _project(tmp_path)
    password = ("--vault-password-file", str(tmp_path / "pw"))
    results = {}
    for tool in TOOLS:
        out = out_folder(tmp_path, tool)
        book = tmp_path / f"{tool}.yml"
        book.write_text(PLAY.replace("OUT", str(out)))
        proc = run_playbook(tool, tmp_path, book, *password)
        assert proc.returncode == 0, f"{tool}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        results[tool] = _files(out)
        if tool == "pyengine":
            assert "BEGIN-KEY-7f3a9" not in proc.stdout + proc.stderr
            again = run_playbook(tool, tmp_path, book, *password)
            assert again.returncode == 0 and "changed=0" in again.stdout, again.stdout[-1500:]
    assert results["pyengine"] == results["ansible"]
    got = results["pyengine"]
    assert got["copy.txt"] == SECRET_TEXT.encode()
    assert got["template.txt"] == b"user=operator\nkey=x\n"
    assert got["still-encrypted.txt"].startswith(b"$ANSIBLE_VAULT;1.1;AES256")
    assert got["lookup-unvault.txt"] == SECRET_TEXT.encode()


def test_vaulted_src_without_a_password_is_one_line(tmp_path: Path) -> None:
    _project(tmp_path)
    out = tmp_path / "out"
    out.mkdir()
    book = tmp_path / "book.yml"
    book.write_text(PLAY.replace("OUT", str(out)))
    proc = subprocess.run([sys.executable, "-m", "pyengine", "run", "-i",
                           str(tmp_path / "inv.ini"), str(book)],
                          capture_output=True, text=True, timeout=300, cwd=tmp_path,
                          env={k: v for k, v in os.environ.items()
                               if not k.startswith(("PYENGINE_VAULT", "ANSIBLE_VAULT"))})
    assert proc.returncode != 0
    assert "vault-encrypted but no vault password was given" in proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert not (out / "copy.txt").exists()
