"""`-e @vaulted.yml --vault-password-file F` decrypts the file (it used to say that no
vault password was given)."""

from __future__ import annotations

from pathlib import Path

from vault_helpers import ansible_vault, pyengine


def test_extra_vars_file_encrypted_by_ansible_vault_is_read(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("extra-vars-pass\n")
    (tmp_path / "secret.yml").write_text("api_token: tok-7782-zz\nregion: eu-west\n")
    ansible_vault(tmp_path, "encrypt", "--vault-password-file", "pw", "secret.yml")
    assert (tmp_path / "secret.yml").read_text().startswith("$ANSIBLE_VAULT;")
    (tmp_path / "inv.ini").write_text("a ansible_connection=local\n")
    (tmp_path / "p.yml").write_text(
        "- hosts: all\n  gather_facts: false\n  tasks:\n"
        "    - debug: {msg: 'region={{ region }} token={{ api_token }}'}\n")
    proc = pyengine(tmp_path, "run", "p.yml", "-i", "inv.ini", "-e", "@secret.yml",
                    "--vault-password-file", "pw", "--report-json", "r.json")
    out = proc.stdout.decode() + proc.stderr.decode()
    assert proc.returncode == 0, out
    report = (tmp_path / "r.json").read_text()
    # Decrypted and used (every value of a vaulted file is a secret, so both are masked).
    assert "region=******** token=********" in report
    assert "tok-7782-zz" not in report + out and "eu-west" not in report + out
