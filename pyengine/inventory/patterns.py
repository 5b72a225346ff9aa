"""Host patterns, as in `hosts:` and `--limit`: names, groups, `a:b` / `a,b` unions,
`:&group` intersections, `:!group` exclusions, `*` wildcards, `~regex`, and
`group[0]` / `group[1:3]` subscripts. Results keep Ansible's order: the hosts of
each positive term in turn, then intersections, then exclusions."""

from __future__ import annotations

import fnmatch
import re

from pyengine.errors import PlaybookError
from pyengine.inventory.model import LOCALHOST, Host, Inventory

_SUBSCRIPT = re.compile(r"^(.+?)\[(-?\d+)(?::(-?\d*))?\]$")


def split_pattern(pattern: str) -> list[str]:
    """Terms of a pattern: commas always separate; colons separate outside brackets
    and outside IPv6 addresses."""
    pattern = pattern.strip()
    if "," in pattern:
        parts = pattern.split(",")
    elif pattern.count(":") > 1 and re.fullmatch(r"[0-9a-fA-F:]+", pattern):
        parts = [pattern]  # an IPv6 address
    else:
        parts, depth, current = [], 0, ""
        for ch in pattern:
            if ch == "[":
                depth += 1
            elif ch == "]":
                depth -= 1
            if ch == ":" and depth == 0:
                parts.append(current)
                current = ""
            else:
                current += ch
        parts.append(current)
    return [p.strip() for p in parts if p.strip()]


def _match_names(names: list[str], term: str) -> list[str]:
    if term.startswith("~"):
        try:
            regex = re.compile(term[1:])
        except re.error as err:
            raise PlaybookError(f"host pattern {term!r} is not a valid regular expression: "
                                f"{err}") from None
        return [n for n in names if regex.match(n)]
    if any(ch in term for ch in "*?["):
        return [n for n in names if fnmatch.fnmatchcase(n, term)]
    return [n for n in names if n == term]


def match_term(inventory: Inventory, term: str) -> list[str]:
    """Host names one term stands for (no & or ! prefix)."""
    sub = _SUBSCRIPT.match(term)
    if sub and not term.startswith("~"):
        base = match_term(inventory, sub.group(1))
        start = int(sub.group(2))
        if sub.group(3) is None:
            try:
                return [base[start]]
            except IndexError:
                return []
        end = int(sub.group(3)) if sub.group(3) else len(base) - 1
        return base[start:end + 1]
    results: list[str] = []
    groups = _match_names(list(inventory.groups), term)
    for g in groups:
        results.extend(h for h in inventory.group_hosts(g) if h not in results)
    special = term.startswith("~") or any(ch in term for ch in ".?*[")
    if not groups or special:
        hosts = _match_names(list(inventory.hosts), term)
        results.extend(h for h in hosts if h not in results)
        if not hosts and not groups and term in LOCALHOST:
            results.append(term)
    return results


def select(inventory: Inventory, pattern: str) -> list[Host]:
    """The hosts of `pattern`, in Ansible's order."""
    terms = split_pattern(pattern)
    positive = [t for t in terms if not t.startswith(("&", "!"))]
    intersect = [t[1:] for t in terms if t.startswith("&")]
    exclude = [t[1:] for t in terms if t.startswith("!")]
    if not positive and (intersect or exclude):
        positive = ["all"]
    names: list[str] = []
    for term in positive:
        names.extend(n for n in match_term(inventory, term) if n not in names)
    for term in intersect:
        keep = set(match_term(inventory, term))
        names = [n for n in names if n in keep]
    for term in exclude:
        drop = set(match_term(inventory, term))
        names = [n for n in names if n not in drop]
    hosts = []
    for n in names:
        host = inventory.get_host(n)
        if host is not None:
            hosts.append(host)
    return hosts


def unmatched_terms(inventory: Inventory, pattern: str) -> list[str]:
    """Positive terms that match nothing (worth a warning: probably a typo)."""
    out = []
    for term in split_pattern(pattern):
        bare = term.lstrip("&!")
        if not match_term(inventory, bare):
            out.append(bare)
    return out
