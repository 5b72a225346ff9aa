"""The one sandboxed jinja2 environment every template is rendered in.

Sandboxed because templates come from playbooks and variables, and variables can
come from inventories other people edit; native code generation so a lone
`{{ expr }}` keeps its type (a list stays a list), as Ansible users expect.
"""

from __future__ import annotations

import ast
import contextvars
import functools
from collections.abc import Callable, Iterator
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, TemplateSyntaxError, nodes
from jinja2.lexer import TOKEN_STRING, TOKEN_VARIABLE_BEGIN, TOKEN_VARIABLE_END, Lexer
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from pyengine.templating.filters import FILTERS
from pyengine.templating.plugins import PluginTable
from pyengine.templating.tests import TESTS

# `{{ x | default(omit) }}` drops the argument; the token is unguessable on purpose.
OMIT = "__omit_place_holder__6f1e0c2d5b"


class Undefined(ChainableUndefined, StrictUndefined):  # type: ignore[misc]
    """Strict on use (str, bool, iteration), chainable on access, so that
    `x.y | default(1)` works when `x` is undefined, as in Ansible."""

    __slots__ = ()

    @property
    def _undefined_message(self) -> str:
        if self._undefined_hint:
            return self._undefined_hint
        if self._undefined_obj is missing:
            return f"undefined variable '{self._undefined_name}'"
        return str(StrictUndefined._undefined_message.fget(self))  # type: ignore[attr-defined]


class _CodeGenerator(NativeCodeGenerator):
    """Native output without constant folding: jinja2 folds `{{ [3, 1] | first }}` into
    the text '3' at compile time, which would lose the type of a lone expression."""

    def _output_child_to_const(self, node: nodes.Expr, frame: Any, finalize: Any) -> Any:
        if not isinstance(node, nodes.TemplateData):
            raise nodes.Impossible()
        return super()._output_child_to_const(node, frame, finalize)


# Set while a template from YAML is compiled: see _Lexer.
_ESCAPE_BACKSLASHES: contextvars.ContextVar[bool] = contextvars.ContextVar(
    "pyengine_escape_backslashes", default=False)


class _Lexer(Lexer):
    """Backslashes in string constants inside `{{ }}` stay as written, for templates
    that come from YAML values (Ansible's rule): YAML has already processed the escapes of
    a double-quoted string, so `regex_replace('^(.*)\\.pub$', '\\1')` in YAML reaches
    the filter as the backreference `\\1`, not as the control character jinja would make of
    it. Template files, conditionals and `{% %}` statements keep jinja's escapes."""

    def tokeniter(self, *args: Any, **kwargs: Any) -> Iterator[tuple[int, str, str]]:
        stream = super().tokeniter(*args, **kwargs)
        if not _ESCAPE_BACKSLASHES.get():
            yield from stream
            return
        inside = False
        for lineno, kind, value in stream:
            if kind == TOKEN_VARIABLE_BEGIN:
                inside = True
            elif kind == TOKEN_VARIABLE_END:
                inside = False
            elif inside and kind == TOKEN_STRING:
                value = value.replace("\\", "\\\\")
            yield lineno, kind, value


_LEXERS: dict[tuple[Any, ...], _Lexer] = {}


def _concat(chunks: Any) -> Any:
    """Macros and blocks join their output as ansible-core does (see templar.concat)."""
    pieces = [c for c in chunks if c is not None]
    if len(pieces) == 1:
        return pieces[0]
    return "".join(c if isinstance(c, str) else str(c) for c in pieces)


class _Environment(SandboxedEnvironment):
    code_generator_class = _CodeGenerator
    concat = staticmethod(_concat)  # type: ignore[assignment]

    @property
    def lexer(self) -> Lexer:  # type: ignore[override]
        key = (self.block_start_string, self.block_end_string, self.variable_start_string,
               self.variable_end_string, self.comment_start_string, self.comment_end_string,
               self.line_statement_prefix, self.line_comment_prefix, self.trim_blocks,
               self.lstrip_blocks, self.newline_sequence, self.keep_trailing_newline)
        lexer = _LEXERS.get(key)
        if lexer is None:
            lexer = _LEXERS[key] = _Lexer(self)
        return lexer


def _undef(hint: str | None = None) -> Undefined:
    """Ansible's `undef()`: an undefined value, with a hint shown when it is used."""
    return Undefined(hint=hint or "mandatory variable has not been overridden")


