"""Rendering values against a host's variables, lazily.

`Templar(variables).render(value)` walks dicts and lists and renders every string
holding `{{`/`{%`. Variables are looked up through `LazyVars`: a variable whose
value is itself a template is rendered only when a template reads it, so an
unused variable that cannot be rendered is no error, and a used one raises a
`TemplateError` naming it (the executor adds the task and its file:line).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import jinja2
from jinja2 import meta
from jinja2.sandbox import SecurityError

from pyengine.errors import PlaybookError, TemplateError
from pyengine.templating.environment import (
    ENV,
    HEADER,
    OMIT,
    Undefined,
    compile_template,
    parse_template,
    split_header,
)
from pyengine.templating.filters import to_bool
from pyengine.templating.lookups import WithLoop, with_items
from pyengine.templating.plugins import CURRENT_PLAYBOOK_DIR
from pyengine.templating.unsafe import UnsafeStr


def is_template(value: Any) -> bool:
    """True when `value` is a string a render would change."""
    return (isinstance(value, str) and not isinstance(value, UnsafeStr)
            and ("{{" in value or "{%" in value or "{#" in value or value.startswith(HEADER)))


class LazyVars(Mapping[str, Any]):
    """The variables a template sees: values are rendered on first access."""

    def __init__(self, templar: Templar, variables: Mapping[str, Any]) -> None:
        self._templar = templar
        self._vars = variables

    def __getitem__(self, key: str) -> Any:
        if key in self._vars:
            return self._templar._render_variable(key, self._vars[key])
        if key == "vars":
            return self  # Ansible's `vars`: every variable, by name (`vars['x_' ~ n]`)
        if key in ENV.globals:
            return ENV.globals[key]
        raise KeyError(key)

    def __contains__(self, key: object) -> bool:
        return key in self._vars or key in ENV.globals or key == "vars"

    def __iter__(self) -> Iterator[str]:
        yield from self._vars
        yield from (k for k in ENV.globals if k not in self._vars)

    def __len__(self) -> int:
        return len(set(self._vars) | set(ENV.globals))


class Templar:
    """Renders templates against one set of variables (one host, one task)."""

    def __init__(self, variables: Mapping[str, Any], search_paths: list[Path] | None = None
                 ) -> None:
        self.variables = variables
        self.search_paths = list(search_paths or [])
        self._active: list[str] = []
        self._lazy = LazyVars(self, variables)
        self._pbdir: list[Path] | None = None

    def child(self, extra: Mapping[str, Any]) -> Templar:
        """A templar seeing `extra` on top of these variables (loop `item`, ...)."""
        from collections import ChainMap

        return Templar(ChainMap(dict(extra), self.variables), self.search_paths)  # type: ignore[arg-type]

    # -- public API ---------------------------------------------------------------

    def render(self, value: Any, keys: bool = True) -> Any:
        """Render strings inside `value` (dicts and lists recursively); `omit` drops keys.
        A `with_<lookup>` loop renders to its items. `keys`: dict keys are rendered too
        (task arguments: `set_fact: {"{{ name }}": 1}`); a variable's keys are not, as in
        Ansible."""
        if isinstance(value, str):
            return self._render_str(value)
        if isinstance(value, WithLoop):
            return with_items(self, value)
        if isinstance(value, Mapping):
            out = {}
            for k, v in value.items():
                rendered = self.render(v, keys)
                if isinstance(rendered, str) and rendered == OMIT:
                    continue
                out[self.render(k) if keys and is_template(k) else k] = rendered
            return out
        if isinstance(value, (list, tuple)):
            return [r for r in (self.render(v, keys) for v in value)
                    if not (isinstance(r, str) and r == OMIT)]
        return value

    def evaluate(self, expr: Any) -> bool:
        """Evaluate a `when`/`changed_when`/`failed_when`/`until` condition (a list is ANDed)."""
        if isinstance(expr, (list, tuple)):
            return all(self.evaluate(e) for e in expr)
        if isinstance(expr, bool):
            return expr
        if expr is None:
            return True
        if isinstance(expr, (int, float)):
            return bool(expr)
        text = condition_expression(str(expr))
        # Conditions keep jinja's backslash escapes (Ansible evaluates them so).
        value = self._render_str("{{ (" + text + ") }}", shown=str(expr), escape=False)
        return truth(value)

    def label(self, text: str) -> str:
        """A task or play name for people: rendered when it can be (`Install {{ pkg }}`),
        else as written, so a name never fails a task (Ansible shows it raw then too)."""
        if not is_template(text):
            return text
        try:
            value = self.render(text)
        except PlaybookError:
            return text
        return value if isinstance(value, str) else _text(value)

    def render_text(self, source: str, overrides: Mapping[str, Any] | None = None) -> str:
        """Render the text of a template file (the `template` action, lookup('template')).

        Unlike a YAML value, a file keeps jinja's backslash escapes in `{{ '\\n' }}`;
        `overrides` are jinja settings (trim_blocks, lstrip_blocks, ...), and a `#jinja2:`
        first line in the file overrides them, as in Ansible.
        """
        if not is_template(source):
            return source  # as ansible-core: text without jinja is not rendered at all
        result = self._render_str(source, escape=False, overrides=overrides)
        return "" if result is None else result if isinstance(result, str) else _text(result)

    # -- internals ----------------------------------------------------------------

    def _render_variable(self, name: str, value: Any) -> Any:
        if not _needs_render(value):
            return value
        if name in self._active:
            chain = " -> ".join([*self._active[self._active.index(name):], name])
            raise TemplateError(f"recursive loop in variable '{name}' ({chain})")
        self._active.append(name)
        try:
            return self.render(value, keys=False)
        except TemplateError as err:
            if f"variable '{name}'" in err.message:
                raise
            raise TemplateError(f"{err.message} (while rendering variable '{name}')",
                                err.file, err.line, err.column) from None
        finally:
            self._active.pop()

    def _render_str(self, source: str, shown: str | None = None, escape: bool = True,
                    overrides: Mapping[str, Any] | None = None) -> Any:
        if not is_template(source):
            return source
        shown = source if shown is None else shown
        token = CURRENT_PLAYBOOK_DIR.set(self._playbook_dir())
        try:
            settings = dict(overrides or {})
            if source.startswith(HEADER):
                source, header = split_header(source)
                settings.update(header)
            template = compile_template(source, escape, tuple(sorted(settings.items())))
            context = template.new_context(self._lazy, shared=True)
            result = concat(template.root_render_func(context))
            if isinstance(result, str):
                if not isinstance(result, UnsafeStr):
                    result = str(result)
                # Newlines put back use the caller's newline_sequence, not the header's.
                return _keep_newlines(source, result, dict(overrides or {}), settings)
            return result
        except PlaybookError:
            raise
        except jinja2.UndefinedError as err:
            raise TemplateError(f"{err.message} in {_short(shown)}") from None
        except jinja2.TemplateSyntaxError as err:
            raise TemplateError(f"template syntax error: {err.message} in {_short(shown)}"
                                ) from None
        except SecurityError as err:
            raise TemplateError(f"unsafe template: {err} in {_short(shown)}") from None
        except RecursionError:
            raise TemplateError(f"template recursion too deep in {_short(shown)}") from None
        except Exception as err:  # noqa: BLE001 - filters raise anything; report it in one line
            raise TemplateError(f"{type(err).__name__}: {err} in {_short(shown)}") from None
        finally:
            CURRENT_PLAYBOOK_DIR.reset(token)

    def _playbook_dir(self) -> Path | None:
        """Where a collection plugin is searched first (collections/ beside the playbook)."""
        if self._pbdir is None:
            try:
                folder = self.variables.get("playbook_dir")
            except Exception:  # noqa: BLE001 - a lazy mapping may fail; no playbook folder
                folder = None
            self._pbdir = [Path(folder)] if isinstance(folder, str) and folder else []
        return self._pbdir[0] if self._pbdir else None


_PLAIN = (int, float, bool, type(None))


def _needs_render(value: Any) -> bool:
    """Whether `value` holds a template anywhere (walked without recursion: a variable
    can be a list of thousands of items, and this runs on every read of it)."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, _PLAIN):
            continue
        if isinstance(item, str):
            if is_template(item):
                return True
        elif isinstance(item, Mapping):
            stack.extend(item.values())
        elif isinstance(item, (list, tuple)):
            stack.extend(item)
    return False


