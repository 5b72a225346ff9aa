"""Masking of secrets in everything pyengine prints or stores.

Values that came out of a vault, and values of `no_log` tasks, are registered
here; `mask()` replaces each occurrence (also inside longer strings, such as a
rendered template or a command line) before any output, report, history row or
error message is written. One process-wide registry, because a secret must be
hidden wherever it travels.

A secret rarely travels only as itself: a command line quotes it for the shell,
a JSON result escapes its quotes and backslashes, an error message shows its
Python repr, a URL percent-encodes it, an HTTP header base64-encodes it, a file
travels base64-encoded at any offset. Each registered secret is therefore
searched for in all those forms. All forms of all secrets go into one compiled
regular expression, built as a trie (one branch per distinct prefix) rather than
a flat alternation, which backtracks through every secret at every position
(bench/bench_masking.py: ~100x faster at 1000 secrets); it is rebuilt only when
the set changes. The offset-dependent base64 forms have their own pattern, run
only over base64-looking stretches of text.
"""

from __future__ import annotations

import base64
import json
import re
import shlex
import threading
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote, quote_plus

MASK = "********"
MIN_LENGTH = 3  # shorter values would mask half of every output
MIN_LINE_LENGTH = 6  # lines of a multi-line secret are masked on their own from this length

NO_LOG_MESSAGE = "the output has been hidden due to 'no_log: true' for this task"
# Result keys that stay visible for a no_log task: they say what happened, not with what.
NO_LOG_KEPT = ("changed", "failed", "skipped", "unreachable", "attempts", "retries")

_lock = threading.Lock()
_secrets: set[str] = set()
_pattern: re.Pattern[str] | None = None
_base64_pattern: re.Pattern[str] | None = None
# Runs of base64 text long enough to hide a secret; only these are searched for the
# offset-dependent base64 forms, which would otherwise slow down every scan.
_BASE64_RUN = re.compile(r"[A-Za-z0-9+/_-]{16,}")
_generation = 0  # bumped whenever _secrets changes; _pattern belongs to _built
_built = -1


def forms(secret: str) -> set[str]:
    """The ways `secret` can appear in output: as is, escaped, quoted, encoded."""
    found = {
        secret,
        json.dumps(secret)[1:-1],
        json.dumps(secret, ensure_ascii=False)[1:-1],
        repr(secret)[1:-1],
        shlex.quote(secret),
        quote(secret, safe=""),
        quote_plus(secret, safe=""),
    }
    # A JSON document embedded in another one (a result inside a report) escapes twice.
    found.add(json.dumps(json.dumps(secret)[1:-1])[1:-1])
    raw = secret.encode("utf-8")
    if len(raw) >= MIN_LINE_LENGTH:
        for encode in (base64.b64encode, base64.urlsafe_b64encode):
            whole = encode(raw).decode("ascii")
            found |= {whole, whole.rstrip("=")}
    return {f for f in found if len(f) >= MIN_LENGTH}


