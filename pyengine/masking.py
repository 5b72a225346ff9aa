"""Masking of secrets in everything pyengine prints or stores.

Values that came out of a vault, and values of `no_log` tasks, are registered
here; `mask()` replaces each occurrence (also inside longer strings, such as a
rendered template or a command line) before any output, report, history row or
error message is written. One process-wide registry, because a secret must be
hidden wherever it travels.
"""

from __future__ import annotations

import threading
from typing import Any

MASK = "********"

_lock = threading.Lock()
_secrets: set[str] = set()


def register_secret(value: str) -> None:
    """Mark `value` as secret for the rest of the process (short values are too noisy)."""
    if isinstance(value, str) and len(value) >= 3:
        with _lock:
            _secrets.add(value)
            # A multi-line secret also leaks line by line (a key in a diff).
            for line in value.splitlines():
                if len(line.strip()) >= 6:
                    _secrets.add(line.strip())


def registered_secrets() -> frozenset[str]:
    """A snapshot of the registered secrets."""
    with _lock:
        return frozenset(_secrets)


def clear_secrets() -> None:
    """Forget every secret (tests only)."""
    with _lock:
        _secrets.clear()


def mask_text(text: str) -> str:
    """Replace every registered secret in `text`, longest first."""
    secrets = registered_secrets()
    if not secrets or not text:
        return text
    for secret in sorted(secrets, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def mask(value: Any) -> Any:
    """Mask secrets in any JSON-like value (str, list, dict, nested)."""
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {mask(k): mask(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [mask(v) for v in value]
    return value
