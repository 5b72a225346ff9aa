"""Loose version comparison for the `version` test (`ansible_distribution_version is
version('12', '>=')`): numbers compare as numbers, words as words, like LooseVersion."""

from __future__ import annotations

import re

_PART = re.compile(r"(\d+|[a-z]+|\.)", re.I)


def _parts(text: str) -> list[tuple[int, int | str]]:
    out: list[tuple[int, int | str]] = []
    for piece in _PART.findall(text):
        if piece == ".":
            continue
        # (kind, value): numbers sort after words at the same position, like LooseVersion.
        out.append((1, int(piece)) if piece.isdigit() else (0, piece.lower()))
    return out


def compare_versions(a: str, b: str) -> int:
    """-1, 0 or 1 as `a` is older, equal to or newer than `b` ('1.10' > '1.9')."""
    pa, pb = _parts(a), _parts(b)
    # Trailing zeros do not count: '12' == '12.0'.
    while pa and pa[-1] == (1, 0):
        pa.pop()
    while pb and pb[-1] == (1, 0):
        pb.pop()
    if pa == pb:
        return 0
    return -1 if pa < pb else 1
