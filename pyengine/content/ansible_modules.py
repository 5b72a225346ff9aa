"""Installed Ansible modules as pyengine's loader sees them (for the module bridge).

- `read_module_doc(path)`: the options an installed module documents. DOCUMENTATION is a
  literal YAML string in the module file (read with ast, then yaml, never importing the
  module); `extends_documentation_fragment` adds the options of doc fragments
  (ansible-core's `plugins/doc_fragments/` or a collection's). Names and aliases let the
  loader refuse an unknown argument with "did you mean"; types, defaults and choices are
  left to the module's own argument_spec on the target (documentation may lag the code).
  When the options cannot be known for sure (no DOCUMENTATION, a fragment not found),
  `complete` is False and any argument name is accepted.
- `is_forced(name, fqcn)`: PYENGINE_ANSIBLE_MODULES (comma-separated FQCNs or patterns,
  `community.general.ini_file,ansible.posix.*`) makes a module run through the bridge
  even where pyengine has a native one.
- `action_plugin(module)`: Ansible's controller-side action plugin of the same name
  (such a module is only half of its behaviour; the bridge does not run action plugins).
- `missing_message(name)`: what to install for an FQCN module found nowhere.
"""

from __future__ import annotations

import ast
import fnmatch
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from pyengine.content.collections import AnsibleModule, ansible_core_dir, find_collection

FORCE_ENV = "PYENGINE_ANSIBLE_MODULES"


@dataclass(frozen=True)
class ModuleDoc:
    """What the loader needs from a module's documentation."""

    summary: str = ""
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    complete: bool = True  # False: some options may be missing; accept any name
    returns_facts: bool = False  # RETURN documents ansible_facts (names not known ahead)
    no_log: frozenset[str] = frozenset()  # options the argument_spec marks no_log=True


_cache: dict[tuple[str, float], ModuleDoc] = {}


def read_module_doc(path: Path, playbook_dir: Path | None = None) -> ModuleDoc:
    """The module's documented options (name -> {"aliases": [...], ...})."""
    try:
        key = (str(path), path.stat().st_mtime)
    except OSError:
        return ModuleDoc(complete=False)
    if key in _cache:
        return _cache[key]
    doc = _parse(path, playbook_dir)
    _cache[key] = doc
    return doc


def _parse(path: Path, playbook_dir: Path | None) -> ModuleDoc:
    strings = _string_assignments(path)
    returns_facts = "ansible_facts" in strings.get("RETURN", "")
    secret = no_log_options(path)
    data = _yaml(strings.get("DOCUMENTATION"))
    if not isinstance(data, dict):
        return ModuleDoc(complete=False, returns_facts=returns_facts, no_log=secret)
    options: dict[str, dict[str, Any]] = {}
    complete = True
    fragments = data.get("extends_documentation_fragment") or []
    if isinstance(fragments, str):
        fragments = [fragments]
    for fragment in fragments:
        extra = _fragment_options(str(fragment), playbook_dir)
        if extra is None:
            complete = False
            continue
        options.update(extra)
    own = data.get("options") or {}
    if isinstance(own, dict):
        for name, opt in own.items():
            options[str(name)] = opt if isinstance(opt, dict) else {}
    summary = data.get("short_description") or ""
    return ModuleDoc(str(summary), options, complete, returns_facts, secret)


