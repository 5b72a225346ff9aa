"""The one sandboxed jinja2 environment every template is rendered in.

Sandboxed because templates come from playbooks and variables, and variables can
come from inventories other people edit; native code generation so a lone
`{{ expr }}` keeps its type (a list stays a list), as Ansible users expect.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

from jinja2 import ChainableUndefined, StrictUndefined, nodes
from jinja2.nativetypes import NativeCodeGenerator
from jinja2.sandbox import SandboxedEnvironment
from jinja2.utils import missing

from pyengine.templating.filters import FILTERS
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


class _Environment(SandboxedEnvironment):
    code_generator_class = _CodeGenerator


def _register(env: _Environment, table: dict[str, Callable[..., Any]], kind: str) -> None:
    target = env.filters if kind == "filters" else env.tests
    for name, fn in table.items():
        target[name] = fn
        target[f"ansible.builtin.{name}"] = fn


def _make_environment() -> _Environment:
    env = _Environment(undefined=Undefined, keep_trailing_newline=True,
                       extensions=["jinja2.ext.do", "jinja2.ext.loopcontrols"])
    _register(env, FILTERS, "filters")
    _register(env, TESTS, "tests")
    for name in list(env.filters):
        env.filters.setdefault(f"ansible.builtin.{name}", env.filters[name])
    for name in list(env.tests):
        env.tests.setdefault(f"ansible.builtin.{name}", env.tests[name])
    env.globals["omit"] = OMIT
    return env


ENV = _make_environment()


@functools.lru_cache(maxsize=8192)
def compile_template(source: str) -> tuple[Any, bool]:
    """Compile `source` once; also say whether it is one lone `{{ expr }}`."""
    tree = ENV.parse(source)
    lone = (len(tree.body) == 1 and isinstance(tree.body[0], nodes.Output)
            and len(tree.body[0].nodes) == 1
            and not isinstance(tree.body[0].nodes[0], nodes.TemplateData))
    return ENV.from_string(tree), lone


@functools.lru_cache(maxsize=8192)
def parse_template(source: str) -> nodes.Template:
    """The jinja2 AST of `source` (raises jinja2.TemplateSyntaxError)."""
    return ENV.parse(source)
