"""Pack an installed Ansible module with the module_utils it imports, for the agent.

The imports are found by reading the sources with ast (never importing Ansible on the
controller), recursively: `ansible.module_utils.*` from the installed ansible-core and
`ansible_collections.NS.COLL.plugins.module_utils.*` from the installed collections.
`from a.b import c` takes `a/b/c.py` when it exists (c is a submodule) and `a/b` otherwise;
`import a.b.c` where `c` is not a file takes its longest existing prefix (six.moves).
Parent packages come along (a missing `__init__.py` is an empty one). ansible-core's
`basic` and its JSON profile modules (2.19+, imported by name at run time) always come.
An import the controller cannot find is left out: the module reports it on the target as
Ansible would (most are optional imports inside `try:`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pyengine.agent.bundle import ANSIBLE, ModuleCode, imports_of, parse_source
from pyengine.content.collections import AnsibleModule, ansible_core_dir, find_collection

# Imported by name at run time (importlib), so no import statement shows them.
ALWAYS = (
    "ansible.module_utils.basic",
    "ansible.module_utils._internal._json._profiles._module_legacy_c2m",
    "ansible.module_utils._internal._json._profiles._module_legacy_m2c",
)


@dataclass(frozen=True)
class _Located:
    relpath: str  # 'ansible/module_utils/basic.py'
    path: Path | None  # None: an empty package written by us


class Packer:
    """Resolves dotted module names to files under ansible-core and the collections."""

    def __init__(self, playbook_dir: Path | None = None) -> None:
        self.playbook_dir = playbook_dir
        self.core = ansible_core_dir()
        self._collections: dict[str, Path | None] = {}

    def _collection(self, fqcn: str) -> Path | None:
        if fqcn not in self._collections:
            self._collections[fqcn] = find_collection(fqcn, self.playbook_dir)
        return self._collections[fqcn]

    def locate(self, dotted: str) -> _Located | None:
        """Where module `dotted` lives, or None when it is not Ansible content we ship."""
        parts = dotted.split(".")
        rel = "/".join(parts)
        if parts[0] == "ansible":
            if len(parts) == 1 or parts[1] == "modules" and len(parts) == 2:
                return _Located(f"{rel}/__init__.py", None)
            if parts[1] not in ("module_utils", "modules") or self.core is None:
                return None
            return self._file(self.core.joinpath(*parts[1:]), rel)
        if parts[0] == "ansible_collections":
            if len(parts) <= 4:
                # ansible_collections, NS, NS.COLL, NS.COLL.plugins: plain packages
                if len(parts) == 4 and parts[3] != "plugins":
                    return None
                return _Located(f"{rel}/__init__.py", None)
            if parts[4] not in ("module_utils", "modules"):
                return None
            folder = self._collection(f"{parts[1]}.{parts[2]}")
            if folder is None:
                return None
            return self._file(folder.joinpath(*parts[3:]), rel,
                              empty_package=len(parts) == 5)
        return None

    @staticmethod
    def _file(base: Path, rel: str, empty_package: bool = False) -> _Located | None:
        if base.with_suffix(".py").is_file() and not base.is_dir():
            return _Located(f"{rel}.py", base.with_suffix(".py"))
        init = base / "__init__.py"
        if init.is_file():
            return _Located(f"{rel}/__init__.py", init)
        if base.is_dir() and (empty_package or any(base.glob("*.py"))):
            return _Located(f"{rel}/__init__.py", None)  # a namespace package
        return None

    def pack(self, module: AnsibleModule) -> ModuleCode:
        """The module and every file it needs, as the agent's `ansible` kind runs it."""
        entry = _dotted_name(module)
        files: dict[str, str] = {}
        done: set[str] = set()
        todo: list[str] = [entry]
        if self.core is not None:
            todo.extend(ALWAYS)
        while todo:
            dotted = todo.pop()
            if dotted in done:
                continue
            done.add(dotted)
            found = self.locate(dotted)
            if dotted == entry:  # a library/ module is not where its dotted name points
                found = _Located(entry.replace(".", "/") + ".py", module.path)
            if found is None:
                continue
            source = found.path.read_text(encoding="utf-8") if found.path else ""
            if found.path is None and dotted == "ansible":
                source = f"__version__ = {ansible_core_version(self.core)!r}\n"
            files[found.relpath] = source
            parent = dotted.rpartition(".")[0]
            if parent:
                todo.append(parent)
            if not source:
                continue
            is_package = found.relpath.endswith("/__init__.py")
            package = dotted if is_package else parent
            tree = parse_source(source, found.relpath)
            for imp in imports_of(tree, package):
                todo.extend(self._targets(imp.module, imp.names))
        meta: dict[str, Any] = {"ansible_version": ansible_core_version(self.core),
                                "fqcn": module.fqcn}
        known = pass_vars(files)
        if known is not None:
            meta["pass_vars"] = known
        return ModuleCode(source="", kind=ANSIBLE, files=files, entry=entry, meta=meta)

    def _targets(self, module: str, names: tuple[str, ...]) -> list[str]:
        """The dotted names an import needs, existing ones only."""
        if not module.startswith(("ansible.", "ansible_collections.")) and module not in (
                "ansible", "ansible_collections"):
            return []
        out: list[str] = []
        for name in names:
            candidate = f"{module}.{name}"
            if self.locate(candidate) is not None:
                out.append(candidate)
        # The imported module itself, or its longest prefix that is a real file.
        parts = module.split(".")
        while parts:
            dotted = ".".join(parts)
            if self.locate(dotted) is not None:
                out.append(dotted)
                break
            parts.pop()
        return out


