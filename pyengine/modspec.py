"""Module argument specs: read from module files without running them, and enforced.

A module (`modules/NAME.py`, `modules/NAME.ps1`, a project's `modules/`) or a
controller action (`pyengine/actions/NAME.py`) declares `ARGS` and friends as
literals. This file reads them with `ast.literal_eval` (the `<#ARGS ... #>` JSON
block for PowerShell) and never imports or executes target code. The same spec
validates task arguments before anything connects, normalises them before they
are sent (aliases to canonical names, types converted, defaults filled in), and
drives `pyengine doc`.

Extra literals a module may declare, besides the documented ones:
`FREE_FORM = "name"` (the argument that receives free-form text such as
`command: ls -l`; `_raw_params` is used when ARGS declares it) and
`ANY_ARGS = True` (any argument name is accepted, as for `set_fact`).
"""

from __future__ import annotations

import ast
import json
import os
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengine.booleans import boolean_word
from pyengine.content.ansible_modules import (
    action_plugin,
    forced_patterns,
    is_forced,
    read_module_doc,
)
from pyengine.content.collections import find_ansible_module
from pyengine.errors import PlaybookError, PlaybookErrors, did_you_mean
from pyengine.origin import Origin
from pyengine.paths import PACKAGE_DIR, builtin_modules_dir

PREFIXES = ("ansible.builtin.", "ansible.legacy.", "ansible.posix.", "ansible.windows.",
            "community.general.", "community.windows.", "community.crypto.")
ANSIBLE = "ansible"  # kind of an installed Ansible module run through the bridge
TYPES = {"str", "int", "float", "bool", "list", "dict", "path", "raw"}
SPEC_NAMES = ("ARGS", "MUTUALLY_EXCLUSIVE", "REQUIRED_ONE_OF", "REQUIRED_IF",
              "REQUIRED_TOGETHER", "FREE_FORM", "ANY_ARGS", "KIND")


@dataclass
class ModuleSpec:
    """What a module accepts. `kind` is 'module' (runs on the target), 'action'
    (pyengine/actions) or 'flow' (include_tasks, meta, ... handled by the executor)."""

    name: str
    path: Path | None
    kind: str = "module"
    doc: str = ""
    args: dict[str, dict[str, Any]] = field(default_factory=dict)
    mutually_exclusive: list[list[str]] = field(default_factory=list)
    required_one_of: list[list[str]] = field(default_factory=list)
    required_if: list[list[Any]] = field(default_factory=list)
    required_together: list[list[str]] = field(default_factory=list)
    free_form: str | None = None
    any_args: bool = False
    ps1_path: Path | None = None  # the Windows twin, when there is one
    collection: Path | None = None  # kind 'ansible': the collection folder (None: core)
    unsupported: str = ""  # why a found module cannot run (a load-time error)
    # an Ansible module whose action plugin only moves controller files for some arguments
    # (THIN_ACTION_PLUGINS): it runs through the bridge unless those arguments are used
    controller_half: str = ""
    returns_facts: bool = False  # kind 'ansible': its RETURN documents ansible_facts

    @property
    def aliases(self) -> dict[str, str]:
        """alias -> canonical name."""
        out = {}
        for name, opt in self.args.items():
            for alias in opt.get("aliases", []) or []:
                out[alias] = name
        return out

    @property
    def summary(self) -> str:
        return self.doc.strip().splitlines()[0] if self.doc.strip() else ""

    def secret_values(self, args: Mapping[str, Any]) -> list[str]:
        """Values of `no_log` arguments (to be masked)."""
        return [str(args[n]) for n, o in self.args.items()
                if o.get("no_log") and args.get(n) not in (None, "")]


