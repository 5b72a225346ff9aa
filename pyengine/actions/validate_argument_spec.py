"""Check variables against an argument spec (a role's meta/argument_specs.yml).

Ansible puts this task in front of a role's tasks when the role has an argument spec
for its entry point ("Validating arguments against arg spec 'main'"); pyengine's
role loader does the same, so a role's variables are checked as they are under Ansible.
The checks follow Ansible's module argument rules, written here from their
documentation: types convert where Ansible converts (anything becomes a `str`, "5" an
`int`, "a,b" a `list`, "yes" a `bool`, "k=v" or JSON a `dict`), `required`,
`choices`, `elements`, nested `options` (with their own `required`, and unknown keys
refused), and role parameters that the spec does not name are refused.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from pyengine.actions.base import ActionContext, ActionFailed
from pyengine.modspec import TYPES, TypeProblem, convert

ARGS = {
    "argument_spec": {"type": "dict", "required": True,
                      "help": "Option name -> {type, required, choices, elements, options, "
                              "aliases, default}, as in meta/argument_specs.yml."},
    "provided_arguments": {"type": "dict", "default": {},
                           "help": "Values to check besides the variables the spec names "
                                   "(a role's parameters)."},
    "validate_args_context": {"type": "dict", "default": {},
                              "help": "What is validated (shown in the result)."},
}
KIND = "local"


class _Bad(Exception):
    pass


def _to_type(value: Any, wanted: str) -> Any:
    """Ansible's conversion for `wanted` (the module argument rules, pyengine.modspec), or
    _Bad; types pyengine does not check (bits, bytes, json, jsonarg) pass as they are."""
    if wanted not in TYPES:
        return value
    if wanted in ("str", "path") and value is None:
        return ""
    try:
        return convert(value, wanted)
    except TypeProblem as err:
        raise _Bad(str(err)) from None


def validate(spec: Mapping[str, Any], values: Mapping[str, Any], where: str = "",
             refuse_unknown: bool = True) -> list[str]:
    """Every problem of `values` against `spec` (one message each)."""
    errors: list[str] = []
    prefix = f" found in {where}" if where else ""
    aliases = {a: name for name, opt in spec.items() if isinstance(opt, Mapping)
               for a in opt.get("aliases", []) or []}
    given: dict[str, Any] = {}
    for key, value in values.items():
        name = aliases.get(key, key)
        if name not in spec:
            if refuse_unknown:
                errors.append(f"unsupported parameter '{key}'{prefix} (known: "
                              f"{', '.join(sorted(spec))})")
            continue
        given[name] = value
    for name, opt in spec.items():
        opt = opt if isinstance(opt, Mapping) else {}
        if name not in given:
            if opt.get("required"):
                errors.append(f"missing required argument '{name}'{prefix}")
            continue
        value = given[name]
        if value is None and not opt.get("required"):
            continue
        wanted = str(opt.get("type") or "str")
        try:
            value = _to_type(value, wanted)
        except _Bad as bad:
            errors.append(f"argument '{name}'{prefix} is of type {type(value).__name__} and "
                          f"{bad}")
            continue
        elements = opt.get("elements")
        if elements and isinstance(value, list):
            converted = []
            for i, item in enumerate(value):
                try:
                    converted.append(_to_type(item, str(elements)))
                except _Bad as bad:
                    errors.append(f"element {i} of '{name}'{prefix} {bad}")
            value = converted
        choices = opt.get("choices")
        if choices:
            shown = [str(c) for c in choices]
            for item in value if isinstance(value, list) else [value]:
                if item not in choices and str(item) not in shown:
                    errors.append(f"value of '{name}'{prefix} must be one of: "
                                  f"{', '.join(shown)}, got: {item}")
        sub = opt.get("options")
        if isinstance(sub, Mapping):
            inner = f"{where} -> {name}" if where else name
            items = value if isinstance(value, list) else [value]
            for item in items:
                if isinstance(item, Mapping):
                    errors.extend(validate(sub, item, inner))
    return errors


def run(ctx: ActionContext) -> dict[str, Any]:
    spec = ctx.args.get("argument_spec") or {}
    provided = ctx.args.get("provided_arguments") or {}
    context = ctx.args.get("validate_args_context") or {}
    if not isinstance(spec, Mapping) or not isinstance(provided, Mapping):
        raise ActionFailed("argument_spec and provided_arguments must be mappings")
    values: dict[str, Any] = {}
    for name in spec:
        if isinstance(name, str) and name.isidentifier() and name in ctx.variables:
            values[name] = ctx.templar.render("{{ " + name + " }}")
    # Names the spec does not know are refused among the provided arguments only (the
    # variables are looked up by the spec's names).
    known = set(spec) | {a for opt in spec.values() if isinstance(opt, Mapping)
                         for a in opt.get("aliases", []) or []}
    errors = [f"unsupported parameter '{k}' (known: {', '.join(sorted(map(str, spec)))})"
              for k in provided if k not in known]
    errors += validate(spec, {**values, **provided}, refuse_unknown=False)
    if errors:
        raise ActionFailed("Validation of arguments failed:\n" + "\n".join(errors),
                           argument_errors=errors, validate_args_context=dict(context))
    return {"changed": False, "msg": "The arg spec validation passed",
            "validate_args_context": dict(context)}
