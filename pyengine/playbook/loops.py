"""`loop` and the older `with_<lookup>` forms, as one `loop` value.

The executor only knows `loop`: a list, a template that renders to one, or a
`WithLoop` (the templar renders it to its items). `with_X: terms` is Ansible's lookup X
run on the rendered terms, so it is kept as exactly that instead of being rewritten into
an approximate filter chain: `with_items` flattens one level, `with_flattened` all levels,
`with_first_found` searches the folders Ansible searches, and any lookup of an installed
collection works too (`with_community.general.flattened`).
"""

from __future__ import annotations

from typing import Any

from pyengine.errors import did_you_mean
from pyengine.playbook import keywords
from pyengine.playbook.context import LoadContext
from pyengine.playbook.model import Origin
from pyengine.playbook.values import templates, type_name
from pyengine.templating import is_template
from pyengine.templating.lookups import LOOKUPS, WithLoop
from pyengine.templating.plugins import is_collection_name
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
    lookup = key[len("with_"):]
    if not _known_lookup(lookup):
        p.add(f"unknown loop keyword '{key}'",
              key_origin(data, key, where), did_you_mean(key, keywords.WITH_LOOPS))
        return None
    templates(value, at, p)
    return WithLoop(lookup, value, _first_found_subdir(data))


def _known_lookup(name: str) -> bool:
    """A builtin lookup, or `namespace.collection.name` (found when the loop runs, as in
    Ansible, so a branch that never runs needs no collection)."""
    short = name
    for prefix in ("ansible.builtin.", "ansible.legacy."):
        if name.startswith(prefix):
            short = name[len(prefix):]
    return short in LOOKUPS or is_collection_name(name)


def _first_found_subdir(data: dict[str, Any]) -> str:
    """Where `with_first_found` looks first: Ansible picks templates/, vars/ or files/ by
    whether the task's action name holds 'template', 'var' or 'file' (else files/)."""
    action = next((str(k) for k in data if k not in keywords.TASK
                   and not str(k).startswith("with_")), "")
    if "action" in data or "local_action" in data:
        spec = data.get("action", data.get("local_action"))
        action = str(spec.get("module", "")) if isinstance(spec, dict) \
            else (str(spec).split() or [""])[0]
    for word in ("template", "var", "file"):
        if word in action:
            return word + "s"
    return "files"