# The loader's own actions: handled by the executor, not by a module file.
FLOW_SPECS: dict[str, ModuleSpec] = {
    "include_tasks": ModuleSpec(
        "include_tasks", None, "flow", "Load a tasks file at run time (per host, may loop).",
        {"file": {"type": "str", "required": True, "aliases": ["_raw_params"],
                  "help": "The tasks file (relative to the including file, the role's "
                          "tasks/ or the playbook folder)."},
         "apply": {"type": "dict", "help": "Keywords applied to every included task."}},
        free_form="file"),
    "import_tasks": ModuleSpec(
        "import_tasks", None, "flow", "Inline a tasks file when the playbook is loaded.",
        {"file": {"type": "str", "required": True, "aliases": ["_raw_params"],
                  "help": "The tasks file."}}, free_form="file"),
    "include_role": ModuleSpec(
        "include_role", None, "flow", "Run a role's tasks at run time.",
        {"name": {"type": "str", "required": True, "help": "The role."},
         "tasks_from": {"type": "str", "default": "main", "help": "Tasks file in tasks/."},
         "vars_from": {"type": "str", "default": "main", "help": "File in vars/."},
         "defaults_from": {"type": "str", "default": "main", "help": "File in defaults/."},
         "handlers_from": {"type": "str", "default": "main", "help": "File in handlers/."},
         "apply": {"type": "dict", "help": "Keywords applied to the role's tasks."},
         "public": {"type": "bool", "default": False, "help": "Expose role vars to the play."},
         "allow_duplicates": {"type": "bool", "default": True, "help": "Ignored."}}),
    "import_role": ModuleSpec(
        "import_role", None, "flow", "Inline a role's tasks when the playbook is loaded.",
        {"name": {"type": "str", "required": True, "help": "The role."},
         "tasks_from": {"type": "str", "default": "main", "help": "Tasks file in tasks/."},
         "vars_from": {"type": "str", "default": "main", "help": "File in vars/."},
         "defaults_from": {"type": "str", "default": "main", "help": "File in defaults/."},
         "handlers_from": {"type": "str", "default": "main", "help": "File in handlers/."},
         "allow_duplicates": {"type": "bool", "default": True, "help": "Ignored."}}),
    "meta": ModuleSpec(
        "meta", None, "flow", "Executor directives (flush_handlers, end_play, ...).",
        {"_raw_params": {"type": "str", "required": True, "choices": [
            "flush_handlers", "noop", "end_play", "end_host", "end_batch", "clear_facts",
            "clear_host_errors", "refresh_inventory", "reset_connection"],
            "help": "The directive."}}, free_form="_raw_params"),
}


def canonical_name(name: str) -> str:
    """'ansible.builtin.copy' -> 'copy'; unknown collections stay as written."""
    for prefix in PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def _module_dirs(project_dirs: Iterable[Path | str]) -> list[tuple[Path, str]]:
    dirs: list[tuple[Path, str]] = []
    for d in project_dirs:
        dirs.append((Path(d) / "modules", "module"))
    dirs.append((PACKAGE_DIR / "actions", "action"))
    dirs.append((builtin_modules_dir(), "module"))
    return dirs


_cache: dict[tuple[str, float], ModuleSpec] = {}


def find_module(name: str, project_dirs: Iterable[Path | str] = ()) -> ModuleSpec | None:
    """The spec of module `name` by the documented lookup order, or None.

    Native first (project modules/, controller actions, built-in modules/), then an
    Ansible module installed on the controller (kind 'ansible', run through the bridge);
    a module listed in PYENGINE_ANSIBLE_MODULES goes to the bridge even when native.
    """
    dirs = list(project_dirs)
    written = name
    if forced_patterns():
        bridged = _ansible_spec(written, dirs, forced_only=True)
        if bridged is not None:
            return bridged
    native = _native_spec(canonical_name(name), dirs)
    if native is not None:
        return native
    return _ansible_spec(written, dirs)


def _native_spec(name: str, project_dirs: list[Path | str]) -> ModuleSpec | None:
    if name in FLOW_SPECS:
        return FLOW_SPECS[name]
    if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", name):
        return None
    for folder, kind in _module_dirs(project_dirs):
        py, ps1 = folder / f"{name}.py", folder / f"{name}.ps1"
        if kind == "action" and (name.startswith("_") or name == "base"):
            continue
        if py.is_file():
            spec = read_spec(py, kind)
            if ps1.is_file():
                spec.ps1_path = ps1
            return spec
        if ps1.is_file() and kind == "module":
            spec = read_spec(ps1, kind)
            spec.ps1_path = ps1
            return spec
    return None


_ansible_cache: dict[tuple[str, tuple[str, ...], bool], ModuleSpec | None] = {}
_ansible_by_name: dict[str, ModuleSpec] = {}  # FQCN -> the spec the loader resolved


