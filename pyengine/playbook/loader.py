"""Loading a playbook: plays, import_playbook, roles, tasks — all checked before any run.

`load_playbook(path)` returns the model the executor runs or raises `PlaybookErrors`
listing every problem found (file:line:column, with "did you mean"). The executor
loads `include_tasks`/`include_role` at run time through `load_include` and
`load_include_role`, which check the same way.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pyengine.content.collections import find_collection_playbook
from pyengine.errors import PlaybookError, PlaybookErrors, did_you_mean
from pyengine.playbook import keywords
from pyengine.playbook.context import LoadContext
from pyengine.playbook.model import (
    Block,
    Origin,
    Play,
    Playbook,
    RoleRef,
    Task,
    TaskOrBlock,
)
from pyengine.playbook.roles import import_role, load_role, parent_role_vars, parse_role_entry
from pyengine.playbook.scope import Scope
from pyengine.playbook.tasks import (
    _own_keywords,
    load_tasks_into,
    parse_task_list,
    tasks_file_candidates,
)
from pyengine.playbook.values import (
    Problems,
    as_bool,
    as_list_of_str,
    as_str,
    as_vars,
    templates,
    type_name,
)
from pyengine.templating import is_template
from pyengine.yamlload import Vault, item_origin, key_origin, merged, origin_of, value_origin


def load_playbook(path: Path | str, vault: Vault | None = None) -> Playbook:
    """Load and validate a playbook file (import_playbook expanded, roles loaded)."""
    path = Path(path)
    problems = Problems()
    plays = _playbook_file(path, vault, problems, [], set(), {}, None)
    if problems.errors:
        raise PlaybookErrors(problems.errors)
    return Playbook(path=path, plays=plays, warnings=problems.warnings)


def _playbook_file(path: Path, vault: Vault | None, problems: Problems, stack: list[Path],
                   tags: set[str], extra_vars: dict[str, Any], where: Origin | None
                   ) -> list[Play]:
    resolved = path.resolve()
    if resolved in stack:
        problems.add(f"playbook imports itself ({' -> '.join(str(s) for s in stack)})", where)
        return []
    ctx = LoadContext(basedir=path.parent, vault=vault, problems=problems,
                      import_role=import_role)
    data = ctx.load(path)
    if data is None:
        if not problems.errors and path.is_file():
            problems.add("empty playbook (expected a list of plays)", Origin(str(path)))
        return []
    if not isinstance(data, list):
        problems.add(f"a playbook must be a list of plays, got {type_name(data)}",
                     origin_of(data, Origin(str(path))))
        return []
    plays: list[Play] = []
    stack = [*stack, resolved]
    for i, item in enumerate(data):
        at = item_origin(data, i, Origin(str(path)))
        if not isinstance(item, dict):
            problems.add(f"a play must be a mapping, got {type_name(item)}", at)
            continue
        imported = item.get("import_playbook", item.get("ansible.builtin.import_playbook"))
        if imported is not None or "import_playbook" in item:
            plays.extend(_import_playbook(item, path, vault, problems, stack, tags, extra_vars,
                                          at))
            continue
        play_ctx = LoadContext(basedir=path.parent, vault=vault, problems=problems,
                               import_role=import_role)
        play = _play(item, play_ctx, path, at, tags, extra_vars)
        if play is not None:
            plays.append(play)
    return plays


def _import_playbook(item: dict[str, Any], path: Path, vault: Vault | None, problems: Problems,
                     stack: list[Path], tags: set[str], extra_vars: dict[str, Any],
                     at: Origin | None) -> list[Play]:
    for key in item:
        if key not in keywords.IMPORT_PLAYBOOK:
            problems.add(f"unknown keyword '{key}' on import_playbook", key_origin(item, key, at),
                         did_you_mean(str(key), keywords.IMPORT_PLAYBOOK))
    key = "import_playbook" if "import_playbook" in item else "ansible.builtin.import_playbook"
    name = item[key]
    where = value_origin(item, key, at)
    if not isinstance(name, str) or not name:
        problems.add("import_playbook needs a file name", where)
        return []
    if is_template(name):
        problems.add(f"import_playbook cannot take a templated file name {name!r}", where)
        return []
    target = Path(name) if Path(name).is_absolute() else path.parent / name
    if not target.is_file():
        # 'ns.coll.playbook': a playbook shipped in a collection's playbooks/ folder.
        target = find_collection_playbook(name, path.parent) or target
    if not target.is_file():
        problems.add(f"imported playbook '{name}' not found ({target})", where)
        return []
    own_tags = set(as_list_of_str(item.get("tags"), "tags", where, problems, split_commas=True))
    own_vars = as_vars(item.get("vars"), "vars", where, problems)
    if "when" in item:
        problems.add("'when' on import_playbook is not supported (put it on the tasks or use "
                     "--limit)", key_origin(item, "when", at))
    return _playbook_file(target, vault, problems, stack, tags | own_tags,
                          merged(extra_vars, own_vars), where)


def _play(data: dict[str, Any], ctx: LoadContext, path: Path, at: Origin | None,
          inherited_tags: set[str], import_vars: dict[str, Any]) -> Play | None:
    p = ctx.problems
    origin = origin_of(data, at) or Origin(str(path))
    for key in data:
        if key not in keywords.PLAY:
            hint = did_you_mean(str(key), keywords.PLAY)
            extra = ""
            if key in keywords.TASK or key == "block":
                extra = " (task keywords go inside 'tasks:')"
            p.add(f"unknown play keyword '{key}'{extra}", key_origin(data, key, origin), hint)

    def where(key: str) -> Origin | None:
        return value_origin(data, key, origin)

    if "vars_prompt" in data:
        p.add("'vars_prompt' is not supported (runs are unattended): pass the values with "
              "-e or keep them in a vault", key_origin(data, "vars_prompt", origin))

    hosts_value = data.get("hosts")
    hosts: str | None = None
    if hosts_value is None:
        p.add("a play needs 'hosts' (a host pattern such as 'all' or 'webservers')", origin)
    elif isinstance(hosts_value, list) and all(isinstance(h, str) for h in hosts_value):
        hosts = ",".join(hosts_value)
    else:
        hosts = as_str(hosts_value, "hosts", where("hosts"), p)
    name = as_str(data.get("name"), "name", where("name"), p)
    play_vars = merged(import_vars, as_vars(data.get("vars"), "vars", where("vars"), p))
    vars_files: list[Any] = []
    if "vars_files" in data:
        raw = data["vars_files"]
        items = raw if isinstance(raw, list) else [raw]
        for i, item in enumerate(items):
            item_at = item_origin(items, i, where("vars_files"))
            if isinstance(item, str):
                vars_files.append(item)
            elif isinstance(item, list) and item and all(isinstance(x, str) for x in item):
                vars_files.append(list(item))
            else:
                p.add(f"'vars_files' items must be file names, got {type_name(item)}", item_at)
                continue
            _check_vars_file(vars_files[-1], path.parent, origin_of(item, item_at), p)
    own = _own_keywords(data, ctx, origin)
    own.pop("vars", None)
    own.pop("when", None)
    own.pop("delegate_to", None)
    own["tags"] = set(own.get("tags", set())) | inherited_tags
    scope = Scope().child(**own)
    serial: list[int | str] = []
    if "serial" in data:
        raw_serial = data["serial"]
        for item in raw_serial if isinstance(raw_serial, list) else [raw_serial]:
            if isinstance(item, int) and not isinstance(item, bool) and item >= 0:
                serial.append(item)
            elif isinstance(item, str) and (item.rstrip("%").strip().isdigit()
                                            or is_template(item)):
                serial.append(item.strip())
            else:
                p.add(f"'serial' must be a number, a percentage ('30%') or a list of them, "
                      f"got {item!r}", where("serial"))
    max_fail: float | str | None = None
    if "max_fail_percentage" in data and is_template(data["max_fail_percentage"]):
        max_fail = str(data["max_fail_percentage"])  # rendered by the executor
        templates(max_fail, where("max_fail_percentage"), p)
    elif "max_fail_percentage" in data:
        raw_mf = data["max_fail_percentage"]
        try:
            max_fail = float(str(raw_mf).rstrip("%"))
            if not 0 <= max_fail <= 100:
                raise ValueError
        except ValueError:
            p.add(f"'max_fail_percentage' must be a number from 0 to 100, got {raw_mf!r}",
                  where("max_fail_percentage"))
    flags: dict[str, bool] = {}
    for key, default in (("any_errors_fatal", False), ("gather_facts", True),
                         ("force_handlers", False)):
        value = as_bool(data.get(key), key, where(key), p) if key in data else default
        flags[key] = value if isinstance(value, bool) else default
    for key in ("pre_tasks", "tasks", "post_tasks", "handlers", "roles"):
        if key in data and data[key] is not None and not isinstance(data[key], list):
            p.add(f"'{key}' must be a list, got {type_name(data[key])}", where(key))

    pre_tasks = parse_task_list(_list(data, "pre_tasks"), scope, ctx, path,
                                where("pre_tasks"), "pre_tasks")
    role_tasks: list[TaskOrBlock] = []
    roles = _list(data, "roles")
    for i, entry in enumerate(roles or []):
        entry_at = item_origin(roles, i, where("roles"))
        parsed = parse_role_entry(entry, ctx, entry_at)
        if parsed is None:
            continue
        role_name, params, role_own = parsed
        role_tasks.extend(load_role(role_name, params, role_own, scope, ctx,
                                    origin_of(entry, entry_at)))
    tasks = parse_task_list(_list(data, "tasks"), scope, ctx, path, where("tasks"))
    post_tasks = parse_task_list(_list(data, "post_tasks"), scope, ctx, path,
                                 where("post_tasks"), "post_tasks")
    handler_scope = Scope(become=scope.become, environment=scope.environment,
                          check_mode=scope.check_mode, diff=scope.diff,
                          collections=list(scope.collections))
    play_handlers = parse_task_list(_list(data, "handlers"), handler_scope, ctx, path,
                                    where("handlers"), "handlers", handlers=True)
    handlers = _only_tasks([*ctx.role_handlers, *play_handlers], p)
    _check_notify([pre_tasks, role_tasks, tasks, post_tasks, handlers], handlers, p)
    if hosts is None:
        return None
    return Play(
        hosts=hosts, origin=origin, basedir=path.parent, name=name, vars=play_vars,
        vars_files=vars_files, pre_tasks=pre_tasks, roles=role_tasks, tasks=tasks,
        post_tasks=post_tasks, handlers=handlers, become=scope.become, serial=serial,
        max_fail_percentage=max_fail, any_errors_fatal=flags["any_errors_fatal"],
        gather_facts=flags["gather_facts"], tags=set(scope.tags),
        environment=scope.environment, check_mode=scope.check_mode, diff=scope.diff,
        remote_user=as_str(data.get("remote_user"), "remote_user", where("remote_user"), p),
        connection=as_str(data.get("connection"), "connection", where("connection"), p),
        force_handlers=flags["force_handlers"], role_refs=list(ctx.role_refs),
    )


def _check_vars_file(entry: str | list[str], basedir: Path, where: Origin | None,
                     p: Problems) -> None:
    """A vars file named without templates must exist (one of them, for a list)."""
    names = entry if isinstance(entry, list) else [entry]
    if any(is_template(n) for n in names):
        return
    paths = [Path(n) if Path(n).is_absolute() else basedir / n for n in names]
    if not any(candidate.is_file() for candidate in paths):
        shown = " or ".join(f"'{n}'" for n in names)
        p.add(f"vars_files: {shown} not found (relative to {basedir})", where)


def _list(data: dict[str, Any], key: str) -> Any:
    value = data.get(key)
    return value if isinstance(value, list) else None


def _only_tasks(items: list[TaskOrBlock], p: Problems) -> list[Task]:
    out: list[Task] = []
    for item in items:
        if isinstance(item, Block):
            p.add("blocks are not supported in handlers (write one handler per task)",
                  item.origin)
        else:
            out.append(item)
    return out


def walk(items: list[TaskOrBlock]) -> list[Task]:
    """Every task inside `items`, blocks opened (block, rescue, always), in order."""
    out: list[Task] = []
    for item in items:
        if isinstance(item, Block):
            out.extend(walk(item.block) + walk(item.rescue) + walk(item.always))
        else:
            out.append(item)
    return out


def handler_names(handlers: list[Task]) -> set[str]:
    """The names a task can notify: handler names, `listen` topics, 'role : name'."""
    names: set[str] = set()
    for h in handlers:
        if h.name:
            names.add(h.name)
            if h.role is not None:
                names.add(f"{h.role.name} : {h.name}")
        names.update(h.listen)
    return names


def _check_notify(groups: list[list[Any]], handlers: list[Task], p: Problems) -> None:
    names = handler_names(handlers)
    for group in groups:
        for task in walk(group):
            for target in task.notify:
                if target not in names and not is_template(target):
                    p.add(f"notify: no handler named '{target}' in this play", task.origin,
                          did_you_mean(target, names))


# -- run-time loading for the executor -------------------------------------------------


def load_tasks_file(path: Path | str, basedir: Path | str | None = None,
                    vault: Vault | None = None, scope: Scope | None = None,
                    handlers: bool = False) -> list[TaskOrBlock]:
    """Load and check a tasks file (raises PlaybookErrors with every problem)."""
    path = Path(path)
    ctx = LoadContext(basedir=Path(basedir) if basedir else path.parent, vault=vault,
                      import_role=import_role)
    if not path.is_file():
        raise PlaybookError("tasks file not found", str(path))
    out = load_tasks_into(path, scope or Scope(), ctx, Origin(str(path)), handlers)
    if ctx.problems.errors:
        raise PlaybookErrors(ctx.problems.errors)
    return out


def _scope_from(task: Task, play: Play | None) -> Scope:
    """What tasks included by `task` inherit (its `when` and tags stay on the include)."""
    return Scope(tags=set(play.tags) if play else set(), become=task.become,
                 environment=task.environment, vars=merged(task.vars),
                 check_mode=task.check_mode, diff=task.diff,
                 ignore_errors=task.ignore_errors or None, no_log=task.no_log or None,
                 delegate_to=task.delegate_to, run_once=task.run_once or None, role=task.role,
                 collections=list(task.collections))


def _apply(task: Task, scope: Scope, ctx: LoadContext) -> Scope:
    apply = task.args.get("apply")
    if not isinstance(apply, dict):
        return scope
    return scope.child(**_own_keywords(apply, ctx, task.origin))


def resolve_include(task: Task, file: str, play: Play) -> Path:
    """The tasks file an include_tasks task names (rendered name), by Ansible's search order."""
    candidates = tasks_file_candidates(file, Path(task.origin.file) if task.origin.file
                                       else None, task.role.path if task.role else None,
                                       play.basedir)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise PlaybookError(f"tasks file '{file}' not found (looked in "
                        f"{', '.join(str(c.parent) for c in candidates)})", task.origin.file,
                        task.origin.line or None, task.origin.column or None)


