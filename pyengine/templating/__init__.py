"""Templating: sandboxed jinja2 with Ansible's filters, tests and lazy variables."""

from __future__ import annotations

from pyengine.templating.environment import ENV, OMIT
from pyengine.templating.lookups import lookup, query
from pyengine.templating.templar import (
    LazyVars,
    Templar,
    check_syntax,
    is_template,
    template_variables,
    truth,
)
from pyengine.templating.unsafe import UnsafeStr, wrap_unsafe


def now(utc: bool = False, fmt: str | None = None) -> object:
    """Ansible's `now()`: the controller's current time (a datetime, or text with `fmt`)."""
    import datetime

    moment = (datetime.datetime.now(datetime.timezone.utc) if utc
              else datetime.datetime.now())
    return moment.strftime(fmt) if fmt else moment


ENV.globals.setdefault("now", now)
ENV.globals.setdefault("lookup", lookup)
ENV.globals.setdefault("query", query)
ENV.globals.setdefault("q", query)

__all__ = ["Templar", "LazyVars", "template_variables", "check_syntax", "is_template", "truth",
           "OMIT", "UnsafeStr", "wrap_unsafe"]