def _keep_newlines(source: str, result: str, overrides: Mapping[str, Any],
                   settings: Mapping[str, Any]) -> str:
    """The newlines ending `source` end the result too (jinja drops the last one and
    trim_blocks may eat others); Ansible adds the missing ones back, so do we."""
    if settings.get("keep_trailing_newline"):
        return result
    wanted = len(source) - len(source.rstrip("\n"))
    have = len(result) - len(result.rstrip("\n"))
    if wanted > have:
        return result + str(overrides.get("newline_sequence", "\n")) * (wanted - have)
    return result


def concat(chunks: Iterable[Any]) -> Any:
    """A template's value from its output pieces, as ansible-core makes it: `None` pieces
    are dropped, a single piece keeps its type (`{% set x = 5 %}{{ x }}` is the number 5),
    no piece is None, and several are joined as text."""
    pieces = [c for c in chunks if c is not None]
    if not pieces:
        return None
    if len(pieces) == 1:
        return _defined(pieces[0])
    return "".join(_text(c) for c in pieces)


def _defined(value: Any) -> Any:
    """`value`, after checking that no undefined value hides inside a list or dict made by
    the template (`[1, nope]` is an error, as in Ansible, not a list holding a hole)."""
    stack = [value]
    while stack:
        item = stack.pop()
        kind = type(item)
        if kind in (list, tuple):
            stack.extend(item)
        elif kind is dict:
            stack.extend(item.values())
        elif isinstance(item, jinja2.Undefined):
            item._fail_with_undefined_error()
    return value


