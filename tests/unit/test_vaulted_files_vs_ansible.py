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

import pytest

from pyengine.vault.lib import VaultLib
from pyengine.vault.secrets import VaultSecret

ANSIBLE_PLAYBOOK = Path(sys.executable).parent / "ansible-playbook"
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
    (root / "inv.ini").write_text(
        f"localhost ansible_connection=local ansible_python_interpreter={sys.executable}\n")


def _run(tool: str, root: Path, book: Path, password_file: Path
         ) -> subprocess.CompletedProcess[str]:
    if tool == "ansible":
        env = dict(os.environ, ANSIBLE_REMOTE_TMP=str(root / "remote-tmp"), ANSIBLE_NOCOLOR="1")
        cmd = [str(ANSIBLE_PLAYBOOK)]
    else:
        env = dict(os.environ)
        cmd = [sys.executable, "-m", "pyengine", "run"]
    cmd += ["-i", str(root / "inv.ini"), "--vault-password-file", str(password_file), str(book)]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=300, cwd=root, env=env)


def _files(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir())}


def test_vaulted_controller_files_like_ansible(tmp_path: Path) -> None:
    if not ANSIBLE_PLAYBOOK.exists():
        pytest.skip("ansible-playbook not installed (pip install -e '.[test]')")
    _project(tmp_path)
    results = {}
    for tool in ("ansible", "pyengine"):
        out = tmp_path / f"out-{tool}"  # not "pyengine": python -m would import it
        out.mkdir()
        book = tmp_path / f"{tool}.yml"
        book.write_text(PLAY.replace("OUT", str(out)))
        proc = _run(tool, tmp_path, book, tmp_path / "pw")
        assert proc.returncode == 0, f"{tool}: {proc.stdout[-2000:]}{proc.stderr[-2000:]}"
        results[tool] = _files(out)
        if tool == "pyengine":
            assert "BEGIN-KEY-7f3a9" not in proc.stdout + proc.stderr
            again = _run(tool, tmp_path, book, tmp_path / "pw")
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
