"""What travels to the agent for one module: its source and the helper files it imports.

Controller side. A native module (`modules/NAME.py`) may import shared stdlib helpers
from `modules/module_utils/` (`from module_utils.textfile import ...`); an Ansible module
run through the bridge (`pyengine/bridge/`) carries the `ansible.module_utils` and
collection `module_utils` files it imports. Either way the imports are found by READING
the source (ast), never by importing it, and each helper file travels once per run
(the session caches by sha1, the agent serves them from memory: no files on the target).
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pyengine.errors import PyengineError
from pyengine.paths import builtin_modules_dir

NATIVE = "native"  # main(m) run inside the agent by runtime.run_module
ANSIBLE = "ansible"  # an Ansible module run as __main__ in a child Python (bridge)

# The package native modules import their shared helpers from (modules/module_utils/).
NATIVE_UTILS = "module_utils"


@dataclass(frozen=True)
class ModuleCode:
    """One module as the agent receives it.

    `files` maps a relative path ('module_utils/textfile.py', 'ansible/module_utils/
    basic.py', 'pkg/__init__.py') to its source; the agent imports them from memory.
    `entry` (Ansible modules) is the dotted name run as `__main__`; `meta` carries what the
    module contract needs besides the task (e.g. the controller's ansible-core version).
    """

    source: str
    kind: str = NATIVE
    files: dict[str, str] = field(default_factory=dict)
    entry: str = ""
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class Import:
    """One import statement's target, made absolute: 'a.b.c' (`names` holds what a
    `from a.b.c import x, y` takes, each maybe a submodule). `optional`: inside a
    `try:` that catches ImportError, or under `if TYPE_CHECKING:`."""

    module: str
    names: tuple[str, ...] = ()
    optional: bool = False
    line: int = 0


def parse_source(source: str, filename: str) -> ast.Module:
    try:
        return ast.parse(source, filename=filename)
    except SyntaxError as err:
        raise PyengineError(f"{filename}:{err.lineno}: does not parse: {err.msg}") from None


def imports_of(tree: ast.Module, package: str = "") -> list[Import]:
    """Every import in the module (also inside functions and try blocks), absolute.

    `package` is the dotted package of the module being read (for relative imports).
    """
    out: list[Import] = []

    def visit(node: ast.AST, optional: bool) -> None:
        for child in ast.iter_child_nodes(node):
            child_optional = optional
            if isinstance(child, ast.Try) and _catches_import_error(child):
                # The body's imports may fail: the module handles that itself.
                for stmt in child.body:
                    _record(stmt, True)
                    visit(stmt, True)
                for part in (*child.handlers, *child.orelse, *child.finalbody):
                    _record(part, optional)
                    visit(part, optional)
                continue
            if isinstance(child, ast.If) and _is_type_checking(child.test):
                child_optional = True
            _record(child, child_optional)
            visit(child, child_optional)

    def _record(node: ast.AST, optional: bool) -> None:
        if isinstance(node, ast.Import):
            for alias in node.names:
                out.append(Import(alias.name, (), optional, node.lineno))
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(node.module or "", node.level, package)
            if base:
                names = tuple(a.name for a in node.names if a.name != "*")
                out.append(Import(base, names, optional, node.lineno))

    visit(tree, False)
    return list(dict.fromkeys(out))  # a statement reached twice is one import


def _absolute(module: str, level: int, package: str) -> str:
    if level == 0:
        return module
    parts = package.split(".") if package else []
    if level - 1 > len(parts):
        return ""
    base = parts[: len(parts) - (level - 1)]
    return ".".join(base + ([module] if module else []))


def _catches_import_error(node: ast.Try) -> bool:
    for handler in node.handlers:
        if handler.type is None:
            return True
        names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
        for name in names:
            ident = name.id if isinstance(name, ast.Name) else getattr(name, "attr", "")
            if ident in ("ImportError", "ModuleNotFoundError", "Exception", "BaseException"):
                return True
    return False


def _is_type_checking(test: ast.expr) -> bool:
    if isinstance(test, ast.Name):
        return test.id == "TYPE_CHECKING"
    return isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"


# -- native modules ------------------------------------------------------------------


def native_utils_dirs(project_dirs: Iterable[Path | str] = ()) -> list[Path]:
    """Where native helpers are looked up: a project's `modules/module_utils/` first."""
    dirs = [Path(d) / "modules" / NATIVE_UTILS for d in project_dirs]
    dirs.append(builtin_modules_dir() / NATIVE_UTILS)
    return dirs


def native_code(source: str, name: str = "module",
                utils_dirs: Iterable[Path] | None = None) -> ModuleCode:
    """A native module with the `module_utils.*` helpers it imports (recursively)."""
    dirs = list(utils_dirs) if utils_dirs is not None else native_utils_dirs()
    files: dict[str, str] = {}
    todo = [(source, f"modules/{name}.py")]
    while todo:
        text, filename = todo.pop()
        try:
            tree = ast.parse(text, filename=filename)
        except SyntaxError:
            if filename == f"modules/{name}.py":
                return ModuleCode(source)  # the agent reports it, for this task only
            tree = parse_source(text, filename)  # a helper: raises a one-line error
        for imp in imports_of(tree):
            for dotted in _native_targets(imp):
                rel = dotted.split(".", 1)[1].replace(".", "/") + ".py"
                key = f"{NATIVE_UTILS}/{rel}"
                if key in files:
                    continue
                path = next((d / rel for d in dirs if (d / rel).is_file()), None)
                if path is None:
                    if imp.optional:
                        continue
                    raise PyengineError(f"{filename}:{imp.line}: imports {dotted}, but no "
                                        f"{NATIVE_UTILS}/{rel} was found")
                files[key] = path.read_text(encoding="utf-8")
                todo.append((files[key], f"modules/{key}"))
    if files:
        files[f"{NATIVE_UTILS}/__init__.py"] = ""
    return ModuleCode(source, NATIVE, files)


def _native_targets(imp: Import) -> list[str]:
    """Helper modules an import names: `module_utils.x` or `from module_utils import x`."""
    if imp.module == NATIVE_UTILS:
        return [f"{NATIVE_UTILS}.{n}" for n in imp.names]
    if imp.module.startswith(NATIVE_UTILS + "."):
        return [imp.module]
    return []
