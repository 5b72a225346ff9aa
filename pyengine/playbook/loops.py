"""`loop` and the older `with_<lookup>` forms, rewritten to one `loop` value.

The executor only knows `loop` (a list, or a template that renders to one), so the
loader turns `with_items: "{{ pkgs }}"` into `"{{ (pkgs) | flatten(levels=1) }}"`,
`with_dict` into `dict2items`, `with_sequence` into a literal list, and so on, the way
Ansible's "Migrating from with_X to loop" guide does by hand.
"""

from __future__ import annotations

import re
from typing import Any

from pyengine.errors import did_you_mean
from pyengine.playbook import keywords
from pyengine.playbook.context import LoadContext
from pyengine.playbook.model import Origin
from pyengine.playbook.values import templates, type_name
from pyengine.templating import is_template
from pyengine.yamlload import key_origin, value_origin


def parse_loop(data: dict[str, Any], ctx: LoadContext, where: Origin | None) -> Any:
    """The `loop` of a task: `loop:` checked, or a `with_*` form rewritten to one."""
    p = ctx.problems
    with_keys = [k for k in data if k.startswith("with_")]
    if "loop" in data and with_keys:
        p.add(f"'loop' and '{with_keys[0]}' cannot be used together",
              key_origin(data, with_keys[0], where))
        return None
    if len(with_keys) > 1:
        p.add(f"only one with_* loop per task, found {', '.join(with_keys)}",
              key_origin(data, with_keys[1], where))
        return None
    if "loop" in data:
        value = data["loop"]
        at = value_origin(data, "loop", where)
        if isinstance(value, list) or (isinstance(value, str) and is_template(value)):
            templates(value, at, p)
            return value
        p.add(f"'loop' must be a list or a template that renders to one, got "
              f"{type_name(value)}", at, " (use with_items for the old bare-variable form)"
              if isinstance(value, str) else "")
        return None
    if not with_keys:
        return None
    key = with_keys[0]
    value = data[key]
    at = value_origin(data, key, where)
    if key not in keywords.WITH_LOOPS:
        p.add(f"unknown loop keyword '{key}'", key_origin(data, key, where),
              did_you_mean(key, keywords.WITH_LOOPS))
        return None
    templates(value, at, p)
    expr = None
    if isinstance(value, str) and is_template(value):
        inner = value.strip()
        if inner.startswith("{{") and inner.endswith("}}") and inner.count("{{") == 1:
            expr = inner[2:-2].strip()
    if key in ("with_items", "with_flattened"):
        if isinstance(value, list):
            out: list[Any] = []
            for item in value:
                if isinstance(item, list):
                    out.extend(item)
                else:
                    out.append(item)
            return out
        if expr:
            return "{{ (" + expr + ") | flatten(levels=1) }}"
        return [value]
    if key == "with_list":
        return value if isinstance(value, list) else ("{{ " + expr + " }}" if expr else [value])
    if key == "with_dict":
        if isinstance(value, dict):
            return [{"key": k, "value": v} for k, v in value.items()]
        if expr:
            return "{{ (" + expr + ") | dict2items }}"
    if key == "with_together" and isinstance(value, list):
        return "{{ " + " | zip_longest(".join(["(" + _expr_of(v) + ")" for v in value[:1]]) + \
            "".join(f" | zip_longest({_expr_of(v)})" for v in value[1:]) + " }}" \
            if len(value) > 1 else value
    if key == "with_nested" and isinstance(value, list) and len(value) > 1:
        return "{{ (" + _expr_of(value[0]) + ") | product(" + \
            ", ".join(_expr_of(v) for v in value[1:]) + ") | list }}"
    if key == "with_subelements" and isinstance(value, list) and len(value) == 2:
        return "{{ (" + _expr_of(value[0]) + ") | subelements(" + repr(str(value[1])) + ") }}"
    if key == "with_indexed_items":
        source = _expr_of(value)
        return "{{ range((" + source + ") | length) | zip(" + source + ") | list }}"
    if key in ("with_fileglob", "with_first_found"):
        items = value if isinstance(value, list) else [value]
        lookup = key[len("with_"):]
        return "{{ query(" + repr(lookup) + ", " + ", ".join(_expr_of(v) for v in items) + ") }}"
    if key == "with_random_choice" and isinstance(value, list):
        return "{{ [" + _expr_of(value) + " | random] }}"
    if key == "with_sequence" and isinstance(value, str):
        sequence = _sequence(value)
        if sequence is not None:
            return sequence
    p.add(f"'{key}' with this value is not supported; write it with 'loop' "
          f"(see the Ansible 'Migrating from with_X to loop' guide)", at)
    return None


def _sequence(text: str) -> list[str] | None:
    """`with_sequence: start=1 end=4 format=web%02d` (or `count=4`) as a literal list."""
    args = dict(re.findall(r"(\w+)=(\S+)", text))
    if not args or any(is_template(v) for v in args.values()):
        return None
    try:
        start = int(args.get("start", "1"), 0)
        stride = int(args.get("stride", "1"), 0)
        end = start + (int(args["count"], 0) - 1) * stride if "count" in args \
            else int(args["end"], 0)
    except (KeyError, ValueError):
        return None
    if stride == 0:
        return None
    fmt = args.get("format", "%d")
    stop = end + (1 if stride > 0 else -1)
    try:
        return [fmt % i for i in range(start, stop, stride)]
    except (TypeError, ValueError):
        return None


def _expr_of(value: Any) -> str:
    """A jinja2 expression for a value written in YAML: `{{ x }}` -> `x`,
    `'{{ os }}.yml'` -> `(os) ~ '.yml'`, anything else its Python literal."""
    if isinstance(value, str) and is_template(value) and "{%" not in value:
        parts = re.split(r"\{\{(.*?)\}\}", value.strip(), flags=re.S)
        pieces = [repr(part) if i % 2 == 0 else f"({part.strip()})"
                  for i, part in enumerate(parts) if i % 2 == 1 or part]
        if len(pieces) == 1 and pieces[0].startswith("("):
            return pieces[0][1:-1]  # a lone {{ expr }}
        return " ~ ".join(pieces)
    if isinstance(value, str):
        return repr(str(value))
    return repr(_plain(value))


def _plain(value: Any) -> Any:
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, str):
        return str(value)
    return value