def _uri_needs_controller(args: Mapping[str, Any]) -> str:
    """ansible.builtin.uri's action plugin only uploads `src` and multipart files."""
    if args.get("src") is not None and boolean_word(args.get("remote_src")) is not True:
        return "`src` from the controller (use remote_src: true with a file on the host)"
    body = args.get("body")
    if args.get("body_format") == "form-multipart" and isinstance(body, Mapping) and any(
            isinstance(v, Mapping) and v.get("filename") and not v.get("content")
            for v in body.values()):
        return "a form-multipart `filename` from the controller (give `content` instead)"
    return ""


# Ansible modules whose action plugin is only a file carrier for some arguments: with the
# other arguments the module alone does the work, so the bridge can run it.
THIN_ACTION_PLUGINS = {"ansible.builtin.uri": _uri_needs_controller}


def _ansible_spec(name: str, project_dirs: list[Path | str],
                  forced_only: bool = False) -> ModuleSpec | None:
    """An installed Ansible module as a spec of kind 'ansible' (options from its docs)."""
    key = (name, tuple(str(d) for d in project_dirs), forced_only)
    if key in _ansible_cache and not forced_only:
        return _ansible_cache[key]
    if not all(part.isidentifier() for part in name.split(".")):
        return None
    playbook_dir = Path(project_dirs[0]) if project_dirs else None
    module = find_ansible_module(name, (), playbook_dir)
    spec = None
    if module is not None and (not forced_only or is_forced(name, module.fqcn)):
        doc = read_module_doc(module.path, playbook_dir)
        args: dict[str, dict[str, Any]] = {
            opt: {"type": "raw", "aliases": list(o.get("aliases") or []),
                  "help": _first_line(o.get("description"))}
            for opt, o in doc.options.items()}
        for opt in doc.no_log:
            if opt in args:
                args[opt]["no_log"] = True  # registered as a secret when the task runs
        spec = ModuleSpec(module.fqcn, module.path, ANSIBLE, doc.summary, args,
                          any_args=not doc.complete, collection=module.collection,
                          returns_facts=doc.returns_facts)
        _ansible_by_name[spec.name] = spec
        if module.fqcn in THIN_ACTION_PLUGINS:
            spec.controller_half = module.fqcn
        elif action_plugin(module) is not None:
            spec.unsupported = (f"module {module.fqcn} needs Ansible's action plugin of the "
                                f"same name on the controller, which pyengine does not run")
    if not forced_only:
        _ansible_cache[key] = spec
    return spec


def sets_facts(name: str, project_dirs: Iterable[Path | str] = ()) -> bool:
    """True for an Ansible module (bridged) whose RETURN documents `ansible_facts`: the
    fact names are not known before it runs (the executor ends the batch after it)."""
    spec = _ansible_by_name.get(name) or find_module(name, project_dirs)
    return spec is not None and spec.kind == ANSIBLE and spec.returns_facts


def _first_line(text: Any) -> str:
    if isinstance(text, list):
        text = text[0] if text else ""
    return str(text or "").strip().splitlines()[0] if str(text or "").strip() else ""


def list_modules(project_dirs: Iterable[Path | str] = ()) -> dict[str, Path | None]:
    """Every module name that resolves, with the file it resolves to (lookup order wins)."""
    found: dict[str, Path | None] = {n: None for n in FLOW_SPECS}
    for folder, kind in _module_dirs(project_dirs):
        if not folder.is_dir():
            continue
        for entry in sorted(os.listdir(folder)):
            stem, ext = os.path.splitext(entry)
            if ext not in (".py", ".ps1") or stem.startswith("_") or stem in found:
                continue
            if kind == "action" and (ext != ".py" or stem == "base"):
                continue
            found[stem] = folder / entry
    return found


def read_spec(path: Path, kind: str = "module") -> ModuleSpec:
    """Read a module's declared spec from its source (cached by modification time)."""
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        raise PlaybookError("module file not readable", str(path)) from None
    if key in _cache:
        return _cache[key]
    source = path.read_text(encoding="utf-8", errors="replace")
    if path.suffix == ".ps1":
        spec = _read_ps1(path, source, kind)
    else:
        spec = _read_py(path, source, kind)
    _check_spec(spec)
    _cache[key] = spec
    return spec


