"""Evaluate template cases with the installed ansible-core (run as a subprocess).

Reads a JSON list of cases on stdin, writes {id: {"value": ...} | {"error": "..."}} on
stdout. One process evaluates every case, so the parity test pays ansible-core's import
cost once. Only public entry points of ansible-core are used where they exist; `with_*`
loops go through the same lookup call the task executor makes.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from typing import Any


def _trusted(value: Any) -> Any:
    """Variables from a playbook's YAML are trusted templates in ansible-core 2.19."""
    from ansible.template import trust_as_template

    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def _plain(value: Any) -> Any:
    """JSON-able, keeping the distinctions a playbook sees (str vs int, list vs dict)."""
    if value is None or isinstance(value, (bool, int, float)):
        return value
    if isinstance(value, str):
        return str(value)
    if isinstance(value, dict):
        return {"__dict__": [[_plain(k), _plain(v)] for k, v in value.items()]}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    from collections.abc import Mapping, Sequence

    if isinstance(value, Mapping):
        return {"__dict__": [[_plain(k), _plain(v)] for k, v in value.items()]}
    if isinstance(value, Sequence):
        return [_plain(v) for v in value]
    return {"__type__": type(value).__name__, "str": str(value)}


def _evaluate(templar: Any, case: dict[str, Any]) -> Any:
    from ansible._internal._datatag._utils import str_problematic_strip
    from ansible._internal._templating._jinja_plugins import _DirectCall, _invoke_lookup
    from ansible.template import trust_as_template

    kind = case.get("kind", "yaml")
    if kind == "yaml":
        return templar.template(_trusted(case["template"]))
    if kind == "file":
        return templar.template(trust_as_template(case["template"]), escape_backslashes=False,
                                overrides=dict(case.get("overrides") or {}))
    if kind == "when":
        return templar.evaluate_conditional(_trusted(case["template"]))
    if kind == "loop":
        return templar.template(_trusted(case["template"]))
    if kind == "with":
        terms = _trusted(case["template"])
        engine = templar._engine
        if isinstance(terms, str):
            terms = engine.resolve_to_container(str_problematic_strip(terms))
        if not isinstance(terms, list):
            terms = [terms]

        @_DirectCall.mark
        def invoke_lookup() -> Any:
            return _invoke_lookup(plugin_name=case["lookup"], lookup_terms=terms,
                                  lookup_kwargs=dict(wantlist=True), invoked_as_with=True)

        from ansible._internal._task import TaskContext
        from ansible.playbook.task import Task

        task = Task()
        task.action = case.get("action", "debug")  # first_found picks its folder by it
        with TaskContext(task=task):
            return engine.evaluate_expression(trust_as_template("invoke_lookup()"),
                                              local_variables=dict(invoke_lookup=invoke_lookup))
    raise ValueError(f"unknown case kind {kind!r}")


def main() -> int:
    warnings.simplefilter("ignore")
    os.environ.setdefault("ANSIBLE_DEPRECATION_WARNINGS", "false")
    from ansible.parsing.dataloader import DataLoader
    from ansible.plugins.loader import init_plugin_loader
    from ansible.template import Templar

    init_plugin_loader()  # as the ansible CLI does: collections become visible
    request = json.load(sys.stdin)
    loader = DataLoader()
    loader.set_basedir(request["basedir"])
    out: dict[str, Any] = {}
    for case in request["cases"]:
        variables = {**request.get("vars", {}), **(case.get("vars") or {})}
        templar = Templar(loader=loader, variables=_trusted(variables))
        try:
            out[case["id"]] = {"value": _plain(_evaluate(templar, case))}
        except Exception as err:  # noqa: BLE001 - every failure is a result to compare
            out[case["id"]] = {"error": f"{type(err).__name__}: {str(err).splitlines()[0]}"}
    json.dump(out, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