def _register(env: _Environment, table: dict[str, Callable[..., Any]], kind: str) -> None:
    target = env.filters if kind == "filters" else env.tests
    for name, fn in table.items():
        target[name] = fn
        target[f"ansible.builtin.{name}"] = fn


def _make_environment() -> _Environment:
    # trim_blocks as in Ansible; trailing newlines are kept by the templar (see render_text).
    env = _Environment(undefined=Undefined, trim_blocks=True, keep_trailing_newline=False,
                       extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
    _register(env, FILTERS, "filters")
    _register(env, TESTS, "tests")
    for name in list(env.filters):
        env.filters.setdefault(f"ansible.builtin.{name}", env.filters[name])
    for name in list(env.tests):
        env.tests.setdefault(f"ansible.builtin.{name}", env.tests[name])
    env.globals["omit"] = OMIT
    env.globals["undef"] = _undef
    # Collection filters and tests (`community.general.dict_kv`) load on first use.
    env.filters = PluginTable("filter", dict(env.filters))  # type: ignore[assignment]
    env.tests = PluginTable("test", dict(env.tests))  # type: ignore[assignment,arg-type]
    return env


ENV = _make_environment()


def add_filters(table: dict[str, Callable[..., Any]]) -> None:
    """Filters that a higher layer provides (the vault's `vault`/`unvault`), under their
    name and `ansible.builtin.NAME`."""
    for name, fn in table.items():
        ENV.filters[name] = fn
        ENV.filters[f"ansible.builtin.{name}"] = fn


# `#jinja2: key: value, ...` on a template's first line: the jinja settings Ansible lets a
# template choose for itself (the line itself is not output).
HEADER = "#jinja2:"
OVERRIDE_KEYS = ("block_start_string", "block_end_string", "variable_start_string",
                 "variable_end_string", "comment_start_string", "comment_end_string",
                 "line_statement_prefix", "line_comment_prefix", "trim_blocks",
                 "lstrip_blocks", "newline_sequence", "keep_trailing_newline")
Overrides = tuple[tuple[str, Any], ...]


class HeaderError(TemplateSyntaxError):
    """A `#jinja2:` line that cannot be read (a template syntax error on line 1)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, 1)


def split_header(source: str) -> tuple[str, dict[str, Any]]:
    """`source` without its `#jinja2:` line, and the settings that line asks for."""
    if not source.startswith(HEADER):
        return source, {}
    eol = source.find("\n")
    if eol == -1:
        raise HeaderError(f"missing newline after the {HEADER!r} line")
    settings: dict[str, Any] = {}
    for pair in source[len(HEADER):eol].split(","):
        key, sep, raw = pair.partition(":")
        key = key.strip()
        if not sep or not key:
            raise HeaderError(f"{HEADER!r} line: expected 'key: value', got {pair.strip()!r}")
        if key not in OVERRIDE_KEYS:
            raise HeaderError(f"{HEADER!r} line: unknown setting {key!r}")
        try:
            settings[key] = ast.literal_eval(raw.strip())
        except (ValueError, SyntaxError):
            raise HeaderError(f"{HEADER!r} line: bad value for {key}: {raw.strip()!r}"
                              ) from None
    return source[eol + 1:], settings


@functools.lru_cache(maxsize=64)
def environment_for(overrides: Overrides = ()) -> _Environment:
    """ENV, or an overlay of it with other jinja settings (sharing filters and globals)."""
    if not overrides:
        return ENV
    return ENV.overlay(**dict(overrides))  # type: ignore[return-value]


@functools.lru_cache(maxsize=8192)
def compile_template(source: str, escape_backslashes: bool = True, overrides: Overrides = ()
                     ) -> Any:
    """Compile `source` once.

    `source` is without its `#jinja2:` line; `overrides` are the jinja settings to use.
    """
    env = environment_for(overrides)
    token = _ESCAPE_BACKSLASHES.set(escape_backslashes)
    try:
        tree = env.parse(source)
    finally:
        _ESCAPE_BACKSLASHES.reset(token)
    return env.from_string(tree)


@functools.lru_cache(maxsize=8192)
def parse_template(source: str) -> nodes.Template:
    """The jinja2 AST of `source` (raises jinja2.TemplateSyntaxError)."""
    source, settings = split_header(source) if source.startswith(HEADER) else (source, {})
    token = _ESCAPE_BACKSLASHES.set(True)  # as YAML values are compiled (no escape warnings)
    try:
        return environment_for(tuple(sorted(settings.items()))).parse(source)
    finally:
        _ESCAPE_BACKSLASHES.reset(token)