def _read_py(path: Path, source: str, kind: str) -> ModuleSpec:
    try:
        tree = ast.parse(source, filename=str(path))
    except SyntaxError as err:
        raise PlaybookError(f"module does not parse: {err.msg}", str(path), err.lineno,
                            err.offset) from None
    found: dict[str, Any] = {}
    for node in tree.body:
        targets: list[ast.expr] = []
        value: ast.expr | None = None
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        for target in targets:
            if isinstance(target, ast.Name) and target.id in SPEC_NAMES and value is not None:
                try:
                    found[target.id] = ast.literal_eval(value)
                except ValueError:
                    raise PlaybookError(f"{target.id} must be a literal (it is read without "
                                        f"running the module)", str(path), node.lineno,
                                        node.col_offset + 1) from None
    return _spec_from(path.stem, path, kind, ast.get_docstring(tree) or "", found)


_PS1_ARGS = re.compile(r"<#ARGS\s*(.*?)#>", re.S)
_PS1_DOC = re.compile(r"<#(?!ARGS)(.*?)#>", re.S)


def _read_ps1(path: Path, source: str, kind: str) -> ModuleSpec:
    match = _PS1_ARGS.search(source)
    found: dict[str, Any] = {}
    if match:
        try:
            data = json.loads(match.group(1))
        except ValueError as err:
            line = source[: match.start()].count("\n") + 1
            raise PlaybookError(f"<#ARGS block is not valid JSON: {err}", str(path), line
                                ) from None
        if isinstance(data, dict) and "ARGS" in data and isinstance(data["ARGS"], dict):
            found = {k: v for k, v in data.items() if k in SPEC_NAMES}
        else:
            found = {"ARGS": data}
    doc_match = _PS1_DOC.search(source)
    doc = ""
    if doc_match:
        doc = re.sub(r"^\s*\.\w+\s*$", "", doc_match.group(1), flags=re.M).strip()
    return _spec_from(path.stem, path, kind, doc, found)


def _spec_from(name: str, path: Path, kind: str, doc: str, found: dict[str, Any]) -> ModuleSpec:
    args = found.get("ARGS", {})
    if not isinstance(args, dict):
        raise PlaybookError("ARGS must be a dict of argument name -> options", str(path))
    free_form = found.get("FREE_FORM")
    if free_form is None and ("_raw_params" in args or any(
            "_raw_params" in (opt.get("aliases") or []) for opt in args.values()
            if isinstance(opt, dict))):
        free_form = "_raw_params"  # canonicalised through the alias when validated
    return ModuleSpec(
        name=name, path=path, kind=kind, doc=doc, args=args,
        mutually_exclusive=list(found.get("MUTUALLY_EXCLUSIVE", []) or []),
        required_one_of=list(found.get("REQUIRED_ONE_OF", []) or []),
        required_if=list(found.get("REQUIRED_IF", []) or []),
        required_together=list(found.get("REQUIRED_TOGETHER", []) or []),
        free_form=free_form,
        any_args=bool(found.get("ANY_ARGS", False)) or name in ("set_fact", "set_stats"),
    )


def _check_spec(spec: ModuleSpec) -> None:
    where = str(spec.path)
    for name, opt in spec.args.items():
        if not isinstance(opt, dict):
            raise PlaybookError(f"ARGS['{name}'] must be a dict of options", where)
        typ = opt.get("type", "str")
        if typ not in TYPES:
            raise PlaybookError(f"ARGS['{name}'] has unknown type '{typ}' "
                                f"(one of {', '.join(sorted(TYPES))})", where)


# -- validation ---------------------------------------------------------------------


def _templated(value: Any) -> bool:
    from pyengine.templating import is_template

    if isinstance(value, str):
        return is_template(value)
    if isinstance(value, dict):
        return any(_templated(v) for v in value.values())
    if isinstance(value, list):
        return any(_templated(v) for v in value)
    return False


class TypeProblem(Exception):
    pass


