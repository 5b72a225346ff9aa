"""Version comparison for the `version` test (`ansible_distribution_version is
version('12', '>=')`), in the kinds Ansible offers.

- loose (the default): numbers compare as numbers, words as words, like LooseVersion
  (as in Ansible, '12' < '12.0': a longer version with the same start is newer).
- strict (`strict=true` or `version_type='strict'`): `MAJOR.MINOR[.PATCH][a|bN]`, as
  distutils' StrictVersion; anything else is an error.
- semver / semantic: Semantic Versioning 2.0 precedence (pre-releases sort first,
  build metadata is ignored).
- pep440: Python's version scheme, read by the `packaging` library.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from packaging.version import InvalidVersion, Version

KINDS = ("loose", "strict", "semver", "semantic", "pep440")

_PART = re.compile(r"(\d+|[a-z]+|\.)", re.I)
_STRICT = re.compile(r"^(\d+)\.(\d+)(?:\.(\d+))?(?:([ab])(\d+))?$")
_SEMVER = re.compile(r"^(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
                     r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?(?:\+[0-9A-Za-z.-]+)?$")


class VersionError(ValueError):
    """A version string that the chosen kind cannot read."""


def _loose(text: str) -> list[tuple[int, int | str]]:
    out: list[tuple[int, int | str]] = []
    for piece in _PART.findall(text):
        if piece == ".":
            continue
        # (kind, value): numbers sort after words at the same position, like LooseVersion.
        out.append((1, int(piece)) if piece.isdigit() else (0, piece.lower()))
    return out


def _strict(text: str) -> tuple[Any, ...]:
    found = _STRICT.match(text.strip())
    if not found:
        raise VersionError(f"invalid strict version {text!r} (expected N.N[.N][a|bN])")
    major, minor, patch, tag, number = found.groups()
    # A release sorts after its pre-releases: ('z',) is above ('a', n) and ('b', n).
    pre = (tag, int(number)) if tag else ("z", 0)
    return (int(major), int(minor), int(patch or 0), pre)


def _semver(text: str) -> tuple[Any, ...]:
    found = _SEMVER.match(text.strip())
    if not found:
        raise VersionError(f"invalid semantic version {text!r} (expected MAJOR.MINOR.PATCH)")
    major, minor, patch, pre = found.groups()
    if pre is None:
        release: tuple[Any, ...] = (1,)  # no pre-release: above every pre-release
    else:
        # Numeric identifiers sort below alphanumeric ones and compare as numbers.
        release = (0, tuple((0, int(p), "") if p.isdigit() else (1, 0, p)
                            for p in pre.split(".")))
    return (int(major), int(minor), int(patch), release)


def _pep440(text: str) -> Version:
    try:
        return Version(text.strip())
    except InvalidVersion:
        raise VersionError(f"invalid PEP 440 version {text!r}") from None


_KEYS: dict[str, Callable[[str], Any]] = {
    "loose": _loose, "strict": _strict, "semver": _semver, "semantic": _semver,
    "pep440": _pep440,
}


def compare_versions(a: str, b: str, kind: str = "loose") -> int:
    """-1, 0 or 1 as `a` is older, equal to or newer than `b` ('1.10' > '1.9').

    Raises VersionError for an unknown kind or a version the kind cannot read.
    """
    key = _KEYS.get(kind)
    if key is None:
        raise VersionError(f"unknown version type {kind!r} (one of {', '.join(KINDS)})")
    ka, kb = key(a), key(b)
    if ka == kb:
        return 0
    return -1 if ka < kb else 1
