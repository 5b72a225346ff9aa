"""Imports go one way: down the layers of pyengine, and never in a circle between files.

LAYERS is the one place the order is written (docs/ARCHITECTURE.md draws it). Each entry
names top-level packages or modules of pyengine/; a file may import from its own layer
and the layers below it, never from one above. Every import counts: top-level, inside
functions (lazy), and under `if TYPE_CHECKING:` (a type-only import still means the two
files know each other). A new top-level package fails here until it is given a layer.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pyengine"

# Top first. A layer may import itself and every layer after it.
LAYERS: tuple[tuple[str, frozenset[str]], ...] = (
    ("entry", frozenset({"__main__", "commands"})),
    ("features", frozenset({"report", "patching", "lab", "schedule", "alerts", "runlock",
                           "health", "scaffold"})),
    ("distributed", frozenset({"distributed"})),
    ("engine", frozenset({"executor"})),
    ("actions", frozenset({"actions", "bridge"})),
    ("remote", frozenset({"reach", "agent", "connection", "persist"})),
    ("variables", frozenset({"vars", "vault", "hostnames_lookup"})),
    ("definitions", frozenset({"inventory", "playbook"})),
    ("module specs", frozenset({"modspec"})),
    ("yaml", frozenset({"yamlload"})),
    ("templating", frozenset({"templating"})),
    ("stores", frozenset({"backup", "history", "content"})),
    ("base", frozenset({"errors", "masking", "origin", "paths", "safepath", "booleans",
                        "__init__"})),
)
# Target-side content shipped to hosts (modules, playbooks): not controller imports.
SKIPPED = ("_content",)


def _rank(unit: str) -> int:
    for rank, (_, units) in enumerate(LAYERS):
        if unit in units:
            return rank
    raise AssertionError(f"pyengine/{unit} is in no layer: add it to LAYERS in {__file__}")


def _layer_name(unit: str) -> str:
    return LAYERS[_rank(unit)][0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _files() -> dict[str, Path]:
    return {_module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))
            if not any(part in SKIPPED for part in p.relative_to(PACKAGE).parts)}


def _unit(module: str) -> str:
    """The top-level package or module of pyengine a module belongs to."""
    parts = module.split(".")
    if len(parts) == 1:
        return "__init__"
    return parts[1]


def _resolve(name: str, files: dict[str, Path]) -> str | None:
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


def _imports(module: str, path: Path, files: dict[str, Path]) -> Iterator[tuple[str, int]]:
    """(imported pyengine module, line) for every import statement of a file."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_package else module.split(".")[:-1]
                base = base[:len(base) - node.level + 1]
                source = ".".join(base + ([node.module] if node.module else []))
            else:
                source = node.module or ""
            # `from pyengine.x import y` imports the module pyengine.x.y when there is one.
            names = [f"{source}.{a.name}" if f"{source}.{a.name}" in files else source
                     for a in node.names]
        for name in names:
            if name.split(".")[0] == "pyengine":
                target = _resolve(name, files)
                if target and target != module:
                    yield target, node.lineno


def _graph() -> tuple[dict[str, Path], dict[str, dict[str, int]]]:
    files = _files()
    graph: dict[str, dict[str, int]] = {}
    for module, path in files.items():
        edges: dict[str, int] = {}
        for target, line in _imports(module, path, files):
            edges.setdefault(target, line)
        graph[module] = edges
    return files, graph


def _where(files: dict[str, Path], module: str, line: int) -> str:
    return f"{files[module].relative_to(ROOT)}:{line}"


def test_every_top_level_package_has_a_layer() -> None:
    files = _files()
    for unit in sorted({_unit(m) for m in files}):
        _rank(unit)


def test_no_import_from_a_lower_layer_to_a_higher_one() -> None:
    files, graph = _graph()
    wrong = []
    for module, edges in graph.items():
        low = _unit(module)
        for target, line in edges.items():
            high = _unit(target)
            if _rank(high) < _rank(low):
                wrong.append(f"{_where(files, module, line)}: {module} ({_layer_name(low)}) "
                             f"imports {target} ({_layer_name(high)}, a higher layer)")
    assert not wrong, "imports against the layer order:\n" + "\n".join(wrong)


def _cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected groups of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for start in graph:
        if start in index:
            continue
        work = [(start, iter(graph[start]))]
        index[start] = low[start] = len(index)
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in graph:
                    continue
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph[child])))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                group = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    group.append(member)
                    if member == node:
                        break
                if len(group) > 1:
                    found.append(sorted(group))
    return found


def test_no_import_cycle_between_files() -> None:
    files, graph = _graph()
    report = []
    for group in _cycles(graph):
        members = set(group)
        report.append("cycle: " + " <-> ".join(group))
        for module in group:
            for target, line in graph[module].items():
                if target in members:
                    report.append(f"  {_where(files, module, line)}: {module} imports {target}")
    assert not report, "\n".join(report)


def test_the_checks_see_lazy_and_type_only_imports(tmp_path: Path) -> None:
    """The reader itself: an import inside a function or under TYPE_CHECKING is found."""
    source = ("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
              "    from pyengine.executor import host\n"
              "def f():\n    from pyengine.report.json_report import report_dict\n")
    path = tmp_path / "probe.py"
    path.write_text(source)
    files = _files()
    found = {target for target, _ in _imports("pyengine.errors", path, files)}
    assert {"pyengine.executor.host", "pyengine.report.json_report"} <= found
    assert _cycles({"a": {"b": 1}, "b": {"c": 1}, "c": {"a": 1}, "d": {"a": 1}}) == [
        ["a", "b", "c"]]