def embedded_base64_forms(secret: str) -> set[str]:
    """The base64 text of `secret` wherever it sits in a longer base64 stream.

    Base64 turns 3 bytes into 4 characters, so the secret's characters depend on
    its offset modulo 3; for each offset keep only the characters made of the
    secret's own bits (neighbouring bytes change the ones at the edges). A file
    sent as base64 (`_content_b64` of a rendered template) is caught this way.
    """
    raw = secret.encode("utf-8")
    if len(raw) < MIN_LINE_LENGTH:
        return set()
    found = set()
    for encode in (base64.b64encode, base64.urlsafe_b64encode):
        for shift in (0, 1, 2):
            text = encode(b"\0" * shift + raw).decode("ascii")
            first = -(-8 * shift // 6)  # the first character with only secret bits
            last = 8 * (shift + len(raw)) // 6  # one past the last such character
            found.add(text[first:last])
    return found


def register_secret(value: str) -> None:
    """Mark `value` as secret for the rest of the process (short values are too noisy)."""
    if not isinstance(value, str) or len(value) < MIN_LENGTH:
        return
    new = {value}
    # The transforms a template most often applies to a secret on its way out. What
    # this guarantees is exactly this list (docs/VAULT.md): other transforms (slices,
    # regex_replace, hashes) produce values no registry can know in advance.
    for base in (value, value.strip()):
        new.update(t for t in (base, base.upper(), base.lower()) if len(t) >= MIN_LENGTH)
    # A multi-line secret also leaks line by line (a key in a diff).
    if "\n" in value or "\r" in value:
        new.update(line.strip() for line in value.splitlines()
                   if len(line.strip()) >= MIN_LINE_LENGTH)
        stripped = value.strip()
        if len(stripped) >= MIN_LENGTH:
            new.add(stripped)
    _add(new)


def register_secrets(values: Iterable[str]) -> None:
    """Register several secrets at once (one pattern rebuild)."""
    for value in values:
        register_secret(value)


def register_tree(value: Any) -> None:
    """Register every string inside a parsed value (dict values, list items; not keys).

    For `no_log` task arguments and decrypted vars files: each value is secret on
    its own, wherever it turns up later.
    """
    if isinstance(value, str):
        register_secret(value)
    elif isinstance(value, dict):
        for item in value.values():
            register_tree(item)
    elif isinstance(value, (list, tuple, set, frozenset)):
        for item in value:
            register_tree(item)


def _add(values: set[str]) -> None:
    global _generation
    with _lock:
        missing = values - _secrets
        if missing:
            _secrets.update(missing)
            _generation += 1


def clear_secrets() -> None:
    """Forget every secret (tests only)."""
    global _generation
    with _lock:
        _secrets.clear()
        _unopened.clear()
        _generation += 1


_unopened: list[str] = []  # vault files of the project that this process could not open


def note_unopened_secrets(sources: Iterable[str]) -> None:
    """Record vault files whose values this run cannot know, so cannot mask: whoever
    stores host data where it outlives the run (the backup repository) must refuse."""
    with _lock:
        _unopened.extend(s for s in sources if s not in _unopened)


def unopened_secret_sources() -> list[str]:
    with _lock:
        return list(_unopened)


def _trie_regex(words: Iterable[str]) -> str:
    """One regex matching any of `words`, longest first, as a trie of alternations."""
    trie: dict[str, Any] = {}
    for word in words:
        node = trie
        for char in word:
            node = node.setdefault(char, {})
        node[""] = True  # end of a word
    return _node_regex(trie)


def _node_regex(node: dict[str, Any]) -> str:
    branches = []
    for char in sorted(k for k in node if k):
        text = re.escape(char)
        child = node[char]
        # Path compression: a run of single-child nodes becomes one literal, which
        # keeps nesting (and the regex compiler's recursion) to the branch points.
        while len(child) == 1 and "" not in child:
            ((char, child),) = child.items()
            text += re.escape(char)
        branches.append(text + _node_regex(child))
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 else "(?:" + "|".join(branches) + ")"
    # Greedy optional: where a secret is a prefix of another, the longer one wins.
    return f"(?:{body})?" if "" in node else body


def _current_patterns() -> tuple[re.Pattern[str] | None, re.Pattern[str] | None]:
    global _pattern, _base64_pattern, _built
    with _lock:
        if _built != _generation:
            words: set[str] = set()
            encoded: set[str] = set()
            for secret in _secrets:
                words |= forms(secret)
                encoded |= embedded_base64_forms(secret)
            _pattern = re.compile(_trie_regex(words)) if words else None
            _base64_pattern = re.compile(_trie_regex(encoded)) if encoded else None
            _built = _generation
        return _pattern, _base64_pattern


def mask_text(text: str) -> str:
    """Replace every registered secret (in any of its forms) in `text`."""
    if not text:
        return text
    pattern, base64_pattern = _current_patterns()
    if pattern is None:
        return text
    return _sub(text, pattern, base64_pattern)


def mask(value: Any) -> Any:
    """Mask secrets in any JSON-like value (str, bytes, list, tuple, dict, nested).

    Containers come back as new dicts and lists (tuples become lists) whether or not a
    secret is registered. The patterns are looked up once per call, not once per string:
    a 250-host report holds ~500k strings, and the lock per string cost seconds after a
    run's last result (issue 17)."""
    pattern, base64_pattern = _current_patterns()
    if pattern is None:
        return _copy(value)
    return _mask(value, pattern, base64_pattern)


def _mask(value: Any, pattern: re.Pattern[str], base64_pattern: re.Pattern[str] | None) -> Any:
    if isinstance(value, str):
        return _sub(value, pattern, base64_pattern)
    if isinstance(value, dict):
        return {_mask(k, pattern, base64_pattern): _mask(v, pattern, base64_pattern)
                for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_mask(v, pattern, base64_pattern) for v in value]
    if isinstance(value, bytes):
        return _sub(value.decode("utf-8", "surrogateescape"), pattern, base64_pattern).encode(
            "utf-8", "surrogateescape")
    return value


def _sub(text: str, pattern: re.Pattern[str], base64_pattern: re.Pattern[str] | None) -> str:
    if not text:
        return text
    text = pattern.sub(MASK, text)
    if base64_pattern is not None:
        text = _BASE64_RUN.sub(lambda run: base64_pattern.sub(MASK, run.group()), text)
    return text


def _copy(value: Any) -> Any:
    """What `mask` returns when no secret is registered: the same shape, new containers."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_copy(v) for v in value]
    return value


def censor(result: dict[str, Any]) -> dict[str, Any]:
    """The shown form of a `no_log` task's result: its status, nothing it carried."""
    shown = {key: result[key] for key in NO_LOG_KEPT if key in result}
    shown["censored"] = NO_LOG_MESSAGE
    shown["msg"] = NO_LOG_MESSAGE
    return shown
