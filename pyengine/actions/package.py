"""Install or remove packages with the host's own package manager, as Ansible's `package` does.

A portable task for mixed fleets. Like Ansible's package action, this picks the
backend module from `use` or the host's `ansible_pkg_mgr` fact and hands it every
argument but `use`: `enablerepo`, `disable_plugin`, `update_cache`,
`install_recommends`, ... reach `dnf`/`yum`/`apt` untouched and are checked
against that module's arguments (a wrong one is an error naming the backend).
The call travels in the batch like any module task.
"""

from __future__ import annotations

from typing import Any

ARGS = {
    "name": {"type": "list", "elements": "str", "required": True, "aliases": ["pkg"],
             "help": "Package names (and whatever the backend accepts there)."},
    "state": {"type": "str", "default": "present",
              "help": "present/installed, latest, absent/removed, or another state the "
                      "backend knows."},
    "use": {"type": "str", "default": "auto",
            "help": "The backend module (apt, dnf, yum, ...); auto reads ansible_pkg_mgr."},
}
ANY_ARGS = True  # every other argument belongs to the backend module
KIND = "transform"

# ansible_pkg_mgr values whose module has another name here.
_BACKEND_NAMES = {"dnf5": "dnf"}
# Plain states every backend here understands, for modules that only know these words.
_PLAIN_STATES = {"apt": {"installed": "present", "removed": "absent"}}


def backend_for(use: str, facts: Any) -> str:
    """The backend module: `use` unless auto, else the host's ansible_pkg_mgr fact."""
    name = str(use or "auto")
    if name == "auto":
        name = str(facts.get("ansible_pkg_mgr") or "")
        if not name or name == "unknown":
            ansible_facts = facts.get("ansible_facts") or {}
            name = str(ansible_facts.get("pkg_mgr") or "")
    return _BACKEND_NAMES.get(name, name)


def transform(ctx: Any) -> list[tuple[str, dict[str, Any]]]:
    from pyengine.actions.base import ActionFailed
    from pyengine.modspec import find_module

    backend = backend_for(ctx.args.get("use", "auto"), ctx.variables)
    if not backend or backend == "unknown":
        raise ActionFailed('Could not detect which package manager to use. Try gathering '
                           'facts or setting the "use" option.')
    spec = find_module(backend, [ctx.basedir])
    if spec is None or spec.kind != "module" or backend == "package":
        raise ActionFailed(f"package: no module for the package manager {backend!r} "
                           f"(set use: to apt, dnf or yum, or install its module)")
    args = {k: v for k, v in ctx.args.items() if k != "use"}
    state = args.get("state")
    if isinstance(state, str):
        args["state"] = _PLAIN_STATES.get(backend, {}).get(state, state)
    return [(backend, args)]
