"""Roles in the standard layout: tasks/, handlers/, defaults/, vars/, meta/ dependencies.

A role is found as Ansible finds it (pyengine/content/roles.py: collections by FQCN or
through `collections:`, `roles/` beside the playbook, the roles path, ...), then in the
built-in `playbooks/roles`. A role does not inherit the play's `collections:`: its
tasks resolve short names in its own collection first, then in the collections its
meta/main.yml lists, as in Ansible. Its tasks become the play's role tasks (each with
`Task.role` set); its handlers join the play's handlers. A role runs once per play
unless it is listed again with other parameters (or `allow_duplicates: true`).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from pyengine.content.roles import FoundRole, find_role, known_roles, searched_places
from pyengine.errors import did_you_mean
from pyengine.playbook import keywords
from pyengine.playbook.context import LoadContext
from pyengine.playbook.model import Origin, RoleRef, Task, TaskOrBlock
from pyengine.playbook.scope import Scope
from pyengine.playbook.tasks import (
    _own_keywords,
    collection_list,
    load_tasks_into,
    parse_task_list,
)
from pyengine.playbook.values import as_vars, type_name
from pyengine.templating import is_template, wrap_unsafe
from pyengine.yamlload import YDict, item_origin, key_origin, merged, origin_of, value_origin

YAML_EXTS = ("", ".yml", ".yaml", ".json")


def main_file(role_path: Path, sub: str, stem: str = "main") -> list[Path]:
    """The files of `sub/stem` ('main.yml', or every file of a 'main/' folder, sorted)."""
    folder = role_path / sub
    for ext in YAML_EXTS:
        candidate = folder / f"{stem}{ext}"
        if candidate.is_file():
            return [candidate]
    as_dir = folder / stem
    if as_dir.is_dir():
        return sorted(f for f in as_dir.rglob("*") if f.is_file()
                      and f.suffix in (".yml", ".yaml", ".json") and not f.name.startswith("."))
    return []


def _load_vars_files(files: list[Path], ctx: LoadContext) -> dict[str, Any]:
    parts = []
    for f in files:
        data = ctx.load(f)
        if data is None:
            continue
        parts.append(as_vars(data, f.name, origin_of(data, Origin(str(f))), ctx.problems))
    return merged(*parts)


def parse_role_entry(entry: Any, ctx: LoadContext, where: Origin | None
                     ) -> tuple[str, dict[str, Any], dict[str, Any]] | None:
    """(role name, params, inheritable keywords) of one `roles:` item."""
    p = ctx.problems
    where = origin_of(entry, where)
    if isinstance(entry, str):
        return entry, {}, {}
    if not isinstance(entry, dict):
        p.add(f"a role entry must be a name or a mapping with 'role', got {type_name(entry)}",
              where)
        return None
    name = entry.get("role", entry.get("name"))
    if not isinstance(name, str) or not name:
        p.add("a role entry needs 'role: NAME'", where)
        return None
    if is_template(name):
        p.add(f"role name {name!r} cannot be templated (roles load with the playbook; "
              f"use include_role)", value_origin(entry, "role", where))
        return None
    params = YDict()
    for key, value in entry.items():
        if key in ("role", "name"):
            continue
        if key in keywords.ROLE_ENTRY:
            continue
        if not isinstance(key, str) or not key.isidentifier():
            p.add(f"invalid role parameter {key!r}", key_origin(entry, key, where))
            continue
        params[key] = value
        params.key_origins[key] = key_origin(entry, key, where) or Origin("?")
    own = _own_keywords(entry, ctx, where)
    if own.pop("collections", None):
        p.warn("'collections' on a role entry has no effect (as in Ansible, a role uses its "
               "own collection and its meta/main.yml list)", key_origin(entry, "collections",
                                                                      where))
    # `vars:` on a role entry act like parameters (Ansible gives them role-param precedence).
    return name, merged(params, own.pop("vars", {}) or {}), own


def load_role(name: str, params: dict[str, Any], own: dict[str, Any], scope: Scope,
              ctx: LoadContext, where: Origin | None, tasks_from: str = "main",
              vars_from: str = "main", defaults_from: str = "main",
              handlers_from: str = "main", depth: int = 0,
              role_basedir: Path | None = None) -> list[TaskOrBlock]:
    """Load role `name` (and its dependencies first); returns its tasks, records handlers.
    `scope.collections` is the search list for a short name; `role_basedir` the folder
    of the role that depends on this one."""
    p = ctx.problems
    if depth > 20:
        p.add(f"role dependencies of '{name}' nest too deeply (a cycle?)", where)
        return []
    found = find_role(name, ctx.basedir, scope.collections, role_basedir)
    if found is None:
        hint = did_you_mean(name, known_roles(ctx.basedir, scope.collections))
        looked = searched_places(ctx.basedir, scope.collections, role_basedir)
        p.add(f"role '{name}' not found (looked in {looked})", where, hint)
        return []
    path = found.path
    if str(path) in ctx.role_chain:
        chain = [Path(r).name for r in ctx.role_chain[ctx.role_chain.index(str(path)):]]
        p.add(f"role dependency cycle: {' -> '.join([*chain, path.name])}", where)
        return []
    ctx.role_chain.append(str(path))
    try:
        return _load_role_at(found, name, params, own, scope, ctx, where, tasks_from,
                             vars_from, defaults_from, handlers_from, depth)
    finally:
        ctx.role_chain.pop()


def _load_role_at(found: FoundRole, name: str, params: dict[str, Any], own: dict[str, Any],
                  scope: Scope, ctx: LoadContext, where: Origin | None, tasks_from: str,
                  vars_from: str, defaults_from: str, handlers_from: str, depth: int
                  ) -> list[TaskOrBlock]:
    p = ctx.problems
    path = found.path
    meta_files = main_file(path, "meta")
    meta: Any = ctx.load(meta_files[0]) if meta_files else None
    allow_duplicates = False
    deps: list[Any] = []
    meta_collections: list[str] = []
    if isinstance(meta, dict):
        allow_duplicates = bool(meta.get("allow_duplicates", False))
        if meta.get("collections") is not None:
            meta_collections = collection_list(
                meta["collections"], value_origin(meta, "collections", origin_of(meta)), p)
        raw_deps = meta.get("dependencies") or []
        if isinstance(raw_deps, list):
            deps = raw_deps
        else:
            p.add("'dependencies' must be a list of roles",
                  value_origin(meta, "dependencies", origin_of(meta)))
    elif meta is not None:
        p.add(f"meta/main.yml must be a mapping, got {type_name(meta)}", origin_of(meta))

    key = (str(path.resolve()), json.dumps(params, sort_keys=True, default=str) + tasks_from)
    if key in ctx.roles_seen and not allow_duplicates:
        return []
    defaults = _load_vars_files(main_file(path, "defaults", defaults_from), ctx)
    role_vars = _load_vars_files(main_file(path, "vars", vars_from), ctx)
    ref = RoleRef(name=found.name, path=path, defaults=defaults, vars=role_vars,
                  params=merged(params), collection=found.collection)
    own_collections = role_collections(found.collection, meta_collections)
    ctx.roles_seen[key] = ref

    out: list[TaskOrBlock] = []
    inner_own = dict(own)
    for i, dep in enumerate(deps):
        parsed = parse_role_entry(dep, ctx, item_origin(deps, i, origin_of(deps)))
        if parsed is None:
            continue
        dep_name, dep_params, dep_own = parsed
        dep_scope = scope.child(**{k: v for k, v in inner_own.items() if k != "role"})
        # Dependencies are looked for in this role's collection and its meta collections
        # first, then the role paths and this role's folder (Ansible's metadata.py).
        dep_scope.collections = [c for c in own_collections if c != "ansible.builtin"]
        if "ansible.legacy" not in dep_scope.collections:
            dep_scope.collections.append("ansible.legacy")
        out.extend(load_role(dep_name, dep_params, dep_own, dep_scope, ctx,
                             origin_of(dep, where), depth=depth + 1,
                             role_basedir=path.parent))
    ctx.role_refs.append(ref)
    role_scope = scope.child(**inner_own, role=ref)
    role_scope.collections = own_collections
    task_files = main_file(path, "tasks", tasks_from)
    if not task_files and tasks_from != "main":
        p.add(f"role '{name}' has no tasks/{tasks_from}.yml", where)
    out.extend(_argument_spec_task(path, meta, ref, tasks_from, role_scope, ctx))
    for f in task_files:
        out.extend(load_tasks_into(f, role_scope, ctx, where))
    for f in main_file(path, "handlers", handlers_from):
        handler_scope = Scope(role=ref, become=role_scope.become,
                              environment=role_scope.environment,
                              check_mode=role_scope.check_mode, diff=role_scope.diff,
                              collections=own_collections)
        handlers = load_tasks_into(f, handler_scope, ctx, where, handlers=True)
        for handler in handlers:
            if isinstance(handler, Task):
                _role_topics(handler, ref)
        ctx.role_handlers.extend(handlers)
    return out


def _role_topics(handler: Task, ref: RoleRef) -> None:
    """A role's handler also answers to 'role : name' and 'role : topic', by the role's
    short name and by its FQCN (Ansible's Handler._validate_listen), so a task can
    notify it unambiguously; the executor matches them as listen topics."""
    own = ([handler.name] if handler.name else []) + list(handler.listen)
    for label in dict.fromkeys((ref.name, ref.fqcn)):
        for topic in own:
            qualified = f"{label} : {topic}"
            if qualified not in handler.listen:
                handler.listen.append(qualified)


def _argument_spec_task(path: Path, meta: Any, ref: RoleRef, entry_point: str,
                        scope: Scope, ctx: LoadContext) -> list[TaskOrBlock]:
    """Ansible's first task of a role with an argument spec for its entry point
    (meta/argument_specs.yml, or `argument_specs` in meta/main.yml): check the role's
    variables and parameters against it, tagged `always`."""
    specs: Any = None
    where: Origin | None = None
    for ext in (".yml", ".yaml"):
        spec_file = path / "meta" / f"argument_specs{ext}"
        if spec_file.is_file():
            loaded = ctx.load(spec_file)
            where = origin_of(loaded, Origin(str(spec_file)))
            specs = loaded.get("argument_specs") if isinstance(loaded, dict) else None
            break
    else:
        if isinstance(meta, dict) and "argument_specs" in meta:
            specs = meta["argument_specs"]
            where = value_origin(meta, "argument_specs", origin_of(meta))
    if specs is None:
        return []
    if not isinstance(specs, dict):
        ctx.problems.add(f"'argument_specs' must map entry points to specs, got "
                         f"{type_name(specs)}", where)
        return []
    spec = specs.get(entry_point)
    if not isinstance(spec, dict):
        return []
    options = spec.get("options") or {}
    if not isinstance(options, dict):
        ctx.problems.add(f"argument_specs.{entry_point}.options must be a mapping, got "
                         f"{type_name(options)}", value_origin(specs, entry_point, where))
        return []
    name = f"Validating arguments against arg spec '{entry_point}'"
    if spec.get("short_description"):
        name += f" - {spec['short_description']}"
    task = {
        "name": name,
        "ansible.builtin.validate_argument_spec": {
            # Descriptions are text, never templates: kept out of rendering.
            "argument_spec": wrap_unsafe(dict(options)),
            "provided_arguments": dict(ref.params),
            "validate_args_context": {"type": "role", "name": ref.fqcn,
                                      "argument_spec_name": entry_point, "path": str(path)},
        },
        "tags": ["always"],
    }
    origin = where or Origin(str(path / "meta"))
    return parse_task_list([task], scope, ctx, Path(origin.file), origin)


def role_collections(collection: str | None, meta_collections: list[str]) -> list[str]:
    """The `collections:` list inside a role: its own collection first, then its meta's;
    ansible.builtin closes the list of a collection role, ansible.legacy that of another
    (Ansible's Role._load_role_data)."""
    out = [collection] if collection else []
    out.extend(c for c in meta_collections if c not in out)
    if out and not set(out) & {"ansible.builtin", "ansible.legacy"}:
        out.append("ansible.builtin" if collection else "ansible.legacy")
    return out


def parent_role_vars(parent: RoleRef | None) -> dict[str, Any]:
    """`ansible_parent_role_names`/`_paths` for a role that `parent` includes or imports
    (nearest parent first, as Ansible sets them); empty outside a role."""
    if parent is None:
        return {}
    return {
        "ansible_parent_role_names": [parent.fqcn, *parent.params.get(
            "ansible_parent_role_names", [])],
        "ansible_parent_role_paths": [str(parent.path), *parent.params.get(
            "ansible_parent_role_paths", [])],
    }


def import_role(args: dict[str, Any], own: dict[str, Any], scope: Scope, ctx: LoadContext,
                origin: Origin) -> list[TaskOrBlock]:
    """`import_role:` inlines the role where the task stands."""
    name = args.get("name")
    if not isinstance(name, str) or not name:
        return []
    if is_template(name):
        ctx.problems.add(f"import_role cannot take a templated role name {name!r} "
                         f"(use include_role)", origin)
        return []
    params = {**dict(own.pop("vars", {}) or {}), **parent_role_vars(scope.role)}
    return load_role(name, params, own, scope, ctx, origin,
                     tasks_from=str(args.get("tasks_from", "main")),
                     vars_from=str(args.get("vars_from", "main")),
                     defaults_from=str(args.get("defaults_from", "main")),
                     handlers_from=str(args.get("handlers_from", "main")))
