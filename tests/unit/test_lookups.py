"""Lookups whose effect is on the controller's files (the parity suite covers values)."""

from __future__ import annotations

import stat
from pathlib import Path

from pyengine.templating import Templar


def test_password_is_created_once_then_read_back(tmp_path: Path) -> None:
    t = Templar({"playbook_dir": str(tmp_path)})
    first = t.render("{{ lookup('password', 'creds/db length=16 chars=ascii_letters') }}")
    stored = tmp_path / "creds" / "db"
    assert len(first) == 16 and first.isalpha()
    assert stored.read_text() == first + "\n"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    again = Templar({"playbook_dir": str(tmp_path)}).render(
        "{{ lookup('password', 'creds/db length=16 chars=ascii_letters') }}")
    assert again == first


def test_password_encrypted_keeps_its_salt(tmp_path: Path) -> None:
    t = Templar({"playbook_dir": str(tmp_path)})
    hashed = t.render("{{ lookup('password', 'pw encrypt=sha512_crypt') }}")
    plain, _, salt = (tmp_path / "pw").read_text().strip().partition(" salt=")
    assert hashed.startswith(f"$6${salt}$") and len(salt) == 16 and plain
    assert t.render("{{ lookup('password', 'pw encrypt=sha512_crypt') }}") == hashed
    assert Templar({"p": plain, "s": salt}).render(
        "{{ p | password_hash('sha512', s) }}") == hashed