def _text(chunk: Any) -> str:
    if isinstance(chunk, jinja2.Undefined):
        chunk._fail_with_undefined_error()
    return chunk if isinstance(chunk, str) else str(chunk)


def _short(text: str, limit: int = 120) -> str:
    text = text.strip()
    return repr(text if len(text) <= limit else text[: limit - 3] + "...")


def truth(value: Any) -> bool:
    """How a condition's value counts: yes/no/true/false strings by their meaning."""
    if isinstance(value, jinja2.Undefined):
        value._fail_with_undefined_error()
    if isinstance(value, str):
        word = value.strip().lower()
        if word in ("true", "yes", "on", "1", "false", "no", "off", "0", "", "none"):
            return to_bool(word) if word != "none" else False
        return True
    return bool(value)


def condition_expression(text: str) -> str:
    """The jinja2 expression of a condition: `{{ x }}` (a common mistake) is unwrapped."""
    text = text.strip()
    if text.startswith("{{") and text.endswith("}}") and text.count("{{") == 1:
        return text[2:-2].strip()
    return text


def template_variables(value: Any, expression: bool = False) -> set[str]:
    """The variable names `value` reads (recursively); `expression` for `when`-style strings.

    The executor uses this to see whether a task reads something registered earlier.
    """
    names: set[str] = set()
    if isinstance(value, str):
        source = "{{ (" + condition_expression(value) + ") }}" if expression else value
        if expression or is_template(source):
            try:
                tree = parse_template(source)
            except jinja2.TemplateSyntaxError as err:
                raise TemplateError(f"template syntax error: {err.message} in {_short(value)}"
                                    ) from None
            names |= meta.find_undeclared_variables(tree)
    elif isinstance(value, Mapping):
        for k, v in value.items():
            names |= template_variables(k, False) | template_variables(v, expression)
    elif isinstance(value, (list, tuple)):
        for v in value:
            names |= template_variables(v, expression)
    return names - set(ENV.globals)


def check_syntax(value: str, expression: bool = False) -> str | None:
    """The syntax error message of a template or condition, or None when it parses."""
    source = "{{ (" + condition_expression(value) + ") }}" if expression else value
    if not expression and not is_template(source):
        return None
    try:
        parse_template(source)
    except jinja2.TemplateSyntaxError as err:
        return f"template syntax error: {err.message}"
    return None


__all__ = ["Templar", "LazyVars", "template_variables", "check_syntax", "truth", "OMIT",
           "Undefined", "is_template"]
