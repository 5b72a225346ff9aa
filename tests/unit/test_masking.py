"""Masking: every form of a secret is hidden, wherever in a value it appears."""

from __future__ import annotations

import base64
import json
import shlex
from urllib.parse import quote

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pyengine import masking
from pyengine.masking import MASK, mask, mask_text, register_secret


@pytest.fixture(autouse=True)
def _clean():
    masking.clear_secrets()
    yield
    masking.clear_secrets()


def test_secret_inside_a_longer_string_is_masked() -> None:
    register_secret("hunter2-pw")
    assert mask_text("mysql -u app -phunter2-pw -e 'select 1'") == \
        f"mysql -u app -p{MASK} -e 'select 1'"


def test_short_values_are_not_secrets() -> None:
    register_secret("ab")
    assert mask_text("ab cab") == "ab cab"


def test_escaped_quoted_and_encoded_forms_are_masked() -> None:
    secret = "pa'ss\"w\\ord é$"
    register_secret(secret)
    texts = {
        "json": json.dumps({"cmd": f"echo {secret}"}),
        "json-ascii-off": json.dumps({"cmd": secret}, ensure_ascii=False),
        "json-in-json": json.dumps({"stdout": json.dumps({"pw": secret})}),
        "shell": "sh -c " + shlex.quote(secret),
        "repr": repr(["echo", secret]),
        "url": f"https://user:{quote(secret, safe='')}@example.invalid/",
        "base64": "Authorization: Basic " + base64.b64encode(secret.encode()).decode(),
    }
    for kind, text in texts.items():
        masked = mask_text(text)
        assert MASK in masked, kind
        for part in ("pa'ss", "pa\\u0027ss", "ss\\\"w", "w\\\\ord", "w\\\\\\\\ord",
                     base64.b64encode(secret.encode()).decode()[:12]):
            assert part not in masked, (kind, masked)


def test_multiline_secret_is_masked_whole_and_line_by_line() -> None:
    key = "-----BEGIN KEY-----\nAAAABBBBCCCCDDDD\nEEEEFFFFGGGG\n-----END KEY-----\n"
    register_secret(key)
    assert mask_text(f"content: {key}") == f"content: {MASK}"
    diff = "--- before\n+++ after\n-AAAABBBBCCCCDDDD\n+EEEEFFFFGGGG\n"
    assert "AAAABBBB" not in mask_text(diff) and "EEEEFFFF" not in mask_text(diff)


def test_longest_secret_wins_when_one_contains_another() -> None:
    register_secret("secret")
    register_secret("secret-and-more")
    assert mask_text("x secret-and-more y secret z") == f"x {MASK} y {MASK} z"


def test_mask_walks_nested_values_keys_and_bytes() -> None:
    register_secret("tok-123456")
    value = {"tok-123456": ["a tok-123456", ("tok-123456",)], "n": 1, "b": b"tok-123456!"}
    assert mask(value) == {MASK: [f"a {MASK}", [MASK]], "n": 1, "b": MASK.encode() + b"!"}


def test_new_secrets_take_effect_immediately() -> None:
    register_secret("first-one")
    assert mask_text("first-one second-one") == f"{MASK} second-one"
    register_secret("second-one")
    assert mask_text("first-one second-one") == f"{MASK} {MASK}"
    masking.clear_secrets()
    assert mask_text("first-one") == "first-one"


def test_register_tree_registers_values_not_keys() -> None:
    masking.register_tree({"password": "v4lue-one", "list": ["v4lue-two", 3, None]})
    assert mask_text("password v4lue-one v4lue-two 3") == f"password {MASK} {MASK} 3"


def test_censor_keeps_status_and_hides_the_rest() -> None:
    result = {"changed": True, "failed": False, "stdout": "x", "cmd": ["a"], "rc": 0}
    shown = masking.censor(result)
    assert shown["changed"] is True and shown["failed"] is False
    assert set(shown) == {"changed", "failed", "censored", "msg"}


def test_many_secrets_in_a_long_output() -> None:
    secrets = [f"secret-{i:05d}-{i * 7919 % 100003:06d}" for i in range(2000)]
    masking.register_secrets(secrets)
    text = ("line of harmless output\n" * 20000) + secrets[1234] + "\n" + secrets[-1]
    masked = mask_text(text)
    assert masked.endswith(f"{MASK}\n{MASK}") and secrets[1234] not in masked


@settings(max_examples=200, deadline=None)
@given(st.text(min_size=3, max_size=30).filter(lambda s: "*" not in s), st.text(max_size=40),
       st.text(max_size=40))
def test_a_registered_secret_never_survives(secret: str, before: str, after: str) -> None:
    masking.clear_secrets()
    register_secret(secret)
    text = before + secret + after
    assert secret not in mask_text(text)
    assert json.dumps(secret)[1:-1] not in mask_text(json.dumps(text))


def test_cli_masks_error_lines_and_internal_tracebacks(capsys) -> None:
    import sys

    from pyengine.commands import main as cli

    register_secret("leaky-value-42")
    try:
        raise RuntimeError("boom with leaky-value-42")
    except RuntimeError:
        cli._masked_excepthook(*sys.exc_info())  # type: ignore[arg-type]
    assert "leaky-value-42" not in capsys.readouterr().err

    # An expected error quoting the secret (here in a file name) prints it masked.
    with pytest.raises(SystemExit) as exited:
        cli.main(["vault", "view", "--vault-password-file", "/nonexistent/leaky-value-42", "x"])
    assert exited.value.code == 3
    err = capsys.readouterr().err
    assert err == f"error: cannot read vault password file /nonexistent/{MASK}: " \
        "No such file or directory\n"


def test_base64_of_a_file_that_contains_the_secret_is_masked() -> None:
    """A rendered template travels as base64 (`_content_b64`): any offset must be caught."""
    secret = "Sup3r-Secret!"
    register_secret(secret)
    for prefix in ("", "a", "ab", "[db]\npassword = "):
        for suffix in ("", "\n", "\nport = 5432\n"):
            encoded = base64.b64encode(f"{prefix}{secret}{suffix}".encode()).decode()
            masked = mask_text(f"_content_b64: {encoded}")
            assert MASK in masked and len(masked) < len(encoded) + 10, (prefix, suffix)
