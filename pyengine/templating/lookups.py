"""The controller-side lookups playbooks use most: env, file, vars, list/items, dict,
first_found, fileglob. `lookup(...)` joins list results with commas, `query`/`q`
returns lists, as in Ansible. Files are searched in the templar's search paths
(role files/, playbook folder) when relative."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

from jinja2 import pass_context
from jinja2.runtime import Context

from pyengine.errors import TemplateError


def _search_paths(context: Context) -> list[Path]:
    templar = getattr(context.parent, "_templar", None)
    return list(getattr(templar, "search_paths", []) or []) + [Path.cwd()]


def _find(context: Context, name: str, subdir: str = "files") -> Path | None:
    path = Path(name)
    if path.is_absolute():
        return path if path.exists() else None
    for base in _search_paths(context):
        for candidate in (base / subdir / path, base / path):
            if candidate.exists():
                return candidate
    return None


def _env(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    default = kw.get("default", "")
    return [os.environ.get(str(t), default) for t in terms]


def _file(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    out = []
    for term in terms:
        found = _find(context, str(term))
        if found is None:
            raise TemplateError(f"lookup('file'): file not found: {term}")
        text = found.read_text(encoding="utf-8")
        out.append(text.rstrip("\n") if kw.get("rstrip", True) else text)
    return out


def _vars(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    out = []
    for term in terms:
        if term in context.parent:
            out.append(context.parent[term])
        elif "default" in kw:
            out.append(kw["default"])
        else:
            raise TemplateError(f"undefined variable '{term}' (in lookup('vars'))")
    return out


def _items(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        out.extend(term if isinstance(term, list) else [term])
    return out


def _dict(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    out: list[Any] = []
    for term in terms:
        if not isinstance(term, dict):
            raise TemplateError("lookup('dict') expects a dictionary")
        out.extend({"key": k, "value": v} for k, v in term.items())
    return out


def _first_found(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    names: list[Any] = []
    for term in terms:
        if isinstance(term, dict):
            for f in term.get("files", []):
                names.extend(os.path.join(p, f) for p in term.get("paths", [""]))
        else:
            names.extend(term if isinstance(term, list) else [term])
    for name in names:
        found = _find(context, str(name))
        if found is not None:
            return [str(found)]
    if kw.get("skip"):
        return []
    raise TemplateError(f"lookup('first_found'): none of {names} found")


def _fileglob(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    out: list[str] = []
    for term in terms:
        pattern = str(term)
        bases = [Path("/")] if os.path.isabs(pattern) else _search_paths(context)
        for base in bases:
            matches = sorted(glob.glob(str(base / "files" / pattern))
                             or glob.glob(str(base / pattern)))
            if matches:
                out.extend(m for m in matches if os.path.isfile(m))
                break
    return out


def _template(context: Context, terms: list[Any], **kw: Any) -> list[Any]:
    templar = getattr(context.parent, "_templar", None)
    out = []
    for term in terms:
        found = _find(context, str(term), "templates")
        if found is None:
            raise TemplateError(f"lookup('template'): template not found: {term}")
        source = found.read_text(encoding="utf-8")
        out.append(templar.render(source) if templar is not None else source)
    return out


LOOKUPS: dict[str, Callable[..., list[Any]]] = {
    "template": _template,
    "env": _env, "file": _file, "vars": _vars, "items": _items, "list": _items,
    "dict": _dict, "first_found": _first_found, "fileglob": _fileglob,
}


def _run(context: Context, name: str, terms: tuple[Any, ...], kw: dict[str, Any]) -> list[Any]:
    short = name.rsplit(".", 1)[-1]
    fn = LOOKUPS.get(short)
    if fn is None:
        from pyengine.errors import did_you_mean

        raise TemplateError(f"unknown lookup '{name}'{did_you_mean(short, LOOKUPS)}")
    kw.pop("wantlist", None)
    kw.pop("errors", None)
    return fn(context, list(terms), **kw)


@pass_context
def lookup(context: Context, name: str, *terms: Any, **kw: Any) -> Any:
    wantlist = kw.get("wantlist", False)
    result = _run(context, name, terms, dict(kw))
    if wantlist:
        return result
    if len(result) == 1:
        return result[0]
    return ",".join(str(r) for r in result)


@pass_context
def query(context: Context, name: str, *terms: Any, **kw: Any) -> list[Any]:
    return _run(context, name, terms, dict(kw))
