"""Password sources: files, scripts, client scripts, `ID@SOURCE`, environment, prompt."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from pyengine.errors import VaultError
from pyengine.vault import secrets_from_options
from pyengine.vault.secrets import env_secrets, file_secret, load_source, split_vault_id


def script(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o700)
    return path


def test_file_password_is_stripped_of_surrounding_whitespace(tmp_path: Path) -> None:
    (tmp_path / "pw").write_text("  pass word \r\n")
    secret = file_secret(str(tmp_path / "pw"))
    assert (secret.vault_id, secret.password) == ("default", b"pass word")
    assert "pass word" not in repr(secret)


def test_executable_prints_the_password_and_stderr_is_not_captured(tmp_path: Path) -> None:
    exe = script(tmp_path / "get-pw.sh", "echo 'from script'; echo prompt-text >&2")
    assert file_secret(str(exe), "prod").password == b"from script"


def test_client_script_is_asked_for_the_vault_id(tmp_path: Path) -> None:
    exe = script(tmp_path / "keyring-client.sh",
                 '[ "$1" = --vault-id ] || exit 9\n[ "$2" = prod ] || exit 2\necho "pw-for-$2"')
    assert load_source(f"prod@{exe}").password == b"pw-for-prod"
    with pytest.raises(VaultError, match="has no password for vault id 'qa'"):
        load_source(f"qa@{exe}")


def test_id_at_source_splits_but_an_existing_path_with_at_does_not(tmp_path: Path) -> None:
    assert split_vault_id("prod@/etc/pw") == ("prod", "/etc/pw")
    assert split_vault_id("/etc/pw") == (None, "/etc/pw")
    odd = tmp_path / "me@corp"
    odd.write_text("odd")
    assert split_vault_id(str(odd)) == (None, str(odd))
    assert file_secret(str(odd)).password == b"odd"


def test_empty_and_encrypted_password_files_are_refused(tmp_path: Path) -> None:
    (tmp_path / "empty").write_text("\n")
    with pytest.raises(VaultError, match="empty vault password from file"):
        file_secret(str(tmp_path / "empty"))
    (tmp_path / "enc").write_text("$ANSIBLE_VAULT;1.1;AES256\n6162\n")
    with pytest.raises(VaultError, match="is itself vault-encrypted"):
        file_secret(str(tmp_path / "enc"))


def test_options_then_environment_in_order_without_duplicates(tmp_path: Path) -> None:
    (tmp_path / "a").write_text("pa")
    (tmp_path / "b").write_text("pb")
    env = {"PYENGINE_VAULT_PASSWORD": "pe", "PYENGINE_VAULT_PASSWORD_FILE":
           f"qa@{tmp_path}/b:{tmp_path}/a"}
    found = secrets_from_options([str(tmp_path / "a")], [f"prod@{tmp_path}/b"], environ=env)
    assert [(s.vault_id, s.password) for s in found] == [
        ("prod", b"pb"), ("default", b"pa"), ("qa", b"pb"), ("default", b"pe")]
    assert secrets_from_options([], [], environ=env, use_env=False) == []
    assert env_secrets({}) == []


def test_prompt_source_asks_with_the_vault_id() -> None:
    runner = CliRunner()

    import click

    @click.command()
    def cmd() -> None:
        found = secrets_from_options([], ["ops@prompt"], ask=True, use_env=False)
        click.echo(repr([(s.vault_id, s.password) for s in found]))

    result = runner.invoke(cmd, input="opspw\ndefpw\n")
    assert "Vault password (ops):" in result.output
    assert "[('ops', b'opspw'), ('default', b'defpw')]" in result.output
