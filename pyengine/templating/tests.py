"""Jinja2 tests Ansible adds: result status, versions, regex, set relations."""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from typing import Any

from pyengine.errors import TemplateError
from pyengine.templating.version import VersionError, compare_versions


def _result(value: Any, what: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TemplateError(f"the '{what}' test expects a registered task result, "
                            f"got {type(value).__name__}")
    return value


def failed(value: Any) -> bool:
    return bool(_result(value, "failed").get("failed", False))


def success(value: Any) -> bool:
    return not failed(value)


def changed(value: Any) -> bool:
    """`changed`, or (a loop's result without it) whether any item changed."""
    result = _result(value, "changed")
    if "changed" in result:
        return bool(result["changed"])
    items = result.get("results")
    return isinstance(items, list) and any(isinstance(r, Mapping) and r.get("changed")
                                           for r in items)


def reachable(value: Any) -> bool:
    return not unreachable(value)


def started(value: Any) -> bool:
    return bool(_result(value, "started").get("started", True))


def timedout(value: Any) -> bool:
    timed = _result(value, "timedout").get("timedout")
    return bool(timed and isinstance(timed, Mapping) and timed.get("period"))


def skipped(value: Any) -> bool:
    return bool(_result(value, "skipped").get("skipped", False))


def finished(value: Any) -> bool:
    return bool(_result(value, "finished").get("finished", True))


def unreachable(value: Any) -> bool:
    return bool(_result(value, "unreachable").get("unreachable", False))


def version(value: Any, other: Any, operator: str = "eq", strict: bool | None = None,
            version_type: str | None = None) -> bool:
    """Ansible's `version` test: `strict` or `version_type` (loose, strict, semver,
    semantic, pep440) choose how the two versions are read."""
    ops = {
        "eq": "==", "==": "==", "=": "==", "lt": "<", "<": "<", "le": "<=", "<=": "<=",
        "gt": ">", ">": ">", "ge": ">=", ">=": ">=", "ne": "!=", "!=": "!=", "<>": "!=",
    }
    if operator not in ops:
        raise TemplateError(f"version: unknown operator '{operator}'")
    if strict is not None and version_type is not None:
        raise TemplateError("version: give either strict or version_type, not both")
    if value in (None, "") or other in (None, ""):
        raise TemplateError("version: an empty version cannot be compared")
    kind = "strict" if strict else (version_type or "loose")
    try:
        c = compare_versions(str(value), str(other), kind)
    except VersionError as err:
        raise TemplateError(f"version: {err}") from None
    return {"==": c == 0, "<": c < 0, "<=": c <= 0, ">": c > 0, ">=": c >= 0,
            "!=": c != 0}[ops[operator]]


def match(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> bool:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.match(pattern, str(value), flags) is not None


def search(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False) -> bool:
    flags = (re.I if ignorecase else 0) | (re.M if multiline else 0)
    return re.search(pattern, str(value), flags) is not None


def regex(value: Any, pattern: str, ignorecase: bool = False, multiline: bool = False,
          match_type: str = "search") -> bool:
    fn = match if match_type == "match" else search
    return fn(value, pattern, ignorecase, multiline)


def subset(a: Any, b: Any) -> bool:
    return all(x in b for x in a)


def superset(a: Any, b: Any) -> bool:
    return all(x in a for x in b)


def contains(seq: Any, value: Any) -> bool:
    return value in seq


def any_test(value: Any) -> bool:
    return any(value)


def all_test(value: Any) -> bool:
    return all(value)


def truthy(value: Any) -> bool:
    return bool(value)


def falsy(value: Any) -> bool:
    return not value


def _path_test(check: Callable[[str], bool]) -> Callable[[Any], bool]:
    """Controller-side path tests (`is file`, `is directory`, ...), as in Ansible."""
    return lambda value: check(str(value))


def nan(value: Any) -> bool:
    """True for a float NaN (Ansible's `nan` test); False for anything else."""
    import math

    return isinstance(value, float) and math.isnan(value)


def vault_encrypted(value: Any) -> bool:
    """True for a value that came from a `!vault` tag (as in ansible-core 2.19, vault text
    in an ordinary string is not one)."""
    return bool(getattr(value, "ciphertext", None))


def vaulted_file(value: Any) -> bool:
    """True when the controller file `value` is an ansible-vault encrypted file."""
    try:
        with open(str(value), "rb") as handle:
            return handle.read(15) == b"$ANSIBLE_VAULT;"
    except OSError:
        return False


def _mount(value: Any) -> bool:
    return os.path.ismount(str(value))


def _same_file(a: Any, b: Any) -> bool:
    try:
        return os.path.samefile(str(a), str(b))
    except OSError:
        return False


def _link_exists(value: Any) -> bool:
    return os.path.lexists(str(value))


_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")


def uri(value: Any, schemes: Any = None) -> bool:
    """A URI: a scheme then ':' (optionally one of `schemes`)."""
    from urllib.parse import urlparse

    text = str(value)
    if not _URI.match(text):
        return False
    scheme = urlparse(text).scheme
    return schemes is None or scheme in schemes


def url(value: Any, schemes: Any = None) -> bool:
    """A URL: a URI with a network location."""
    from urllib.parse import urlparse

    parts = urlparse(str(value))
    if not parts.scheme or not parts.netloc:
        return False
    return schemes is None or parts.scheme in schemes


def urn(value: Any) -> bool:
    return re.match(r"^urn:[a-z0-9][a-z0-9-]{0,31}:[^\s]+$", str(value), re.I) is not None


TESTS: dict[str, Callable[..., Any]] = {
    "file": _path_test(os.path.isfile), "directory": _path_test(os.path.isdir),
    "exists": _path_test(os.path.exists), "link": _path_test(os.path.islink),
    "abs": _path_test(os.path.isabs),
    "failed": failed, "failure": failed,
    "success": success, "succeeded": success, "successful": success,
    "changed": changed, "change": changed,
    "skipped": skipped, "skip": skipped,
    "finished": finished, "unreachable": unreachable,
    "version": version, "version_compare": version,
    "match": match, "search": search, "regex": regex,
    "subset": subset, "superset": superset, "contains": contains,
    "any": any_test, "all": all_test, "truthy": truthy, "falsy": falsy,
    "nan": nan, "isnan": nan, "vault_encrypted": vault_encrypted, "vaulted_file": vaulted_file,
    "is_file": _path_test(os.path.isfile), "is_dir": _path_test(os.path.isdir),
    "is_link": _path_test(os.path.islink), "is_abs": _path_test(os.path.isabs),
    "mount": _mount, "is_mount": _mount, "same_file": _same_file, "is_same_file": _same_file,
    "link_exists": _link_exists, "issubset": subset, "issuperset": superset,
    "reachable": reachable, "started": started, "timedout": timedout,
    "uri": uri, "url": url, "urn": urn,
}