def _dotted_name(module: AnsibleModule) -> str:
    namespace, coll, *rest = module.fqcn.split(".")
    if module.collection is None:
        return "ansible.modules." + ".".join(rest)
    return f"ansible_collections.{namespace}.{coll}.plugins.modules." + ".".join(rest)


def pass_vars(files: dict[str, str]) -> list[str] | None:
    """The `_ansible_*` names the packed ansible-core accepts (keys of its PASS_VARS dict,
    in common/parameters.py or, in older releases, basic.py); None when not found."""
    for rel in ("ansible/module_utils/common/parameters.py", "ansible/module_utils/basic.py"):
        if rel not in files:
            continue
        for node in ast.parse(files[rel]).body:
            target: ast.expr
            value: ast.expr | None
            if isinstance(node, ast.AnnAssign):
                target, value = node.target, node.value
            elif isinstance(node, ast.Assign) and len(node.targets) == 1:
                target, value = node.targets[0], node.value
            else:
                continue
            if isinstance(target, ast.Name) and target.id == "PASS_VARS" and \
                    isinstance(value, ast.Dict):
                return sorted(k.value for k in value.keys
                              if isinstance(k, ast.Constant) and isinstance(k.value, str))
    return None


def ansible_core_version(core: Path | None) -> str:
    """ansible-core's version, read from its module_utils/ansible_release.py."""
    if core is None:
        return "0.0"
    path = core / "module_utils" / "ansible_release.py"
    try:
        tree = ast.parse(path.read_text(encoding="utf-8"))
    except (OSError, SyntaxError):
        return "0.0"
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == "__version__" for t in node.targets):
            try:
                return str(ast.literal_eval(node.value))
            except ValueError:
                break
    return "0.0"


_packs: dict[tuple[str, float, str], ModuleCode] = {}


def pack_module(module: AnsibleModule, playbook_dir: Path | None = None) -> ModuleCode:
    """`Packer(playbook_dir).pack(module)`, cached by the module file's mtime."""
    key = (str(module.path), module.path.stat().st_mtime, str(playbook_dir))
    if key not in _packs:
        _packs[key] = Packer(playbook_dir).pack(module)
    return _packs[key]