def no_log_options(path: Path) -> frozenset[str]:
    """Options the module's argument_spec marks `no_log=True` (`name=dict(..., no_log=True)`
    or `'name': {..., 'no_log': True}`), read from its source: their values are masked in
    pyengine's output as the module masks them in its own."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError):
        return frozenset()
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.keyword) and node.arg and isinstance(node.value, ast.Call) \
                and any(k.arg == "no_log" and _is_true(k.value) for k in node.value.keywords):
            found.add(node.arg)
        elif isinstance(node, ast.Dict):
            for key, value in zip(node.keys, node.values, strict=True):
                if isinstance(key, ast.Constant) and isinstance(key.value, str) and \
                        isinstance(value, ast.Dict) and any(
                            isinstance(k, ast.Constant) and k.value == "no_log" and _is_true(v)
                            for k, v in zip(value.keys, value.values, strict=True)):
                    found.add(key.value)
    return frozenset(found)


def _is_true(node: ast.expr) -> bool:
    return isinstance(node, ast.Constant) and node.value is True


def _yaml(text: str | None) -> Any:
    if not text:
        return None
    try:
        return yaml.safe_load(text)
    except yaml.YAMLError:
        return None


def _string_assignments(path: Path, class_name: str | None = None) -> dict[str, str]:
    """NAME = "literal" at module level (or inside class `class_name`)."""
    try:
        tree = ast.parse(path.read_text(encoding="utf-8", errors="replace"))
    except (OSError, SyntaxError):
        return {}
    body: list[ast.stmt] = tree.body
    if class_name is not None:
        body = next((n.body for n in tree.body
                     if isinstance(n, ast.ClassDef) and n.name == class_name), [])
    out: dict[str, str] = {}
    for node in body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 \
                and isinstance(node.targets[0], ast.Name):
            try:
                value = ast.literal_eval(node.value)
            except ValueError:
                continue
            if isinstance(value, str):
                out[node.targets[0].id] = value
    return out


def _fragment_options(name: str, playbook_dir: Path | None) -> dict[str, Any] | None:
    """Options of doc fragment `name` ('files', 'ns.coll.frag', 'ns.coll.frag.var')."""
    parts = name.split(".")
    attr = "DOCUMENTATION"
    if len(parts) <= 2 or parts[:2] in (["ansible", "builtin"], ["ansible", "legacy"]):
        # 'files', 'frag.var' (ansible-core's), 'ansible.builtin.frag[.var]'
        core = ansible_core_dir()
        short = parts[0] if len(parts) <= 2 else parts[2]
        if len(parts) in (2, 4):
            attr = parts[-1].upper()
        folder = core / "plugins" / "doc_fragments" if core else None
    else:
        if len(parts) < 3:
            return None
        collection = find_collection(".".join(parts[:2]), playbook_dir)
        short = parts[2]
        if len(parts) > 3:
            attr = parts[3].upper()
        folder = collection / "plugins" / "doc_fragments" if collection else None
    if folder is None or not (folder / f"{short}.py").is_file():
        return None
    strings = _string_assignments(folder / f"{short}.py", "ModuleDocFragment")
    if attr not in strings:
        return None
    data = _yaml(strings[attr])
    if not isinstance(data, dict):
        return {} if data is None else None
    options = data.get("options") or {}
    return {str(k): (v if isinstance(v, dict) else {}) for k, v in options.items()} \
        if isinstance(options, dict) else {}


# -- forcing the bridge, action plugins, what to install ---------------------------------


def forced_patterns() -> list[str]:
    """The FQCN patterns that must run through the bridge (from PYENGINE_ANSIBLE_MODULES)."""
    raw = os.environ.get(FORCE_ENV, "")
    return [p.strip() for p in raw.replace(" ", ",").split(",") if p.strip()]


def is_forced(name: str, fqcn: str = "") -> bool:
    """True when module `name` (or its resolved `fqcn`) is listed in PYENGINE_ANSIBLE_MODULES."""
    patterns = forced_patterns()
    return any(fnmatch.fnmatchcase(n, p) for p in patterns for n in (name, fqcn) if n)


def action_plugin(module: AnsibleModule) -> Path | None:
    """Ansible's action plugin of the same name, when the module has one."""
    short = module.fqcn.split(".", 2)[2]
    if module.collection is None:
        core = ansible_core_dir()
        folder = core / "plugins" / "action" if core else None
    else:
        folder = module.collection / "plugins" / "action"
    path = folder / f"{short}.py" if folder else None
    return path if path is not None and path.is_file() else None


def missing_message(name: str, playbook_dir: Path | None = None) -> str | None:
    """What to install for an FQCN module found nowhere; None for a name that is no FQCN."""
    parts = name.split(".")
    if len(parts) < 3 or not all(p.isidentifier() for p in parts):
        return None
    collection = ".".join(parts[:2])
    if collection in ("ansible.builtin", "ansible.legacy"):
        if ansible_core_dir() is None:
            return (f"module {name} not found: install ansible-core "
                    "(pip install ansible-core, or pip install pyengine[ansible])")
        return None  # the loader's "unknown module" with its did-you-mean says more
    folder = find_collection(collection, playbook_dir)
    if folder is None:
        return (f"module {name} not found: install the collection {collection} "
                f"(pip install ansible, or ansible-galaxy collection install {collection})")
    return f"module {name} not found in the installed collection {collection} ({folder})"