def convert(value: Any, typ: str, elements: str | None = None) -> Any:
    """Convert `value` to the argument type (raises TypeProblem with what was expected)."""
    if value is None or typ == "raw":
        return value
    if typ in ("str", "path"):
        # As Ansible's module argument checks do: any value becomes its text, a list
        # `[4]` too (a `line: "{{ [4] }}"` is written as "[4]", not refused).
        return str(value)
    if typ == "int":
        if isinstance(value, bool):
            raise TypeProblem(f"expected an integer, got {value!r}")
        if isinstance(value, int):
            return value
        if isinstance(value, float) and value.is_integer():
            return int(value)
        if isinstance(value, str) and re.fullmatch(r"\s*[-+]?\d+\s*", value):
            return int(value)
        raise TypeProblem(f"expected an integer, got {value!r}")
    if typ == "float":
        if isinstance(value, bool):
            raise TypeProblem(f"expected a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise TypeProblem(f"expected a number, got {value!r}") from None
    if typ == "bool":
        word = boolean_word(value)
        if word is None:
            raise TypeProblem(f"expected a boolean (yes/no/true/false), got {value!r}")
        return word
    if typ == "list":
        if isinstance(value, str):
            items: list[Any] = [v.strip() for v in value.split(",")] if value else []
        elif isinstance(value, (list, tuple)):
            items = list(value)
        elif isinstance(value, dict):
            raise TypeProblem("expected a list, got a dict")
        else:
            items = [value]
        if elements and elements != "raw":
            items = [convert(v, elements) for v in items]
        return items
    if typ == "dict":
        if isinstance(value, dict):
            return dict(value)
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("{"):
                try:
                    loaded = json.loads(text)
                except ValueError:
                    raise TypeProblem(f"expected a dict, got {value!r}") from None
                if isinstance(loaded, dict):
                    return loaded
            pairs = [p for p in re.split(r"[,\s]+", text) if p]
            if pairs and all("=" in p for p in pairs):
                return dict(p.split("=", 1) for p in pairs)
        raise TypeProblem(f"expected a dict, got {value!r}")
    return value


def validate_args(
    spec: ModuleSpec,
    args: Mapping[str, Any],
    origin: Origin | None = None,
    arg_origins: Mapping[str, Origin] | None = None,
    fill_defaults: bool = True,
) -> tuple[dict[str, Any], list[PlaybookError]]:
    """Check and normalise `args`; returns (normalised args, every problem found).

    Values holding templates are not type-checked (they are checked again after
    rendering); names, required arguments and exclusions are.
    """
    errors: list[PlaybookError] = []
    arg_origins = arg_origins or {}
    module = spec.name

    def err(msg: str, key: str | None = None, hint: str = "") -> None:
        where = arg_origins.get(key) if key else None
        where = where or origin
        errors.append(PlaybookError(msg, where.file if where else None,
                                    where.line if where and where.line else None,
                                    where.column if where and where.column else None, hint))

    if spec.unsupported:
        err(spec.unsupported)
    elif spec.controller_half:
        needs = THIN_ACTION_PLUGINS[spec.controller_half](args)
        if needs:
            err(f"module {spec.name}: {needs} needs Ansible's action plugin on the controller, "
                f"which pyengine does not run")
    aliases = spec.aliases
    out: dict[str, Any] = {}
    given_as: dict[str, str] = {}
    for key, value in args.items():
        key = str(key)
        name = aliases.get(key, key)
        if name not in spec.args:
            if key.startswith("_") or spec.any_args:
                out[key] = value
                continue
            known = list(spec.args) + list(aliases)
            err(f"unsupported argument '{key}' for module '{module}'", key,
                did_you_mean(key, known) or f" (supported: {', '.join(sorted(spec.args))})")
            continue
        if name in given_as:
            err(f"argument '{key}' of module '{module}' repeats '{given_as[name]}' "
                f"(they are aliases)", key)
            continue
        given_as[name] = key
        opt = spec.args[name]
        if _templated(value):
            out[name] = value
            continue
        try:
            value = convert(value, opt.get("type", "str"), opt.get("elements"))
        except TypeProblem as problem:
            err(f"argument '{key}' of module '{module}': {problem}", key)
            continue
        choices = opt.get("choices")
        if choices and value is not None:
            values = value if opt.get("type") == "list" else [value]
            for v in values:
                if v not in choices and str(v) not in [str(c) for c in choices]:
                    err(f"argument '{key}' of module '{module}' must be one of "
                        f"{', '.join(str(c) for c in choices)}; got {v!r}", key,
                        did_you_mean(str(v), [str(c) for c in choices]))
        out[name] = value

    present = {n for n, v in out.items() if v is not None}
    for name, opt in spec.args.items():
        if opt.get("required") and name not in present:
            err(f"missing required argument '{name}' for module '{module}'")
    for group in spec.mutually_exclusive:
        both = [n for n in group if n in present]
        if len(both) > 1:
            err(f"arguments {' and '.join(repr(n) for n in both)} of module '{module}' "
                f"are mutually exclusive", given_as.get(both[-1]))
    for group in spec.required_one_of:
        if not any(n in present for n in group):
            err(f"module '{module}' needs one of: {', '.join(group)}")
    for group in spec.required_together:
        have = [n for n in group if n in present]
        if have and len(have) != len(group):
            missing = [n for n in group if n not in present]
            err(f"module '{module}': {', '.join(have)} requires {', '.join(missing)}")
    if fill_defaults:
        for name, opt in spec.args.items():
            if name not in out and "default" in opt:
                out[name] = opt["default"]
    for rule in spec.required_if:
        key, val, needed = rule[0], rule[1], rule[2]
        any_of = len(rule) > 3 and bool(rule[3])
        current = out.get(key)
        if current is None or _templated(current) or current != val:
            continue
        missing = [n for n in needed if n not in present]
        if (any_of and len(missing) == len(needed)) or (not any_of and missing):
            which = "one of " if any_of else ""
            err(f"module '{module}': {key}={val} requires {which}{', '.join(missing)}",
                given_as.get(key))
    return out, errors


def normalize_args(module: str, args: Mapping[str, Any], project_dirs: Iterable[Path | str] = (),
                   origin: Origin | None = None, spec: ModuleSpec | None = None
                   ) -> dict[str, Any]:
    """Validate rendered args of `module` and return them normalised (raises PlaybookErrors).

    The executor calls this after rendering a task, right before sending it, with the
    `spec` it already found (a lookup stats every module folder: per task and host that
    was ~640 stat calls a host, issue 17).
    """
    spec = spec or find_module(module, project_dirs)
    if spec is None:
        where = origin
        raise PlaybookError(f"unknown module '{module}'", where.file if where else None,
                            where.line if where else None, where.column if where else None)
    out, errors = validate_args(spec, args, origin)
    if errors:
        raise PlaybookErrors(errors)
    return out


# -- free-form and k=v parsing --------------------------------------------------------

_KV = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$", re.S)


def split_words(text: str) -> list[str]:
    """Split on whitespace outside quotes and outside `{{ }}`/`{% %}` (quotes are kept)."""
    words: list[str] = []
    current: list[str] = []
    quote: str | None = None
    depth = 0
    i = 0
    while i < len(text):
        ch = text[i]
        pair = text[i:i + 2]
        if quote:
            current.append(ch)
            if ch == "\\" and i + 1 < len(text):
                current.append(text[i + 1])
                i += 2
                continue
            if ch == quote:
                quote = None
        elif pair in ("{{", "{%", "{#"):
            depth += 1
            current.append(pair)
            i += 2
            continue
        elif pair in ("}}", "%}", "#}") and depth:
            depth -= 1
            current.append(pair)
            i += 2
            continue
        elif ch in "\"'" and not depth:
            quote = ch
            current.append(ch)
        elif ch.isspace() and not depth:
            if current:
                words.append("".join(current))
                current = []
        else:
            current.append(ch)
        i += 1
    if quote:
        raise ValueError(f"unbalanced quote {quote} in {text!r}")
    if current:
        words.append("".join(current))
    return words


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        return inner.replace("\\" + value[0], value[0]) if value[0] == '"' else inner
    return value


def parse_kv(text: str, spec: ModuleSpec | None) -> tuple[dict[str, Any], str | None]:
    """Split `k=v k2="v 2" free text` into args and the free-form rest (None if none).

    For a free-form module only its known argument names are taken out as k=v, so
    `command: echo a=b` keeps `a=b` in the command, as in Ansible.
    """
    words = split_words(text)
    args: dict[str, Any] = {}
    raw: list[str] = []
    free_form = spec.free_form if spec else None
    known = set(spec.args) | set(spec.aliases) if spec else set()
    for word in words:
        match = _KV.match(word)
        if match and (free_form is None or match.group(1) in known) \
                and match.group(1) != free_form:
            args[match.group(1)] = _unquote(match.group(2))
        else:
            raw.append(word)
    return args, (" ".join(raw) if raw else None)