def load_include(task: Task, file: str, play: Play, vault: Vault | None = None
                 ) -> list[TaskOrBlock]:
    """The tasks of an include_tasks task, given its rendered file name."""
    path = resolve_include(task, file, play)
    ctx = LoadContext(basedir=play.basedir, vault=vault, import_role=import_role)
    out = load_tasks_into(path, _apply(task, _scope_from(task, play), ctx), ctx, task.origin)
    if ctx.problems.errors:
        raise PlaybookErrors(ctx.problems.errors)
    return out


def load_include_role(task: Task, args: dict[str, Any], play: Play,
                      vault: Vault | None = None) -> tuple[list[TaskOrBlock], list[Task],
                                                           RoleRef | None]:
    """(tasks, handlers, role) of an include_role task, given its rendered args."""
    ctx = LoadContext(basedir=play.basedir, vault=vault, import_role=import_role)
    scope = _apply(task, _scope_from(task, play), ctx)
    scope.role = None
    tasks = load_role(str(args.get("name")), {**task.vars, **parent_role_vars(task.role)}, {},
                      scope, ctx, task.origin,
                      tasks_from=str(args.get("tasks_from", "main")),
                      vars_from=str(args.get("vars_from", "main")),
                      defaults_from=str(args.get("defaults_from", "main")),
                      handlers_from=str(args.get("handlers_from", "main")))
    handlers = _only_tasks(ctx.role_handlers, ctx.problems)
    if ctx.problems.errors:
        raise PlaybookErrors(ctx.problems.errors)
    return tasks, handlers, (ctx.role_refs[-1] if ctx.role_refs else None)


__all__ = ["load_playbook", "load_tasks_file", "load_include", "load_include_role",
           "resolve_include", "walk", "handler_names"]
