"""The `version` test honours `strict` and `version_type`, and agrees with ansible-core."""

from __future__ import annotations

import pytest

from pyengine.errors import TemplateError
from pyengine.templating.tests import version

CASES = [
    # (value, other, operator, strict, version_type)
    ("1.10", "1.9", ">", None, None),
    ("1.2.3", "1.2.10", "<", None, None),
    ("1.2", "1.2.0", "==", True, None),
    ("1.2a1", "1.2", "<", True, None),
    ("1.2b2", "1.2a3", ">", True, None),
    ("1.2.3", "1.2.10", "lt", None, "strict"),
    ("1.0.0-alpha", "1.0.0", "<", None, "semver"),
    ("1.0.0-alpha.1", "1.0.0-alpha.beta", "<", None, "semver"),
    ("1.0.0-beta.11", "1.0.0-beta.2", ">", None, "semantic"),
    ("1.0.0+build.5", "1.0.0", "==", None, "semver"),
    ("1.0.0rc1", "1.0.0", "<", None, "pep440"),
    ("1.0.post1", "1.0", ">", None, "pep440"),
    ("1!0.1", "2.0", ">", None, "pep440"),
    ("2.10", "2.9", "ge", None, "loose"),
]


@pytest.mark.parametrize("value,other,operator,strict,version_type", CASES)
def test_version_kinds_agree_with_ansible(value: str, other: str, operator: str,
                                          strict: bool | None, version_type: str | None
                                          ) -> None:
    core = pytest.importorskip("ansible.plugins.test.core")
    expected = core.version_compare(value, other, operator, strict, version_type)
    assert version(value, other, operator, strict, version_type) is expected
    assert expected is True  # each case is written to hold


@pytest.mark.parametrize("value,other,strict,version_type,message", [
    ("1.2.3.4", "1.2", True, None, "invalid strict version"),
    ("1.2", "1.2.0", None, "semver", "invalid semantic version"),
    ("not-a-version", "1.0", None, "pep440", "invalid PEP 440 version"),
    ("1.0", "1.0", None, "calver", "unknown version type"),
    ("1.0", "1.0", True, "strict", "either strict or version_type"),
    ("", "1.0", None, None, "empty version"),
])
def test_what_a_kind_cannot_read_is_a_clear_error(value: str, other: str, strict: bool | None,
                                                  version_type: str | None,
                                                  message: str) -> None:
    with pytest.raises(TemplateError, match=message):
        version(value, other, "eq", strict, version_type)
