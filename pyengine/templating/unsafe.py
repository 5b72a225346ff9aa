"""Values that must never be rendered as templates.

Output gathered from targets (registered results, facts) may contain `{{` by
accident or by malice; rendering it would run text from a managed host as a
template on the controller. Such strings are wrapped in `UnsafeStr`, which the
templar passes through untouched (Ansible's `!unsafe` / AnsibleUnsafeText).
"""

from __future__ import annotations

from typing import Any


class UnsafeStr(str):
    """A string the templar returns as is."""

    __UNSAFE__ = True


def wrap_unsafe(value: Any) -> Any:
    """Wrap every string inside `value` (dicts, lists, tuples) as UnsafeStr."""
    if isinstance(value, UnsafeStr):
        return value
    if isinstance(value, str):
        return UnsafeStr(value)
    if isinstance(value, dict):
        return {k: wrap_unsafe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [wrap_unsafe(v) for v in value]
    return value
