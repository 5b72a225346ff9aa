"""`pyengine vault ...` as a user runs it: in a real process, with real files and $EDITOR.

Failures must be one line on stderr, exit code 3, no traceback, and leave the
file as it was.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from click.testing import CliRunner
from vault_helpers import pyengine

from pyengine import masking
from pyengine.commands.vault import vault
from pyengine.vault import VaultLib, VaultSecret, envelope

PLAIN = b"secret_key: abcdef-123456\n"


@pytest.fixture(autouse=True)
def _forget_secrets():
    yield
    masking.clear_secrets()


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "pw").write_text("right-password\n")
    (tmp_path / "pw-wrong").write_text("wrong-password\n")
    (tmp_path / "pw-prod").write_text("prod-password\n")
    return tmp_path


def sealed(home: Path, name: str = "v.yml", data: bytes = PLAIN, vault_id: str | None = None,
           password: bytes = b"right-password") -> Path:
    path = home / name
    path.write_bytes(VaultLib([VaultSecret("x", password)]).encrypt(data, vault_id=None) if
                     vault_id is None else VaultLib([VaultSecret(vault_id, password)]).encrypt(
                         data, vault_id=vault_id))
    return path


def assert_one_line_error(proc, *needles: str) -> str:
    err = proc.stderr.decode()
    assert proc.returncode == 3, err
    assert err.count("\n") == 1 and err.startswith("error: "), err
    assert "Traceback" not in err and proc.stdout == b""
    for needle in needles:
        assert needle in err, err
    return err


def test_wrong_password_is_one_clean_error_naming_the_file(home: Path) -> None:
    path = sealed(home)
    before = path.read_bytes()
    for command in ("view", "decrypt", "edit", "rekey"):
        proc = pyengine(home, "vault", command, "--vault-password-file", "pw-wrong", "v.yml",
                        EDITOR="false")
        assert_one_line_error(proc, "v.yml: vault decryption failed", "wrong password")
    assert path.read_bytes() == before


def test_tampered_ciphertext_is_one_clean_error_and_nothing_is_written(home: Path) -> None:
    path = sealed(home)
    env = envelope.parse(path.read_bytes())
    tampered = bytearray(env.ciphertext)
    tampered[-1] ^= 0x40  # the last block: a partial decryption would show the first bytes
    path.write_bytes(envelope.build(env.salt, env.mac, bytes(tampered)))
    before = path.read_bytes()
    assert_one_line_error(pyengine(home, "vault", "view", "--vault-password-file", "pw",
                                   "v.yml"), "v.yml: vault decryption failed")
    proc = pyengine(home, "vault", "decrypt", "--vault-password-file", "pw", "v.yml",
                    "--output", "-")
    assert_one_line_error(proc, "modified data")
    assert path.read_bytes() == before


def test_truncated_file_is_one_clean_error(home: Path) -> None:
    path = sealed(home)
    path.write_bytes(path.read_bytes()[:-30])
    assert_one_line_error(pyengine(home, "vault", "view", "--vault-password-file", "pw",
                                   "v.yml"), "v.yml: vault payload")


def test_unreadable_password_sources_are_one_clean_error(home: Path) -> None:
    sealed(home)
    assert_one_line_error(pyengine(home, "vault", "view", "--vault-password-file", "nope",
                                   "v.yml"), "cannot read vault password file nope")
    script = home / "fail.sh"
    script.write_text("#!/bin/sh\nexit 7\n")
    script.chmod(0o700)
    assert_one_line_error(pyengine(home, "vault", "view", "--vault-id", "x@fail.sh", "v.yml"),
                          "fail.sh exited with status 7")
    # No source at all, and no terminal to ask on.
    assert_one_line_error(pyengine(home, "vault", "view", "v.yml", input=b""),
                          "no vault password given")


def test_encrypt_then_decrypt_in_place_keeps_bytes_and_mode(home: Path) -> None:
    path = home / "f.txt"
    path.write_bytes(PLAIN)
    path.chmod(0o640)
    proc = pyengine(home, "vault", "encrypt", "--vault-password-file", "pw", "f.txt")
    assert proc.returncode == 0 and proc.stderr == b"Encryption successful\n"
    assert VaultLib.is_encrypted(path.read_bytes())
    again = pyengine(home, "vault", "encrypt", "--vault-password-file", "pw", "f.txt")
    assert_one_line_error(again, "f.txt: already vault-encrypted")
    assert pyengine(home, "vault", "decrypt", "--vault-password-file", "pw",
                    "f.txt").returncode == 0
    assert path.read_bytes() == PLAIN and stat.S_IMODE(path.stat().st_mode) == 0o640
    assert not [p for p in home.iterdir() if p.name.startswith(".pyengine-vault-")]


def test_stdin_to_stdout_and_output_file(home: Path) -> None:
    proc = pyengine(home, "vault", "encrypt", "--vault-password-file", "pw", input=PLAIN)
    assert proc.returncode == 0 and proc.stdout.startswith(b"$ANSIBLE_VAULT;1.1;AES256\n")
    out = pyengine(home, "vault", "decrypt", "--vault-password-file", "pw", "--output",
                   "plain.txt", "-", input=proc.stdout)
    assert out.returncode == 0, out.stderr
    assert (home / "plain.txt").read_bytes() == PLAIN
    assert stat.S_IMODE((home / "plain.txt").stat().st_mode) == 0o600  # a new file: private


def test_several_vault_ids_need_encrypt_vault_id(home: Path) -> None:
    (home / "f.txt").write_bytes(PLAIN)
    ids = ["--vault-id", "dev@pw", "--vault-id", "prod@pw-prod"]
    assert_one_line_error(pyengine(home, "vault", "encrypt", *ids, "f.txt"),
                          "several vault ids given (dev, prod)", "--encrypt-vault-id")
    proc = pyengine(home, "vault", "encrypt", *ids, "--encrypt-vault-id", "prod", "f.txt")
    assert proc.returncode == 0, proc.stderr
    assert (home / "f.txt").read_bytes().startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    view = pyengine(home, "vault", "view", "--vault-id", "prod@pw-prod", "f.txt")
    assert view.stdout == PLAIN


def _editor(home: Path, body: str) -> str:
    """An $EDITOR script; it logs the mode of the file and folder it was given."""
    script = home / "editor.sh"
    script.write_text("#!/bin/sh\nset -e\n"
                      f"stat -c '%a %n' \"$1\" \"$(dirname \"$1\")\" >> {home}/editor.log\n"
                      f"echo \"$1\" >> {home}/editor.paths\n{body}\n")
    script.chmod(0o700)
    return str(script)


def test_create_writes_through_a_private_temp_file_and_refuses_existing(home: Path) -> None:
    editor = _editor(home, "printf 'token: created-in-editor\\n' > \"$1\"")
    proc = pyengine(home, "vault", "create", "--vault-id", "prod@pw-prod", "new.yml",
                    EDITOR=editor)
    assert proc.returncode == 0, proc.stderr
    data = (home / "new.yml").read_bytes()
    assert data.startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    assert stat.S_IMODE((home / "new.yml").stat().st_mode) == 0o600
    file_mode, folder_mode = [line.split()[0] for line in
                              (home / "editor.log").read_text().splitlines()]
    assert (file_mode, folder_mode) == ("600", "700")
    temp = Path((home / "editor.paths").read_text().strip())
    assert temp.suffix == ".yml" and not temp.exists() and not temp.parent.exists()
    again = pyengine(home, "vault", "create", "--vault-id", "prod@pw-prod", "new.yml",
                     EDITOR=editor)
    assert_one_line_error(again, "new.yml: already exists")
    assert (home / "new.yml").read_bytes() == data


def test_edit_re_encrypts_with_the_same_vault_id_and_skips_unchanged(home: Path) -> None:
    path = sealed(home, vault_id="prod", password=b"prod-password")
    ids = ["--vault-id", "dev@pw", "--vault-id", "prod@pw-prod"]
    unchanged = pyengine(home, "vault", "edit", *ids, "v.yml", EDITOR=_editor(home, "true"))
    assert unchanged.returncode == 0 and b"unchanged" in unchanged.stderr
    before = path.read_bytes()
    edit = _editor(home, "sed -i 's/abcdef/ghijkl/' \"$1\"")
    assert pyengine(home, "vault", "edit", *ids, "v.yml", EDITOR=edit).returncode == 0
    after = path.read_bytes()
    assert after != before and after.startswith(b"$ANSIBLE_VAULT;1.2;AES256;prod\n")
    view = pyengine(home, "vault", "view", "--vault-id", "prod@pw-prod", "v.yml")
    assert view.stdout == b"secret_key: ghijkl-123456\n"
    # A failing editor writes nothing.
    failing = pyengine(home, "vault", "edit", *ids, "v.yml", EDITOR=_editor(home, "exit 1"))
    assert_one_line_error(failing, "exited with status 1")
    assert path.read_bytes() == after


def test_encrypt_string_names_stdin_and_several_values(home: Path) -> None:
    proc = pyengine(home, "vault", "encrypt-string", "--vault-password-file", "pw",
                    "-n", "one", "-n", "two", "first", "second")
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout.decode()
    assert out.count("!vault |") == 2 and out.startswith("one: !vault |\n")
    assert "\ntwo: !vault |\n          $ANSIBLE_VAULT;1.1;AES256\n" in out
    stdin = pyengine(home, "vault", "encrypt-string", "--vault-password-file", "pw",
                     "--stdin-name", "from_stdin", input=b"piped")
    assert stdin.stdout.startswith(b"from_stdin: !vault |\n")
    import yaml

    from pyengine.yamlload import load_yaml_text

    lib = VaultLib([VaultSecret("default", b"right-password")])
    loaded = load_yaml_text(out + stdin.stdout.decode(), "s.yml", lib)
    assert loaded == {"one": "first", "two": "second", "from_stdin": "piped"}
    assert yaml.safe_load(out.replace("!vault", "")) is not None  # still plain YAML


def test_inline_value_with_wrong_password_names_file_and_line(home: Path) -> None:
    from pyengine.errors import VaultError
    from pyengine.yamlload import load_yaml_text

    value = pyengine(home, "vault", "encrypt-string", "--vault-password-file", "pw",
                     "-n", "token", "v").stdout.decode()
    wrong = VaultLib([VaultSecret("default", b"wrong-password")])
    with pytest.raises(VaultError, match=r"^vars\.yml:3:\d+: vault decryption failed"):
        load_yaml_text("a: 1\nb: 2\n" + value, "vars.yml", wrong)


def test_prompted_passwords_and_rekey_prompt(home: Path, monkeypatch) -> None:
    monkeypatch.chdir(home)
    for key in list(os.environ):
        if key.startswith("PYENGINE_VAULT_"):
            monkeypatch.delenv(key)
    (home / "f.txt").write_bytes(PLAIN)
    runner = CliRunner()
    mismatch = runner.invoke(vault, ["encrypt", "--ask-vault-pass", "f.txt"],
                             input="one\ntwo\none\none\n")
    assert mismatch.exit_code == 0 and "do not match" in mismatch.output
    assert VaultLib([VaultSecret("d", b"one")]).decrypt((home / "f.txt").read_bytes()) == PLAIN
    rekey = runner.invoke(vault, ["rekey", "-J", "f.txt"], input="one\nnew-pw\nnew-pw\n")
    assert rekey.exit_code == 0, rekey.output
    assert "one" not in rekey.output and "new-pw" not in rekey.output  # input is hidden
    assert VaultLib([VaultSecret("d", b"new-pw")]).decrypt((home / "f.txt").read_bytes()) == PLAIN


def test_environment_password_for_unattended_runs(home: Path) -> None:
    sealed(home)
    by_value = pyengine(home, "vault", "view", "v.yml", PYENGINE_VAULT_PASSWORD="right-password")
    assert by_value.returncode == 0 and by_value.stdout == PLAIN
    by_file = pyengine(home, "vault", "view", "v.yml",
                       PYENGINE_VAULT_PASSWORD_FILE=f"{home}/pw-wrong:dev@{home}/pw")
    assert by_file.returncode == 0 and by_file.stdout == PLAIN


def test_run_with_a_wrong_vault_password_stops_before_connecting(home: Path) -> None:
    """`pyengine run` loads every vault first: one line naming the file, exit 3."""
    (home / "group_vars").mkdir()
    sealed(home, "group_vars/all.yml", b"db_password: x-secret\n")
    (home / "hosts.ini").write_text("unreachable-host ansible_host=127.0.0.1 ansible_port=9\n")
    (home / "play.yml").write_text("- hosts: all\n  tasks:\n    - debug: msg=hi\n")
    proc = pyengine(home, "run", "play.yml", "-i", "hosts.ini", "--vault-password-file",
                    "pw-wrong")
    assert_one_line_error(proc, "group_vars/all.yml: vault decryption failed")
    ok = pyengine(home, "run", "play.yml", "-i", "hosts.ini", "--vault-password-file", "pw",
                  "--vault-password-file", "pw-wrong")
    assert ok.returncode == 4, ok.stderr  # the vault opened; only then the connection failed
