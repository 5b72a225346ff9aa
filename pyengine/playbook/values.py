"""Coercion of keyword values with precise errors (the loader's small vocabulary)."""

from __future__ import annotations

import re
from typing import Any

from pyengine.booleans import boolean_word
from pyengine.errors import PlaybookError
from pyengine.origin import Origin
from pyengine.templating import check_syntax, is_template
from pyengine.yamlload import item_origin, origin_of

IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


class Problems:
    """Collects every PlaybookError of one load (all are reported, not only the first)."""

    def __init__(self) -> None:
        self.errors: list[PlaybookError] = []
        self.warnings: list[str] = []

    def warn(self, message: str, where: Origin | None) -> None:
        text = f"{where}: {message}" if where else message
        if text not in self.warnings:
            self.warnings.append(text)

    def add(self, message: str, where: Origin | None, hint: str = "") -> None:
        self.errors.append(PlaybookError(
            message, where.file if where else None,
            where.line if where and where.line else None,
            where.column if where and where.column else None, hint))

    def extend(self, errors: list[PlaybookError]) -> None:
        self.errors.extend(errors)


def type_name(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "a mapping"
    return type(value).__name__


def as_bool(value: Any, key: str, where: Origin | None, problems: Problems) -> bool | str | None:
    """A boolean keyword: true/false/yes/no, or a template rendered at run time."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        word = boolean_word(value)
        if word is not None:
            return word
        if is_template(value):
            template(value, where, problems)
            return str(value)
    problems.add(f"'{key}' must be a boolean (true/false), got {type_name(value)}", where)
    return None


def as_str(value: Any, key: str, where: Origin | None, problems: Problems) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        template(str(value), where, problems)
        return str(value)
    problems.add(f"'{key}' must be a string, got {type_name(value)}", where)
    return None


def as_int(value: Any, key: str, where: Origin | None, problems: Problems) -> int | str | None:
    if value is None:
        return None
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if isinstance(value, str):
        if re.fullmatch(r"\s*\d+\s*", value):
            return int(value)
        if is_template(value):
            template(value, where, problems)
            return str(value)
    problems.add(f"'{key}' must be an integer, got {type_name(value)}", where)
    return None


def as_list_of_str(value: Any, key: str, where: Origin | None, problems: Problems,
                   split_commas: bool = False) -> list[str]:
    """A string or a list of strings (tags may be 'a,b')."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for i, item in enumerate(items):
        if isinstance(item, (str, int, float)) and not isinstance(item, bool):
            text = str(item)
            if split_commas and not is_template(text):
                out.extend(t.strip() for t in text.split(",") if t.strip())
            else:
                out.append(text)
        else:
            problems.add(f"'{key}' must be a string or a list of strings, found "
                         f"{type_name(item)}", item_origin(items, i, where))
    return out


def as_conditions(value: Any, key: str, where: Origin | None, problems: Problems) -> list[str]:
    """`when`-style: a string, a bool or a list of them; each checked as a jinja2 expression."""
    if value is None:
        return []
    items = value if isinstance(value, list) else [value]
    out: list[str] = []
    for i, item in enumerate(items):
        at = origin_of(item) or item_origin(items, i, where)
        if isinstance(item, bool):
            out.append("True" if item else "False")
        elif isinstance(item, (str, int, float)):
            text = str(item)
            problem = check_syntax(text, expression=True)
            if problem:
                problems.add(f"{problem} in '{key}: {text}'", at)
            out.append(text)
        else:
            problems.add(f"'{key}' must be a condition (string) or a list of conditions, found "
                         f"{type_name(item)}", at)
    return out


def as_vars(value: Any, key: str, where: Origin | None, problems: Problems) -> dict[str, Any]:
    """A variables mapping; names must be identifiers. A list of mappings is merged."""
    if value is None:
        return {}
    if isinstance(value, list) and all(isinstance(v, dict) for v in value):
        merged: dict[str, Any] = {}
        for item in value:
            merged.update(as_vars(item, key, where, problems))
        return merged
    if not isinstance(value, dict):
        problems.add(f"'{key}' must be a mapping of variable names to values, got "
                     f"{type_name(value)}", where)
        return {}
    from pyengine.yamlload import key_origin

    for name in value:
        if not isinstance(name, str) or not IDENTIFIER.match(name):
            problems.add(f"invalid variable name {name!r} in '{key}' (letters, digits and _ "
                         f"only, not starting with a digit)", key_origin(value, name, where))
    templates(value, where, problems)
    return value


def template(text: str, where: Origin | None, problems: Problems) -> None:
    if isinstance(text, str):
        problem = check_syntax(text)
        if problem:
            problems.add(f"{problem} in {text.strip()!r}"[:300], origin_of(text, where))


def templates(value: Any, where: Origin | None, problems: Problems) -> None:
    """Syntax-check every template string inside `value`."""
    if isinstance(value, str):
        template(value, where, problems)
    elif isinstance(value, dict):
        from pyengine.yamlload import value_origin

        for k, v in value.items():
            templates(v, value_origin(value, k, where), problems)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            templates(v, item_origin(value, i, where), problems)
