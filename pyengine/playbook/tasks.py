"""Tasks, handlers and blocks: from YAML mappings to model objects, checking everything.

A task mapping holds keywords and exactly one action (a module, a controller action
or a flow action such as include_tasks). Every problem is recorded with its
file:line:column and parsing goes on, so one run reports all of them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyengine import modspec
from pyengine.content.ansible_modules import missing_message
from pyengine.content.collections import (
    BUILTIN as BUILTIN_COLLECTIONS,
)
from pyengine.content.collections import (
    COLLECTION_NAME,
    find_ansible_module,
    find_collection,
)
from pyengine.content.roles import find_role, known_roles
from pyengine.errors import did_you_mean
from pyengine.playbook import keywords
from pyengine.playbook.context import LoadContext
from pyengine.playbook.loops import parse_loop
from pyengine.playbook.model import Become, Block, Origin, Task, TaskOrBlock
from pyengine.playbook.scope import Scope
from pyengine.playbook.values import (
    IDENTIFIER,
    Problems,
    as_bool,
    as_conditions,
    as_int,
    as_list_of_str,
    as_str,
    as_vars,
    templates,
    type_name,
)
from pyengine.templating import is_template
from pyengine.yamlload import (
    item_origin,
    key_origin,
    merged,
    offset_origin,
    origin_of,
    value_origin,
)


def parse_task_list(data: Any, scope: Scope, ctx: LoadContext, file: Path, where: Origin | None,
                    what: str = "tasks", handlers: bool = False) -> list[TaskOrBlock]:
    """A list of tasks/blocks (None or an empty file is an empty list)."""
    if data is None:
        return []
    if not isinstance(data, list):
        ctx.problems.add(f"'{what}' must be a list of tasks, got {type_name(data)}",
                         origin_of(data, where))
        return []
    out: list[TaskOrBlock] = []
    for i, item in enumerate(data):
        out.extend(parse_task(item, scope, ctx, file, item_origin(data, i, where), handlers))
    return out


def _own_keywords(data: dict[str, Any], ctx: LoadContext, where: Origin | None
                  ) -> dict[str, Any]:
    """The inheritable keywords a task/block/role entry sets itself, coerced."""
    p = ctx.problems

    def at(key: str) -> Origin | None:
        return value_origin(data, key, where)

    own: dict[str, Any] = {}
    for key, why in keywords.WARN_IGNORED.items():
        if key in data and not (key == "poll" and data.get("async") is None):
            if key == "remote_user" and "hosts" in data:
                continue  # a play's remote_user is used (Play.remote_user)
            p.warn(f"'{key}' is accepted but ignored: {why}", key_origin(data, key, where))
    if data.get("connection") not in (None, "local") and "hosts" not in data:
        p.warn(f"'connection: {data['connection']}' on a task is ignored: set "
               f"ansible_connection in the inventory", key_origin(data, "connection", where))
    if "when" in data:
        own["when"] = as_conditions(data["when"], "when", at("when"), p)
    if "tags" in data:
        own["tags"] = set(as_list_of_str(data["tags"], "tags", at("tags"), p, split_commas=True))
    become = Become()
    if "become" in data:
        b = as_bool(data["become"], "become", at("become"), p)
        become.become = b if isinstance(b, bool) else None
    for key, attr in (("become_user", "user"), ("become_method", "method"),
                      ("become_flags", "flags")):
        if key in data:
            setattr(become, attr, as_str(data[key], key, at(key), p))
    if become.method not in (None, "sudo") and not is_template(become.method or ""):
        p.warn(f"become_method '{become.method}' is not supported: pyengine becomes with sudo",
               key_origin(data, "become_method", where))
    if any(k in data for k in ("become", "become_user", "become_method", "become_flags")):
        own["become"] = become
    if "environment" in data:
        env = data["environment"]
        if isinstance(env, dict) or (isinstance(env, str) and is_template(env)):
            templates(env, at("environment"), p)
            own["environment"] = env
        elif env is not None:
            p.add(f"'environment' must be a mapping of names to values, got {type_name(env)}",
                  at("environment"))
    if "vars" in data:
        own["vars"] = as_vars(data["vars"], "vars", at("vars"), p)
    for key in ("ignore_unreachable", "run_once", "any_errors_fatal"):
        if key in data:
            value = as_bool(data[key], key, at(key), p)
            own[key] = value if isinstance(value, bool) else None
    # check_mode/diff may be templates ("{{ mode == 'audit' }}"), rendered per host at run time.
    for key in ("check_mode", "diff", "ignore_errors", "no_log"):
        if key in data:
            own[key] = as_bool(data[key], key, at(key), p)
    if "delegate_to" in data:
        own["delegate_to"] = as_str(data["delegate_to"], "delegate_to", at("delegate_to"), p)
    if "notify" in data:
        own["notify"] = as_list_of_str(data["notify"], "notify", at("notify"), p)
    if data.get("collections") is not None:
        listed = collection_list(data["collections"], at("collections"), p)
        if listed:
            own["collections"] = listed
    return own


def collection_list(value: Any, where: Origin | None, p: Problems) -> list[str]:
    """A `collections:` keyword: 'namespace.name' strings, never templated (they are used
    while the playbook loads). As in Ansible, a non-empty list that names neither
    ansible.builtin nor ansible.legacy gets ansible.legacy appended."""
    names = as_list_of_str(value, "collections", where, p)
    out: list[str] = []
    for name in names:
        if is_template(name):
            p.add(f"'collections' cannot be templated ({name!r}): it is used while the "
                  f"playbook loads", where)
        elif not COLLECTION_NAME.match(name):
            p.add(f"'collections' items are collection names such as 'community.general', "
                  f"got {name!r}", where)
        elif name not in out:
            out.append(name)
    if out and not set(out) & {"ansible.builtin", "ansible.legacy"}:
        out.append("ansible.legacy")
    return out


def resolve_action_name(name: str, collections: list[str], ctx: LoadContext) -> str:
    """The module name to look up for `name` as written: a short name goes through the
    `collections:` list in order (a listed collection that has the module wins;
    ansible.builtin/ansible.legacy stand for pyengine's own lookup at that point)."""
    if "." in name or not collections:
        return name
    for collection in collections:
        if collection in BUILTIN_COLLECTIONS:
            return name
        candidate = f"{collection}.{name}"
        if find_ansible_module(candidate, (), ctx.basedir) is not None:
            return candidate
        if find_collection(collection, ctx.basedir) is None and \
                modspec.canonical_name(candidate) != candidate and \
                modspec.find_module(candidate, ctx.project_dirs) is not None:
            return candidate  # not installed, but pyengine has it natively under that name
    return name


def parse_task(data: Any, scope: Scope, ctx: LoadContext, file: Path, where: Origin | None,
               handlers: bool = False) -> list[TaskOrBlock]:
    """One list item of `tasks:`; import_tasks and import_role expand to several."""
    where = origin_of(data, where)
    if not isinstance(data, dict):
        ctx.problems.add(f"a task must be a mapping (keyword: value), got {type_name(data)}",
                         where)
        return []
    if not data:
        ctx.problems.add("empty task", where)
        return []
    for key in data:
        if not isinstance(key, str):
            ctx.problems.add(f"task keys must be strings, got {key!r}", key_origin(data, key))
            return []
    if any(k in data for k in ("block", "rescue", "always")):
        block = _parse_block(data, scope, ctx, file, where, handlers)
        return [block] if block else []
    return _parse_action_task(data, scope, ctx, file, where, handlers)


def _parse_block(data: dict[str, Any], scope: Scope, ctx: LoadContext, file: Path,
                 where: Origin | None, handlers: bool) -> Block | None:
    p = ctx.problems
    for key in data:
        if key not in keywords.BLOCK:
            hint = did_you_mean(key, keywords.BLOCK)
            if key in keywords.TASK or modspec.find_module(key, ctx.project_dirs):
                p.add(f"'{key}' is not allowed on a block (put it on a task inside)",
                      key_origin(data, key, where))
            else:
                p.add(f"unknown block keyword '{key}'", key_origin(data, key, where), hint)
    if "block" not in data:
        p.add("'rescue'/'always' without 'block'", where)
    own = _own_keywords(data, ctx, where)
    inner = scope.child(**own)
    name = as_str(data.get("name"), "name", value_origin(data, "name", where), p)
    parts = {}
    for key in ("block", "rescue", "always"):
        parts[key] = parse_task_list(data.get(key), inner, ctx, file,
                                     value_origin(data, key, where), key, handlers)
    if where is None:
        where = Origin(str(file))
    return Block(block=parts["block"], rescue=parts["rescue"], always=parts["always"],
                 origin=where, name=name)


def _find_action(data: dict[str, Any], ctx: LoadContext, where: Origin | None,
                 collections: list[str] | None = None
                 ) -> tuple[str, modspec.ModuleSpec, Any, Origin | None] | None:
    """(module key as written, spec, raw args value, where the args are) or None on error."""
    p = ctx.problems
    found: list[tuple[str, modspec.ModuleSpec, Any, Origin | None]] = []
    bad = False
    for key, value in data.items():
        if key in keywords.TASK or key.startswith("with_"):
            continue
        spec = modspec.find_module(resolve_action_name(key, collections or [], ctx),
                                   ctx.project_dirs)
        if spec is None:
            choices = set(keywords.TASK) | set(modspec.list_modules(ctx.project_dirs))
            short = modspec.canonical_name(key)
            hint = did_you_mean(short, choices)
            missing = missing_message(key, ctx.basedir)  # an FQCN: say what to install
            p.add(missing or f"unknown module or keyword '{key}'", key_origin(data, key, where),
                  "" if missing else hint)
            bad = True
            continue
        found.append((key, spec, value, value_origin(data, key, where)))
    for key in ("action", "local_action"):
        if key in data:
            value = data[key]
            at = value_origin(data, key, where)
            if isinstance(value, dict):
                value = dict(value)
                module = value.pop("module", None)
                raw: Any = value
            elif isinstance(value, str) and value.strip():
                module, _, rest = value.strip().partition(" ")
                raw = rest.strip() or None
            else:
                p.add(f"'{key}' must name a module, got {type_name(value)}", at)
                bad = True
                continue
            if not isinstance(module, str):
                p.add(f"'{key}' must name a module ('module: NAME' in the mapping form)", at)
                bad = True
                continue
            spec = modspec.find_module(resolve_action_name(module, collections or [], ctx),
                                       ctx.project_dirs)
            if spec is None:
                hint = did_you_mean(modspec.canonical_name(module),
                                    modspec.list_modules(ctx.project_dirs))
                p.add(missing_message(module, ctx.basedir) or f"unknown module '{module}'", at,
                      hint)
                bad = True
                continue
            found.append((key, spec, raw, at))
    if len(found) > 1:
        names = ", ".join(f"'{f[0]}'" for f in found)
        p.add(f"a task has exactly one action, found {names}", key_origin(data, found[1][0],
                                                                            where))
        return None
    if not found:
        if not bad:
            p.add("task has no action (module); keywords found: "
                  + ", ".join(str(k) for k in data), where)
        return None
    return found[0]


def _action_args(key: str, spec: modspec.ModuleSpec, raw: Any, data: dict[str, Any],
                 ctx: LoadContext, at: Origin | None
                 ) -> tuple[dict[str, Any], dict[str, Origin]] | None:
    """The module args as a dict (inline k=v split, free form placed) and their origins."""
    p = ctx.problems
    args: dict[str, Any] = {}
    origins: dict[str, Origin] = {}
    if raw is None:
        pass
    elif isinstance(raw, dict):
        for k, v in raw.items():
            args[str(k)] = v
            o = key_origin(raw, k, at)
            if o:
                origins[str(k)] = o
    elif isinstance(raw, (str, int, float)) and not isinstance(raw, bool):
        try:
            args, free = modspec.parse_kv(str(raw), spec)
        except ValueError as err:
            p.add(str(err), at)
            return None
        for k in args:
            found = str(raw).find(f"{k}=")
            where = offset_origin(raw, found) if found >= 0 else at
            if where:
                origins[k] = where
        if free is not None:
            if spec.free_form:
                args[spec.free_form] = free
            else:
                p.add(f"module '{spec.name}' takes key=value arguments, not free text "
                      f"{free[:60]!r}", at,
                      " (write them as 'name=value' or as a mapping)")
                return None
    else:
        p.add(f"arguments of '{key}' must be a mapping or 'key=value' text, got "
              f"{type_name(raw)}", at)
        return None
    if "args" in data:
        extra = data["args"]
        extra_at = value_origin(data, "args", at)
        if isinstance(extra, dict):
            for k, v in extra.items():
                if str(k) not in args:
                    args[str(k)] = v
                    o = key_origin(extra, k, extra_at)
                    if o:
                        origins[str(k)] = o
        else:
            p.add(f"'args' must be a mapping, got {type_name(extra)}", extra_at)
    return args, origins


def _parse_action_task(data: dict[str, Any], scope: Scope, ctx: LoadContext, file: Path,
                       where: Origin | None, handlers: bool) -> list[TaskOrBlock]:
    p = ctx.problems
    origin = where or Origin(str(file))
    own = _own_keywords(data, ctx, where)
    action = _find_action(data, ctx, where, own.get("collections", scope.collections))

    def at(key: str) -> Origin | None:
        return value_origin(data, key, where)

    name = as_str(data.get("name"), "name", at("name"), p)
    if action is None:
        return []
    key, spec, raw, args_at = action
    parsed = _action_args(key, spec, raw, data, ctx, args_at)
    if parsed is None:
        return []
    args, arg_origins = parsed
    templates(args, args_at, p)
    _, arg_errors = modspec.validate_args(spec, args, args_at or origin, arg_origins,
                                          fill_defaults=False)
    p.extend(arg_errors)

    if spec.name == "import_tasks":
        return _import_tasks(data, args, own, scope, ctx, file, origin, handlers)
    if spec.name == "import_role":
        if ctx.import_role is None:  # a loader that reads no roles (never in pyengine)
            p.add("import_role is not available here", origin)
            return []
        return ctx.import_role(args, own, scope, ctx, origin)
    if handlers and spec.name in ("include_tasks", "import_tasks", "include_role"):
        p.add(f"'{spec.name}' in handlers is not supported", origin)
        return []

    inner = scope.child(**own)
    loop = parse_loop(data, ctx, where)
    loop_control: dict[str, Any] = {}
    if "loop_control" in data:
        lc = data["loop_control"]
        if isinstance(lc, dict):
            for k in lc:
                if k not in keywords.LOOP_CONTROL:
                    p.add(f"unknown loop_control option '{k}'",
                          key_origin(lc, k, at("loop_control")),
                          did_you_mean(str(k), keywords.LOOP_CONTROL))
            loop_control = dict(lc)
            if "loop_var" in lc and not (isinstance(lc["loop_var"], str)
                                          and IDENTIFIER.match(lc["loop_var"])):
                p.add("loop_control.loop_var must be a variable name",
                      value_origin(lc, "loop_var", at("loop_control")))
        else:
            p.add(f"'loop_control' must be a mapping, got {type_name(lc)}", at("loop_control"))
        if loop is None and "loop" not in data:
            p.add("'loop_control' without 'loop'", key_origin(data, "loop_control", where))
    register = None
    if "register" in data:
        register = as_str(data["register"], "register", at("register"), p)
        if register is not None and not IDENTIFIER.match(register):
            p.add(f"'register' must be a variable name, got {register!r}", at("register"))
    notify = list(inner.notify or [])  # the task's own, else its block's (Ansible's rule)
    listen = as_list_of_str(data.get("listen"), "listen", at("listen"), p)
    if listen and not handlers:
        p.add("'listen' is only valid on handlers", key_origin(data, "listen", where))
    if handlers and not name and not listen:
        p.add("a handler needs a 'name' (or 'listen') to be notified by", origin)
    changed_when = as_conditions(data["changed_when"], "changed_when", at("changed_when"), p) \
        if "changed_when" in data else None
    failed_when = as_conditions(data["failed_when"], "failed_when", at("failed_when"), p) \
        if "failed_when" in data else None
    until = as_conditions(data["until"], "until", at("until"), p) if "until" in data else None
    retries = as_int(data.get("retries"), "retries", at("retries"), p)
    delay = as_int(data.get("delay"), "delay", at("delay"), p)
    if until is not None and retries is None:
        retries = 3  # Ansible's default when only `until` is given
    delegate_to = inner.delegate_to
    if key == "local_action" or data.get("connection") == "local":
        delegate_to = "localhost"  # runs on the controller, as Ansible's connection: local

    task = Task(
        action=spec.name,
        args=args,
        origin=origin,
        name=name,
        when=list(inner.when),
        loop=loop,
        loop_control=loop_control,
        register=register,
        notify=notify,
        listen=listen,
        changed_when=changed_when,
        failed_when=failed_when,
        ignore_errors=inner.ignore_errors if inner.ignore_errors is not None else False,
        ignore_unreachable=bool(inner.ignore_unreachable),
        retries=retries,
        delay=delay,
        until=until,
        no_log=inner.no_log if inner.no_log is not None else False,
        tags=set(inner.tags),
        become=inner.become,
        environment=inner.environment,  # type: ignore[arg-type]
        vars=merged(inner.vars),
        check_mode=inner.check_mode,
        diff=inner.diff,
        delegate_to=delegate_to,
        run_once=bool(inner.run_once),
        role=inner.role,
        is_handler=handlers,
        collections=list(inner.collections),
    )
    if spec.name == "include_tasks":
        _prevalidate_include(task, ctx, file)
    if spec.name == "include_role":
        _prevalidate_role(task, ctx)
    return [task]


def tasks_file_candidates(name: str, file: Path | None, role_path: Path | None,
                          basedir: Path) -> list[Path]:
    """Where a relative tasks file is looked for: next to the including file, the role's
    tasks/, then the playbook folder (Ansible's order)."""
    path = Path(name)
    if path.is_absolute():
        return [path]
    dirs: list[Path] = []
    if file is not None:
        dirs.append(file.parent)
    if role_path is not None:
        dirs.append(role_path / "tasks")
    dirs.append(basedir)
    seen: list[Path] = []
    for d in dirs:
        if d / path not in seen:
            seen.append(d / path)
    return seen


def _import_tasks(data: dict[str, Any], args: dict[str, Any], own: dict[str, Any],
                  scope: Scope, ctx: LoadContext, file: Path, origin: Origin,
                  handlers: bool = False) -> list[TaskOrBlock]:
    p = ctx.problems
    for bad in ("loop", "with_items", "register", "notify", "until"):
        if bad in data:
            p.add(f"'{bad}' is not allowed on import_tasks (it is inlined when the playbook "
                  f"loads; use include_tasks)", key_origin(data, bad, origin))
    name = args.get("file") or args.get("_raw_params")
    if not isinstance(name, str) or not name:
        return []
    if is_template(name):
        p.add(f"import_tasks cannot take a templated file name {name!r} (files are imported "
              f"when the playbook loads; use include_tasks)", origin)
        return []
    candidates = tasks_file_candidates(name, file, scope.role.path if scope.role else None,
                                       ctx.basedir)
    target = next((c for c in candidates if c.is_file()), None)
    if target is None:
        p.add(f"tasks file '{name}' not found (looked in "
              f"{', '.join(str(c.parent) for c in candidates)})", origin)
        return []
    return load_tasks_into(target, scope.child(**own), ctx, origin, handlers)


# Deeper than any real project; past it the chain is a mistake (and Python's own stack
# would end it as a confusing "nested too deeply" against a valid file).
MAX_TASK_FILE_DEPTH = 64


def load_tasks_into(path: Path, scope: Scope, ctx: LoadContext, origin: Origin | None,
                    handlers: bool = False) -> list[TaskOrBlock]:
    """Parse a tasks file with `scope`; guards against a file importing itself."""
    resolved = path.resolve()
    if resolved in ctx.stack:
        chain = " -> ".join(str(s) for s in [*ctx.stack, resolved])
        ctx.problems.add(f"tasks file imports itself ({chain})", origin)
        return []
    if len(ctx.stack) >= MAX_TASK_FILE_DEPTH:
        names = [s.name for s in [*ctx.stack, resolved]]
        chain = " -> ".join([*names[:2], "...", *names[-2:]])
        ctx.problems.add(f"tasks files import or include each other more than "
                         f"{MAX_TASK_FILE_DEPTH} levels deep ({chain})", origin)
        return []
    ctx.stack.append(resolved)
    try:
        data = ctx.load(path)
        return parse_task_list(data, scope, ctx, path, Origin(str(path)),
                               "handlers" if handlers else "tasks", handlers)
    finally:
        ctx.stack.pop()


def _prevalidate_include(task: Task, ctx: LoadContext, file: Path) -> None:
    """A static include_tasks file is checked now, so its errors appear before any run."""
    name = task.args.get("file") or task.args.get("_raw_params")
    if not isinstance(name, str) or is_template(name):
        return
    candidates = tasks_file_candidates(name, file, task.role.path if task.role else None,
                                       ctx.basedir)
    target = next((c for c in candidates if c.is_file()), None)
    if target is None:
        ctx.problems.add(f"tasks file '{name}' not found (looked in "
                         f"{', '.join(str(c.parent) for c in candidates)})", task.origin)
        return
    resolved = target.resolve()
    if resolved in ctx.validated_includes or resolved in ctx.stack:
        return
    ctx.validated_includes.add(resolved)
    load_tasks_into(target, Scope(role=task.role, collections=list(task.collections)), ctx,
                    task.origin)


def _prevalidate_role(task: Task, ctx: LoadContext) -> None:
    """A static include_role name must name a role that exists."""
    name = task.args.get("name")
    if isinstance(name, str) and not is_template(name) and \
            find_role(name, ctx.basedir, task.collections) is None:
        ctx.problems.add(f"role '{name}' not found", task.origin,
                         did_you_mean(name, known_roles(ctx.basedir, task.collections)))
