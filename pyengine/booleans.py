"""Ansible's boolean words, in one place: `yes`/`no`, `on`/`off`, `true`/`false`, `y`/`n`,
`t`/`f`, `1`/`0`, in any case.

Keywords (`become: yes`), module arguments of type bool, the `bool` filter, ansible.cfg
settings and connection variables all read the same words. The agent's runtime on the
target keeps its own copy (it must stay standard-library and standalone).
"""

from __future__ import annotations

TRUE_WORDS = frozenset({"y", "yes", "on", "1", "true", "t"})
FALSE_WORDS = frozenset({"n", "no", "off", "0", "false", "f"})


def boolean_word(value: object) -> bool | None:
    """True or False for a boolean (or one of the words above), None for anything else.

    Callers decide what "anything else" means: an error for a typed argument, False for
    the lenient `bool` filter.
    """
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)) and value in (0, 1):
        return bool(value)
    word = str(value).strip().lower()
    if word in TRUE_WORDS:
        return True
    if word in FALSE_WORDS:
        return False
    return None


def is_true(value: object) -> bool:
    """Lenient: True only for a true boolean word (or True / 1); anything else is False."""
    return boolean_word(value) is True
